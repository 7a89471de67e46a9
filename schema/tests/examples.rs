//! Replays the example record files in `examples/records/` through `LogState`, as the
//! one-county demo does, and checks the seed numbers come out right (Liulin: 111,843 yuan
//! recovered + 2 × damages = 335,529 yuan).
//!
//! This test does not sign or store anything: keys are synthetic 32-byte values and the
//! entry contexts are made up here. Signatures and storage are the ledger's tests.

use std::fs;
use std::path::PathBuf;

use yibao_schema::policy::Policy;
use yibao_schema::record::{
    Bytes32, DivisionCode, Fen, KeyEvent, OfficerId, Record, RecordKind, Role,
};
use yibao_schema::state::{EntryContext, ItemStatus, LogState};

const BUREAU: [u8; 32] = [0xB0; 32];
const INSPECTOR: [u8; 32] = [0x11; 32];
const ADJUDICATOR: [u8; 32] = [0x21; 32];
const PUBLISHER: [u8; 32] = [0x31; 32];
const ADMINISTRATOR: [u8; 32] = [0x41; 32];
/// 2022-06-30 00:00 China Standard Time: after every date in the examples.
const START_MS: u64 = 1_656_518_400_000;

fn example_files() -> Vec<(String, Vec<Record>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/records");
    let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let records = Record::list_from_json(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, records)
        })
        .collect()
}

fn author_for(kind: RecordKind) -> [u8; 32] {
    match kind {
        RecordKind::InstitutionRegistered | RecordKind::InstitutionUpdated => ADMINISTRATOR,
        RecordKind::InspectionOpened
        | RecordKind::Finding
        | RecordKind::RectificationItem
        | RecordKind::RectificationUpdate => INSPECTOR,
        RecordKind::Decision | RecordKind::GradeSet | RecordKind::GradeRevision => ADJUDICATOR,
        RecordKind::ExposureNotice => PUBLISHER,
        RecordKind::KeyEvent | RecordKind::Correction => BUREAU,
    }
}

struct Replay {
    state: LogState,
    timestamp_ms: u64,
}

impl Replay {
    fn new() -> Self {
        let division = DivisionCode::parse("141125").unwrap();
        let mut replay = Replay {
            state: LogState::new(division, Policy::default()),
            timestamp_ms: START_MS,
        };
        replay.append(
            BUREAU,
            &Record::KeyEvent(KeyEvent::LogCreated {
                division,
                name: "柳林县医疗保障局".into(),
                bureau_key: Bytes32(BUREAU),
            }),
        );
        for (key, id, surname, role) in [
            (INSPECTOR, "14112500101", "王", Role::Inspector),
            (ADJUDICATOR, "14112500102", "李", Role::Adjudicator),
            (PUBLISHER, "14112500103", "张", Role::Publisher),
            (ADMINISTRATOR, "14112500104", "刘", Role::Administrator),
        ] {
            replay.append(
                BUREAU,
                &Record::KeyEvent(KeyEvent::OfficerAdded {
                    key: Bytes32(key),
                    officer_id: OfficerId::parse(id).unwrap(),
                    surname: surname.into(),
                    roles: vec![role],
                }),
            );
        }
        replay
    }

    fn append(&mut self, author: [u8; 32], record: &Record) {
        let ctx = EntryContext {
            division: self.state.division(),
            seq: self.state.next_seq(),
            timestamp_ms: self.timestamp_ms,
            author,
        };
        if let Err(v) = self.state.check_and_apply(&ctx, record) {
            panic!("seq {} ({}) refused: {v}", ctx.seq, record.kind());
        }
        self.timestamp_ms += 60_000;
    }
}

#[test]
fn every_example_record_is_accepted_in_file_order() {
    let files = example_files();
    assert!(
        files.len() >= 7,
        "expected the example files, found {}",
        files.len()
    );
    let mut replay = Replay::new();
    let mut total_records = 0;
    for (_name, records) in &files {
        for record in records {
            assert_ne!(
                record.kind(),
                RecordKind::KeyEvent,
                "example files hold no key events"
            );
            replay.append(author_for(record.kind()), record);
            total_records += 1;
        }
    }
    assert_eq!(replay.state.next_seq(), 5 + total_records);
    assert_eq!(
        replay.state.rectification_status("LLYB-2021-ZG-001"),
        Some(ItemStatus::ClosedOut)
    );
    assert_eq!(
        replay.state.rectification_status("LLYB-2021-ZG-007"),
        Some(ItemStatus::Open)
    );
    assert!(replay.state.is_decided("LLYB-2021-JC-001-F3"));
    assert!(!replay.state.is_decided("LLYB-2021-HC-002-F1"));
}

#[test]
fn file_names_are_ordered_and_numbered() {
    let files = example_files();
    for (name, records) in &files {
        let prefix = name.get(..3).unwrap();
        assert!(
            prefix.chars().take(2).all(|c| c.is_ascii_digit()) && prefix.ends_with('-'),
            "{name} should start with two digits and a dash"
        );
        assert!(!records.is_empty(), "{name} is empty");
    }
}

#[test]
fn liulin_decision_totals_335529_yuan() {
    let files = example_files();
    let decision = files
        .iter()
        .flat_map(|(_, records)| records)
        .find_map(|r| match r {
            Record::Decision(d) if d.decision_id.as_str() == "LLYB-2021-CL-001" => Some(d),
            _ => None,
        })
        .expect("the Liulin decision");
    assert_eq!(decision.totals.recovered, Fen::from_yuan(111_843).unwrap());
    assert_eq!(
        decision.totals.damages,
        Fen::from_yuan(2 * 111_843).unwrap()
    );
    assert_eq!(decision.totals.total, Fen::new(33_552_900));
    assert_eq!(decision.totals.total, Fen::from_yuan(335_529).unwrap());
    assert_eq!(
        decision.settlement_month.map(|m| m.to_string()).as_deref(),
        Some("2021-06")
    );
}

#[test]
fn phantom_beds_case_carries_exact_fractional_multiples() {
    let files = example_files();
    let decision = files
        .iter()
        .flat_map(|(_, records)| records)
        .find_map(|r| match r {
            Record::Decision(d) if d.decision_id.as_str() == "LLYB-2021-CF-007" => Some(d),
            _ => None,
        })
        .expect("the phantom-beds decision");
    let fines: Vec<(String, u64)> = decision
        .items
        .iter()
        .map(|i| {
            let fine = i.fine.unwrap();
            (fine.multiple.unwrap().to_string(), fine.amount.get())
        })
        .collect();
    assert_eq!(
        fines,
        vec![
            ("1.5".to_string(), 4_815_000),
            ("3.5".to_string(), 13_650_000)
        ]
    );
}

#[test]
fn example_records_survive_a_json_round_trip() {
    for (name, records) in example_files() {
        for record in records {
            let text = record.to_json_pretty().unwrap();
            let back = Record::from_json(&text).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
            assert_eq!(back, record, "{name}");
        }
    }
}

#[test]
fn example_records_survive_a_payload_round_trip() {
    for (name, records) in example_files() {
        for record in records {
            let bytes = record
                .encode_payload()
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let back = Record::decode_payload(record.kind(), &bytes)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(back, record, "{name}");
            assert_eq!(
                back.encode_payload().unwrap(),
                bytes,
                "{name}: re-encoding differs"
            );
        }
    }
}
