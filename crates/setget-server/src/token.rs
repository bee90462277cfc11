//! Session tokens: `sgs_` + 43 base64url characters from 32 random bytes; only their SHA-256
//! digest is ever stored. Device secrets (the device cookie's value) have the same shape with
//! `sgd_`; only their public id, part of their SHA-256, is ever stored or shown.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use setget_protocol::{DEVICE_ID_PREFIX, TOKEN_PREFIX};
use sha2::{Digest as _, Sha256};

/// A fresh random session token.
pub fn generate() -> String {
    random_secret(TOKEN_PREFIX)
}

/// `prefix` and 32 random bytes in base64url.
fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Prefix of a device cookie's secret.
pub const DEVICE_SECRET_PREFIX: &str = "sgd_";

/// A fresh random device secret, the value of a new device cookie.
pub fn device_secret() -> String {
    random_secret(DEVICE_SECRET_PREFIX)
}

/// Whether `s` has the shape of a device secret: the prefix and 43 base64url characters.
pub fn is_device_secret_shaped(s: &str) -> bool {
    setget_protocol::is_secret_shaped(s, DEVICE_SECRET_PREFIX)
}

/// The public id of a device secret: `dev_` and the first 16 bytes of its SHA-256 in hex.
/// Admins see it; nobody can turn it back into a cookie that yields it.
pub fn device_id(secret: &str) -> String {
    use std::fmt::Write as _;
    let mut id = String::with_capacity(DEVICE_ID_PREFIX.len() + 32);
    id.push_str(DEVICE_ID_PREFIX);
    for b in &digest(secret)[..16] {
        let _ = write!(id, "{b:02x}");
    }
    id
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
    fn device_secrets_are_well_formed_and_their_ids_stable_and_distinct() {
        let a = device_secret();
        let b = device_secret();
        assert!(
            is_device_secret_shaped(&a) && is_device_secret_shaped(&b),
            "{a}"
        );
        assert_ne!(a, b);
        assert_eq!(device_id(&a), device_id(&a));
        assert_ne!(device_id(&a), device_id(&b));
        let id = device_id(&a);
        assert!(id.starts_with("dev_") && id.len() == 36, "{id}");
        assert!(!id.contains(&a[4..]));
        assert_eq!(device_id("sgd_x"), format!("dev_{}", hex16("sgd_x")));
        for bad in [
            "",
            "sgd_",
            "sgs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            &a[..a.len() - 1],
        ] {
            assert!(!is_device_secret_shaped(bad), "{bad}");
        }
        assert!(!is_device_secret_shaped(&format!("{}!", &a[..a.len() - 1])));
    }

    fn hex16(s: &str) -> String {
        Sha256::digest(s.as_bytes())[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn digest_is_sha256_of_the_whole_token() {
        let d = digest("sgs_x");
        assert_eq!(d.len(), 32);
        assert_ne!(d, digest("sgs_y"));
        assert_eq!(d, digest("sgs_x"));
    }
}
