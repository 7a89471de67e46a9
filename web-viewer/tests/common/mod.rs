//! What the viewer's test binaries share: a generated two-county ledger behind the node's
//! API (in process), a plain source over it, and cosignatures for the fixture.
#![allow(dead_code)] // Each test binary uses a part of this module.

pub mod webdriver;

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;
use yibao_ledger::keys::LogCode;
use yibao_ledger::store::Ledger;
use yibao_node::api::{self, ApiState, Metrics};
use yibao_node::workload::{self, Officers, Rng, Signer};
use yibao_schema::manifest::witness_name;
use yibao_schema::note::{Cosignature, KeyKind, SignedCheckpoint, VerifierKey};
use yibao_schema::policy::Policy;
use yibao_web_viewer::{Source, SourceFuture};

pub const COUNTY: &str = "141125";
pub const FROZEN: &str = "141124";
/// Notices in the first county (more than one page of 20).
pub const NOTICES: u64 = 23;

/// The institution (index among the county's) whose 2023 grade a credit repair raises.
pub const REPAIRED: usize = 9;
/// The reason that credit repair gives.
pub const REPAIR_REASON: &str = "整改事项已销号，此后连续六个月未发现违规，予以信用修复。";

/// The institution (index among the first county's) that changes its name, named in no
/// notice; the other county registers one under its old name too.
pub const RENAMED: usize = 11;
/// Its new name.
pub const RENAMED_TO: &str = "柳林县新城社区卫生服务中心";

pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub state: ApiState,
}

/// A county's records: key events, 12 institutions (the first county renames one),
/// `notices` cases each with a notice, grade sets 2021–2024, a credit repair; each signed
/// one second after the one before.
fn county(ledger: &Ledger, division: &str, name: &str, notices: u64, now: u64) {
    let code = LogCode::parse(division).unwrap();
    let officers = Officers::from_seed(u64::from(division.parse::<u32>().unwrap()));
    ledger
        .create_log(code, name, officers.bureau.clone(), now - 3_600_000)
        .unwrap();
    let mut records = officers.key_events().unwrap();
    let insts = workload::institutions(division, 12);
    for inst in &insts {
        records.push((Signer::Administrator, workload::register(inst).unwrap()));
    }
    if division == COUNTY {
        records.push((
            Signer::Administrator,
            workload::parse(serde_json::json!({
                "kind": "institution_updated", "code": insts[RENAMED].code,
                "changes": { "name": RENAMED_TO }, "reason": "机构更名",
            }))
            .unwrap(),
        ));
    }
    let mut rng = Rng::new(7);
    for case_no in 0..notices {
        let inst = &insts[(case_no % 5) as usize];
        let year = 2021 + (case_no % 4) as u32;
        records.extend(
            workload::case_records(&mut rng, division, name, case_no, inst, year, true).unwrap(),
        );
    }
    for year in 2021..2025 {
        records.push((
            Signer::Adjudicator,
            workload::grade_set(division, &year.to_string(), &insts, &mut rng).unwrap(),
        ));
    }
    // Institution 9 is graded C (the sets grade in order at 3:4:2:1, A 4, B 5, C 2, D 1):
    // a credit repair raises its 2023 grade.
    records.push((
        Signer::Adjudicator,
        workload::parse(serde_json::json!({
            "kind": "grade_revision", "division": division, "period": "2023",
            "institution": insts[REPAIRED].code, "grade": "B", "score": 820,
            "reason_kind": "credit_repair", "reason": REPAIR_REASON,
        }))
        .unwrap(),
    ));
    let start = now - 1_800_000;
    let mut subs = Vec::new();
    for (i, record) in records.iter().enumerate() {
        subs.extend(
            workload::sign(
                &officers,
                &code.origin(),
                start + i as u64 * 1000,
                std::slice::from_ref(record),
            )
            .unwrap(),
        );
    }
    workload::append_all(ledger, &code, subs, now).unwrap();
}

pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Ledger::open(dir.path(), Policy::default()).unwrap());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    county(&ledger, COUNTY, "柳林县医疗保障局", NOTICES, now);
    county(&ledger, FROZEN, "临县医疗保障局", 2, now);
    ledger.freeze(&LogCode::parse(FROZEN).unwrap()).unwrap();
    Fixture {
        _dir: dir,
        state: ApiState {
            ledger,
            appender: None,
            metrics: Arc::new(Metrics::default()),
            network_metrics: None,
        },
    }
}

/// `GET path` on the node's API router, in process.
pub async fn api_get(state: &ApiState, path: &str) -> (u16, Vec<u8>) {
    let response = api::router(state.clone())
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body.to_vec())
}

/// The node's API as it answers, unchanged.
pub struct ApiSource(pub ApiState);

impl Source for ApiSource {
    fn get<'a>(&'a self, path: &'a str) -> SourceFuture<'a> {
        Box::pin(async move { Ok(api_get(&self.0, path).await) })
    }
}

/// The bureau of the fixture's cosigning witness (the second county).
pub const WITNESS_BUREAU: &str = "临县医疗保障局";

/// Cosigns the first county's latest checkpoint as the second county's witness (a
/// witness the viewer knows: its log is on the node) and as a witness it does not know.
pub fn cosign(f: &Fixture) {
    let code = LogCode::parse(COUNTY).unwrap();
    let text = f.state.ledger.latest_checkpoint(&code).unwrap();
    let signed = SignedCheckpoint::parse(&text).unwrap();
    let size = signed.checkpoint.size;
    let witness = Officers::from_seed(u64::from(FROZEN.parse::<u32>().unwrap())).bureau;
    let stranger = Officers::from_seed(999).bureau;
    for (name, key) in [
        (witness_name(FROZEN), witness),
        (witness_name("150102"), stranger),
    ] {
        let vkey = VerifierKey::from_signing_key(&name, &key, KeyKind::CosignatureV1).unwrap();
        let cosignature =
            Cosignature::sign(&signed.checkpoint, &name, &key, 1_750_000_000).unwrap();
        assert!(f
            .state
            .ledger
            .add_cosignature(&code, size, &cosignature, &vkey)
            .unwrap());
    }
}

/// The checkpoint note with the last byte of the known witness's cosignature flipped.
pub fn break_cosignature(note: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let prefix = format!("\u{2014} {} ", witness_name(FROZEN));
    let mut out = String::new();
    let mut broken = false;
    for line in note.split_inclusive('\n') {
        match line.strip_prefix(&prefix) {
            Some(rest) => {
                let mut raw = b64.decode(rest.trim_end()).unwrap();
                let last = raw.len() - 1;
                raw[last] ^= 1;
                out.push_str(&format!("{prefix}{}\n", b64.encode(raw)));
                broken = true;
            }
            None => out.push_str(line),
        }
    }
    assert!(broken, "the note carries the witness's cosignature: {note}");
    out
}
