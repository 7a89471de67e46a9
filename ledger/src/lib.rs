//! Yibao Ledger storage: entries, the Merkle tree, checkpoints, verification and export
//! bundles, on sled.
//!
//! This crate knows nothing of the network. Its entry points: [`store::Ledger`] (open,
//! create a log, append, read, prove), [`appender::Appender`] (group commit),
//! [`verify::verify_ledger`] and [`bundle`] (export and offline verification), [`audit`]
//! (the city audit over every log).
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod appender;
pub mod audit;
pub mod bundle;
pub mod entry_json;
pub mod equivocation;
pub mod index;
pub mod keys;
pub mod merkle;
pub mod page;
pub mod store;
pub mod verify;

use yibao_schema::record::{DivisionCode, KeyEvent, Record};

/// The record of entry 0 of a log: the bureau declares its division, name and key.
pub fn genesis_record(
    code: &keys::LogCode,
    name: &str,
    bureau_key: &[u8; 32],
) -> Result<Record, String> {
    let division = DivisionCode::parse(code.as_str()).map_err(|e| e.to_string())?;
    Ok(Record::KeyEvent(KeyEvent::LogCreated {
        division,
        name: name.to_string(),
        bureau_key: (*bureau_key).into(),
    }))
}
