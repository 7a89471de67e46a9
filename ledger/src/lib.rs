//! Yibao Ledger storage: entries, the Merkle tree, checkpoints and verification on sled.
//!
//! This crate knows nothing of the network.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod merkle;
