//! Group commit: many submitters, one preparing thread and one committing thread per log,
//! one flush per batch.
//!
//! Each submitter hands its submission to the writer and waits for the reply. The writer
//! takes whatever has queued up (at most [`MAX_BATCH`]) and prepares it as one batch with
//! [`Ledger::prepare`] — signatures checked together on every core, records checked, the
//! tree extended, one checkpoint signed — then hands it to the committer, which writes it
//! with [`Ledger::commit`] — one sled write, one flush and fsync — and answers each
//! submitter. While the committer flushes batch k, the writer prepares batch k+1 from the
//! submissions that queued up meanwhile, so validation and the disk overlap.
//!
//! Not here: validation (the ledger does it) or any notion of which officer may submit.

use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use yibao_schema::entry::Submission;

use crate::keys::LogCode;
use crate::store::{AppendError, Ledger, Receipt};

/// Largest number of submissions appended as one batch.
pub const MAX_BATCH: usize = 4096;

/// Reply channel of one submission.
pub type Reply = mpsc::Sender<Result<Receipt, AppendError>>;

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
        let (reply, answer) = mpsc::channel();
        self.sender
            .send(Job { submission, reply })
            .map_err(|_| AppendError::Storage("the writer has stopped".into()))?;
        answer
            .recv()
            .map_err(|_| AppendError::Storage("the writer stopped before answering".into()))?
    }

    /// Queues a submission; the answer arrives on `reply`.
    pub fn submit_async(&self, submission: Submission, reply: Reply) -> Result<(), AppendError> {
        self.sender
            .send(Job { submission, reply })
            .map_err(|_| AppendError::Storage("the writer has stopped".into()))
    }
}

fn writer_loop(ledger: &Arc<Ledger>, code: LogCode, receiver: &mpsc::Receiver<Job>, clock: &Clock) {
    // At most two prepared batches wait for the committer: enough to keep it busy.
    let (to_committer, committer_inbox) =
        mpsc::sync_channel::<(crate::store::Prepared, Vec<Reply>)>(2);
    let committer_ledger = ledger.clone();
    let committer = std::thread::Builder::new()
        .name(format!("yibao-commit-{code}"))
        .spawn(move || {
            while let Ok((prepared, replies)) = committer_inbox.recv() {
                let results = committer_ledger.commit(prepared);
                for (reply, result) in replies.into_iter().zip(results) {
                    // A submitter that gave up waiting is not an error for the others.
                    let _ = reply.send(result);
                }
            }
        });
    let committer = match committer {
        Ok(handle) => handle,
        Err(e) => {
            tracing::error!(log = %code, error = %e, "cannot start the committer thread");
            return;
        }
    };
    while let Ok(first) = receiver.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let (submissions, replies): (Vec<Submission>, Vec<Reply>) = jobs
            .into_iter()
            .map(|job| (job.submission, job.reply))
            .unzip();
        match ledger.prepare(&code, submissions, clock()) {
            Ok(prepared) => {
                if to_committer.send((prepared, replies)).is_err() {
                    tracing::error!(log = %code, "the committer has stopped");
                    break;
                }
            }
            Err(e) => {
                tracing::error!(log = %code, error = %e, "preparing a batch failed");
                let message = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(AppendError::Storage(message.clone())));
                }
            }
        }
    }
    drop(to_committer);
    // The committer finishes what was prepared before the writer stops.
    let _ = committer.join();
}
