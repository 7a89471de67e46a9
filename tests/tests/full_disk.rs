//! A full disk. The crash test's child appends (8 threads through group commit) with a
//! file-size limit: `prlimit --fsize`, with SIGXFSZ ignored, so that a write that would
//! grow a file past the limit fails as on a full disk (EFBIG rather than ENOSPC; the same
//! code paths, and no file system of our own, which would need root). The node must
//! refuse what it cannot store with an error that says it has no room, keep running
//! without a panic, and lose nothing it acknowledged: reopened without the limit, the
//! ledger holds every acknowledged entry, verifies, and takes new appends.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use yibao_ledger::store::Ledger;
use yibao_ledger::verify::verify_ledger;
use yibao_schema::policy::Policy;
use yibao_tests::{assert_holds_acknowledged, county, parse_ack};

/// The largest file the child may write: more than the journal's first 8 MiB extent, so
/// that the county is set up and appends are acknowledged before the limit is reached.
const FILE_LIMIT: u64 = 12_000_000;

/// A running `append-loop` and the lines it prints: stdout (`READY`, `ACK seq leaf`) and
/// stderr (refusals), both read on threads of their own.
struct Appending {
    child: Child,
    lines: mpsc::Receiver<(bool, String)>,
}

impl Appending {
    /// Starts the child on `dir`, under `limit` bytes per file if given.
    fn start(dir: &Path, limit: Option<u64>) -> Appending {
        let binary = env!("CARGO_BIN_EXE_append-loop");
        let mut command = match limit {
            Some(bytes) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg("trap '' XFSZ; exec prlimit --fsize=\"$0\": -- \"$@\"")
                    .arg(bytes.to_string())
                    .arg(binary);
                c
            }
            None => Command::new(binary),
        };
        let mut child = command
            .arg(dir)
            .arg("11")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start append-loop (and prlimit, from util-linux)");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        for (is_stdout, stream) in [
            (true, Box::new(stdout) as Box<dyn Read + Send>),
            (false, Box::new(stderr)),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if tx.send((is_stdout, line)).is_err() {
                        break;
                    }
                }
            });
        }
        Appending { child, lines }
    }

    /// Reads lines until `done` says so (true) or `within` passes (false).
    fn until(
        &mut self,
        within: Duration,
        seen: &mut Vec<(bool, String)>,
        done: impl Fn(&[(bool, String)]) -> bool,
    ) -> bool {
        let deadline = Instant::now() + within;
        while !done(seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => seen.push(line),
                Err(_) => return false,
            }
        }
        true
    }

    /// Kills the child (SIGKILL) and returns every line it printed.
    fn kill(mut self, mut seen: Vec<(bool, String)>) -> Vec<(bool, String)> {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        // The reader threads end with the pipes.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            seen.push(line);
        }
        seen
    }
}

/// The `ACK seq leaf` lines among `lines`.
fn acknowledged(lines: &[(bool, String)]) -> BTreeMap<u64, String> {
    let mut acks = BTreeMap::new();
    for (_, line) in lines.iter().filter(|(is_stdout, _)| *is_stdout) {
        if let Some((seq, leaf)) = parse_ack(line) {
            let previous = acks.insert(seq, leaf);
            assert!(previous.is_none(), "seq {seq} acknowledged twice");
        }
    }
    acks
}

fn storage_refusals(lines: &[(bool, String)]) -> Vec<&str> {
    lines
        .iter()
        .filter(|(is_stdout, line)| !is_stdout && line.contains("not stored, not acknowledged"))
        .map(|(_, line)| line.as_str())
        .collect()
}

/// Opens the ledger at `dir` and checks that it holds every entry of `acks` unchanged and
/// verifies; returns its size.
fn holds_and_verifies(dir: &Path, acks: &BTreeMap<u64, String>) -> u64 {
    let ledger = Ledger::open(dir, Policy::default())
        .unwrap_or_else(|e| panic!("the ledger does not reopen after the full disk: {e}"));
    assert_holds_acknowledged(&ledger, acks, "after the full disk");
    let size = ledger.size(&county()).unwrap();
    let report = verify_ledger(&ledger, &|_| {});
    assert!(report.is_ok(), "verify failed: {:?}", report.failures);
    ledger.close().unwrap();
    size
}

#[test]
fn a_full_disk_is_refused_clearly_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let ledger_dir = dir.path().join("ledger");

    // Append until storage fails, and a little longer.
    let mut full = Appending::start(&ledger_dir, Some(FILE_LIMIT));
    let mut seen = Vec::new();
    let failed = full.until(Duration::from_secs(120), &mut seen, |lines| {
        !storage_refusals(lines).is_empty()
    });
    let stderr_tail = |lines: &[(bool, String)]| -> String {
        let errors: Vec<&str> = lines
            .iter()
            .filter(|(o, _)| !o)
            .map(|(_, l)| l.as_str())
            .collect();
        errors[errors.len().saturating_sub(20)..].join("\n")
    };
    assert!(
        failed,
        "no storage refusal within 120 s under a {FILE_LIMIT}-byte file limit; stderr:\n{}",
        stderr_tail(&seen)
    );
    full.until(Duration::from_secs(1), &mut seen, |_| false);
    assert!(
        full.child.try_wait().unwrap().is_none(),
        "the node died of the full disk instead of refusing; stderr:\n{}",
        stderr_tail(&seen)
    );
    let seen = full.kill(seen);
    assert!(
        !seen.iter().any(|(_, line)| line.contains("panicked")),
        "a panic:\n{}",
        stderr_tail(&seen)
    );
    let refusals = storage_refusals(&seen);
    for refusal in &refusals {
        assert!(
            refusal.contains("the ledger's files cannot grow")
                || refusal.contains("an earlier write failed"),
            "a storage refusal that does not say what is wrong: {refusal}"
        );
    }
    assert!(
        refusals.iter().any(|r| r.contains(
            "a file reached the file-size limit: the ledger's files cannot grow; free space"
        )),
        "no refusal names the cause; refusals: {refusals:?}"
    );
    let mut acks = acknowledged(&seen);
    assert!(
        acks.len() > 100,
        "too few acknowledged entries ({}) before the disk filled to mean anything",
        acks.len()
    );

    // Room again: everything acknowledged is there, the ledger verifies and grows.
    let size = holds_and_verifies(&ledger_dir, &acks);
    let mut again = Appending::start(&ledger_dir, None);
    let mut more = Vec::new();
    let grew = again.until(Duration::from_secs(60), &mut more, |lines| {
        acknowledged(lines)
            .keys()
            .filter(|seq| **seq >= size)
            .count()
            >= 20
    });
    let more = again.kill(more);
    assert!(
        grew,
        "no new appends once there was room; stderr:\n{}",
        stderr_tail(&more)
    );
    acks.extend(acknowledged(&more));
    holds_and_verifies(&ledger_dir, &acks);
}
