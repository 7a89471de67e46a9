//! Group commit: many submitters, one writer thread, one flush per batch.
//!
//! Each submitter hands its submission to the writer and waits for the reply. The writer
//! takes whatever has queued up (at most [`MAX_BATCH`]), appends it as one batch with
//! [`Ledger::append_batch`] — one signature batch, one sled write, one checkpoint, one
//! flush and fsync — and answers each submitter. While the writer is flushing, new
//! submissions queue up for the next batch, so the flush cost is shared by everyone who
//! arrived during it.
//!
//! The store can also prepare a batch and commit it separately ([`Ledger::prepare`],
//! [`Ledger::commit_many`]), so that validation of one batch overlaps the flush of the
//! previous ones. Measured here (2 cores, a busy disk), that made batches smaller and
//! throughput lower (≈ 7,000 against ≈ 12,000 entries/s with 64 submitters), because
//! sled's write of each batch costs more than its validation; this writer therefore does
//! both in turn, and the split waits for a store whose writes are cheaper.
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

fn writer_loop(ledger: &Ledger, code: LogCode, receiver: &mpsc::Receiver<Job>, clock: &Clock) {
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
        match ledger.append_batch(&code, submissions, clock()) {
            Ok(results) => {
                for (reply, result) in replies.into_iter().zip(results) {
                    // A submitter that gave up waiting is not an error for the others.
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                tracing::error!(log = %code, error = %e, "append batch failed");
                let message = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(AppendError::Storage(message.clone())));
                }
            }
        }
    }
}
