//! Yibao Ledger schema: record types, the canonical encoding, signatures, checkpoints and
//! the domain rules of medical-insurance fund supervision.
//!
//! This crate does no I/O: no files, no clock, no network. Everything it needs (the time,
//! the policy, the state of a log) is passed in, so that every verifier — a node, the city
//! auditor, a test — gets the same answer from the same bytes.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod cbor;
pub mod entry;
pub mod hashing;
pub mod manifest;
pub mod note;
pub mod policy;
pub mod record;
pub mod rules;
pub mod sig;
pub mod state;
