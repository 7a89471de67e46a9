//! Group commit: many submitters, one writer thread and one committer thread per log.
//!
//! Each submitter hands its submission to the writer and waits for the reply. The writer
//! takes whatever has queued up (at most [`MAX_BATCH`]) and validates it as one batch with
//! [`Ledger::prepare`] — one signature batch, one checkpoint — then hands it to the
//! committer and goes on with the next batch. The committer takes every prepared batch
//! waiting for it and writes them with [`Ledger::commit_many`]: one sled write per batch,
//! one flush and fsync for all of them, and only then answers each submitter. So the
//! validation of new submissions overlaps the flush of earlier ones, and however small
//! the batches the writer makes, the committer shares one flush among all the batches
//! that queued up during the previous one. (A batch prepared while the committer is idle
//! and nothing else is queued is written by the writer itself: one hand-off fewer for a
//! lone submitter.)
//!
//! This needs writes that cost about what the entries weigh: the store writes the entries
//! of the partly filled last page as small rows (see `page`), not the whole page again
//! on every batch. (With the whole page rewritten, the smaller batches of the pipeline
//! cost more than the overlap saved.)
//!
//! A batch's index rows are written after its submitters are answered, by a third
//! thread (see `index`), so the index write is off the submitters' wait.
//!
//! Not here: validation (the ledger does it) or any notion of which officer may submit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use yibao_schema::entry::Submission;

use crate::index::INDEX_WRITE_PAUSE;
use crate::keys::LogCode;
use crate::store::{AppendError, Ledger, Prepared, Receipt};

/// Largest number of submissions appended as one batch.
pub const MAX_BATCH: usize = 4096;

/// Prepared batches that may wait for the committer before the writer waits too.
const MAX_PREPARED: usize = 16;

/// While the committer is busy, the writer gathers at least this many submissions (or
/// waits until the committer is idle) before it prepares them: every batch costs a
/// checkpoint and a few rows on top of its entries, and cannot be written any sooner.
const MIN_BATCH_WHILE_BUSY: usize = 32;

/// How long the writer waits for more submissions at a time while the committer is busy.
const GATHER_WAIT: std::time::Duration = std::time::Duration::from_micros(100);

/// What answers one submission: called once, from the appender's writer or committer
/// thread, with its result. It must not block (an async caller sends on a oneshot
/// channel, say).
pub type Reply = Box<dyn FnOnce(Result<Receipt, AppendError>) + Send>;

struct Job {
    submission: Submission,
    reply: Reply,
}

/// Where "now" comes from: the system clock in the node, a fixed clock in tests.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system clock in milliseconds since the Unix epoch (UTC).
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    })
}

/// A handle for submitting to one log through its writer thread. Cloning is cheap.
#[derive(Clone)]
pub struct Appender {
    sender: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Appender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Appender")
    }
}

/// The writer thread; dropping every [`Appender`] stops it, and [`Writer::join`] waits.
pub struct Writer {
    handle: JoinHandle<()>,
}

impl Writer {
    /// Waits for the writer to finish the work already queued.
    pub fn join(self) {
        // A writer that panicked has already answered nobody; there is nothing to recover.
        let _ = self.handle.join();
    }
}

impl Appender {
    /// Starts the writer for log `code` of `ledger`.
    pub fn start(
        ledger: Arc<Ledger>,
        code: LogCode,
        clock: Clock,
    ) -> std::io::Result<(Appender, Writer)> {
        let (sender, receiver) = mpsc::channel::<Job>();
        let handle = std::thread::Builder::new()
            .name(format!("yibao-writer-{code}"))
            .spawn(move || writer_loop(&ledger, code, &receiver, &clock))?;
        Ok((Appender { sender }, Writer { handle }))
    }

    /// Submits and waits until the entry is durable (or refused).
    pub fn submit(&self, submission: Submission) -> Result<Receipt, AppendError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.submit_then(submission, move |result| {
            // A submitter that gave up waiting is not an error for the others.
            let _ = reply.send(result);
        })?;
        answer
            .recv()
            .map_err(|_| AppendError::Storage("the writer stopped before answering".into()))?
    }

    /// Queues a submission without waiting: `reply` is called with its result once it is
    /// durable (or refused), from the appender's own threads, so it must not block. This is how
    /// an async caller submits without tying up a thread.
    pub fn submit_then(
        &self,
        submission: Submission,
        reply: impl FnOnce(Result<Receipt, AppendError>) + Send + 'static,
    ) -> Result<(), AppendError> {
        self.sender
            .send(Job {
                submission,
                reply: Box::new(reply),
            })
            .map_err(|_| AppendError::Storage("the writer has stopped".into()))
    }
}

type Answers = (Prepared, Vec<Reply>);

fn answer_all(replies: Vec<Reply>, error: &str) {
    for reply in replies {
        reply(Err(AppendError::Storage(error.to_string())));
    }
}

fn writer_loop(ledger: &Arc<Ledger>, code: LogCode, receiver: &mpsc::Receiver<Job>, clock: &Clock) {
    let (to_committer, prepared) = mpsc::sync_channel::<Answers>(MAX_PREPARED);
    // Prepared batches handed to the committer and not yet answered.
    let in_flight = Arc::new(AtomicUsize::new(0));
    // The indexer writes each batch's index rows once its submitters are answered; a
    // signal stands for "there may be rows queued" (one pending signal is enough).
    let (kick, kicks) = mpsc::sync_channel::<()>(1);
    let indexer = {
        let ledger = ledger.clone();
        std::thread::Builder::new()
            .name(format!("yibao-index-{code}"))
            .spawn(move || {
                while kicks.recv().is_ok() {
                    // The batches of the next fifth of a second are written with these
                    // (one sled pass for all), not one by one beside each commit.
                    std::thread::sleep(INDEX_WRITE_PAUSE);
                    ledger.flush_index();
                }
                ledger.flush_index();
            })
    };
    // Without an indexer thread, the committer writes the rows itself after answering.
    let indexer = match indexer {
        Ok(handle) => Some((handle, kick)),
        Err(e) => {
            tracing::warn!(log = %code, error = %e, "cannot start the indexer thread");
            None
        }
    };
    let index_after = {
        let ledger = ledger.clone();
        let kick = indexer.as_ref().map(|(_, kick)| kick.clone());
        move || match &kick {
            Some(kick) => {
                // Full means a signal is already waiting: the indexer will see these rows.
                let _ = kick.try_send(());
            }
            None => ledger.flush_index(),
        }
    };
    let committer = {
        let ledger = ledger.clone();
        let in_flight = in_flight.clone();
        let index_after = index_after.clone();
        std::thread::Builder::new()
            .name(format!("yibao-commit-{code}"))
            .spawn(move || committer_loop(&ledger, &prepared, &in_flight, &index_after))
    };
    let committer = match committer {
        Ok(handle) => Some(handle),
        Err(e) => {
            tracing::error!(log = %code, error = %e, "cannot start the committer thread");
            None
        }
    };
    // A submission taken from the queue while deciding who writes a batch (see below).
    let mut held: Option<Job> = None;
    while let Some(first) = held.take().or_else(|| receiver.recv().ok()) {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(mpsc::TryRecvError::Empty)
                    if jobs.len() < MIN_BATCH_WHILE_BUSY
                        && in_flight.load(Ordering::Acquire) > 0 =>
                {
                    match receiver.recv_timeout(GATHER_WAIT) {
                        Ok(job) => jobs.push(job),
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
                Err(_) => break,
            }
        }
        let (submissions, replies): (Vec<Submission>, Vec<Reply>) = jobs
            .into_iter()
            .map(|job| (job.submission, job.reply))
            .unzip();
        let prep = ledger.prepare(&code, submissions, clock());
        // With the committer idle and nothing queued behind this batch, the writer writes
        // it itself: a lone submitter (an officer at a desk) waits for one thread hand-off
        // fewer. Anything queued goes on through the pipeline.
        let write_here = prep.is_ok()
            && in_flight.load(Ordering::Acquire) == 0
            && match receiver.try_recv() {
                Ok(job) => {
                    held = Some(job);
                    false
                }
                Err(_) => true,
            };
        match prep {
            Ok(prepared) if committer.is_some() && !write_here => {
                in_flight.fetch_add(1, Ordering::AcqRel);
                if let Err(mpsc::SendError((prepared, replies))) =
                    to_committer.send((prepared, replies))
                {
                    in_flight.fetch_sub(1, Ordering::AcqRel);
                    // The committer is gone: write here (this also keeps the ticket order).
                    commit_and_answer(ledger, vec![(prepared, replies)], || {});
                    index_after();
                }
            }
            Ok(prepared) => {
                commit_and_answer(ledger, vec![(prepared, replies)], || {});
                index_after();
            }
            Err(e) => {
                tracing::error!(log = %code, error = %e, "append batch failed");
                answer_all(replies, &e.to_string());
            }
        }
    }
    drop(to_committer);
    if let Some(handle) = committer {
        // A committer that panicked has already answered nobody; nothing to recover.
        let _ = handle.join();
    }
    drop(index_after);
    if let Some((handle, kick)) = indexer {
        drop(kick);
        // An indexer that panicked left rows queued; the next read or open writes them.
        let _ = handle.join();
    }
}

fn committer_loop(
    ledger: &Ledger,
    prepared: &mpsc::Receiver<Answers>,
    in_flight: &AtomicUsize,
    index_after: &dyn Fn(),
) {
    while let Ok(first) = prepared.recv() {
        let mut group = vec![first];
        while let Ok(more) = prepared.try_recv() {
            group.push(more);
        }
        let count = group.len();
        // Idle again before anyone is answered, so that the writer does not wait to gather
        // the next submissions behind a commit that is over.
        commit_and_answer(ledger, group, || {
            in_flight.fetch_sub(count, Ordering::AcqRel);
        });
        index_after();
    }
}

/// Writes consecutive prepared batches with one flush, calls `written`, then answers their
/// submitters.
fn commit_and_answer(ledger: &Ledger, group: Vec<Answers>, written: impl FnOnce()) {
    let (batches, replies): (Vec<Prepared>, Vec<Vec<Reply>>) = group.into_iter().unzip();
    let mut results = ledger.commit_many(batches).into_iter();
    written();
    for replies in replies {
        let batch_results = results.next().unwrap_or_default();
        let mut batch_results = batch_results.into_iter();
        for reply in replies {
            let result = batch_results
                .next()
                .unwrap_or_else(|| Err(AppendError::Storage("not processed".into())));
            reply(result);
        }
    }
}
