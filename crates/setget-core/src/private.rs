//! Files and folders only their owner can read: the app's folders are 0700 and its files —
//! the encrypted cache, the account, exports of the audit log — 0600 on Unix, whatever the
//! umask. Elsewhere the user's profile folders already keep others out.

use std::fs::File;
use std::path::Path;

/// Creates `dir` (and its parents, as usual) and closes it to others.
pub fn dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Creates (or truncates) the file at `path`, readable and writable by its owner alone.
pub fn create(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    // An existing file keeps its mode through `open`.
    close_to_others(path)?;
    Ok(file)
}

/// Makes an existing file its owner's alone; a missing one is left missing.
pub fn close_to_others(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
