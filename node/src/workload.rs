//! Realistic generated records for benchmarks, tests and the demo: institutions, cases
//! (inspection → findings → decision → rectification through to closed out → sometimes an
//! exposure notice) and grade sets at the policy ratio, each signed by an officer whose
//! role allows it (inspectors and adjudicators are different people: 查办分离).
//!
//! Records are built as JSON, the same form officers write, and parsed into `Record`, so
//! the generator exercises the public format. Everything is deterministic from a seed.
//! Not here: anything that decides what is valid (the ledger does).

use anyhow::{anyhow, bail, Context, Result};
use ed25519_dalek::SigningKey;
use rayon::prelude::*;
use serde_json::{json, Value};
use yibao_ledger::keys::LogCode;
use yibao_ledger::store::Ledger;
use yibao_schema::entry::Submission;
use yibao_schema::policy::Policy;
use yibao_schema::record::{Fen, LegalBasis, Multiple, Record};
use yibao_schema::rules::{expected_grade_counts, penalty_amount};

/// The officers of one generated county.
#[derive(Debug, Clone)]
pub struct Officers {
    /// Signs key events.
    pub bureau: SigningKey,
    /// Registers institutions.
    pub administrator: SigningKey,
    /// Opens inspections, records findings, tracks rectification.
    pub inspector: SigningKey,
    /// Decides cases and grades institutions.
    pub adjudicator: SigningKey,
    /// Publishes exposure notices.
    pub publisher: SigningKey,
}

/// Which officer signs a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signer {
    /// The bureau key.
    Bureau,
    /// The administrator.
    Administrator,
    /// The inspector.
    Inspector,
    /// The adjudicator.
    Adjudicator,
    /// The publisher.
    Publisher,
}

impl Officers {
    /// Deterministic officers from a seed.
    pub fn from_seed(seed: u64) -> Officers {
        let key = |role: u8| {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&seed.to_le_bytes());
            bytes[8] = role;
            bytes[31] = 0x59; // 'Y'
            SigningKey::from_bytes(&bytes)
        };
        Officers {
            bureau: key(1),
            administrator: key(2),
            inspector: key(3),
            adjudicator: key(4),
            publisher: key(5),
        }
    }

    /// The key for a signer.
    pub fn key(&self, signer: Signer) -> &SigningKey {
        match signer {
            Signer::Bureau => &self.bureau,
            Signer::Administrator => &self.administrator,
            Signer::Inspector => &self.inspector,
            Signer::Adjudicator => &self.adjudicator,
            Signer::Publisher => &self.publisher,
        }
    }

    /// The key events that authorise the four officers (to be signed by the bureau key).
    pub fn key_events(&self) -> Result<Vec<(Signer, Record)>> {
        let add =
            |key: &SigningKey, id: &str, surname: &str, role: &str| -> Result<(Signer, Record)> {
                Ok((
                    Signer::Bureau,
                    parse(json!({
                        "kind": "key_event",
                        "event": "officer_added",
                        "key": hex::encode(key.verifying_key().to_bytes()),
                        "officer_id": id,
                        "surname": surname,
                        "roles": [role],
                    }))?,
                ))
            };
        Ok(vec![
            add(&self.administrator, "14000000001", "赵", "administrator")?,
            add(&self.inspector, "14000000002", "王", "inspector")?,
            add(&self.adjudicator, "14000000003", "李", "adjudicator")?,
            add(&self.publisher, "14000000004", "张", "publisher")?,
        ])
    }
}

/// Parses a JSON record.
pub fn parse(value: Value) -> Result<Record> {
    let text = value.to_string();
    serde_json::from_value(value).with_context(|| format!("generated record is invalid: {text}"))
}

/// A small deterministic generator (xorshift64*), enough for varied test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// From a seed (0 is replaced).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// One generated institution.
#[derive(Debug, Clone)]
pub struct Institution {
    /// `H`/`P` + 11 digits.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its division.
    pub division: String,
    /// Its kind (snake_case).
    pub kind: &'static str,
}

const KINDS: [(&str, &str, &str); 6] = [
    ("H", "public_hospital", "人民医院"),
    ("H", "private_hospital", "仁和医院"),
    ("H", "township_health_centre", "乡卫生院"),
    ("H", "village_clinic", "村卫生室"),
    ("H", "clinic", "诊所"),
    ("P", "retail_pharmacy_single", "大药房"),
];

const TOWNS: [&str; 10] = [
    "柳林",
    "穆村",
    "薛村",
    "庄上",
    "留誉",
    "三交",
    "成家庄",
    "高家沟",
    "李家湾",
    "陈家湾",
];

/// `count` institutions of a county, deterministic.
pub fn institutions(division: &str, count: u64) -> Vec<Institution> {
    (0..count)
        .map(|i| {
            // Village clinics are the most numerous, as in Liulin (197 of 311).
            let k = match i % 10 {
                0 => 0,
                1 => 1,
                2 => 2,
                3..=6 => 3,
                7 => 4,
                _ => 5,
            };
            let (prefix, kind, suffix) = KINDS[k];
            let town = TOWNS[(i as usize / 7) % TOWNS.len()];
            Institution {
                code: format!("{prefix}{division}{:05}", i + 1),
                name: format!("{town}{}{suffix}", i + 1),
                division: division.to_string(),
                kind,
            }
        })
        .collect()
}

/// The registration record of an institution.
pub fn register(inst: &Institution) -> Result<Record> {
    parse(json!({
        "kind": "institution_registered",
        "code": inst.code,
        "name": inst.name,
        "institution_kind": inst.kind,
        "division": inst.division,
        "address": format!("山西省吕梁市{}", inst.name),
    }))
}

/// The records of one case, in order, with their signers.
pub fn case_records(
    rng: &mut Rng,
    division: &str,
    bureau_name: &str,
    case_no: u64,
    inst: &Institution,
    year: u32,
    with_notice: bool,
) -> Result<Vec<(Signer, Record)>> {
    case_records_of_type(
        rng,
        division,
        bureau_name,
        case_no,
        inst,
        year,
        with_notice,
        None,
    )
}

/// Like [`case_records`], with the inspection type given (`cross_county`, `city_direct`
/// and `flight` may inspect an institution of another division) or drawn at random
/// among those that may not.
#[allow(clippy::too_many_arguments)] // reason: the same case parameters as `case_records`, plus one
pub fn case_records_of_type(
    rng: &mut Rng,
    division: &str,
    bureau_name: &str,
    case_no: u64,
    inst: &Institution,
    year: u32,
    with_notice: bool,
    inspection_type: Option<&str>,
) -> Result<Vec<(Signer, Record)>> {
    let case_id = format!("{division}-{year}-{case_no:06}");
    let types = ["daily", "special", "random", "smart_monitoring"];
    let drawn = types[rng.below(types.len() as u64) as usize];
    let opened_on = format!("{year}-{:02}-{:02}", 1 + rng.below(6), 1 + rng.below(28));
    let mut out = vec![(
        Signer::Inspector,
        parse(json!({
            "kind": "inspection_opened",
            "case_id": case_id,
            "inspection_type": inspection_type.unwrap_or(drawn),
            "institution": { "code": inst.code, "name": inst.name, "division": inst.division },
            "inspecting_body": bureau_name,
            "opened_on": opened_on,
        }))?,
    )];
    let patterns: [(u8, Option<u8>, &str, &str); 5] = [
        (38, Some(1), "split_hospitalisation", "分解住院"),
        (38, Some(3), "overbilling", "重复收费"),
        (38, Some(4), "substitution", "串换项目"),
        (38, Some(2), "over_treatment", "过度检查"),
        (40, None, "fictitious_services", "虚构医药服务项目"),
    ];
    let findings = 1 + rng.below(2);
    let mut items = Vec::new();
    // What the case's rectification item and exposure notice say, from its own findings.
    let mut labels: Vec<&str> = Vec::new();
    let mut articles: Vec<String> = Vec::new();
    let (mut recovered_total, mut damages_total, mut fines_total) = (0u64, 0u64, 0u64);
    for f in 0..findings {
        let (article, item, pattern, label) = patterns[rng.below(patterns.len() as u64) as usize];
        let amount = 10_000 + rng.below(20_000_000); // 100 yuan to 200,000 yuan, in fen.
        let finding_id = format!("{case_id}-F{}", f + 1);
        if !labels.contains(&label) {
            labels.push(label);
        }
        let cited = LegalBasis { article, item }.chinese();
        if !articles.contains(&cited) {
            articles.push(cited);
        }
        let mut basis = json!({ "article": article });
        if let Some(item) = item {
            basis["item"] = json!(item);
        }
        out.push((
            Signer::Inspector,
            parse(json!({
                "kind": "finding",
                "case_id": case_id,
                "finding_id": finding_id,
                "legal_basis": basis,
                "pattern": pattern,
                "facts": format!("{}存在{}问题，涉及医保基金{}元。", inst.name, label, yuan(amount)),
                "amount_involved": amount,
                "evidence": [hex::encode(blake3::hash(finding_id.as_bytes()).as_bytes())],
            }))?,
        ));
        let damages_multiple = 1000 + 500 * rng.below(3); // 1×, 1.5× or 2×
        let damages = round_half_up(amount, damages_multiple);
        let mut item_json = json!({
            "finding_id": finding_id,
            "recovered": amount,
            "damages": { "basis": amount, "multiple": multiple_text(damages_multiple), "amount": damages },
        });
        recovered_total += amount;
        damages_total += damages;
        if article == 40 {
            let m = 2000 + 500 * rng.below(7); // 2× to 5×
            let fine = round_half_up(amount, m);
            item_json["fine"] =
                json!({ "basis": amount, "multiple": multiple_text(m), "amount": fine });
            fines_total += fine;
        }
        items.push(item_json);
    }
    let decided_on = format!("{year}-{:02}-{:02}", 7 + rng.below(5), 1 + rng.below(28));
    out.push((
        Signer::Adjudicator,
        parse(json!({
            "kind": "decision",
            "case_id": case_id,
            "decision_id": format!("{case_id}-D"),
            "decided_on": decided_on,
            "items": items,
            "other_handling": if fines_total > 0 { json!([{"suspension": {"scope": "department", "months": 6}}]) } else { json!(["order_to_correct"]) },
            "settlement_month": format!("{year}-{:02}", 7 + rng.below(5)),
            "totals": {
                "recovered": recovered_total,
                "damages": damages_total,
                "fines": fines_total,
                "total": recovered_total + damages_total + fines_total,
            },
        }))?,
    ));
    let item_id = format!("{case_id}-R1");
    out.push((
        Signer::Inspector,
        parse(json!({
            "kind": "rectification_item",
            "item_id": item_id,
            "case_id": case_id,
            "institution": inst.code,
            "problem": format!("建立医保基金使用内部管理制度，整改{}问题", labels.join("、")),
            "deadline": format!("{}-{:02}-28", year + 1, 1 + rng.below(6)),
        }))?,
    ));
    // Most items go all the way; some stop along the way, as in real ledgers.
    let steps = match rng.below(10) {
        0 => 0,
        1 => 1,
        2 => 2,
        _ => 3,
    };
    for (month, status) in ["rectifying", "verified", "closed_out"]
        .iter()
        .enumerate()
        .take(steps)
    {
        out.push((
            Signer::Inspector,
            parse(json!({
                "kind": "rectification_update",
                "item_id": item_id,
                "status": status,
                "on": format!("{}-{:02}-10", year + 1, month + 1),
                "note": "已按要求整改",
            }))?,
        ));
    }
    if with_notice {
        let total = recovered_total + damages_total + fines_total;
        let mut handling = format!(
            "追回医保基金{}元，处违约金{}元",
            yuan(recovered_total),
            yuan(damages_total)
        );
        if fines_total > 0 {
            handling.push_str(&format!(
                "，处罚款{}元，暂停相关科室医保结算6个月",
                yuan(fines_total)
            ));
        } else {
            handling.push_str("，责令改正");
        }
        handling.push_str(&format!("，共计{}元。", yuan(total)));
        out.push((
            Signer::Publisher,
            parse(json!({
                "kind": "exposure_notice",
                "notice_id": format!("{case_id}-N"),
                "case_id": case_id,
                "decision_id": format!("{case_id}-D"),
                "title": format!("{}违规使用医保基金案", inst.name),
                "institution": { "code": inst.code, "name": inst.name, "division": inst.division },
                "location": "山西省吕梁市",
                "inspecting_body": bureau_name,
                "inspection_period": format!("{year}年"),
                "facts": format!(
                    "经查，{}存在{}问题，涉及医保基金{}元，负责人景某对此负有责任。",
                    inst.name,
                    labels.join("、"),
                    yuan(recovered_total)
                ),
                "categories": labels,
                "amount_involved": recovered_total,
                "legal_basis": format!("《医疗保障基金使用监督管理条例》{}", articles.join("、")),
                "handling": handling,
                "fully_recovered": true,
                "persons": ["景某"],
                "published_on": format!("{}-01-15", year + 1),
            }))?,
        ));
    }
    Ok(out)
}

/// Fen as yuan with two decimals: `179516.35`.
fn yuan(fen: u64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

fn multiple_text(thousandths: u64) -> String {
    let whole = thousandths / 1000;
    let frac = thousandths % 1000;
    if frac == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{}", format!("{frac:03}").trim_end_matches('0'))
    }
}

/// The penalty amount by the ledger's own rounding rule (SPEC.md §10).
fn round_half_up(basis: u64, thousandths: u64) -> u64 {
    let multiple = Multiple::from_thousandths(u32::try_from(thousandths).unwrap_or(u32::MAX));
    penalty_amount(Fen::new(basis), multiple).map_or(u64::MAX, Fen::get)
}

/// A grade set for `insts` at 3:4:2:1 (largest-remainder counts), best scores first.
pub fn grade_set(
    division: &str,
    period: &str,
    insts: &[Institution],
    rng: &mut Rng,
) -> Result<Record> {
    let n = insts.len() as u64;
    // The counts the ledger's grade-ratio rule expects (largest remainder, SPEC.md §10).
    let counts = expected_grade_counts(n, &Policy::default())
        .ok_or_else(|| anyhow!("no grade counts for {n} institutions"))?;
    let mut grades = Vec::new();
    let mut index = 0usize;
    for (g, count) in ["A", "B", "C", "D"].iter().zip(counts) {
        for _ in 0..count {
            let inst = insts
                .get(index)
                .ok_or_else(|| anyhow!("grade set ran out of institutions"))?;
            let base = match *g {
                "A" => 900,
                "B" => 800,
                "C" => 650,
                _ => 500,
            };
            grades.push(
                json!({ "institution": inst.code, "grade": g, "score": base + rng.below(100) }),
            );
            index += 1;
        }
    }
    parse(json!({ "kind": "grade_set", "division": division, "period": period, "grades": grades }))
}

/// A county's worth of records after its officers are added: institutions, then cases,
/// then one grade set per year. `cases` bounds the number of cases.
pub fn county_records(
    division: &str,
    bureau_name: &str,
    institutions_count: u64,
    cases: u64,
    seed: u64,
) -> Result<Vec<(Signer, Record)>> {
    let insts = institutions(division, institutions_count);
    let mut out = Vec::new();
    for inst in &insts {
        out.push((Signer::Administrator, register(inst)?));
    }
    let mut rng = Rng::new(seed);
    for case_no in 0..cases {
        let inst = &insts[rng.below(insts.len() as u64) as usize];
        let year = 2021 + (case_no * 4 / cases.max(1)) as u32;
        out.extend(case_records(
            &mut rng,
            division,
            bureau_name,
            case_no,
            inst,
            year,
            case_no % 20 == 0,
        )?);
    }
    for year in 2021..2025 {
        let ranked = ranked_by_findings(&insts, &out, year);
        out.push((
            Signer::Adjudicator,
            grade_set(division, &year.to_string(), &ranked, &mut rng)?,
        ));
    }
    Ok(out)
}

/// `insts` best first for the year's grades: those with no finding in a case opened that
/// year first (in their order), then by the amount their findings involve, least first —
/// so that an institution exposed for fraud is not graded A that year.
fn ranked_by_findings(
    insts: &[Institution],
    records: &[(Signer, Record)],
    year: i32,
) -> Vec<Institution> {
    let mut case_institution = std::collections::HashMap::new();
    let mut involved: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
    for (_, record) in records {
        match record {
            Record::InspectionOpened(case) if case.opened_on.year() == year => {
                case_institution.insert(case.case_id.as_str(), case.institution.code.as_str());
            }
            Record::Finding(f) => {
                if let Some(code) = case_institution.get(f.case_id.as_str()) {
                    let sum = involved.entry(code).or_insert(0);
                    *sum = sum.saturating_add(f.amount_involved.get());
                }
            }
            _ => {}
        }
    }
    let mut ranked = insts.to_vec();
    // Stable: institutions with equal amounts (none at all, mostly) keep their order.
    ranked.sort_by_key(|inst| involved.get(inst.code.as_str()).copied().unwrap_or(0));
    ranked
}

/// Signs records with their officers' keys, in parallel.
pub fn sign(
    officers: &Officers,
    origin: &str,
    timestamp_ms: u64,
    records: &[(Signer, Record)],
) -> Result<Vec<Submission>> {
    records
        .par_iter()
        .map(|(signer, record)| {
            let payload = record.encode_payload().map_err(|e| anyhow!("{e}"))?;
            Ok(Submission::sign(
                officers.key(*signer),
                origin,
                timestamp_ms,
                record.kind().as_str(),
                payload,
            )?)
        })
        .collect()
}

/// Appends submissions in batches and fails on the first refusal.
pub fn append_all(
    ledger: &Ledger,
    code: &LogCode,
    submissions: Vec<Submission>,
    now_ms: u64,
) -> Result<()> {
    let mut pending = submissions.into_iter().peekable();
    while pending.peek().is_some() {
        let batch: Vec<Submission> = pending.by_ref().take(4096).collect();
        for result in ledger.append_batch(code, batch, now_ms)? {
            if let Err(e) = result {
                bail!("generated record refused: {e}");
            }
        }
    }
    Ok(())
}

/// A county ledger with officers, ready for benchmark runs of independent cases.
#[derive(Debug)]
pub struct Workload {
    officers: Officers,
    origin: String,
    division: String,
    bureau_name: String,
    institutions: Vec<Institution>,
    seed: u64,
}

/// 2025-06-15 (UTC): after every date the generator writes, which the date rules require.
const FIXED_TIME_MS: u64 = 1_750_000_000_000;

impl Workload {
    /// Creates the log in `ledger`, adds officers and registers 300 institutions.
    pub fn create(
        ledger: &Ledger,
        code: LogCode,
        bureau_name: &str,
        seed: u64,
    ) -> Result<Workload> {
        let officers = Officers::from_seed(seed);
        ledger.create_log(code, bureau_name, officers.bureau.clone(), FIXED_TIME_MS)?;
        let division = code.to_string();
        let insts = institutions(&division, 300);
        let mut records = officers.key_events()?;
        for inst in &insts {
            records.push((Signer::Administrator, register(inst)?));
        }
        let submissions = sign(&officers, &code.origin(), FIXED_TIME_MS, &records)?;
        append_all(ledger, &code, submissions, FIXED_TIME_MS)?;
        Ok(Workload {
            officers,
            origin: code.origin(),
            division,
            bureau_name: bureau_name.to_string(),
            institutions: insts,
            seed,
        })
    }

    /// The workload of a log already built by [`build_ledger`] with the same code, bureau
    /// name and seed (the same officers and 300 institutions); creates nothing.
    pub fn existing(code: LogCode, bureau_name: &str, seed: u64) -> Workload {
        let division = code.to_string();
        Workload {
            officers: Officers::from_seed(seed),
            origin: code.origin(),
            institutions: institutions(&division, 300),
            division,
            bureau_name: bureau_name.to_string(),
            seed,
        }
    }

    /// Pre-signed submissions for `submitters` threads, each a sequence of whole cases with
    /// case numbers of its own, enough for `seconds` at a generous rate.
    pub fn submissions_for_run(
        &self,
        submitters: usize,
        seconds: u64,
    ) -> Result<Vec<Vec<Submission>>> {
        let run = self.seed.wrapping_add(submitters as u64 * 1_000_003);
        self.submissions_for_numbered_run(submitters, seconds, run)
    }

    /// Like [`Workload::submissions_for_run`], with case numbers taken from `run` (1 to 999
    /// modulo 1,000; runs against the same log need different numbers).
    pub fn submissions_for_numbered_run(
        &self,
        submitters: usize,
        seconds: u64,
        run: u64,
    ) -> Result<Vec<Vec<Submission>>> {
        // Enough for a generous rate: a single submitter is bounded by the flush, many by
        // the signatures.
        let total = if submitters == 1 {
            5_000 * seconds
        } else {
            100_000 * seconds
        };
        let per_thread_entries = total / submitters.max(1) as u64 + 64;
        (0..submitters)
            .into_par_iter()
            .map(|t| {
                let mut rng = Rng::new(run ^ (t as u64 + 1));
                let mut records = Vec::new();
                let mut case_no = (run % 1_000) * 10_000_000 + t as u64 * 100_000;
                while (records.len() as u64) < per_thread_entries {
                    let inst =
                        &self.institutions[rng.below(self.institutions.len() as u64) as usize];
                    records.extend(case_records(
                        &mut rng,
                        &self.division,
                        &self.bureau_name,
                        case_no,
                        inst,
                        2023,
                        false,
                    )?);
                    case_no += 1;
                }
                let now = yibao_ledger::appender::system_clock()();
                records
                    .iter()
                    .map(|(signer, record)| {
                        let payload = record.encode_payload().map_err(|e| anyhow!("{e}"))?;
                        Ok(Submission::sign(
                            self.officers.key(*signer),
                            &self.origin,
                            now,
                            record.kind().as_str(),
                            payload,
                        )?)
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect()
    }
}

/// An institution of another division that a demo log inspects, and how.
#[derive(Debug, Clone)]
pub struct Visit {
    /// The institution (registered in its own county's log).
    pub institution: Institution,
    /// `cross_county`, `city_direct` or `flight`.
    pub inspection_type: &'static str,
}

/// What the bulk generator leaves out and a demo must show: institution updates (one
/// suspended, addresses changed), grade revisions (credit repair of `repaired`, C to B,
/// one of them withdrawn by a correction, whose seq is only known once appended),
/// rectification items still open
/// or in progress with a deadline far ahead (the generated ones are overdue by now), and
/// the inspection of another division's institution, with an exposure notice.
fn demo_extras(
    division: &str,
    bureau_name: &str,
    insts: &[Institution],
    repaired: &[&Institution],
    visits: &[Visit],
    rng: &mut Rng,
) -> Result<Vec<(Signer, Record)>> {
    let mut out = Vec::new();
    for (i, inst) in insts.iter().skip(10).take(6).enumerate() {
        let changes = if i == 0 {
            json!({ "status": "suspended" })
        } else {
            json!({ "address": format!("山西省吕梁市{}（新址）", inst.name) })
        };
        out.push((
            Signer::Administrator,
            parse(json!({
                "kind": "institution_updated",
                "code": inst.code,
                "changes": changes,
                "reason": if i == 0 { "暂停医保服务协议，整改期间不得结算" } else { "机构搬迁，地址变更" },
            }))?,
        ));
    }
    for inst in repaired {
        out.push((
            Signer::Adjudicator,
            parse(json!({
                "kind": "grade_revision",
                "division": division,
                "period": "2023",
                "institution": inst.code,
                "grade": "B",
                "score": 820,
                "reason_kind": "credit_repair",
                "reason": "整改事项已销号，此后连续六个月未发现违规，经申请予以信用修复。",
            }))?,
        ));
    }
    for (i, inst) in insts.iter().skip(60).take(6).enumerate() {
        let item_id = format!("{division}-ZG-2025-{:03}", i + 1);
        out.push((
            Signer::Inspector,
            parse(json!({
                "kind": "rectification_item",
                "item_id": item_id,
                "institution": inst.code,
                "problem": "医保药品进销存台账不全，限期建立并上传",
                "deadline": "2030-06-30",
            }))?,
        ));
        if i % 2 == 1 {
            out.push((
                Signer::Inspector,
                parse(json!({
                    "kind": "rectification_update",
                    "item_id": item_id,
                    "status": "rectifying",
                    "on": "2025-06-01",
                    "note": "已提交整改方案",
                }))?,
            ));
        }
    }
    for (i, visit) in visits.iter().enumerate() {
        out.extend(case_records_of_type(
            rng,
            division,
            bureau_name,
            900_000 + i as u64,
            &visit.institution,
            2024,
            true,
            Some(visit.inspection_type),
        )?);
    }
    Ok(out)
}

/// Up to `count` institutions graded C in the 2023 set of `records` for a credit repair
/// (信用修复) of that year to B: first those with a rectification item closed out (销号) in
/// `records`, as the repair's reason says, then other C ones.
fn credit_repair_candidates<'i>(
    insts: &'i [Institution],
    records: &[(Signer, Record)],
    count: usize,
) -> Vec<&'i Institution> {
    let graded_c: std::collections::HashSet<&str> = records
        .iter()
        .filter_map(|(_, r)| match r {
            Record::GradeSet(set) if set.period.to_string() == "2023" => Some(set),
            _ => None,
        })
        .flat_map(|set| &set.grades)
        .filter(|g| g.grade == yibao_schema::record::Grade::C)
        .map(|g| g.institution.as_str())
        .collect();
    let graded_c: Vec<&Institution> = insts
        .iter()
        .filter(|inst| graded_c.contains(inst.code.as_str()))
        .collect();
    let mut item_institution = std::collections::HashMap::new();
    let mut closed_out = std::collections::HashSet::new();
    for (_, record) in records {
        match record {
            Record::RectificationItem(item) => {
                item_institution.insert(item.item_id.as_str(), item.institution.as_str());
            }
            Record::RectificationUpdate(update)
                if update.status == yibao_schema::record::RectificationStatus::ClosedOut =>
            {
                if let Some(code) = item_institution.get(update.item_id.as_str()) {
                    closed_out.insert(*code);
                }
            }
            _ => {}
        }
    }
    let (mut chosen, others): (Vec<&Institution>, Vec<&Institution>) = graded_c
        .into_iter()
        .partition(|inst| closed_out.contains(inst.code.as_str()));
    chosen.extend(others);
    chosen.truncate(count);
    chosen
}

/// Builds a demo county's log of about `entries` entries: officers, 300 institutions,
/// cases (findings, decisions, rectification in every state, exposure notices), grade
/// sets at the policy ratio, and the extras of [`demo_extras`] (every record kind, the
/// inspections of `visits`), ending with a correction.
pub fn build_demo_ledger(
    ledger: &Ledger,
    code: LogCode,
    bureau_name: &str,
    entries: u64,
    seed: u64,
    visits: &[Visit],
) -> Result<()> {
    let officers = Officers::from_seed(seed);
    ledger.create_log(code, bureau_name, officers.bureau.clone(), FIXED_TIME_MS)?;
    let division = code.to_string();
    let mut records = officers.key_events()?;
    // About 6.5 entries per case, after the institutions and what the extras add.
    let cases = (entries.saturating_sub(360) * 2 / 13).max(20);
    records.extend(county_records(&division, bureau_name, 300, cases, seed)?);
    let insts = institutions(&division, 300);
    let repaired = credit_repair_candidates(&insts, &records, 4);
    let mut rng = Rng::new(seed ^ 0x5eed);
    records.extend(demo_extras(
        &division,
        bureau_name,
        &insts,
        &repaired,
        visits,
        &mut rng,
    )?);
    let origin = code.origin();
    for chunk in records.chunks(65_536) {
        let submissions = sign(&officers, &origin, FIXED_TIME_MS, chunk)?;
        append_all(ledger, &code, submissions, FIXED_TIME_MS)?;
    }
    // The last grade revision is withdrawn: a correction needs the seq of its target.
    let size = ledger.size(&code)?;
    let mut target = None;
    let mut start = size.saturating_sub(2_000);
    while start < size {
        let chunk = ledger.entries(&code, start, 1_000)?;
        for (seq, bytes) in &chunk {
            let entry = yibao_schema::entry::EntryRef::decode(bytes)
                .map_err(|e| anyhow!("entry {seq}: {e}"))?;
            if entry.submission.statement.kind == "grade_revision" {
                target = Some(*seq);
            }
        }
        start += chunk.len().max(1) as u64;
    }
    let target = target.ok_or_else(|| anyhow!("no grade revision to correct"))?;
    let correction = parse(json!({
        "kind": "correction",
        "target_seq": target,
        "target_kind": "grade_revision",
        "reason": "信用修复申请材料不全，撤回该等级调整，待补正后重新评定。",
    }))?;
    let submissions = sign(
        &officers,
        &origin,
        FIXED_TIME_MS,
        &[(Signer::Adjudicator, correction)],
    )?;
    append_all(ledger, &code, submissions, FIXED_TIME_MS)?;
    Ok(())
}

/// Records signed and appended together by [`build_ledger`], all with one timestamp.
const BUILD_BATCH: usize = 4096;
/// The time between two of [`build_ledger`]'s batches: half a day (a million entries then
/// span about four months).
const BUILD_BATCH_SPACING_MS: u64 = 12 * 3600 * 1000;

/// Builds a ledger of about `entries` entries for one county (officers, 300 institutions,
/// cases, grade sets) and returns the total bytes of its stored entries.
pub fn build_ledger(
    ledger: &Ledger,
    code: LogCode,
    bureau_name: &str,
    entries: u64,
    seed: u64,
) -> Result<u64> {
    let officers = Officers::from_seed(seed);
    ledger.create_log(code, bureau_name, officers.bureau.clone(), FIXED_TIME_MS)?;
    let division = code.to_string();
    let key_submissions = sign(
        &officers,
        &code.origin(),
        FIXED_TIME_MS,
        &officers.key_events()?,
    )?;
    append_all(ledger, &code, key_submissions, FIXED_TIME_MS)?;
    // About 6.5 entries per case.
    let cases = (entries.saturating_sub(310) * 2 / 13).max(1);
    let records = county_records(&division, bureau_name, 300, cases, seed)?;
    let target = entries.saturating_sub(ledger.size(&code)?) as usize;
    let records = &records[..records.len().min(target)];
    // The batches are spread over months, as a real log's entries are: a log keeps one
    // day of statements in its memory for refusing repeats (SPEC.md §3.3), and with a
    // single timestamp that day would be the whole log.
    for (n, chunk) in records.chunks(BUILD_BATCH).enumerate() {
        let time = FIXED_TIME_MS + n as u64 * BUILD_BATCH_SPACING_MS;
        let submissions = sign(&officers, &code.origin(), time, chunk)?;
        append_all(ledger, &code, submissions, time)?;
    }
    raw_entry_bytes(ledger, &code)
}

/// The bytes of every entry of a log, as entries (SPEC.md §3.3), without any storage.
pub fn raw_entry_bytes(ledger: &Ledger, code: &LogCode) -> Result<u64> {
    let size = ledger.size(code)?;
    let mut raw = 0u64;
    let mut start = 0u64;
    while start < size {
        let chunk = ledger.entries(code, start, 65_536)?;
        raw += chunk
            .iter()
            .map(|(_, bytes)| bytes.len() as u64)
            .sum::<u64>();
        start += chunk.len().max(1) as u64;
    }
    Ok(raw)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a test failure.
mod tests {
    use super::*;
    use yibao_schema::record::{Grade, Period, RecordKind};

    /// What a generated case's exposure notice and rectification item tell the public
    /// agrees with its signed findings and decision: the violation types, the articles,
    /// the amount involved and every penalty in the handling.
    #[test]
    fn a_cases_notice_says_what_its_findings_and_decision_say() {
        let insts = institutions("141125", 20);
        let mut fined = 0;
        for case_no in 0..60 {
            let mut rng = Rng::new(case_no);
            let inst = &insts[(case_no % 20) as usize];
            let records = case_records(
                &mut rng,
                "141125",
                "柳林县医疗保障局",
                case_no,
                inst,
                2023,
                true,
            )
            .unwrap();
            let findings: Vec<_> = records
                .iter()
                .filter_map(|(_, r)| match r {
                    Record::Finding(f) => Some(f),
                    _ => None,
                })
                .collect();
            let the = |kind: RecordKind| {
                records
                    .iter()
                    .map(|(_, r)| r)
                    .find(|r| r.kind() == kind)
                    .unwrap()
            };
            let Record::Decision(decision) = the(RecordKind::Decision) else {
                unreachable!()
            };
            let Record::ExposureNotice(notice) = the(RecordKind::ExposureNotice) else {
                unreachable!()
            };
            let Record::RectificationItem(item) = the(RecordKind::RectificationItem) else {
                unreachable!()
            };
            let problem = &item.problem;
            let amount: u64 = findings.iter().map(|f| f.amount_involved.get()).sum();
            assert_eq!(notice.amount_involved.get(), amount, "case {case_no}");
            assert!(notice.facts.contains(&yuan(amount)), "{}", notice.facts);
            for f in &findings {
                let cited = f.legal_basis.chinese();
                assert!(
                    notice.legal_basis.contains(&cited),
                    "case {case_no}: {} does not cite {cited}",
                    notice.legal_basis
                );
                // The finding's facts name its violation type; so do the notice's
                // categories, its facts and the rectification item.
                let label = notice
                    .categories
                    .iter()
                    .find(|c| f.facts.contains(c.as_str()))
                    .unwrap_or_else(|| {
                        panic!("no category of {:?} in {}", notice.categories, f.facts)
                    });
                assert!(notice.facts.contains(label.as_str()));
                assert!(problem.contains(label.as_str()), "{problem}");
            }
            assert!(notice.categories.len() <= findings.len());
            let totals = &decision.totals;
            assert!(notice.handling.contains(&yuan(totals.recovered.get())));
            assert!(notice.handling.contains(&yuan(totals.damages.get())));
            assert!(notice.handling.contains(&yuan(totals.total.get())));
            let fine = totals.fines.get();
            assert_eq!(
                notice.handling.contains("罚款"),
                fine > 0,
                "{}",
                notice.handling
            );
            if fine > 0 {
                fined += 1;
                assert!(notice.handling.contains(&yuan(fine)));
            }
        }
        assert!(fined > 0, "no case with a fine among 60");
    }

    #[test]
    fn yuan_has_two_decimals() {
        assert_eq!(yuan(17_951_635), "179516.35");
        assert_eq!(yuan(5), "0.05");
    }

    /// Each year's grades follow that year's findings: every institution graded A or B
    /// involved no more money in findings that year than any graded C or D.
    #[test]
    fn grades_follow_the_years_findings() {
        let records = county_records("141125", "柳林县医疗保障局", 300, 200, 7).unwrap();
        let insts = institutions("141125", 300);
        for year in 2021..2025 {
            let ranked = ranked_by_findings(&insts, &records, year);
            let rank = |code: &str| ranked.iter().position(|i| i.code == code).unwrap();
            let set = records
                .iter()
                .find_map(|(_, r)| match r {
                    Record::GradeSet(set) if set.period.to_string() == year.to_string() => {
                        Some(set)
                    }
                    _ => None,
                })
                .unwrap();
            let worst_good = set
                .grades
                .iter()
                .filter(|g| matches!(g.grade, Grade::A | Grade::B))
                .map(|g| rank(g.institution.as_str()))
                .max()
                .unwrap();
            let best_poor = set
                .grades
                .iter()
                .filter(|g| matches!(g.grade, Grade::C | Grade::D))
                .map(|g| rank(g.institution.as_str()))
                .min()
                .unwrap();
            assert!(
                worst_good < best_poor,
                "{year}: {worst_good} vs {best_poor}"
            );
            // And the ranking is by money: the last ranked involved the most.
            let first = &ranked[0].code;
            let last = &ranked[ranked.len() - 1].code;
            assert_ne!(first, last);
            let case_insts: std::collections::HashSet<&str> = records
                .iter()
                .filter_map(|(_, r)| match r {
                    Record::InspectionOpened(c) if c.opened_on.year() == year => {
                        Some(c.institution.code.as_str())
                    }
                    _ => None,
                })
                .collect();
            assert!(case_insts.contains(last.as_str()), "{year}");
            assert!(!case_insts.contains(first.as_str()), "{year}");
            // The exposed are graded D.
            let grade_of = |code: &str| {
                set.grades
                    .iter()
                    .find(|g| g.institution.as_str() == code)
                    .unwrap()
                    .grade
            };
            assert_eq!(grade_of(last), Grade::D, "{year}");
            assert_eq!(grade_of(first), Grade::A, "{year}");
        }
    }

    /// A credit repair raises a C institution to B, and prefers one whose rectification
    /// item was closed out.
    #[test]
    fn credit_repair_candidates_are_graded_c_and_closed_out_first() {
        let records = county_records("141125", "柳林县医疗保障局", 300, 200, 7).unwrap();
        let insts = institutions("141125", 300);
        let chosen = credit_repair_candidates(&insts, &records, 4);
        assert_eq!(chosen.len(), 4);
        let grades_2023 = records
            .iter()
            .find_map(|(_, r)| match r {
                Record::GradeSet(set) if set.period == Period::parse("2023").unwrap() => Some(set),
                _ => None,
            })
            .unwrap();
        for inst in &chosen {
            let grade = grades_2023
                .grades
                .iter()
                .find(|g| g.institution.as_str() == inst.code)
                .unwrap();
            assert_eq!(grade.grade, Grade::C, "{}", inst.code);
        }
        let closed_item = |code: &str| {
            let items: Vec<&str> = records
                .iter()
                .filter_map(|(_, r)| match r {
                    Record::RectificationItem(i) if i.institution.as_str() == code => {
                        Some(i.item_id.as_str())
                    }
                    _ => None,
                })
                .collect();
            records.iter().any(|(_, r)| {
                matches!(r, Record::RectificationUpdate(u)
                    if items.contains(&u.item_id.as_str())
                        && u.status == yibao_schema::record::RectificationStatus::ClosedOut)
            })
        };
        assert!(closed_item(&chosen[0].code), "{}", chosen[0].code);
    }
}
