//! The tamper-evident audit trail (SPEC §10): every event carries the hash of the one before it.
//!
//! Events are written by the store in the same transaction as the change they record
//! ([`crate::store::Tx::audit`]); this module owns the hashing and the verification, so a row
//! altered or removed after the fact is found and named by `baocao audit verify`.

mod kind;
pub mod words;

pub use kind::Kind;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One audit event as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: i64,
    pub office: String,
    pub at: i64,
    pub kind: String,
    pub actor: String,
    pub subject: String,
    pub data: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of an event: SHA-256 over the previous hash and every field, length-prefixed so no
/// two different events can hash the same input.
pub fn hash(prev_hash: &str, office: &str, at: i64, kind: &str, actor: &str, subject: &str, data: &str) -> String {
    let mut h = Sha256::new();
    for part in [prev_hash, office, &at.to_string(), kind, actor, subject, data] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The first link of a chain that does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub seq: i64,
    pub why: String,
}

/// Recomputes the chain of one office's events, in order.
pub fn verify(events: &[Event]) -> Result<usize, BrokenLink> {
    let mut prev = String::new();
    verify_from(&mut prev, events)
}

/// Recomputes a stretch of the chain that follows the event whose hash is `prev` ("" before the
/// first), leaving `prev` at the stretch's last hash: a long chain is checked a page at a time.
pub fn verify_from(prev: &mut String, events: &[Event]) -> Result<usize, BrokenLink> {
    for e in events {
        if e.prev_hash != *prev {
            return Err(BrokenLink {
                seq: e.seq,
                why: "its previous-hash does not match the event before it (an event was removed or inserted)".into(),
            });
        }
        let h = hash(&e.prev_hash, &e.office, e.at, &e.kind, &e.actor, &e.subject, &e.data);
        if h != e.hash {
            return Err(BrokenLink { seq: e.seq, why: "its content does not match its hash (the event was altered)".into() });
        }
        *prev = e.hash.clone();
    }
    Ok(events.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<Event> {
        let mut prev = String::new();
        (0..n)
            .map(|i| {
                let h = hash(&prev, "o", i as i64, "k", "a", "s", "{}");
                let e = Event {
                    seq: i as i64 + 1,
                    office: "o".into(),
                    at: i as i64,
                    kind: "k".into(),
                    actor: "a".into(),
                    subject: "s".into(),
                    data: "{}".into(),
                    prev_hash: prev.clone(),
                    hash: h.clone(),
                };
                prev = h;
                e
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(5));
    }

    #[test]
    fn an_altered_event_is_named() {
        let mut c = chain(5);
        c[2].data = "{\"decision\":\"accepted\"}".into();
        assert_eq!(verify(&c).unwrap_err().seq, 3);
    }

    #[test]
    fn a_removed_event_is_named_by_its_successor() {
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(verify(&c).unwrap_err().seq, 3);
    }
}
