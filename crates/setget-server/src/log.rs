//! The audit log's signing key and its checkpoints. The key lives outside the database
//! (`--log-key FILE`, created 0600 on first start), so that whoever can write the database
//! cannot sign a history of their own. A checkpoint names its origin, `<key name>/<slug>`,
//! so that one workspace's checkpoint is never another's.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use setget_tlog::{Checkpoint, Hash, NoteSigner, NoteVerifier};

/// The key name when the server has no public host to name it after.
pub const DEFAULT_KEY_NAME: &str = "setget";

/// The server's audit-log signing key.
#[derive(Debug)]
pub struct LogKey {
    signer: NoteSigner,
}

impl LogKey {
    /// A new key named `name` that lives only in memory (tests, a throwaway demo).
    pub fn ephemeral(name: &str) -> Self {
        Self {
            signer: NoteSigner::generate(name),
        }
    }

    /// The key in `path`, or a new one named `name` written there (mode 0600) when the file
    /// does not exist.
    pub fn load_or_create(path: &Path, name: &str) -> anyhow::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text)
                .with_context(|| format!("reading the log key {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::ephemeral(name);
                key.write_new(path)?;
                Ok(key)
            }
            Err(e) => Err(e).with_context(|| format!("reading the log key {}", path.display())),
        }
    }

    fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(Self {
            signer: NoteSigner::from_private_string(text.trim())?,
        })
    }

    /// Writes the key to `path`, which must not exist, readable by its owner only.
    fn write_new(&self, path: &Path) -> anyhow::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(path)
            .with_context(|| format!("creating the log key {}", path.display()))?;
        file.write_all(format!("{}\n", self.signer.to_private_string()).as_bytes())?;
        file.sync_all()?;
        Ok(())
    }

    /// A successor to this key, with the same name; written to `path` (replacing what is
    /// there) only by [`LogKey::install`].
    pub fn successor(&self) -> Self {
        Self::ephemeral(self.signer.name())
    }

    /// Writes this key over `path`: to a new file beside it, then renamed over it, so that
    /// the file always holds one whole key.
    pub fn install(&self, path: &Path) -> anyhow::Result<()> {
        let mut temp = path.as_os_str().to_owned();
        temp.push(".new");
        let temp = std::path::PathBuf::from(temp);
        let _ = std::fs::remove_file(&temp);
        self.write_new(&temp)?;
        std::fs::rename(&temp, path)
            .with_context(|| format!("replacing the log key {}", path.display()))
    }

    /// The public key.
    pub fn verifier(&self) -> NoteVerifier {
        self.signer.verifier()
    }

    /// The origin line of the workspace `slug`'s checkpoints.
    pub fn origin(&self, slug: &str) -> String {
        format!("{}/{slug}", self.signer.name())
    }

    /// The signed checkpoint of the workspace `slug`'s log at `size` with `root`.
    pub fn sign_checkpoint(&self, slug: &str, size: u64, root: Hash) -> String {
        let body = Checkpoint {
            origin: self.origin(slug),
            size,
            root,
        }
        .body();
        // A checkpoint body always ends in one newline and holds no blank line.
        self.signer.sign(&body).unwrap_or_default()
    }

    /// The statement announcing `next` as this key's successor, signed by this key.
    pub fn rotation_statement(&self, next: &LogKey) -> anyhow::Result<String> {
        Ok(setget_tlog::rotation::statement(
            &self.signer,
            &next.verifier(),
        )?)
    }
}

/// Replaces the log key in `path` (named `name` if it has to be made first): appends the
/// announcement of a new key, signed by the old one, to every workspace's audit log in
/// `store`, then writes the new key over the old. Announced first: a crash before the new
/// key is written leaves the old key in use, which apps still trust, never an unannounced
/// key. Every server must be stopped first and started again after. Runs on a blocking
/// thread (the store's PostgreSQL backend blocks on its runtime). Answers how many
/// workspaces were told, and the new key.
pub fn rotate(
    store: &crate::store::Store,
    path: &Path,
    name: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<(u64, NoteVerifier)> {
    let old = LogKey::load_or_create(path, name)?;
    let new = old.successor();
    let statement = old.rotation_statement(&new)?;
    let announced = store
        .lock()
        .announce_log_key(&new.verifier().to_string(), &statement, now)?;
    new.install(path)?;
    Ok((announced, new.verifier()))
}
