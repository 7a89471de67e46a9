//! A keyed fast hash for in-memory maps of identifiers (case ids, institution codes, keys)
//! that the state replay and the audit look up for every entry: SipHash, std's default,
//! cost as much as the rest of those lookups.
//!
//! Every byte of the key is mixed (ids often share long prefixes). Each map draws its own
//! random key from std's `RandomState`, and the mixing is a folded 64×64→128-bit multiply
//! (as aHash's fallback), so that whoever writes the identifiers cannot aim them at one
//! bucket without knowing the key. It is not a cryptographic hash and nothing stored or
//! signed depends on it.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};

/// A `HashMap` with [`KeyedHash`].
pub type FastMap<K, V> = HashMap<K, V, KeyedHash>;
/// A `HashSet` with [`KeyedHash`].
pub type FastSet<K> = HashSet<K, KeyedHash>;

const MULTIPLE: u64 = 0x5851_f42d_4c95_7f2d;

fn folded_multiply(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// Builds [`FastHasher`]s with a key drawn at random when the map is made.
#[derive(Debug, Clone, Copy)]
pub struct KeyedHash {
    key: [u64; 2],
}

impl Default for KeyedHash {
    fn default() -> Self {
        let random = std::collections::hash_map::RandomState::new();
        KeyedHash {
            key: [
                random.hash_one(0x243f_6a88_u64),
                random.hash_one(0x85a3_08d3_u64),
            ],
        }
    }
}

impl BuildHasher for KeyedHash {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher {
            state: self.key[0],
            pad: self.key[1],
        }
    }
}

/// The hasher of [`KeyedHash`].
#[derive(Debug, Clone)]
pub struct FastHasher {
    state: u64,
    pad: u64,
}

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.state = folded_multiply(self.state ^ word, MULTIPLE).rotate_left(23);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            self.add(u64::from_le_bytes(w));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            // The length tells "ab" from "ab\0".
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        folded_multiply(self.state, self.pad).rotate_left((self.state & 63) as u32)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hash_with(build: &KeyedHash, key: &str) -> u64 {
        build.hash_one(key)
    }

    #[test]
    fn equal_keys_hash_equal_and_prefixes_do_not_collide() {
        let build = KeyedHash::default();
        assert_eq!(
            hash_with(&build, "LL2024-000001"),
            hash_with(&build, "LL2024-000001")
        );
        // Ids that differ only after a long shared prefix, or only in length.
        let prefix = "H14112500000000000000000000000000000000000000";
        let hashes: HashSet<u64> = (0..10_000)
            .map(|i| hash_with(&build, &format!("{prefix}{i:05}")))
            .collect();
        assert_eq!(hashes.len(), 10_000);
        assert_ne!(hash_with(&build, "ab"), hash_with(&build, "ab\0"));
        assert_ne!(build.hash_one(1u64), build.hash_one(2u64));
    }

    #[test]
    fn each_map_has_its_own_key() {
        let a = KeyedHash::default();
        let b = KeyedHash::default();
        assert_ne!(
            hash_with(&a, "LL2024-000001"),
            hash_with(&b, "LL2024-000001")
        );
    }

    #[test]
    fn maps_work() {
        let mut map: FastMap<String, u32> = FastMap::default();
        for i in 0..1000u32 {
            map.insert(format!("case-{i}"), i);
        }
        assert_eq!(map.get("case-517"), Some(&517));
        assert_eq!(map.len(), 1000);
    }
}
