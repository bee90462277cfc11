//! Signed notes (C2SP `signed-note`) with Ed25519 keys, the checkpoints a log signs with them
//! (C2SP `tlog-checkpoint`) and the co-signatures witnesses add (C2SP `tlog-cosignature`).
//!
//! A note is text ending in a newline, a blank line, then signature lines
//! `— <key name> <base64(key id ‖ signature)>`. A key's id is the first four bytes of
//! SHA-256(name ‖ `\n` ‖ type ‖ public key), type 0x01 for a log's Ed25519 key and 0x04 for
//! a witness's timestamped co-signature.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::tree::Hash;

/// The algorithm byte of an Ed25519 note key.
const ED25519: u8 = 0x01;
/// The algorithm byte of a timestamped Ed25519 co-signature.
const COSIGNATURE: u8 = 0x04;
/// What starts a signature line.
const DASH: &str = "\u{2014} ";
/// The most signature lines a note may carry.
const MOST_SIGNATURES: usize = 100;

/// Why a key, a note or a checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("malformed key: {0}")]
    Key(&'static str),
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    #[error("the note is not signed by {0}")]
    Unsigned(String),
    #[error("a signature by {0} does not verify")]
    BadSignature(String),
    #[error("malformed checkpoint: {0}")]
    Checkpoint(&'static str),
}

fn key_id(name: &str, kind: u8, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([kind]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('+')
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A key that signs notes: a log's (or, for co-signatures, a witness's) Ed25519 key.
pub struct NoteSigner {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl NoteSigner {
    /// A new random key named `name`; a character a key name cannot hold (`+`, a space, a
    /// control character) becomes `-`, and an empty name `log`.
    pub fn generate(name: &str) -> Self {
        let mut name: String = name
            .chars()
            .map(|c| {
                if c == '+' || c.is_whitespace() || c.is_control() {
                    '-'
                } else {
                    c
                }
            })
            .collect();
        if name.is_empty() {
            name = "log".to_owned();
        }
        let seed: [u8; 32] = rand::random();
        Self {
            name,
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// Reads a key written by [`NoteSigner::to_private_string`]:
    /// `PRIVATE+KEY+<name>+<id hex>+<base64(0x01 ‖ seed)>`.
    pub fn from_private_string(s: &str) -> Result<Self, NoteError> {
        let rest = s
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::Key("a private key starts with PRIVATE+KEY+"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::Key("a private key has a name, an id and a key"));
        };
        let bytes = B64
            .decode(key)
            .map_err(|_| NoteError::Key("the key is not base64"))?;
        let Some((&ED25519, seed)) = bytes.split_first() else {
            return Err(NoteError::Key("only Ed25519 keys are supported"));
        };
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| NoteError::Key("an Ed25519 seed is 32 bytes"))?;
        if !valid_name(name) {
            return Err(NoteError::Key(
                "a key name is non-empty, without + or spaces",
            ));
        }
        let signer = Self {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&seed),
        };
        if id != hex(&signer.id()) {
            return Err(NoteError::Key("the key id does not match the key"));
        }
        Ok(signer)
    }

    /// The key as text, to be kept secret.
    pub fn to_private_string(&self) -> String {
        let mut bytes = vec![ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex(&self.id()),
            B64.encode(bytes)
        )
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn id(&self) -> [u8; 4] {
        key_id(&self.name, ED25519, self.key.verifying_key().as_bytes())
    }

    /// The public half, to verify with.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// Signs `text` (which must end in a newline and hold no blank line at its end) into a
    /// note.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        let sig = self.key.sign(text.as_bytes());
        let mut blob = self.id().to_vec();
        blob.extend_from_slice(&sig.to_bytes());
        Ok(format!(
            "{text}\n{DASH}{} {}\n",
            self.name,
            B64.encode(blob)
        ))
    }

    /// A witness's co-signature line for the checkpoint body `text`, made at `time` (Unix
    /// seconds): C2SP `tlog-cosignature` v1.
    pub fn cosign(&self, text: &str, time: u64) -> Result<String, NoteError> {
        check_text(text)?;
        let message = cosigned_message(text, time);
        let sig = self.key.sign(message.as_bytes());
        let mut blob = self.cosigner_id().to_vec();
        blob.extend_from_slice(&time.to_be_bytes());
        blob.extend_from_slice(&sig.to_bytes());
        Ok(format!("{DASH}{} {}\n", self.name, B64.encode(blob)))
    }

    fn cosigner_id(&self) -> [u8; 4] {
        key_id(&self.name, COSIGNATURE, self.key.verifying_key().as_bytes())
    }
}

fn cosigned_message(text: &str, time: u64) -> String {
    format!("cosignature/v1\ntime {time}\n{text}")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed("the text does not end in a newline"));
    }
    if text.ends_with("\n\n") || text.starts_with('\n') {
        return Err(NoteError::Malformed("the text ends in a blank line"));
    }
    if text.contains("\n\n") {
        return Err(NoteError::Malformed("the text holds a blank line"));
    }
    Ok(())
}

/// A public key that verifies notes: `<name>+<id hex>+<base64(0x01 ‖ key)>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Reads a verifier key.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let mut parts = s.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::Key("a verifier key has a name, an id and a key"));
        };
        if !valid_name(name) {
            return Err(NoteError::Key(
                "a key name is non-empty, without + or spaces",
            ));
        }
        let bytes = B64
            .decode(key)
            .map_err(|_| NoteError::Key("the key is not base64"))?;
        let Some((&ED25519, public)) = bytes.split_first() else {
            return Err(NoteError::Key("only Ed25519 keys are supported"));
        };
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| NoteError::Key("an Ed25519 public key is 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| NoteError::Key("not an Ed25519 public key"))?;
        let v = Self {
            name: name.to_owned(),
            key,
        };
        if id != hex(&v.id()) {
            return Err(NoteError::Key("the key id does not match the key"));
        }
        Ok(v)
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn id(&self) -> [u8; 4] {
        key_id(&self.name, ED25519, self.key.as_bytes())
    }

    /// A short form to show people: the SHA-256 of the public key, the first 16 bytes in
    /// hex pairs.
    pub fn fingerprint(&self) -> String {
        let d = Sha256::digest(self.key.as_bytes());
        d[..16].chunks(2).map(hex).collect::<Vec<_>>().join(":")
    }

    /// Checks that `note` carries a valid signature by this key, and returns its text.
    pub fn open<'n>(&self, note: &'n str) -> Result<&'n str, NoteError> {
        let (text, lines) = split_note(note)?;
        let id = self.id();
        for line in &lines {
            if line.name != self.name || line.blob.get(..4) != Some(&id[..]) {
                continue;
            }
            let sig = Signature::from_slice(&line.blob[4..])
                .map_err(|_| NoteError::BadSignature(self.name.clone()))?;
            return self
                .key
                .verify(text.as_bytes(), &sig)
                .map(|()| text)
                .map_err(|_| NoteError::BadSignature(self.name.clone()));
        }
        Err(NoteError::Unsigned(self.name.clone()))
    }

    /// Checks the co-signature by this key among the signature lines of `note` (a signed
    /// checkpoint with co-signatures added); returns the note's text and the co-signature's
    /// time.
    pub fn check_cosigned_note<'n>(&self, note: &'n str) -> Result<(&'n str, u64), NoteError> {
        let (text, lines) = split_note(note)?;
        let id = key_id(&self.name, COSIGNATURE, self.key.as_bytes());
        let line = lines
            .iter()
            .find(|l| l.name == self.name && l.blob.len() == 4 + 8 + 64 && l.blob[..4] == id)
            .ok_or_else(|| NoteError::Unsigned(self.name.clone()))?;
        let line = format!("{DASH}{} {}\n", line.name, B64.encode(&line.blob));
        Ok((text, self.check_cosignature(text, &line)?))
    }

    /// Checks a co-signature line made by [`NoteSigner::cosign`] for the checkpoint body
    /// `text`; returns its time.
    pub fn check_cosignature(&self, text: &str, line: &str) -> Result<u64, NoteError> {
        let parsed = parse_line(line.trim_end_matches('\n'))
            .ok_or(NoteError::Malformed("a co-signature line is malformed"))?;
        let id = key_id(&self.name, COSIGNATURE, self.key.as_bytes());
        if parsed.name != self.name || parsed.blob.len() != 4 + 8 + 64 || parsed.blob[..4] != id {
            return Err(NoteError::Unsigned(self.name.clone()));
        }
        let mut time = [0u8; 8];
        time.copy_from_slice(&parsed.blob[4..12]);
        let time = u64::from_be_bytes(time);
        let sig = Signature::from_slice(&parsed.blob[12..])
            .map_err(|_| NoteError::BadSignature(self.name.clone()))?;
        self.key
            .verify(cosigned_message(text, time).as_bytes(), &sig)
            .map_err(|_| NoteError::BadSignature(self.name.clone()))?;
        Ok(time)
    }
}

impl std::fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut bytes = vec![ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{}+{}", self.name, hex(&self.id()), B64.encode(bytes))
    }
}

struct SigLine<'n> {
    name: &'n str,
    blob: Vec<u8>,
}

fn parse_line(line: &str) -> Option<SigLine<'_>> {
    let rest = line.strip_prefix(DASH)?;
    let (name, b64) = rest.split_once(' ')?;
    let blob = B64.decode(b64).ok()?;
    (valid_name(name) && blob.len() >= 4).then_some(SigLine { name, blob })
}

/// A note's text and its signature lines.
fn split_note(note: &str) -> Result<(&str, Vec<SigLine<'_>>), NoteError> {
    let at = note
        .rfind("\n\n")
        .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    let text = &note[..=at];
    check_text(text)?;
    let sigs = note[at + 2..]
        .strip_suffix('\n')
        .ok_or(NoteError::Malformed(
            "the signatures do not end in a newline",
        ))?;
    let lines = sigs
        .split('\n')
        .map(|l| parse_line(l).ok_or(NoteError::Malformed("a signature line is malformed")))
        .collect::<Result<Vec<_>, _>>()?;
    if lines.is_empty() || lines.len() > MOST_SIGNATURES {
        return Err(NoteError::Malformed("a note has 1 to 100 signatures"));
    }
    Ok((text, lines))
}

/// A log's checkpoint: its origin, its size and its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// The checkpoint's body, the text a log signs.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Reads a checkpoint's body (extension lines after the root are allowed and ignored).
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let mut lines = text.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or(NoteError::Checkpoint("no origin"))?;
        let size = lines
            .next()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .filter(|s| s.len() == 1 || !s.starts_with('0'))
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or(NoteError::Checkpoint("the size is not a number"))?;
        let root: Hash = lines
            .next()
            .and_then(|r| B64.decode(r).ok())
            .and_then(|r| r.try_into().ok())
            .ok_or(NoteError::Checkpoint("the root is not a base64 hash"))?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }

    /// Opens a signed checkpoint with `key`: the checkpoint, once its signature verifies.
    pub fn open(note: &str, key: &NoteVerifier) -> Result<Self, NoteError> {
        Self::parse(key.open(note)?)
    }

    /// The names of the keys that signed `note`, whether known or not.
    pub fn signers(note: &str) -> Result<Vec<String>, NoteError> {
        let (_, lines) = split_note(note)?;
        Ok(lines.iter().map(|l| l.name.to_owned()).collect())
    }
}

/// The checkpoint body of a signed note, unverified: for reading what an unknown key signed.
pub fn note_text(note: &str) -> Result<&str, NoteError> {
    split_note(note).map(|(text, _)| text)
}
