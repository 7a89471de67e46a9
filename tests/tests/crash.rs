//! Crash test: a child process appends in a loop (8 threads through group commit) and is
//! killed with SIGKILL at random moments, 50 times over the same ledger. After every kill,
//! every entry the child reported as acknowledged must be stored with the same leaf hash;
//! at the end (and every tenth round) the whole ledger must verify.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use yibao_ledger::store::Ledger;
use yibao_ledger::verify::verify_ledger;
use yibao_schema::policy::Policy;
use yibao_tests::{assert_holds_acknowledged, parse_ack};

const ROUNDS: usize = 50;

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_entry() {
    let dir = tempfile::tempdir().unwrap();
    let ledger_dir = dir.path().join("ledger");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0xc7a5);
    let mut acknowledged: BTreeMap<u64, String> = BTreeMap::new();
    let mut kills_after_acks = 0;
    for round in 0..ROUNDS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_append-loop"))
            .arg(&ledger_dir)
            .arg("7")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait until the child is appending, then let it run for a random while.
        let ready = rx.recv_timeout(Duration::from_secs(60));
        assert!(
            ready.is_ok(),
            "round {round}: the child did not start within 60 s"
        );
        let run_for = Duration::from_millis(rng.gen_range(5..250));
        std::thread::sleep(run_for);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        let mut acks_this_round = 0;
        for line in rx.try_iter() {
            if let Some((seq, leaf)) = parse_ack(&line) {
                let previous = acknowledged.insert(seq, leaf.clone());
                assert!(
                    previous.is_none() || previous == Some(leaf),
                    "round {round}: seq {seq} was acknowledged twice with different entries"
                );
                acks_this_round += 1;
            }
        }
        if acks_this_round > 0 {
            kills_after_acks += 1;
        }

        // Reopen: it must open cleanly and hold every acknowledged entry.
        let ledger = Ledger::open(&ledger_dir, Policy::default())
            .unwrap_or_else(|e| panic!("round {round}: ledger does not reopen after SIGKILL: {e}"));
        assert_holds_acknowledged(&ledger, &acknowledged, &format!("round {round}"));
        if round % 10 == 9 || round == ROUNDS - 1 {
            let report = verify_ledger(&ledger, &|_| {});
            assert!(
                report.is_ok(),
                "round {round}: verify failed: {:?}",
                report.failures
            );
        }
        ledger.close().unwrap();
    }
    assert!(
        acknowledged.len() > 100,
        "too few acknowledged entries ({}) to mean anything",
        acknowledged.len()
    );
    assert!(
        kills_after_acks >= ROUNDS / 2,
        "most kills should land while appending ({kills_after_acks})"
    );
}
