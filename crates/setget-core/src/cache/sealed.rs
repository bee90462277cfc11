//! Sealed temporary files: the SQLite VFS every cache connection opens through.
//!
//! SQLCipher encrypts the database file, its WAL and its journals, never the temporary files
//! SQLite writes beside them, so its builds keep temporary data in memory. Sorting is what
//! needs them: building an index over a table keeps every key of the table in memory until
//! the sort ends (about 80 MB per million audit events for the address index, so a first
//! sync of 10,000,000 events would hold close to a gigabyte). Through this VFS a
//! connection may spill to temporary files instead (`temp_store = FILE`): the file of every
//! temporary database, sorter run, statement journal and transient index is encrypted with
//! AES-256 in counter mode under its own random key, which lives only in the process's
//! memory while the file is open. The files are deleted as they are opened (SQLite's unix
//! VFS unlinks them), and their content is noise to anyone reading them even meanwhile. The
//! database file, WAL and journals go through unchanged: SQLCipher seals their pages.
//!
//! Every other call is forwarded to the platform's default VFS.

// SQLite's VFS is a C interface: a table of function pointers and file structures whose
// memory SQLite allocates. Everything unsafe in the crate is here, behind `register`.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use aes::Aes256;
use ctr::Ctr128BE;
use ctr::cipher::{KeyIvInit as _, StreamCipher as _, StreamCipherSeek as _};
use rand::RngCore as _;
use rusqlite::ffi;

/// The VFS's name, for `Connection::open_with_flags_and_vfs`.
pub(crate) const NAME: &CStr = c"setget-sealed";

/// What opening a temporary file through this VFS seals.
const SEALED: c_int = ffi::SQLITE_OPEN_TEMP_DB
    | ffi::SQLITE_OPEN_TRANSIENT_DB
    | ffi::SQLITE_OPEN_TEMP_JOURNAL
    | ffi::SQLITE_OPEN_SUBJOURNAL;

/// A sealed file: SQLite's file header (pointing at [`METHODS`]), the file's key and counter
/// block, and the default VFS's own file structure right after it in the same allocation.
#[repr(C)]
struct Sealed {
    base: ffi::sqlite3_file,
    key: [u8; 32],
    iv: [u8; 16],
    inner: *mut ffi::sqlite3_file,
}

struct Vfs(ffi::sqlite3_vfs);
// SAFETY: the structure is written once, before SQLite knows it, and only read afterwards;
// the pointers in it are the default VFS's and static data.
unsafe impl Send for Vfs {}
unsafe impl Sync for Vfs {}

static VFS: OnceLock<Result<Box<Vfs>, String>> = OnceLock::new();

/// How many sealed files this process has opened.
static OPENED: AtomicUsize = AtomicUsize::new(0);

/// How many temporary files the process has opened sealed so far.
#[cfg(test)]
pub(crate) fn opened() -> usize {
    OPENED.load(Ordering::Relaxed)
}

/// Registers the VFS (once per process; not as the default). An error says why SQLite
/// refused it.
pub(crate) fn register() -> Result<(), String> {
    VFS.get_or_init(|| {
        // SAFETY: sqlite3_vfs_find returns SQLite's static default VFS (or null); the copy
        // made here is leaked into a static that lives as long as the process, as SQLite
        // requires of a registered VFS.
        unsafe {
            let parent = ffi::sqlite3_vfs_find(std::ptr::null());
            if parent.is_null() {
                return Err("SQLite has no default VFS".to_owned());
            }
            let mut vfs = *parent;
            vfs.iVersion = vfs.iVersion.min(3);
            vfs.pNext = std::ptr::null_mut();
            vfs.zName = NAME.as_ptr();
            vfs.pAppData = parent.cast::<c_void>();
            vfs.szOsFile = c_int::try_from(std::mem::size_of::<Sealed>())
                .map_err(|e| e.to_string())?
                + (*parent).szOsFile;
            vfs.xOpen = Some(open);
            vfs.xDelete = Some(delete);
            vfs.xAccess = Some(access);
            vfs.xFullPathname = Some(full_pathname);
            vfs.xDlOpen = Some(dl_open);
            vfs.xDlError = Some(dl_error);
            vfs.xDlSym = Some(dl_sym);
            vfs.xDlClose = Some(dl_close);
            vfs.xRandomness = Some(randomness);
            vfs.xSleep = Some(sleep);
            vfs.xCurrentTime = Some(current_time);
            vfs.xGetLastError = Some(get_last_error);
            vfs.xCurrentTimeInt64 = Some(current_time_int64);
            vfs.xSetSystemCall = Some(set_system_call);
            vfs.xGetSystemCall = Some(get_system_call);
            vfs.xNextSystemCall = Some(next_system_call);
            let mut boxed = Box::new(Vfs(vfs));
            let rc = ffi::sqlite3_vfs_register(&mut boxed.0, 0);
            if rc != ffi::SQLITE_OK {
                return Err(format!("SQLite refused the sealed VFS (code {rc})"));
            }
            Ok(boxed)
        }
    })
    .as_ref()
    .map(|_| ())
    .map_err(Clone::clone)
}

/// The default VFS this one forwards to.
///
/// # Safety
/// `vfs` is this VFS, registered by [`register`].
unsafe fn parent(vfs: *mut ffi::sqlite3_vfs) -> *mut ffi::sqlite3_vfs {
    // SAFETY: pAppData was set to the default VFS in `register`.
    unsafe { (*vfs).pAppData.cast::<ffi::sqlite3_vfs>() }
}

unsafe extern "C" fn open(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: SQLite gives a file structure of szOsFile bytes, which holds a `Sealed` and the
    // default VFS's structure after it; the default VFS's xOpen exists on every platform.
    unsafe {
        let parent = parent(vfs);
        let Some(parent_open) = (*parent).xOpen else {
            return ffi::SQLITE_CANTOPEN;
        };
        if flags & SEALED == 0 {
            // The database, its WAL and journals: the default VFS's file, as it is.
            return parent_open(parent, name, file, flags, out_flags);
        }
        let sealed = file.cast::<Sealed>();
        let inner = file
            .cast::<u8>()
            .add(std::mem::size_of::<Sealed>())
            .cast::<ffi::sqlite3_file>();
        (*sealed).base.pMethods = std::ptr::null();
        let rc = parent_open(parent, name, inner, flags, out_flags);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        let mut key = [0u8; 32];
        let mut iv = [0u8; 16];
        rand::rng().fill_bytes(&mut key);
        rand::rng().fill_bytes(&mut iv);
        OPENED.fetch_add(1, Ordering::Relaxed);
        std::ptr::write(
            sealed,
            Sealed {
                base: ffi::sqlite3_file { pMethods: &METHODS },
                key,
                iv,
                inner,
            },
        );
        ffi::SQLITE_OK
    }
}

/// Encrypts or decrypts (the same operation) `data` as the bytes of the file at `offset`.
fn apply(sealed: &Sealed, data: &mut [u8], offset: i64) -> bool {
    let Ok(offset) = u64::try_from(offset) else {
        return false;
    };
    let mut cipher = Ctr128BE::<Aes256>::new(&sealed.key.into(), &sealed.iv.into());
    if cipher.try_seek(offset).is_err() {
        return false;
    }
    cipher.try_apply_keystream(data).is_ok()
}

/// The inner file's methods.
///
/// # Safety
/// `file` is a sealed file opened by [`open`].
unsafe fn inner(file: *mut ffi::sqlite3_file) -> (*mut ffi::sqlite3_file, ffi::sqlite3_io_methods) {
    // SAFETY: as the caller promises; the default VFS set the inner file's methods.
    unsafe {
        let inner = (*file.cast::<Sealed>()).inner;
        (inner, *(*inner).pMethods)
    }
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 1,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: None,
    xShmLock: None,
    xShmBarrier: None,
    xShmUnmap: None,
    xFetch: None,
    xUnfetch: None,
};

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: a sealed file; its key is wiped before the structure is given back.
    unsafe {
        let (inner, methods) = inner(file);
        let sealed = file.cast::<Sealed>();
        (*sealed).key = [0; 32];
        (*sealed).base.pMethods = std::ptr::null();
        methods.xClose.map_or(ffi::SQLITE_OK, |f| f(inner))
    }
}

unsafe extern "C" fn read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    // SAFETY: SQLite gives a buffer of `amount` bytes.
    unsafe {
        let (inner, methods) = inner(file);
        let Some(read) = methods.xRead else {
            return ffi::SQLITE_IOERR_READ;
        };
        let rc = read(inner, buf, amount, offset);
        let len = usize::try_from(amount).unwrap_or(0);
        let got = match rc {
            ffi::SQLITE_OK => len,
            // The default VFS zero-fills what lies past the end; only what was read is
            // decrypted, so SQLite sees the zeros it expects there.
            ffi::SQLITE_IOERR_SHORT_READ => {
                let mut size = 0i64;
                let Some(file_size) = methods.xFileSize else {
                    return ffi::SQLITE_IOERR_READ;
                };
                if file_size(inner, &mut size) != ffi::SQLITE_OK {
                    return ffi::SQLITE_IOERR_READ;
                }
                usize::try_from(size.saturating_sub(offset))
                    .unwrap_or(0)
                    .min(len)
            }
            _ => return rc,
        };
        let data = std::slice::from_raw_parts_mut(buf.cast::<u8>(), got);
        if !apply(&*file.cast::<Sealed>(), data, offset) {
            return ffi::SQLITE_IOERR_READ;
        }
        rc
    }
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    // SAFETY: SQLite gives a buffer of `amount` bytes; it is copied before encrypting.
    unsafe {
        let (inner, methods) = inner(file);
        let Some(write) = methods.xWrite else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        let len = usize::try_from(amount).unwrap_or(0);
        let mut sealed = std::slice::from_raw_parts(buf.cast::<u8>(), len).to_vec();
        if !apply(&*file.cast::<Sealed>(), &mut sealed, offset) {
            return ffi::SQLITE_IOERR_WRITE;
        }
        write(inner, sealed.as_ptr().cast::<c_void>(), amount, offset)
    }
}

/// Forwards a file method to the inner file.
macro_rules! forward {
    ($name:ident, $field:ident, $missing:expr $(, $arg:ident: $ty:ty)*) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> c_int {
            // SAFETY: a sealed file; the arguments are SQLite's, passed on unchanged.
            unsafe {
                let (inner, methods) = inner(file);
                methods.$field.map_or($missing, |f| f(inner $(, $arg)*))
            }
        }
    };
}

forward!(truncate, xTruncate, ffi::SQLITE_IOERR_TRUNCATE, size: i64);
forward!(sync, xSync, ffi::SQLITE_OK, flags: c_int);
forward!(file_size, xFileSize, ffi::SQLITE_IOERR_FSTAT, size: *mut i64);
forward!(lock, xLock, ffi::SQLITE_OK, level: c_int);
forward!(unlock, xUnlock, ffi::SQLITE_OK, level: c_int);
forward!(check_reserved_lock, xCheckReservedLock, ffi::SQLITE_OK, out: *mut c_int);
forward!(file_control, xFileControl, ffi::SQLITE_NOTFOUND, op: c_int, arg: *mut c_void);
forward!(sector_size, xSectorSize, 4096);
forward!(device_characteristics, xDeviceCharacteristics, 0);

/// Forwards a VFS method to the default VFS.
macro_rules! forward_vfs {
    ($name:ident, $field:ident -> $ret:ty, $missing:expr $(, $arg:ident: $ty:ty)*) => {
        unsafe extern "C" fn $name(vfs: *mut ffi::sqlite3_vfs $(, $arg: $ty)*) -> $ret {
            // SAFETY: `vfs` is this VFS; the arguments are SQLite's, passed on unchanged.
            unsafe {
                let parent = parent(vfs);
                (*parent).$field.map_or($missing, |f| f(parent $(, $arg)*))
            }
        }
    };
}

forward_vfs!(delete, xDelete -> c_int, ffi::SQLITE_IOERR_DELETE, name: *const c_char, sync_dir: c_int);
forward_vfs!(access, xAccess -> c_int, ffi::SQLITE_IOERR_ACCESS, name: *const c_char, flags: c_int, out: *mut c_int);
forward_vfs!(full_pathname, xFullPathname -> c_int, ffi::SQLITE_CANTOPEN, name: *const c_char, n: c_int, out: *mut c_char);
forward_vfs!(dl_open, xDlOpen -> *mut c_void, std::ptr::null_mut(), name: *const c_char);
forward_vfs!(randomness, xRandomness -> c_int, 0, n: c_int, out: *mut c_char);
forward_vfs!(sleep, xSleep -> c_int, 0, micros: c_int);
forward_vfs!(current_time, xCurrentTime -> c_int, ffi::SQLITE_ERROR, out: *mut f64);
forward_vfs!(get_last_error, xGetLastError -> c_int, 0, n: c_int, out: *mut c_char);
forward_vfs!(current_time_int64, xCurrentTimeInt64 -> c_int, ffi::SQLITE_ERROR, out: *mut i64);
forward_vfs!(set_system_call, xSetSystemCall -> c_int, ffi::SQLITE_NOTFOUND, name: *const c_char, call: ffi::sqlite3_syscall_ptr);
forward_vfs!(get_system_call, xGetSystemCall -> ffi::sqlite3_syscall_ptr, None, name: *const c_char);
forward_vfs!(next_system_call, xNextSystemCall -> *const c_char, std::ptr::null(), name: *const c_char);

unsafe extern "C" fn dl_error(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) {
    // SAFETY: as in `forward_vfs!`.
    unsafe {
        let parent = parent(vfs);
        if let Some(f) = (*parent).xDlError {
            f(parent, n, out);
        }
    }
}

type DlSym = unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *mut c_void, *const c_char);

unsafe extern "C" fn dl_sym(
    vfs: *mut ffi::sqlite3_vfs,
    handle: *mut c_void,
    symbol: *const c_char,
) -> Option<DlSym> {
    // SAFETY: as in `forward_vfs!`.
    unsafe {
        let parent = parent(vfs);
        (*parent).xDlSym.and_then(|f| f(parent, handle, symbol))
    }
}

unsafe extern "C" fn dl_close(vfs: *mut ffi::sqlite3_vfs, handle: *mut c_void) {
    // SAFETY: as in `forward_vfs!`.
    unsafe {
        let parent = parent(vfs);
        if let Some(f) = (*parent).xDlClose {
            f(parent, handle);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary file opened through the VFS as SQLite's sorter opens one.
    struct Temp {
        file: Vec<u64>,
    }

    impl Temp {
        fn open() -> Self {
            register().unwrap();
            // SAFETY: the registered VFS, a buffer of its szOsFile bytes (8-aligned).
            unsafe {
                let vfs = ffi::sqlite3_vfs_find(NAME.as_ptr());
                assert!(!vfs.is_null());
                let words = usize::try_from((*vfs).szOsFile).unwrap().div_ceil(8);
                let mut file = vec![0u64; words];
                let mut out = 0;
                let rc = (*vfs).xOpen.unwrap()(
                    vfs,
                    std::ptr::null(),
                    file.as_mut_ptr().cast(),
                    ffi::SQLITE_OPEN_TEMP_JOURNAL
                        | ffi::SQLITE_OPEN_READWRITE
                        | ffi::SQLITE_OPEN_CREATE
                        | ffi::SQLITE_OPEN_EXCLUSIVE
                        | ffi::SQLITE_OPEN_DELETEONCLOSE,
                    &mut out,
                );
                assert_eq!(rc, ffi::SQLITE_OK);
                Self { file }
            }
        }

        fn ptr(&mut self) -> *mut ffi::sqlite3_file {
            self.file.as_mut_ptr().cast()
        }

        fn write(&mut self, data: &[u8], offset: i64) {
            let f = self.ptr();
            // SAFETY: an open sealed file and a buffer of the length given.
            let rc = unsafe {
                (*(*f).pMethods).xWrite.unwrap()(
                    f,
                    data.as_ptr().cast(),
                    c_int::try_from(data.len()).unwrap(),
                    offset,
                )
            };
            assert_eq!(rc, ffi::SQLITE_OK);
        }

        /// Reads through the seal (`raw` false) or the bytes on disk (`raw` true).
        fn read(&mut self, len: usize, offset: i64, raw: bool) -> (c_int, Vec<u8>) {
            let f = self.ptr();
            let mut buf = vec![0xAAu8; len];
            // SAFETY: as in `write`; the raw read goes to the default VFS's file.
            let rc = unsafe {
                let (target, methods) = if raw { inner(f) } else { (f, *(*f).pMethods) };
                methods.xRead.unwrap()(
                    target,
                    buf.as_mut_ptr().cast(),
                    c_int::try_from(len).unwrap(),
                    offset,
                )
            };
            (rc, buf)
        }
    }

    impl Drop for Temp {
        fn drop(&mut self) {
            let f = self.ptr();
            // SAFETY: an open sealed file, closed once.
            unsafe {
                (*(*f).pMethods).xClose.unwrap()(f);
            }
        }
    }

    #[test]
    fn a_temporary_file_holds_noise_and_reads_back_what_was_written() {
        let mut temp = Temp::open();
        let text = b"member0001@bench.test 81.2.3.4 Chrome on Windows ".repeat(100);
        temp.write(&text, 0);
        // A write in the middle, at an offset that is not a block's.
        temp.write(b"81.2.250.250", 1_003);
        let mut expected = text.clone();
        expected[1_003..1_015].copy_from_slice(b"81.2.250.250");

        let (rc, on_disk) = temp.read(expected.len(), 0, true);
        assert_eq!(rc, ffi::SQLITE_OK);
        assert_ne!(on_disk, expected);
        assert!(
            !on_disk
                .windows(12)
                .any(|w| w == b"bench.test 8" || w == b"81.2.250.250"),
            "plain text on disk"
        );
        // Read back whole, and from an odd offset.
        assert_eq!(
            temp.read(expected.len(), 0, false),
            (ffi::SQLITE_OK, expected.clone())
        );
        assert_eq!(
            temp.read(40, 999, false),
            (ffi::SQLITE_OK, expected[999..1_039].to_vec())
        );
    }

    #[test]
    fn a_read_past_the_end_decrypts_what_there_is_and_zero_fills_the_rest() {
        let mut temp = Temp::open();
        temp.write(b"0123456789", 0);
        let (rc, got) = temp.read(16, 4, false);
        assert_eq!(rc, ffi::SQLITE_IOERR_SHORT_READ);
        assert_eq!(&got[..6], b"456789");
        assert_eq!(&got[6..], &[0u8; 10]);
    }

    #[test]
    fn two_temporary_files_have_their_own_keys() {
        let (mut a, mut b) = (Temp::open(), Temp::open());
        a.write(&[0u8; 64], 0);
        b.write(&[0u8; 64], 0);
        assert_ne!(a.read(64, 0, true).1, b.read(64, 0, true).1);
    }
}
