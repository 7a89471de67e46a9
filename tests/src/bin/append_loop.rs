//! Child process of the crash test: appends whole cases from several threads through the
//! group-commit writer, forever, and prints `ACK <seq> <leaf hash hex>` for every entry the
//! ledger acknowledged as durable. The test kills it with SIGKILL at random moments.
//!
//! Usage: `append-loop LEDGER_DIR SEED`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use yibao_ledger::appender::{system_clock, Appender};
use yibao_ledger::store::Ledger;
use yibao_node::workload::{self, Officers, Rng};
use yibao_schema::entry::Submission;
use yibao_schema::policy::Policy;
use yibao_tests::{county, setup_county, COUNTY};

const THREADS: u64 = 8;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or_else(|| anyhow!("usage: append-loop LEDGER_DIR SEED"))?,
    );
    let seed: u64 = args
        .next()
        .ok_or_else(|| anyhow!("missing SEED"))?
        .parse()
        .context("SEED")?;
    let ledger = Arc::new(Ledger::open(&dir, Policy::default())?);
    let code = county();
    let officers = Officers::from_seed(seed);
    if ledger.log_codes().is_empty() {
        setup_county(&ledger, seed, 50)?;
    } else {
        ledger.set_signer(&code, officers.bureau.clone())?;
    }
    let insts = workload::institutions(COUNTY, 50);
    let (appender, _writer) = Appender::start(ledger.clone(), code, system_clock())?;
    let start_micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_micros() as u64;
    println!("READY");
    std::io::stdout().flush()?;
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let appender = appender.clone();
            let officers = officers.clone();
            let insts = insts.clone();
            scope.spawn(move || -> Result<()> {
                let mut rng = Rng::new(start_micros ^ t);
                // Threads take turns through the case numbers, so that none opens a
                // case another thread opened.
                let mut case_no = (start_micros % 1_000_000_000_000) * 1000 + t;
                loop {
                    let inst = &insts[rng.below(insts.len() as u64) as usize];
                    let records = workload::case_records(
                        &mut rng,
                        COUNTY,
                        "柳林县医疗保障局",
                        case_no,
                        inst,
                        2023,
                        false,
                    )?;
                    case_no += THREADS;
                    let now = system_clock()();
                    for (signer, record) in records {
                        let payload = record.encode_payload().map_err(|e| anyhow!("{e}"))?;
                        let submission = Submission::sign(
                            officers.key(signer),
                            &code.origin(),
                            now,
                            record.kind().as_str(),
                            payload,
                        )?;
                        match appender.submit(submission) {
                            Ok(receipt) => {
                                let mut out = std::io::stdout().lock();
                                writeln!(
                                    out,
                                    "ACK {} {}",
                                    receipt.seq,
                                    hex::encode(receipt.leaf_hash)
                                )?;
                                out.flush()?;
                            }
                            Err(e) => eprintln!("refused: {e}"),
                        }
                    }
                }
            });
        }
    });
    Ok(())
}
