//! The node's libp2p identity: an Ed25519 key kept in `DIR/p2p.key` (0600), separate from
//! the bureau key, so that the network key can be replaced without touching the log.

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use libp2p::identity::Keypair;

/// Reads the node's network key, creating it on first use.
pub fn load_or_create(path: &Path) -> Result<Keypair> {
    if path.exists() {
        let key = crate::node_dir::read_key(path)
            .with_context(|| format!("reading the network key {}", path.display()))?;
        return keypair_from_seed(key.to_bytes());
    }
    let key = crate::node_dir::generate_key();
    crate::node_dir::write_key(path, &key)?;
    keypair_from_seed(key.to_bytes())
}

/// The libp2p keypair with this Ed25519 secret seed.
pub fn keypair_from_seed(mut seed: [u8; 32]) -> Result<Keypair> {
    Keypair::ed25519_from_bytes(&mut seed).map_err(|e| anyhow!("network key: {e}"))
}
