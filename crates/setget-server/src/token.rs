//! Session tokens: `sgs_` + 43 base64url characters from 32 random bytes; only their SHA-256
//! digest is ever stored.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use setget_protocol::TOKEN_PREFIX;
use sha2::{Digest as _, Sha256};

/// A fresh random session token.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The digest under which a token is stored and looked up.
pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_well_formed_and_distinct() {
        let a = generate();
        let b = generate();
        assert!(setget_protocol::is_token_shaped(&a), "{}", a.len());
        assert_ne!(a, b);
    }

    #[test]
    fn digest_is_sha256_of_the_whole_token() {
        let d = digest("sgs_x");
        assert_eq!(d.len(), 32);
        assert_ne!(d, digest("sgs_y"));
        assert_eq!(d, digest("sgs_x"));
    }
}
