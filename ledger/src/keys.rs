//! The sled key layout of a ledger: one byte of table tag, the log's 6-digit division code,
//! then big-endian numbers so that sled's byte order is the log's order.
//!
//! Everything that must change together on an append (entry pages and tail rows, tree
//! nodes, the checkpoint and the head) lives in ONE sled tree, written through the
//! journal, whose record makes an append atomic (see `store::journal`). Derived indexes
//! live in other trees and can be rebuilt from the entries (see `index`). This module
//! only builds and parses keys.

use crate::merkle::NodeId;

/// A log's name inside the store: its 6-digit division code (GB/T 2260), e.g. `141125`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LogCode([u8; 6]);

impl LogCode {
    /// Parses a 6-digit division code.
    pub fn parse(code: &str) -> Option<LogCode> {
        let bytes: [u8; 6] = code.as_bytes().try_into().ok()?;
        if bytes.iter().all(u8::is_ascii_digit) {
            Some(LogCode(bytes))
        } else {
            None
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // INVARIANT: constructed only from six ASCII digits.
        std::str::from_utf8(&self.0).unwrap_or("??????")
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// The log's origin line, which names the hash so that witnesses that assume SHA-256
    /// can tell this log apart (SPEC.md §4.1).
    pub fn origin(&self) -> String {
        format!("{ORIGIN_PREFIX}{}", self.as_str())
    }

    /// The division code named by an origin line, if it is a Yibao origin.
    pub fn from_origin(origin: &str) -> Option<LogCode> {
        origin.strip_prefix(ORIGIN_PREFIX).and_then(LogCode::parse)
    }
}

impl std::fmt::Display for LogCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every Yibao log origin starts with this, followed by the 6-digit division code.
pub const ORIGIN_PREFIX: &str = "yibao.ledger/v1/blake3/";

/// Table tags (the first byte of every key in the main tree).
pub mod tag {
    /// Full entry pages (32 entries each, see `page`), by page index.
    pub const ENTRY: u8 = b'E';
    /// Entries of the last, partly filled page, one row each, by seq (see `page`).
    pub const TAIL: u8 = b'T';
    /// Tree node hashes, by level and index.
    pub const NODE: u8 = b'N';
    /// Signed checkpoints, by tree size.
    pub const CHECKPOINT: u8 = b'C';
    /// The log's head (size, last leaf hash, latest checkpoint size).
    pub const HEAD: u8 = b'H';
    /// The log's metadata (origin, the key it was created with).
    pub const META: u8 = b'M';
    /// A replica's pending target: the owner's signed checkpoint beyond the stored size and
    /// the consistency proof tying the stored prefix to it (while catching up).
    pub const PENDING: u8 = b'P';
    /// A stored equivocation proof: the log is frozen.
    pub const EQUIVOCATION: u8 = b'Q';
}

fn prefixed(tag: u8, log: &LogCode, extra: usize) -> Vec<u8> {
    let mut key = Vec::with_capacity(7 + extra);
    key.push(tag);
    key.extend_from_slice(log.as_bytes());
    key
}

/// Key of entry page `page` (entries `page * 32 ..`).
pub fn page(log: &LogCode, page: u64) -> [u8; 15] {
    let mut key = [0u8; 15];
    key[0] = tag::ENTRY;
    key[1..7].copy_from_slice(log.as_bytes());
    key[7..15].copy_from_slice(&page.to_be_bytes());
    key
}

/// Key of the tail row of entry `seq` (an entry of the last, partly filled page).
pub fn tail(log: &LogCode, seq: u64) -> [u8; 15] {
    let mut key = [0u8; 15];
    key[0] = tag::TAIL;
    key[1..7].copy_from_slice(log.as_bytes());
    key[7..15].copy_from_slice(&seq.to_be_bytes());
    key
}

/// The prefix under which all of a log's rows of one table live.
pub fn table_prefix(tag: u8, log: &LogCode) -> Vec<u8> {
    prefixed(tag, log, 0)
}

/// Key of a stored tree node.
pub fn node(log: &LogCode, id: NodeId) -> Vec<u8> {
    let mut key = prefixed(tag::NODE, log, 9);
    key.push(id.level);
    key.extend_from_slice(&id.index.to_be_bytes());
    key
}

/// Key of the checkpoint for `size`.
pub fn checkpoint(log: &LogCode, size: u64) -> Vec<u8> {
    let mut key = prefixed(tag::CHECKPOINT, log, 8);
    key.extend_from_slice(&size.to_be_bytes());
    key
}

/// Key of the head row.
pub fn head(log: &LogCode) -> Vec<u8> {
    prefixed(tag::HEAD, log, 0)
}

/// Key of the metadata row.
pub fn meta(log: &LogCode) -> Vec<u8> {
    prefixed(tag::META, log, 0)
}

/// Key of a replica's pending-target row.
pub fn pending(log: &LogCode) -> Vec<u8> {
    prefixed(tag::PENDING, log, 0)
}

/// Key of a log's equivocation proof.
pub fn equivocation(log: &LogCode) -> Vec<u8> {
    prefixed(tag::EQUIVOCATION, log, 0)
}

/// The big-endian u64 at the end of a key, if the key is long enough.
pub fn trailing_u64(key: &[u8]) -> Option<u64> {
    let start = key.len().checked_sub(8)?;
    let bytes: [u8; 8] = key.get(start..)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// The node id in a node key.
pub fn parse_node(key: &[u8]) -> Option<NodeId> {
    if key.len() != 16 {
        return None;
    }
    let level = *key.get(7)?;
    let index = trailing_u64(key)?;
    Some(NodeId { level, index })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_origins() {
        let code = LogCode::parse("141125").unwrap();
        assert_eq!(code.origin(), "yibao.ledger/v1/blake3/141125");
        assert_eq!(LogCode::from_origin(&code.origin()), Some(code));
        assert!(LogCode::parse("14112").is_none());
        assert!(LogCode::parse("14112x").is_none());
        assert!(LogCode::from_origin("example.com/log/141125").is_none());
    }

    #[test]
    fn entry_keys_sort_by_seq() {
        let code = LogCode::parse("141125").unwrap();
        assert!(page(&code, 255) < page(&code, 256));
        assert_eq!(trailing_u64(&page(&code, 77)), Some(77));
        assert!(tail(&code, 255) < tail(&code, 256));
        assert_eq!(trailing_u64(&tail(&code, 77)), Some(77));
        let id = NodeId { level: 5, index: 9 };
        assert_eq!(parse_node(&node(&code, id)), Some(id));
    }
}
