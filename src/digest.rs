//! Content fingerprints: the SHA-256 of bytes as lowercase hex. One low module that every
//! stage may use (raw messages, documents, outbox keys, the directory's seed marks) without
//! reaching into another stage for it.

use sha2::{Digest, Sha256};

/// The SHA-256 of `data`, 64 lowercase hex digits.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fingerprint_of_nothing_is_the_well_known_one() {
        assert_eq!(super::sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
