//! Password hashing with Argon2id (the `argon2` crate's defaults: 19 MiB, 2 passes).

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// Hashes a password into a PHC string (Argon2id with the crate's default parameters), in
/// working memory the thread keeps: hashing many passwords (a workspace's members) holds one
/// block of 19 MiB per thread instead of a fresh one per password, which the allocator kept.
pub fn hash(password: &str) -> anyhow::Result<String> {
    thread_local! {
        static MEMORY: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let salt = SaltString::encode_b64(&bytes)
        .map_err(|e| anyhow::anyhow!("encoding a password salt failed: {e}"))?;
    let params = Params::default();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    MEMORY
        .with_borrow_mut(|memory| hash_into(&argon2, password, &bytes, &mut out, memory))
        .map_err(|e| anyhow::anyhow!("hashing a password failed: {e}"))?;
    let output = Output::new(&out).map_err(|e| anyhow::anyhow!("encoding a hash failed: {e}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params)
            .try_into()
            .map_err(|e| anyhow::anyhow!("encoding the parameters failed: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Checks a password against a PHC string (a malformed stored hash never matches), with
/// Argon2's working memory in `memory` (grown to the hash's size if need be and kept by the
/// caller): a thread that checks many passwords holds one block of 19 MiB for
/// good instead of asking the allocator for a new one each time, which glibc answered from
/// fresh pages check after check (the server grew by 19 MiB per sign-in).
pub fn verify_in(password: &str, phc: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let hashed = hash_into(
        &Argon2::new(algorithm, version, params),
        password,
        salt,
        &mut out,
        memory,
    );
    // `Output`'s equality is constant-time.
    hashed.is_ok() && Output::new(&out).is_ok_and(|out| out == expected)
}

/// Hashes `password` with `salt` into `out`, in `memory` grown to what `argon2`'s parameters
/// need (and kept by the caller, so that it is allocated once).
fn hash_into(
    argon2: &Argon2<'_>,
    password: &str,
    salt: &[u8],
    out: &mut [u8],
    memory: &mut Vec<Block>,
) -> Result<(), argon2::Error> {
    let blocks = argon2.params().block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    argon2.hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory[..])
}

/// A hash of a password nobody knows, verified against when the email is unknown so that
/// unknown emails and wrong passwords take about as long.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("decoy password that matches nothing").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    use argon2::{PasswordHasher as _, PasswordVerifier as _};

    /// A hash in the thread's memory is what the argon2 crate's own hasher makes: its own
    /// verifier accepts it, with the same parameters.
    #[test]
    fn hashes_are_the_crates_own_argon2id_phc_strings() {
        let phc = hash("correct horse").unwrap();
        let parsed = PasswordHash::new(&phc).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"wrong", &parsed)
                .is_err()
        );
        let theirs = Argon2::default()
            .hash_password(b"x", &SaltString::encode_b64(b"sixteen byte slt").unwrap())
            .unwrap()
            .to_string();
        let prefix = |p: &str| p.rsplitn(3, '$').nth(2).unwrap_or_default().to_owned();
        assert_eq!(prefix(&phc), prefix(&theirs));
        assert_ne!(
            hash("correct horse").unwrap(),
            phc,
            "a fresh salt each time"
        );
    }

    #[test]
    fn hashes_verify_only_the_right_password_and_are_argon2id() {
        let mut memory = Vec::new();
        let phc = hash("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_in("correct horse", &phc, &mut memory));
        assert!(!verify_in("wrong horse", &phc, &mut memory));
        assert!(!verify_in("correct horse", "not a hash", &mut memory));
        assert!(!verify_in(
            "correct horse",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA",
            &mut memory
        ));
    }

    /// The check on reused memory answers as the argon2 crate's own verifier does, for other
    /// parameters too, and the memory is the size of the largest hash met, allocated once.
    #[test]
    fn verifying_in_reused_memory_agrees_with_the_crates_verifier() {
        let mut memory = Vec::new();
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        );
        let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
        let phcs = [
            hash("one").unwrap(),
            small.hash_password(b"one", &salt).unwrap().to_string(),
            hash("two").unwrap(),
        ];
        for phc in &phcs {
            for password in ["one", "two", ""] {
                let theirs = Argon2::default()
                    .verify_password(password.as_bytes(), &PasswordHash::new(phc).unwrap())
                    .is_ok();
                assert_eq!(
                    verify_in(password, phc, &mut memory),
                    theirs,
                    "{password} {phc}"
                );
            }
        }
        assert_eq!(memory.len(), Params::default().block_count());
    }
}
