//! Comparing secrets a caller shows (CSRF tokens, one-time codes, pick-up codes, or their keyed
//! hashes) with the ones kept, in time that does not depend on where they first differ: an early
//! return on the first wrong byte would let a patient caller learn a secret byte by byte.

use subtle::ConstantTimeEq;

/// Whether `shown` is the secret `kept`. Only the length may leak through timing (every secret here
/// has a fixed, public length).
pub fn same_secret(shown: &str, kept: &str) -> bool {
    shown.len() == kept.len() && bool::from(shown.as_bytes().ct_eq(kept.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn equal_only_when_every_byte_is() {
        assert!(same_secret("a1b2c3", "a1b2c3"));
        assert!(!same_secret("a1b2c4", "a1b2c3"));
        assert!(!same_secret("x1b2c3", "a1b2c3"));
        assert!(!same_secret("a1b2c", "a1b2c3"));
        assert!(!same_secret("", "a1b2c3"));
        assert!(same_secret("", ""));
    }
}
