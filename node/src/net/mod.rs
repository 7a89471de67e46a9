//! Replication between bureau nodes over libp2p (SPEC.md §14): the sync protocol, gossip of
//! checkpoints, cosignatures and equivocation proofs, peer scoring, and the node's event
//! loop.

pub mod fault;
pub mod identity;
pub mod node;
pub mod protocol;
pub mod score;

pub use node::{ensure_member_logs, LogView, NetConfig, NodeHandle, NodeStatus};
