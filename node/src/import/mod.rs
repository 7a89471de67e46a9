//! `yibao import`: bulk import of a bureau's existing ledger (台账) from a CSV or XLSX file
//! into the node's own log.
//!
//! The steps: read the file into cells (`table`); find each column's field by its header
//! (`mapping`, defaults overridable by a mapping file); parse every row in parallel, every
//! bad column reported (`values`, `rows`); derive each row's records and stable ids; check
//! every record, in file order, against a copy of the log's state exactly as an append would
//! (`LogState::check`: authorisation, field rules, penalty ranges, arithmetic, 查办分离,
//! references, dates), so a refusal is reported as that row's error before anything is
//! written; then sign in parallel and append in large all-or-nothing batches, each one
//! sled batch, one checkpoint and one fsync (`Ledger::append_bulk`). Whole rows only ever
//! go into a batch, so a row is never half written.
//!
//! Nothing is written unless every row is good, or with `skip_bad`, the good rows are
//! written and the bad ones listed in a report file. Records already in the log (same
//! stable id) are skipped, so importing a file twice adds nothing.
//!
//! Everything the county officer reads is Chinese: each bad row's reason (the cell's own
//! text quoted, what to write instead; a refusal by the log's rules translated in
//! `reasons`), the file and header errors and the command's summary. Errors about the
//! command line itself (`--key` …) are English like the rest of the CLI.
//!
//! Signing: the inspector's key signs inspection openings, findings and rectification
//! items; decisions need an adjudicator's key, a different officer (查办分离). Without
//! one, rows are imported without their decisions (counted and reported), and importing
//! the same file again later with `--adjudicator-key` adds just the decisions.
//!
//! Not here: the command-line grammar (`main.rs`).

pub mod mapping;
pub mod reasons;
pub mod rows;
pub mod table;
pub mod values;

use std::collections::{HashMap, HashSet};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use ed25519_dalek::SigningKey;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use yibao_ledger::keys::LogCode;
use yibao_ledger::store::Ledger;
use yibao_schema::entry::Submission;
use yibao_schema::record::{Date, DivisionCode, Record, RecordKind};
use yibao_schema::state::{EntryContext, LogState};

use mapping::{Field, Mapping};
use rows::{ParsedRow, RowCells, RowContext, RowError, RowRecords};
use table::Table;

/// Entries per all-or-nothing batch (one sled batch, one checkpoint, one fsync), rounded
/// up to whole rows.
pub const DEFAULT_BATCH_ENTRIES: usize = 16_384;

/// What an import is asked to do.
#[derive(Debug)]
pub struct ImportOptions {
    /// The mapping in force.
    pub mapping: Mapping,
    /// Signs inspection openings, findings and rectification items.
    pub inspector: SigningKey,
    /// Signs decisions; `None` imports rows without their decisions.
    pub adjudicator: Option<SigningKey>,
    /// Write the good rows even when some are bad.
    pub skip_bad: bool,
    /// Only check: write nothing.
    pub check_only: bool,
    /// Show progress bars (only drawn on a terminal).
    pub progress: bool,
    /// Entries per batch.
    pub batch_entries: usize,
    /// The entries' timestamp (ms since the Unix epoch, UTC) and the append clock.
    pub now_ms: u64,
    /// The bureau's name: the default 检查机构.
    pub bureau_name: String,
}

/// What an import did.
#[derive(Debug, Default, Clone)]
pub struct ImportSummary {
    /// Data rows in the file (blank rows not counted).
    pub rows: usize,
    /// Rows whose records were (or, when nothing was written, would have been) appended.
    pub imported_rows: usize,
    /// Rows entirely present in the log already.
    pub present_rows: usize,
    /// Rows that were refused, each with every problem found.
    pub bad: Vec<RowError>,
    /// The number of distinct bad rows.
    pub bad_rows: usize,
    /// Decisions not imported because no adjudicator key was given.
    pub decisions_without_adjudicator: usize,
    /// Entries appended.
    pub entries: u64,
    /// Entries per kind appended.
    pub entries_by_kind: Vec<(RecordKind, u64)>,
    /// Whether anything was written.
    pub written: bool,
    /// Seconds spent parsing rows, checking them against the log, and signing and
    /// appending (for benchmarks).
    pub phase_seconds: [f64; 3],
}

/// The result of checking the rows: what to write, and what was refused. The records to
/// write are those of the parsed rows, borrowed, not copied.
struct Plan<'c> {
    /// Per row to write: its row number and its records with their signers.
    rows: Vec<PlannedRow<'c>>,
    bad: Vec<RowError>,
    present: usize,
    decisions_without_adjudicator: usize,
}

/// A row to write: its number and its records with their signers.
type PlannedRow<'c> = (usize, Vec<(Signer, &'c Record)>);

/// Which key signs a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signer {
    Inspector,
    Adjudicator,
}

/// A row after parsing: its number and records, or its errors.
struct Candidate {
    row: usize,
    parsed: std::result::Result<(ParsedRow, RowRecords, blake3::Hash), Vec<RowError>>,
}

fn progress_bar(show: bool, len: u64, what: &str) -> ProgressBar {
    if !show || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} 行（还需 {eta}）")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(what.to_string());
    bar
}

/// The header row's problems in one message, the file's headers listed once; when not
/// one column is known, a hint that the row may be a title above the real header row.
fn header_error(table: &Table, mapping: &Mapping, problems: &[String]) -> anyhow::Error {
    let shown: Vec<&str> = table
        .headers
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim())
        .filter(|h| !h.is_empty())
        .collect();
    let none_known = table
        .headers
        .iter()
        .all(|h| mapping.field_of_header(h).is_none());
    let hint = if none_known {
        format!(
            "。第 {} 行没有一列是认得的表头，它可能是表头上方的标题行：表头必须是文件中第一个不空的行，请删去它上面的标题行",
            table.header_row
        )
    } else {
        String::new()
    };
    anyhow!(
        "表头（第 {} 行）有问题：{}。文件的表头是：{}{hint}",
        table.header_row,
        problems.join("；"),
        shown.join("、")
    )
}

/// Reads and parses a file's rows (in parallel). File-level problems (unreadable, empty,
/// headers) are errors; row problems are in the candidates.
fn parse_file(
    table: &Table,
    options: &ImportOptions,
    division: DivisionCode,
    policy: &yibao_schema::policy::Policy,
) -> Result<Vec<Candidate>> {
    if table.headers.is_empty() {
        bail!("文件是空的：没有表头，也没有数据");
    }
    let columns = options
        .mapping
        .resolve_headers(&table.headers)
        .map_err(|problems| header_error(table, &options.mapping, &problems))?;
    let ctx = RowContext {
        mapping: &options.mapping,
        division,
        bureau_name: &options.bureau_name,
        policy,
    };
    let candidates: Vec<Candidate> = table
        .rows
        .par_iter()
        .filter_map(|(row, cells)| {
            let cells = RowCells {
                row: *row,
                headers: &table.headers,
                columns: &columns,
                cells,
            };
            if cells.is_blank() {
                return None;
            }
            let parsed = rows::parse_row(&cells, &ctx).and_then(|parsed| {
                let hash = rows::row_hash(&parsed).map_err(|reason| {
                    vec![RowError {
                        row: *row,
                        column: "-".into(),
                        reason,
                    }]
                })?;
                let records = rows::build_records(&parsed, division).map_err(|reason| {
                    vec![RowError {
                        row: *row,
                        column: "-".into(),
                        reason,
                    }]
                })?;
                Ok((parsed, records, hash))
            });
            Some(Candidate { row: *row, parsed })
        })
        .collect();
    if candidates.is_empty() {
        bail!("文件只有表头（第 {} 行），没有数据行", table.header_row);
    }
    Ok(candidates)
}

/// Checks every good row's records in file order against a copy of the log's state, as
/// appends would. Rows in `excluded` are left out (a second pass after refusals).
#[allow(clippy::too_many_arguments)] // reason: one private pass with its inputs spelled out
fn check_rows<'c>(
    base: &LogState,
    candidates: &'c [Candidate],
    excluded: &HashSet<usize>,
    headers_by_field: &HashMap<Field, String>,
    inspector: [u8; 32],
    adjudicator: Option<[u8; 32]>,
    now_ms: u64,
    bar: &ProgressBar,
) -> (Plan<'c>, bool) {
    let mut state = base.clone();
    let division = state.division();
    let today = Date::from_timestamp_ms_china(now_ms);
    let mut plan = Plan {
        rows: Vec::new(),
        bad: Vec::new(),
        present: 0,
        decisions_without_adjudicator: 0,
    };
    // A refusal after some of a row's records were applied leaves them in `state`.
    let mut dirty = false;
    let mut first_row_of_hash: HashMap<[u8; 32], usize> = HashMap::new();
    let mut openings: HashMap<&str, (usize, &Record)> = HashMap::new();
    for candidate in candidates {
        bar.inc(1);
        if excluded.contains(&candidate.row) {
            continue;
        }
        let (parsed, records, hash) = match &candidate.parsed {
            Ok(ok) => ok,
            Err(errors) => {
                plan.bad.extend(errors.iter().cloned());
                continue;
            }
        };
        let refuse = |plan: &mut Plan, column: String, reason: String| {
            plan.bad.push(RowError {
                row: candidate.row,
                column,
                reason,
            });
        };
        if let Some(&first) = first_row_of_hash.get(hash.as_bytes()) {
            refuse(&mut plan, "-".into(), reasons::same_row(first));
            continue;
        }
        first_row_of_hash.insert(*hash.as_bytes(), candidate.row);
        if let Some(&(first, opening)) = openings.get(records.case_id.as_str()) {
            if *opening != records.opening {
                let (column, reason) = reasons::case_opened_differently(
                    headers_by_field,
                    parsed.case_no.as_deref().unwrap_or(""),
                    first,
                    opening,
                    &records.opening,
                );
                refuse(&mut plan, column, reason);
                continue;
            }
        }
        let mut wanted: Vec<(Signer, &'c Record)> = Vec::with_capacity(4);
        let case_known = state.id_in_use(RecordKind::InspectionOpened, records.case_id.as_str());
        if !case_known {
            wanted.push((Signer::Inspector, &records.opening));
        }
        if !state.id_in_use(RecordKind::Finding, records.finding_id.as_str()) {
            wanted.push((Signer::Inspector, &records.finding));
        }
        if let (Some(decision), Some(id)) = (&records.decision, &records.decision_id) {
            if !state.id_in_use(RecordKind::Decision, id.as_str()) {
                if adjudicator.is_some() {
                    wanted.push((Signer::Adjudicator, decision));
                } else {
                    plan.decisions_without_adjudicator += 1;
                }
            }
        }
        if let (Some(item), Some(id)) = (&records.rectification, &records.item_id) {
            if !state.id_in_use(RecordKind::RectificationItem, id.as_str()) {
                wanted.push((Signer::Inspector, item));
            }
        }
        if wanted.is_empty() {
            plan.present += 1;
            continue;
        }
        let mut refused = false;
        for (applied, (signer, record)) in wanted.iter().enumerate() {
            let author = match signer {
                Signer::Inspector => inspector,
                Signer::Adjudicator => adjudicator.unwrap_or(inspector),
            };
            let ctx = EntryContext {
                division,
                seq: state.next_seq(),
                timestamp_ms: now_ms,
                author,
            };
            if let Err(violation) = state.check(&ctx, record) {
                let refusal = reasons::Refusal {
                    row: parsed,
                    record,
                    headers: headers_by_field,
                    state: &state,
                    today,
                };
                refuse(
                    &mut plan,
                    refusal.column(&violation),
                    refusal.reason(&violation),
                );
                refused = true;
                dirty |= applied > 0;
                break;
            }
            state.apply(&ctx, record);
        }
        if refused {
            continue;
        }
        if !case_known {
            openings.insert(records.case_id.as_str(), (candidate.row, &records.opening));
        }
        plan.rows.push((candidate.row, wanted));
    }
    (plan, dirty)
}

/// Imports `file` into the node's own log `code` of `ledger`.
pub fn import_file(
    ledger: &Ledger,
    code: &LogCode,
    file: &Path,
    options: &ImportOptions,
) -> Result<ImportSummary> {
    let table = table::read(file).map_err(|e| anyhow!(e))?;
    import_table(ledger, code, &table, options)
}

/// Imports an already read table.
pub fn import_table(
    ledger: &Ledger,
    code: &LogCode,
    table: &Table,
    options: &ImportOptions,
) -> Result<ImportSummary> {
    let division = DivisionCode::parse(code.as_str()).map_err(|e| anyhow!("{e}"))?;
    let base = ledger.state(code)?;
    let policy = base.policy().clone();
    let inspector = options.inspector.verifying_key().to_bytes();
    let adjudicator = options
        .adjudicator
        .as_ref()
        .map(|k| k.verifying_key().to_bytes());
    check_officers(&base, inspector, adjudicator)?;

    let started = std::time::Instant::now();
    let candidates = parse_file(table, options, division, &policy)?;
    let parsed_at = std::time::Instant::now();
    let headers_by_field: HashMap<Field, String> =
        match options.mapping.resolve_headers(&table.headers) {
            Ok(columns) => columns
                .iter()
                .zip(&table.headers)
                .filter_map(|(f, h)| {
                    f.map(|f| (f, h.trim_start_matches('\u{feff}').trim().to_string()))
                })
                .collect(),
            Err(_) => HashMap::new(),
        };

    // Check; with --skip-bad, again without the refused rows until nothing new is refused.
    let mut excluded: HashSet<usize> = HashSet::new();
    let mut all_bad: Vec<RowError> = Vec::new();
    let plan = loop {
        let bar = progress_bar(options.progress, candidates.len() as u64, "检查");
        let (plan, dirty) = check_rows(
            &base,
            &candidates,
            &excluded,
            &headers_by_field,
            inspector,
            adjudicator,
            options.now_ms,
            &bar,
        );
        bar.finish_and_clear();
        all_bad.extend(plan.bad.iter().cloned());
        if !(options.skip_bad && dirty && !plan.bad.is_empty()) {
            break plan;
        }
        excluded.extend(plan.bad.iter().map(|e| e.row));
    };
    let mut bad = all_bad;
    bad.sort_by_key(|e| e.row);
    bad.dedup();
    let bad_rows = bad.iter().map(|e| e.row).collect::<HashSet<_>>().len();
    let checked_at = std::time::Instant::now();
    let mut summary = ImportSummary {
        phase_seconds: [
            parsed_at.duration_since(started).as_secs_f64(),
            checked_at.duration_since(parsed_at).as_secs_f64(),
            0.0,
        ],
        rows: candidates.len(),
        imported_rows: plan.rows.len(),
        present_rows: plan.present,
        bad,
        bad_rows,
        decisions_without_adjudicator: plan.decisions_without_adjudicator,
        ..ImportSummary::default()
    };
    if (bad_rows > 0 && !options.skip_bad) || plan.rows.is_empty() || options.check_only {
        return Ok(summary);
    }

    // Sign in parallel, append in whole-row batches.
    let mut by_kind: HashMap<RecordKind, u64> = HashMap::new();
    for (_, records) in &plan.rows {
        for (_, record) in records {
            *by_kind.entry(record.kind()).or_default() += 1;
        }
    }
    let origin = code.origin();
    let bar = progress_bar(options.progress, plan.rows.len() as u64, "写入");
    let mut batches: Vec<&[PlannedRow<'_>]> = Vec::new();
    let mut batch_start = 0usize;
    let mut current_entries = 0usize;
    for (i, row) in plan.rows.iter().enumerate() {
        current_entries += row.1.len();
        if current_entries >= options.batch_entries.max(1) || i + 1 == plan.rows.len() {
            batches.push(plan.rows.get(batch_start..=i).unwrap_or(&[]));
            batch_start = i + 1;
            current_entries = 0;
        }
    }
    let sign = |batch: &[PlannedRow<'_>]| -> Result<(Vec<Submission>, usize)> {
        let flat: Vec<(Signer, &Record)> = batch
            .iter()
            .flat_map(|(_, records)| records.iter().copied())
            .collect();
        let submissions = flat
            .par_iter()
            .map(|(signer, record)| {
                let key = match signer {
                    Signer::Inspector => &options.inspector,
                    Signer::Adjudicator => {
                        options.adjudicator.as_ref().unwrap_or(&options.inspector)
                    }
                };
                let payload = record
                    .encode_payload()
                    .map_err(|e| anyhow!("cannot encode a {} record: {e}", record.kind()))?;
                Submission::sign(
                    key,
                    &origin,
                    options.now_ms,
                    record.kind().as_str(),
                    payload,
                )
                .map_err(|e| anyhow!("cannot sign: {e}"))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((submissions, batch.len()))
    };
    // Batch k+1 is signed while batch k is appended (its sequential checks, its write
    // and its fsync leave a core free).
    let outcome = std::thread::scope(|scope| {
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        let signer = scope.spawn(move || {
            for batch in &batches {
                let signed = sign(batch);
                let failed = signed.is_err();
                if sender.send(signed).is_err() || failed {
                    break;
                }
            }
        });
        let appended = append_batches(ledger, code, receiver.into_iter(), options.now_ms, |rows| {
            bar.inc(rows as u64)
        });
        // An early stop drops the receiver, which ends the signer at its next send.
        let joined = signer.join();
        match (appended, joined) {
            (Ok(n), Ok(())) => Ok(n),
            (Err(e), _) => Err(e),
            (Ok(_), Err(_)) => Err(anyhow!("the signing thread failed")),
        }
    });
    bar.finish_and_clear();
    let appended = outcome?;
    summary.phase_seconds[2] = checked_at.elapsed().as_secs_f64();
    summary.entries = appended;
    summary.written = appended > 0;
    let mut kinds: Vec<(RecordKind, u64)> = by_kind.into_iter().collect();
    kinds.sort_by_key(|(k, _)| k.as_u8());
    summary.entries_by_kind = kinds;
    Ok(summary)
}

/// Appends signed batches, each all or nothing; stops at the first refusal (which the
/// check before makes a bug, or a change of the log since).
fn append_batches(
    ledger: &Ledger,
    code: &LogCode,
    batches: impl Iterator<Item = Result<(Vec<Submission>, usize)>>,
    now_ms: u64,
    mut progress: impl FnMut(usize),
) -> Result<u64> {
    let mut appended = 0u64;
    for batch in batches {
        let (submissions, rows) = batch?;
        let results = ledger.append_all_or_nothing(code, submissions, now_ms)?;
        for result in &results {
            if let Err(e) = result {
                bail!(
                    "写入中断：已写入 {appended} 条记录后，一批记录被账本拒绝（重新运行导入即可补全，已在账本中的行会跳过）：{e}"
                );
            }
        }
        appended += results
            .iter()
            .filter(|r| matches!(r, Ok(receipt) if !receipt.duplicate))
            .count() as u64;
        progress(rows);
    }
    Ok(appended)
}

fn check_officers(
    state: &LogState,
    inspector: [u8; 32],
    adjudicator: Option<[u8; 32]>,
) -> Result<()> {
    let describe = |key: &[u8; 32]| hex::encode(key.get(..4).unwrap_or(&[]));
    for kind in [RecordKind::InspectionOpened, RecordKind::Finding] {
        if !state.is_authorised(&inspector, kind) {
            bail!(
                "--key {}…: not an active inspector of this log (add it with `yibao officer add --roles inspector`)",
                describe(&inspector)
            );
        }
    }
    if let Some(adjudicator) = adjudicator {
        if !state.is_authorised(&adjudicator, RecordKind::Decision) {
            bail!(
                "--adjudicator-key {}…: not an active adjudicator of this log",
                describe(&adjudicator)
            );
        }
        let same = adjudicator == inspector
            || matches!(
                (state.officer(&adjudicator), state.officer(&inspector)),
                (Some(a), Some(i)) if a.officer_id == i.officer_id
            );
        if same {
            bail!("--adjudicator-key is the same officer as --key: the officer who records a finding may not decide it (查办分离)");
        }
    }
    Ok(())
}

/// Writes the bad rows as a CSV report (UTF-8 with a byte-order mark, so Excel reads the
/// Chinese): 行号 (row), 列 (column), 原因 (reason).
pub fn write_report(path: &Path, bad: &[RowError]) -> Result<()> {
    let mut out = Vec::new();
    out.extend_from_slice(b"\xEF\xBB\xBF");
    {
        let mut writer = csv::Writer::from_writer(&mut out);
        writer.write_record(["行号", "列", "原因"])?;
        for e in bad {
            writer.write_record([
                e.row.to_string().as_str(),
                e.column.as_str(),
                e.reason.as_str(),
            ])?;
        }
        writer.flush()?;
    }
    let mut file = std::fs::File::create(path)
        .with_context(|| format!("cannot write the report {}", path.display()))?;
    file.write_all(&out)?;
    file.sync_all()?;
    Ok(())
}

/// The default report path beside the input: `FILE.import-errors.csv`.
pub fn default_report_path(file: &Path) -> PathBuf {
    let mut name = file
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".import-errors.csv");
    file.with_file_name(name)
}

/// The command-line options of `yibao import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The node's data directory (the node stopped).
    #[arg(long)]
    pub data: PathBuf,
    /// The importing inspector's key file: signs inspection openings, findings and
    /// rectification items.
    #[arg(long)]
    pub key: PathBuf,
    /// An adjudicator's key file (another officer: 查办分离): signs the decisions of rows
    /// with a handling. Without it, rows are imported without their decisions.
    #[arg(long)]
    pub adjudicator_key: Option<PathBuf>,
    /// A JSON mapping file adding or overriding headers and labels (docs/IMPORT.md).
    #[arg(long)]
    pub mapping: Option<PathBuf>,
    /// Import the good rows even if some are bad, and write the bad ones to the report.
    #[arg(long)]
    pub skip_bad: bool,
    /// Where to write the report of bad rows (CSV); default FILE.import-errors.csv.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Check every row against the log, write nothing.
    #[arg(long, conflicts_with = "skip_bad")]
    pub check: bool,
    /// The ledger file: .csv (UTF-8) or .xlsx (first worksheet).
    pub file: PathBuf,
}

/// How many bad-row lines the terminal shows; the report file has them all.
const SHOWN_ERRORS: usize = 50;

/// A record kind as the officer's ledger names it, for the summary.
fn kind_label(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::InspectionOpened => "检查立案",
        RecordKind::Finding => "违规事实",
        RecordKind::Decision => "处理决定",
        RecordKind::RectificationItem => "整改事项",
        other => other.as_str(),
    }
}

/// One bad-row line for the terminal: `第 3 行【机构编码】"X1" 不是机构编码：……`.
fn problem_line(error: &RowError) -> String {
    if error.column == "-" {
        format!("第 {} 行：{}", error.row, error.reason)
    } else {
        format!("第 {} 行【{}】{}", error.row, error.column, error.reason)
    }
}

/// `yibao import`.
pub fn command(args: &ImportArgs, now_ms: u64) -> Result<std::process::ExitCode> {
    use std::process::ExitCode;
    let dir = crate::node_dir::NodeDir::new(&args.data);
    let config = dir.config()?;
    let code = dir.own_log()?;
    let inspector = crate::node_dir::read_key(&args.key)?;
    let adjudicator = args
        .adjudicator_key
        .as_deref()
        .map(crate::node_dir::read_key)
        .transpose()?;
    let mapping = match &args.mapping {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the mapping file {}", path.display()))?;
            Mapping::with_file(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?
        }
        None => Mapping::default(),
    };
    let table = table::read(&args.file).map_err(|e| anyhow!(e))?;
    let ledger = dir.open_ledger()?;
    let options = ImportOptions {
        mapping,
        inspector,
        adjudicator,
        skip_bad: args.skip_bad,
        check_only: args.check,
        progress: true,
        batch_entries: DEFAULT_BATCH_ENTRIES,
        now_ms,
        bureau_name: config.name.clone(),
    };
    let started = std::time::Instant::now();
    let summary = import_table(&ledger, &code, &table, &options)
        .with_context(|| format!("{}", args.file.display()))?;
    let elapsed = started.elapsed();
    let file = args.file.display();
    // The report is written when asked for, with --skip-bad, and whenever the terminal
    // cannot show every problem: the officer never loses one.
    let report = args
        .report
        .clone()
        .unwrap_or_else(|| default_report_path(&args.file));
    let wrote_report = !summary.bad.is_empty()
        && (args.skip_bad || args.report.is_some() || summary.bad.len() > SHOWN_ERRORS);
    if wrote_report {
        write_report(&report, &summary.bad)?;
    }
    if !summary.bad.is_empty() {
        eprintln!(
            "{file}：{} 行有问题（共 {} 处）：",
            summary.bad_rows,
            summary.bad.len()
        );
    }
    for e in summary.bad.iter().take(SHOWN_ERRORS) {
        eprintln!("  {}", problem_line(e));
    }
    if summary.bad.len() > SHOWN_ERRORS {
        eprintln!(
            "  ……另有 {} 处问题未显示，全部问题见 {}",
            summary.bad.len() - SHOWN_ERRORS,
            report.display()
        );
    }
    println!(
        "{file}：共 {} 行：{} {} 行，账本中已有 {} 行，有问题 {} 行",
        summary.rows,
        if summary.written {
            "已导入"
        } else {
            "可导入"
        },
        summary.imported_rows,
        summary.present_rows,
        summary.bad_rows
    );
    if summary.decisions_without_adjudicator > 0 {
        println!(
            "{} 个处理决定未导入：没有给出处理人员的密钥 --adjudicator-key（查办分离：处理决定须由另一名处理人员签署）；以后加上该密钥再导入同一文件，即可补上这些处理决定",
            summary.decisions_without_adjudicator
        );
    }
    if wrote_report {
        println!(
            "有问题的行已写入报告 {}（可用 Excel 打开，列为 行号、列、原因）",
            report.display()
        );
    }
    if summary.written {
        let kinds: Vec<String> = summary
            .entries_by_kind
            .iter()
            .map(|(k, n)| format!("{} {n} 条", kind_label(*k)))
            .collect();
        println!(
            "已写入 {} 条记录（{}），用时 {:.2} 秒；账本现有 {} 条记录",
            summary.entries,
            kinds.join("、"),
            elapsed.as_secs_f64(),
            ledger.size(&code)?
        );
    } else if args.check {
        println!("仅作检查（--check），未写入任何内容");
    } else if summary.bad_rows > 0 && !args.skip_bad {
        println!("未导入任何内容：请改正有问题的行后重新导入，或加 --skip-bad 先导入没有问题的行");
    } else {
        println!("没有新的内容需要导入");
    }
    Ok(if summary.bad_rows > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
