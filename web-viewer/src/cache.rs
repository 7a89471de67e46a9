//! What the viewer keeps between pages, so that a notice page does not cost four reads from
//! the node and three signature checks each time:
//!
//! - the node's log list and each log's latest checkpoint, read again at most every
//!   [`REFRESH`] (a page may show a checkpoint up to that old; it always shows the one it was
//!   verified against);
//! - the outcome of checking a checkpoint's signatures, kept for as long as the node
//!   serves the same checkpoint text under the same log keys;
//! - entries that verified, keyed by (log, seq, the log's key, the checkpoint's text): an
//!   entry proven included in a signed checkpoint stays so. A new checkpoint is a new key,
//!   so the entry is verified again against it. Nothing that failed a check is kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use yibao_schema::record::Record;

use crate::html::Lang;
use crate::verify::{self, CheckedCheckpoint, LogInfo};
use crate::{PageError, Source};

/// How long a log list or checkpoint read from the node is used before reading it again.
pub const REFRESH: Duration = Duration::from_secs(1);

/// The most verified entries kept (the set is emptied when it grows past this).
const MAX_ENTRIES: usize = 200_000;

/// A checkpoint as read, with the outcome of its checks.
#[derive(Debug)]
pub(crate) struct KnownCheckpoint {
    /// The text the node served.
    pub(crate) text: Vec<u8>,
    /// The checks, done against `logs`.
    pub(crate) checked: CheckedCheckpoint,
    /// The log list it was checked with (its keys and witnesses).
    logs: Arc<Vec<LogInfo>>,
}

/// What of a verified entry a page needs.
#[derive(Debug, Clone)]
pub(crate) struct VerifiedEntry {
    pub(crate) timestamp_ms: Option<u64>,
    pub(crate) record: Record,
    pub(crate) leaf_hash: [u8; 32],
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct EntryKey {
    log: String,
    seq: u64,
    vkey: String,
    checkpoint: Vec<u8>,
}

/// The viewer's memory of the node (one per router).
#[derive(Default)]
pub(crate) struct Cache {
    logs: tokio::sync::Mutex<Option<(Instant, Arc<Vec<LogInfo>>)>>,
    checkpoints: tokio::sync::Mutex<HashMap<String, (Instant, Arc<KnownCheckpoint>)>>,
    entries: Mutex<HashMap<EntryKey, VerifiedEntry>>,
}

/// Whether two log lists name the same logs with the same names and keys (what checking a
/// checkpoint depends on).
fn same_keys(a: &[LogInfo], b: &[LogInfo]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.log == y.log && x.vkey == y.vkey && x.name == y.name)
}

impl Cache {
    /// The node's logs, read at most every [`REFRESH`].
    pub(crate) async fn logs(
        &self,
        source: &dyn Source,
        lang: Lang,
    ) -> Result<Arc<Vec<LogInfo>>, PageError> {
        let mut held = self.logs.lock().await;
        if let Some((at, logs)) = held.as_ref() {
            if at.elapsed() < REFRESH {
                return Ok(logs.clone());
            }
        }
        let logs = Arc::new(verify::logs(source, lang).await?);
        *held = Some((Instant::now(), logs.clone()));
        Ok(logs)
    }

    /// The latest checkpoint of `info.log`, read at most every [`REFRESH`] and checked
    /// again only when its text or the logs' keys changed.
    pub(crate) async fn checkpoint(
        &self,
        source: &dyn Source,
        lang: Lang,
        info: &LogInfo,
        logs: &Arc<Vec<LogInfo>>,
    ) -> Result<Arc<KnownCheckpoint>, PageError> {
        let mut held = self.checkpoints.lock().await;
        let previous = held.get(&info.log).map(|(at, known)| (*at, known.clone()));
        if let Some((at, known)) = &previous {
            if at.elapsed() < REFRESH && Arc::ptr_eq(&known.logs, logs) {
                return Ok(known.clone());
            }
        }
        let text = verify::checkpoint_text(source, lang, &info.log).await?;
        let known = match previous {
            Some((_, known)) if known.text == text && same_keys(&known.logs, logs) => {
                Arc::new(KnownCheckpoint {
                    text,
                    checked: known.checked.clone(),
                    logs: logs.clone(),
                })
            }
            _ => {
                let checked = verify::check_checkpoint(&text, info, logs);
                Arc::new(KnownCheckpoint {
                    text,
                    checked,
                    logs: logs.clone(),
                })
            }
        };
        held.insert(info.log.clone(), (Instant::now(), known.clone()));
        Ok(known)
    }

    /// Entry `seq` of `info.log` if it verified against `checkpoint` before.
    pub(crate) fn verified(
        &self,
        info: &LogInfo,
        seq: u64,
        checkpoint: &KnownCheckpoint,
    ) -> Option<VerifiedEntry> {
        let key = EntryKey {
            log: info.log.clone(),
            seq,
            vkey: info.vkey.clone(),
            checkpoint: checkpoint.text.clone(),
        };
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&key)
            .cloned()
    }

    /// Remembers that entry `seq` of `info.log` verified against `checkpoint`.
    pub(crate) fn remember(
        &self,
        info: &LogInfo,
        seq: u64,
        checkpoint: &KnownCheckpoint,
        entry: VerifiedEntry,
    ) {
        let key = EntryKey {
            log: info.log.clone(),
            seq,
            vkey: info.vkey.clone(),
            checkpoint: checkpoint.text.clone(),
        };
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, entry);
    }
}
