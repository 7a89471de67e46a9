//! Officer-authenticated reads (SPEC.md §16): a request signed by an officer key that a
//! log held by this node authorises sees what the public may not — key events in full
//! (officers' certificate numbers), the officer roster. The public read API is unchanged.
//!
//! Wire format: `Authorization: Yibao-Officer <key hex> <timestamp ms> <signature base64>`,
//! the signature (the ledger's Ed25519 rule, `schema::sig`) over
//! `yibao.ledger/v1/officer-read\n<METHOD>\n<path and query>\n<timestamp ms>\n`. The time
//! must be within [`WINDOW_MS`] of the node's clock and a signature is accepted once.
//! Not here: authorisation to write (a submission's own signature is its authentication).

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use ed25519_dalek::SigningKey;
use yibao_ledger::keys::LogCode;
use yibao_ledger::store::{Ledger, StoreError};
use yibao_schema::entry::EntryRef;
use yibao_schema::record::{KeyEvent, Record, RecordKind};

/// The authentication scheme's name in the `Authorization` header.
pub const SCHEME: &str = "Yibao-Officer";
/// The first line of every signed request (domain separation from entries and notes).
pub const DOMAIN: &str = "yibao.ledger/v1/officer-read";
/// How far a request's time may be from the node's clock, either way.
pub const WINDOW_MS: u64 = 60_000;
/// The most signatures remembered for replay protection (older ones expire first).
const MAX_REMEMBERED: usize = 100_000;

/// The bytes an officer signs for one request.
pub fn signed_message(method: &str, path_and_query: &str, timestamp_ms: u64) -> Vec<u8> {
    format!("{DOMAIN}\n{method}\n{path_and_query}\n{timestamp_ms}\n").into_bytes()
}

/// The `Authorization` header value for a request, signed with `key`.
pub fn authorization(
    key: &SigningKey,
    method: &str,
    path_and_query: &str,
    timestamp_ms: u64,
) -> String {
    let signature =
        yibao_schema::sig::sign(key, &signed_message(method, path_and_query, timestamp_ms));
    format!(
        "{SCHEME} {} {timestamp_ms} {}",
        hex::encode(key.verifying_key().to_bytes()),
        base64::engine::general_purpose::STANDARD.encode(signature)
    )
}

/// Who signed an accepted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfficerCaller {
    /// The log that authorises the key.
    pub log: LogCode,
    /// The key.
    pub key: [u8; 32],
}

/// Why a signed request was refused (each is a 401 naming `authorization`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("expected `Yibao-Officer <key hex> <timestamp ms> <signature base64>`: {0}")]
    Malformed(&'static str),
    #[error("the request time is {0} s away from the node's clock (at most 60 s)")]
    OutOfWindow(u64),
    #[error("the signature does not verify for this method, path and time")]
    BadSignature,
    #[error("this request was already answered once (sign each request afresh)")]
    Replayed,
    #[error("the key is not an active officer or bureau key of any log this node holds")]
    NotAnOfficer,
}

/// The keys one log authorises, kept up to date from its key events.
#[derive(Debug, Default)]
struct Roster {
    /// Entries read so far.
    seen: u64,
    bureau: Option<[u8; 32]>,
    /// Officer keys; `true` while not revoked.
    officers: HashMap<[u8; 32], bool>,
}

impl Roster {
    fn authorises(&self, key: &[u8; 32]) -> bool {
        self.bureau.as_ref() == Some(key) || self.officers.get(key).copied().unwrap_or(false)
    }

    fn apply(&mut self, event: &KeyEvent) {
        match event {
            KeyEvent::LogCreated { bureau_key, .. } => self.bureau = Some(bureau_key.0),
            KeyEvent::OfficerAdded { key, .. } => {
                self.officers.insert(key.0, true);
            }
            KeyEvent::OfficerRevoked { key, .. } => {
                self.officers.insert(key.0, false);
            }
            KeyEvent::BureauKeyRotated { new_key } => self.bureau = Some(new_key.0),
        }
    }

    /// Reads the log's entries beyond those seen (every stored entry was verified on
    /// append or replication, so its key events are taken as they are).
    fn catch_up(&mut self, ledger: &Ledger, log: &LogCode) -> Result<(), StoreError> {
        let size = ledger.size(log)?;
        if self.seen == 0 && size > 0 {
            // Start from the replayed state rather than reading the whole log.
            let state = ledger.state(log)?;
            self.bureau = state.bureau_key();
            for officer in state.officers() {
                self.officers
                    .insert(officer.key, officer.revoked_seq.is_none());
            }
            self.seen = state.next_seq().min(size);
        }
        while self.seen < size {
            let chunk = ledger.entries(log, self.seen, 4096)?;
            if chunk.is_empty() {
                break;
            }
            for (seq, bytes) in &chunk {
                self.seen = seq + 1;
                let Ok(entry) = EntryRef::decode(bytes) else {
                    continue;
                };
                let statement = &entry.submission.statement;
                if RecordKind::parse(statement.kind) != Some(RecordKind::KeyEvent) {
                    continue;
                }
                if let Ok(Record::KeyEvent(event)) =
                    Record::decode_payload(RecordKind::KeyEvent, entry.submission.payload)
                {
                    self.apply(&event);
                }
            }
        }
        Ok(())
    }
}

/// Checks signed requests: rosters per log and the signatures already used.
#[derive(Debug, Default)]
pub struct OfficerAuth {
    rosters: Mutex<HashMap<LogCode, Roster>>,
    /// Signatures accepted, with their request time.
    used: Mutex<HashMap<[u8; 64], u64>>,
}

/// The parts of an `Authorization` header.
struct Credentials {
    key: [u8; 32],
    timestamp_ms: u64,
    signature: [u8; 64],
}

fn parse_header(value: &str) -> Result<Credentials, AuthError> {
    let mut parts = value.split(' ');
    if parts.next() != Some(SCHEME) {
        return Err(AuthError::Malformed("unknown scheme"));
    }
    let key = parts
        .next()
        .and_then(|k| hex::decode(k).ok())
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .ok_or(AuthError::Malformed("the key is not 64 hex digits"))?;
    let timestamp_ms = parts
        .next()
        .and_then(|t| t.parse::<u64>().ok())
        .ok_or(AuthError::Malformed("the timestamp is not a number"))?;
    let signature = parts
        .next()
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .and_then(|s| <[u8; 64]>::try_from(s).ok())
        .ok_or(AuthError::Malformed(
            "the signature is not 64 bytes of base64",
        ))?;
    if parts.next().is_some() {
        return Err(AuthError::Malformed("extra fields"));
    }
    Ok(Credentials {
        key,
        timestamp_ms,
        signature,
    })
}

impl OfficerAuth {
    /// Checks one request's `Authorization` value at `now_ms`: the signature, the time
    /// window, that the key is an active officer (or bureau) key of a log the node holds,
    /// and that the signature was not used before. Blocking (it may read the ledger).
    pub fn check(
        &self,
        ledger: &Ledger,
        header: &str,
        method: &str,
        path_and_query: &str,
        now_ms: u64,
    ) -> Result<Result<OfficerCaller, AuthError>, StoreError> {
        let credentials = match parse_header(header) {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        let distance = now_ms.abs_diff(credentials.timestamp_ms);
        if distance > WINDOW_MS {
            return Ok(Err(AuthError::OutOfWindow(distance / 1000)));
        }
        let message = signed_message(method, path_and_query, credentials.timestamp_ms);
        if yibao_schema::sig::verify(&credentials.key, &message, &credentials.signature).is_err() {
            return Ok(Err(AuthError::BadSignature));
        }
        let Some(log) = self.authorising_log(ledger, &credentials.key)? else {
            return Ok(Err(AuthError::NotAnOfficer));
        };
        // Replay protection: a signature is accepted once while its time is in the window.
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        if used.len() >= MAX_REMEMBERED {
            used.retain(|_, t| now_ms.abs_diff(*t) <= WINDOW_MS);
        }
        if used.len() >= MAX_REMEMBERED || used.contains_key(&credentials.signature) {
            return Ok(Err(AuthError::Replayed));
        }
        used.insert(credentials.signature, credentials.timestamp_ms);
        Ok(Ok(OfficerCaller {
            log,
            key: credentials.key,
        }))
    }

    fn authorising_log(
        &self,
        ledger: &Ledger,
        key: &[u8; 32],
    ) -> Result<Option<LogCode>, StoreError> {
        let mut rosters = self.rosters.lock().unwrap_or_else(|p| p.into_inner());
        for log in ledger.log_codes() {
            let roster = rosters.entry(log).or_default();
            roster.catch_up(ledger, &log)?;
            if roster.authorises(key) {
                return Ok(Some(log));
            }
        }
        Ok(None)
    }
}
