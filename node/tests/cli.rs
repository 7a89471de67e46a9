//! End-to-end tests of the `yibao` binary: each test runs the real executable with
//! `std::process::Command` in temporary directories and checks the exact forms that scripts
//! outside the project rely on — exit codes (0 success, 1 verification found problems, 2
//! the command could not run), signed-note checkpoints and verifier keys, key files with
//! mode 0600, JSON from `show` and `prove`, refusals with messages that say why, and
//! verification reports (never a panic) after tampering.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use tempfile::TempDir;
use yibao_ledger::merkle::{verify_inclusion, Blake3Hasher, LeafIndex, MerkleHasher, TreeSize};
use yibao_schema::note::{SignedCheckpoint, VerifierKey};

const COUNTY: &str = "141125";
const BUREAU: &str = "柳林县医疗保障局";
const ORIGIN: &str = "yibao.ledger/v1/blake3/141125";

// ---------------------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------------------

/// What one run of `yibao` did.
#[derive(Debug)]
struct Run {
    command: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn describe(&self) -> String {
        format!(
            "`{}` exited with {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }

    fn assert_no_panic(&self) {
        assert!(
            !self.stdout.contains("panicked") && !self.stderr.contains("panicked"),
            "the binary panicked: {}",
            self.describe()
        );
    }

    /// Asserts exit 0 and returns the run.
    fn ok(self) -> Run {
        self.assert_no_panic();
        assert_eq!(self.code, Some(0), "expected success: {}", self.describe());
        self
    }

    /// Asserts exit 2 ("the command could not run"), no panic, and an `error:`/refusal
    /// message on stderr that contains every one of `needles` (case-insensitive).
    fn refused(self, needles: &[&str]) -> Run {
        self.assert_no_panic();
        assert_eq!(
            self.code,
            Some(2),
            "expected exit 2 (refused): {}",
            self.describe()
        );
        let stderr = self.stderr.to_lowercase();
        for needle in needles {
            assert!(
                stderr.contains(&needle.to_lowercase()),
                "stderr should mention {needle:?}: {}",
                self.describe()
            );
        }
        self
    }

    /// Asserts exit 1 ("verification found problems") and no panic.
    fn failed_verification(self) -> Run {
        self.assert_no_panic();
        assert_eq!(
            self.code,
            Some(1),
            "expected exit 1 (verification failed): {}",
            self.describe()
        );
        self
    }

    /// stdout and stderr together.
    fn output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// The workspace root, where `examples/records` lives.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run_in<I, S>(dir: Option<&Path>, args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args
        .into_iter()
        .map(|a| a.as_ref().to_os_string())
        .collect();
    let mut command = Command::new(env!("CARGO_BIN_EXE_yibao"));
    command
        .args(&args)
        .env_remove("RUST_LOG")
        .env("RUST_BACKTRACE", "0");
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let output = command.output().expect("run the yibao binary");
    Run {
        command: format!(
            "yibao {}",
            args.iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        ),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn yibao<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_in(None, args)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn unhex(text: &str) -> Vec<u8> {
    assert_eq!(text.len() % 2, 0, "odd-length hex {text:?}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn unhex32(text: &str) -> [u8; 32] {
    unhex(text).try_into().unwrap()
}

fn is_lower_hex(text: &str, len: usize) -> bool {
    text.len() == len
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

// ---------------------------------------------------------------------------------------
// Nodes and officers
// ---------------------------------------------------------------------------------------

/// The role a record kind needs, as in `node/src/demo.rs`.
fn role_for(kind: &str) -> &'static str {
    match kind {
        "institution_registered" | "institution_updated" => "administrator",
        "inspection_opened" | "finding" | "rectification_item" | "rectification_update" => {
            "inspector"
        }
        "decision" | "grade_set" | "grade_revision" | "correction" => "adjudicator",
        "exposure_notice" => "publisher",
        other => panic!("no role for record kind {other}"),
    }
}

/// A node in a temporary directory, with a scratch directory for record and key files.
struct Node {
    tmp: TempDir,
    data: PathBuf,
}

impl Node {
    /// `yibao init` into a fresh directory.
    fn init() -> Node {
        Node::init_county(COUNTY)
    }

    fn init_county(county: &str) -> Node {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("node");
        yibao([
            "init",
            "--data",
            data.to_str().unwrap(),
            "--county",
            county,
            "--name",
            BUREAU,
        ])
        .ok();
        Node { tmp, data }
    }

    fn data(&self) -> &str {
        self.data.to_str().unwrap()
    }

    /// A path in the scratch directory (beside, not inside, the node).
    fn scratch(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Writes a JSON file in the scratch directory.
    fn write_json(&self, name: &str, value: &Value) -> PathBuf {
        let path = self.scratch(name);
        std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
        path
    }

    /// `yibao officer add --key-out`: returns the key file and the public key printed.
    fn add_officer(
        &self,
        key_name: &str,
        roles: &str,
        officer_id: &str,
        surname: &str,
    ) -> (PathBuf, String) {
        let key = self.scratch(key_name);
        let run = yibao([
            "officer",
            "add",
            "--data",
            self.data(),
            "--roles",
            roles,
            "--officer-id",
            officer_id,
            "--surname",
            surname,
            "--key-out",
            key.to_str().unwrap(),
        ])
        .ok();
        let public = run
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("officer public key: "))
            .unwrap_or_else(|| panic!("no public key printed: {}", run.describe()))
            .to_string();
        assert!(is_lower_hex(&public, 64), "public key {public:?}");
        (key, public)
    }

    fn submit(&self, key: &Path, files: &[&Path]) -> Run {
        let mut args: Vec<&OsStr> = vec![
            OsStr::new("submit"),
            OsStr::new("--data"),
            self.data.as_os_str(),
            OsStr::new("--key"),
            key.as_os_str(),
        ];
        args.extend(files.iter().map(|f| f.as_os_str()));
        yibao(args)
    }

    /// Submits records (JSON values) from a scratch file.
    fn submit_records(&self, key: &Path, name: &str, records: &[Value]) -> Run {
        let file = self.write_json(name, &Value::Array(records.to_vec()));
        self.submit(key, &[&file])
    }

    fn checkpoint_text(&self) -> String {
        yibao(["checkpoint", "--data", self.data()]).ok().stdout
    }

    fn vkey(&self) -> String {
        let run = yibao(["checkpoint", "--data", self.data(), "--vkey"]).ok();
        run.stdout.trim_end_matches('\n').to_string()
    }

    /// The latest checkpoint, parsed and verified with the node's verifier key.
    fn checkpoint(&self) -> SignedCheckpoint {
        let text = self.checkpoint_text();
        let checkpoint = SignedCheckpoint::parse(&text).unwrap();
        let vkey = VerifierKey::parse(&self.vkey()).unwrap();
        checkpoint.verify(&vkey).unwrap();
        checkpoint
    }

    fn size(&self) -> u64 {
        self.checkpoint().checkpoint.size
    }

    fn show(&self, seq: u64) -> Value {
        let run = yibao(["show", "--data", self.data(), &seq.to_string()]).ok();
        serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("show is not JSON ({e}): {}", run.describe()))
    }
}

/// The example record files, in order, each with its records.
fn example_files() -> Vec<(PathBuf, Vec<Value>)> {
    let dir = workspace_root().join("examples").join("records");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 8,
        "expected the example records in {}",
        dir.display()
    );
    files
        .into_iter()
        .map(|path| {
            let value: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let records = match value {
                Value::Array(items) => items,
                other => vec![other],
            };
            (path, records)
        })
        .collect()
}

/// A node with one officer per role (different officers, so 查办分离 holds).
struct Staffed {
    node: Node,
    administrator: PathBuf,
    inspector: PathBuf,
    adjudicator: PathBuf,
    publisher: PathBuf,
}

impl Staffed {
    fn new() -> Staffed {
        let node = Node::init();
        let (administrator, _) =
            node.add_officer("administrator.key", "administrator", "14112500011", "赵");
        let (inspector, _) = node.add_officer("inspector.key", "inspector", "14112500012", "王");
        let (adjudicator, _) =
            node.add_officer("adjudicator.key", "adjudicator", "14112500013", "李");
        let (publisher, _) = node.add_officer("publisher.key", "publisher", "14112500014", "张");
        Staffed {
            node,
            administrator,
            inspector,
            adjudicator,
            publisher,
        }
    }

    fn key_for(&self, role: &str) -> &Path {
        match role {
            "administrator" => &self.administrator,
            "inspector" => &self.inspector,
            "adjudicator" => &self.adjudicator,
            "publisher" => &self.publisher,
            other => panic!("no officer for role {other}"),
        }
    }

    /// Submits every example file in order. A file whose records all need one role is
    /// submitted as it is; others are split into consecutive runs of one role. Returns the
    /// number of records submitted.
    fn submit_examples(&self) -> u64 {
        let mut count = 0;
        for (path, records) in example_files() {
            let mut runs: Vec<(&'static str, Vec<Value>)> = Vec::new();
            for record in records {
                let role = role_for(record["kind"].as_str().unwrap());
                match runs.last_mut() {
                    Some((last, group)) if *last == role => group.push(record),
                    _ => runs.push((role, vec![record])),
                }
            }
            if let [(role, group)] = runs.as_slice() {
                let run = self.node.submit(self.key_for(role), &[&path]).ok();
                assert_eq!(
                    run.stdout.matches("appended at seq").count(),
                    group.len(),
                    "{}",
                    run.describe()
                );
                count += group.len() as u64;
                continue;
            }
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            for (i, (role, group)) in runs.iter().enumerate() {
                let run = self
                    .node
                    .submit_records(self.key_for(role), &format!("{stem}-part{i}.json"), group)
                    .ok();
                assert_eq!(
                    run.stdout.matches("appended at seq").count(),
                    group.len(),
                    "{}",
                    run.describe()
                );
                count += group.len() as u64;
            }
        }
        count
    }

    /// The institutions, then the first inspection of example 10 and its first finding,
    /// the finding signed by `finder`.
    fn open_case(&self, finder: &Path) {
        let examples = example_files();
        self.node
            .submit(&self.administrator, &[&examples[0].0])
            .ok();
        let case = &examples[1].1;
        assert_eq!(case[0]["kind"], "inspection_opened");
        assert_eq!(case[1]["kind"], "finding");
        self.node
            .submit_records(&self.inspector, "inspection.json", &case[..1])
            .ok();
        self.node
            .submit_records(finder, "finding.json", &case[1..2])
            .ok();
    }
}

/// A decision on finding F1 of example 10 alone: recovered 45,210 yuan and 2× damages.
fn decision_on_f1(total: u64) -> Value {
    json!({
        "kind": "decision",
        "case_id": "LLYB-2021-JC-001",
        "decision_id": "LLYB-2021-CL-001",
        "decided_on": "2021-06-25",
        "items": [{
            "finding_id": "LLYB-2021-JC-001-F1",
            "recovered": 4521000,
            "damages": { "basis": 4521000, "multiple": "2", "amount": 9042000 }
        }],
        "other_handling": ["order_to_correct"],
        "settlement_month": "2021-06",
        "totals": { "recovered": 4521000, "damages": 9042000, "fines": 0, "total": total }
    })
}

const DECISION_TOTAL: u64 = 4_521_000 + 9_042_000;

// ---------------------------------------------------------------------------------------
// init
// ---------------------------------------------------------------------------------------

#[test]
fn init_creates_a_node_with_a_private_bureau_key_and_refuses_a_second_init() {
    let node = Node::init();
    let key = node.data.join("bureau.key");
    assert!(key.is_file(), "bureau.key missing");
    assert_eq!(
        mode(&key),
        0o600,
        "bureau.key must be readable by its owner only"
    );
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(node.data.join("node.json")).unwrap())
            .unwrap();
    assert_eq!(config["division"], COUNTY);
    assert_eq!(config["name"], BUREAU);
    assert_eq!(config["origin"], ORIGIN);

    let key_before = std::fs::read(&key).unwrap();
    let again = yibao([
        "init",
        "--data",
        node.data(),
        "--county",
        COUNTY,
        "--name",
        BUREAU,
    ])
    .refused(&["already holds a node"]);
    assert!(
        again.stdout.is_empty(),
        "a refused init prints nothing on stdout: {}",
        again.describe()
    );
    assert_eq!(
        std::fs::read(&key).unwrap(),
        key_before,
        "a second init must not touch the bureau key"
    );
    assert_eq!(node.size(), 1, "a second init must not touch the log");
}

#[test]
fn init_refuses_bad_county_codes_naming_the_option() {
    let tmp = tempfile::tempdir().unwrap();
    for county in ["14112", "abcdef", "", "1411250", "14112a"] {
        let data = tmp.path().join(format!("node-{}", county.len()));
        yibao([
            "init",
            "--data",
            data.to_str().unwrap(),
            "--county",
            county,
            "--name",
            BUREAU,
        ])
        .refused(&["--county"]);
        assert!(
            !data.join("node.json").exists(),
            "county {county:?}: no node may be created"
        );
        assert!(
            !data.join("bureau.key").exists(),
            "county {county:?}: no key may be written"
        );
    }
}

// ---------------------------------------------------------------------------------------
// checkpoint
// ---------------------------------------------------------------------------------------

#[test]
fn checkpoint_is_exactly_a_signed_note_verified_by_the_printed_vkey() {
    let node = Node::init();
    let text = node.checkpoint_text();
    let checkpoint = SignedCheckpoint::parse(&text).unwrap();
    assert_eq!(
        checkpoint.to_text(),
        text,
        "the output must be the signed note and nothing else"
    );
    assert_eq!(checkpoint.checkpoint.origin, ORIGIN);
    assert_eq!(
        checkpoint.checkpoint.size, 1,
        "right after init the log holds its log_created entry"
    );
    assert!(
        text.starts_with(&format!("{ORIGIN}\n1\n")),
        "checkpoint text: {text:?}"
    );

    let vkey_run = yibao(["checkpoint", "--data", node.data(), "--vkey"]).ok();
    assert!(
        vkey_run.stdout.ends_with('\n'),
        "the vkey is a line: {:?}",
        vkey_run.stdout
    );
    let lines: Vec<&str> = vkey_run.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "--vkey prints exactly one line: {:?}",
        vkey_run.stdout
    );
    let line = lines[0];
    let parts: Vec<&str> = line.splitn(3, '+').collect();
    assert_eq!(parts.len(), 3, "name+keyid+base64: {line}");
    assert_eq!(parts[0], ORIGIN, "the key is named after the origin");
    assert!(
        is_lower_hex(parts[1], 8),
        "the key ID is 8 lowercase hex digits: {line}"
    );
    assert!(
        parts[2].len() == 44
            && parts[2]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)),
        "33 bytes of standard base64: {line}"
    );
    let vkey = VerifierKey::parse(line).unwrap();
    assert_eq!(vkey.to_string(), line);
    checkpoint.verify(&vkey).unwrap();

    // The key of another node does not verify this checkpoint.
    let other = Node::init();
    let other_vkey = VerifierKey::parse(&other.vkey()).unwrap();
    assert_ne!(other_vkey.to_string(), line);
    assert!(
        checkpoint.verify(&other_vkey).is_err(),
        "another node's key must not verify"
    );
}

// ---------------------------------------------------------------------------------------
// keys and officers
// ---------------------------------------------------------------------------------------

#[test]
fn keygen_writes_a_private_key_file_and_prints_its_public_key() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("officer.key");
    let run = yibao(["keygen", "--out", out.to_str().unwrap()]).ok();
    let public = run
        .stdout
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("one line: {}", run.describe()));
    assert!(
        is_lower_hex(public, 64),
        "keygen prints 64 lowercase hex digits: {:?}",
        run.stdout
    );
    assert_eq!(mode(&out), 0o600);
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(
        file["public_key"], public,
        "the printed key is the file's public key"
    );

    // It never overwrites a key.
    let before = std::fs::read(&out).unwrap();
    yibao(["keygen", "--out", out.to_str().unwrap()]).refused(&[out.to_str().unwrap()]);
    assert_eq!(
        std::fs::read(&out).unwrap(),
        before,
        "an existing key file must not be overwritten"
    );

    // Two runs give two different keys.
    let second = tmp.path().join("second.key");
    let run2 = yibao(["keygen", "--out", second.to_str().unwrap()]).ok();
    assert_ne!(run2.stdout, run.stdout);
}

#[test]
fn officers_are_added_listed_and_revoked_and_a_revoked_key_signs_nothing() {
    let node = Node::init();
    let (dual_key, dual_public) =
        node.add_officer("dual.key", "inspector,adjudicator", "14112500017", "王");
    assert_eq!(
        mode(&dual_key),
        0o600,
        "--key-out writes a private key file"
    );

    let admin_key = node.scratch("admin.key");
    let keygen = yibao(["keygen", "--out", admin_key.to_str().unwrap()]).ok();
    let admin_public = keygen.stdout.trim_end().to_string();
    let add = yibao([
        "officer",
        "add",
        "--data",
        node.data(),
        "--roles",
        "administrator",
        "--officer-id",
        "14112500018",
        "--surname",
        "欧阳",
        "--public-key",
        &admin_public,
    ])
    .ok();
    assert!(add.stdout.contains(&admin_public), "{}", add.describe());
    assert_eq!(node.size(), 3, "log_created and two officer_added entries");

    let list = yibao(["officer", "list", "--data", node.data()]).ok();
    let dual_line = list
        .stdout
        .lines()
        .find(|l| l.contains(&dual_public))
        .unwrap_or_else(|| panic!("officer list lacks the dual officer: {}", list.describe()));
    assert!(dual_line.contains("14112500017"), "{dual_line}");
    assert!(
        dual_line.contains("inspector") && dual_line.contains("adjudicator"),
        "{dual_line}"
    );
    assert!(dual_line.contains("active"), "{dual_line}");
    let admin_line = list
        .stdout
        .lines()
        .find(|l| l.contains(&admin_public))
        .unwrap_or_else(|| panic!("officer list lacks the administrator: {}", list.describe()));
    assert!(
        admin_line.contains("administrator") && admin_line.contains("14112500018"),
        "{admin_line}"
    );
    assert!(!admin_line.contains("inspector"), "{admin_line}");

    // The administrator signs an institution; after revocation the same key signs nothing.
    let institutions = &example_files()[0].1;
    node.submit_records(&admin_key, "inst-1.json", &institutions[..1])
        .ok();
    assert_eq!(node.size(), 4);
    yibao([
        "officer",
        "revoke",
        "--data",
        node.data(),
        "--public-key",
        &admin_public,
        "--reason",
        "调离",
    ])
    .ok();
    assert_eq!(node.size(), 5);
    let list = yibao(["officer", "list", "--data", node.data()]).ok();
    let admin_line = list
        .stdout
        .lines()
        .find(|l| l.contains(&admin_public))
        .unwrap();
    assert!(admin_line.contains("revoked at seq 4"), "{admin_line}");
    let dual_line = list
        .stdout
        .lines()
        .find(|l| l.contains(&dual_public))
        .unwrap();
    assert!(
        dual_line.contains("active"),
        "revoking one officer leaves the others: {dual_line}"
    );

    let refused = node
        .submit_records(&admin_key, "inst-2.json", &institutions[1..2])
        .refused(&["authoris", "revoked"]);
    assert!(
        !refused.stdout.contains("appended"),
        "{}",
        refused.describe()
    );
    assert_eq!(node.size(), 5, "a refused submit leaves the log unchanged");
    yibao(["verify", "--data", node.data()]).ok();
}

#[test]
fn officer_add_needs_exactly_one_key_source_and_a_valid_public_key() {
    let node = Node::init();
    let key_out = node.scratch("both.key");
    let add = |extra: &[&str]| {
        let mut args = vec![
            "officer",
            "add",
            "--data",
            node.data(),
            "--roles",
            "inspector",
            "--officer-id",
            "14112500017",
            "--surname",
            "王",
        ];
        args.extend_from_slice(extra);
        yibao(args)
    };
    add(&[]).refused(&["--public-key", "--key-out"]);
    let valid = "ab".repeat(32);
    add(&[
        "--public-key",
        &valid,
        "--key-out",
        key_out.to_str().unwrap(),
    ])
    .refused(&["--public-key", "--key-out"]);
    assert!(
        !key_out.exists(),
        "a refused officer add writes no key file"
    );
    add(&["--public-key", "not-hex"]).refused(&["--public-key"]);
    add(&["--public-key", "abcd"]).refused(&["--public-key", "32 bytes"]);
    add(&["--public-key", &valid, "--roles", "janitor"]).refused(&["janitor"]);
    assert_eq!(node.size(), 1, "no officer was added");
}

#[test]
fn officer_add_refused_by_the_log_reports_no_key_and_can_be_retried() {
    let node = Node::init();
    let key_out = node.scratch("zhou.key");
    let add = |surname: &str| {
        yibao([
            "officer",
            "add",
            "--data",
            node.data(),
            "--roles",
            "inspector",
            "--officer-id",
            "14112500099",
            "--surname",
            surname,
            "--key-out",
            key_out.to_str().unwrap(),
        ])
    };
    // The surname rule (one or two Han characters) refuses a romanised name.
    let refused = add("Zhou").refused(&["surname"]);
    assert!(
        !refused.stdout.contains("officer public key"),
        "a refused officer add must not print a public key as if it were authorised: {}",
        refused.describe()
    );
    assert_eq!(node.size(), 1, "no officer was added");
    let list = yibao(["officer", "list", "--data", node.data()]).ok();
    assert!(
        list.stdout.contains("no officers yet"),
        "{}",
        list.describe()
    );
    // Corrected, the same command (same --key-out) succeeds.
    add("周").ok();
    assert_eq!(node.size(), 2);
}

#[test]
fn officer_revoke_names_the_option_of_a_bad_public_key() {
    let node = Node::init();
    for bad in ["zz", "abcd"] {
        yibao([
            "officer",
            "revoke",
            "--data",
            node.data(),
            "--public-key",
            bad,
            "--reason",
            "调离",
        ])
        .refused(&["--public-key"]);
    }
    // A well-formed key that is no officer's is refused by the log's rules.
    let stranger = "ab".repeat(32);
    yibao([
        "officer",
        "revoke",
        "--data",
        node.data(),
        "--public-key",
        &stranger,
        "--reason",
        "调离",
    ])
    .refused(&["not an officer key"]);
    assert_eq!(node.size(), 1, "nothing was revoked");
}

// ---------------------------------------------------------------------------------------
// submit, verify, list, show, prove
// ---------------------------------------------------------------------------------------

#[test]
fn example_records_submit_verify_list_show_and_prove() {
    let staffed = Staffed::new();
    let node = &staffed.node;
    let records = staffed.submit_examples();
    let size = node.size();
    assert_eq!(
        size,
        5 + records,
        "log_created, four officers and every example record"
    );

    let verify = yibao(["verify", "--data", node.data()]).ok();
    assert!(
        verify
            .stdout
            .contains(&format!("log {COUNTY}: {size} entries")),
        "{}",
        verify.describe()
    );
    assert!(!verify.stdout.contains("FAILED"), "{}", verify.describe());

    // list: one line per entry, in seq order, with the kind.
    let list = yibao(["list", "--data", node.data()]).ok();
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert_eq!(lines.len() as u64, size, "{}", list.describe());
    for (seq, line) in lines.iter().enumerate() {
        assert_eq!(
            line.split_whitespace().next(),
            Some(seq.to_string().as_str()),
            "{line}"
        );
    }
    assert!(lines[0].contains("key_event"), "{}", lines[0]);
    assert!(lines[5].contains("institution_registered"), "{}", lines[5]);
    let findings: usize = example_files()
        .iter()
        .flat_map(|(_, records)| records)
        .filter(|r| r["kind"] == "finding")
        .count();
    let list_findings = yibao(["list", "--data", node.data(), "--kind", "finding"]).ok();
    assert_eq!(
        list_findings.stdout.lines().count(),
        findings,
        "{}",
        list_findings.describe()
    );
    assert!(list_findings.stdout.lines().all(|l| l.contains("finding")));
    let window = yibao(["list", "--data", node.data(), "--from", "3", "--limit", "2"]).ok();
    let seqs: Vec<&str> = window
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(seqs, ["3", "4"], "{}", window.describe());

    // show: every example record is in the log as written, with a valid signature.
    let all: Vec<Value> = example_files()
        .into_iter()
        .flat_map(|(_, records)| records)
        .collect();
    for (i, original) in all.iter().enumerate() {
        let seq = 5 + i as u64;
        let shown = node.show(seq);
        assert_eq!(shown["seq"], seq);
        assert_eq!(shown["log"], COUNTY);
        assert_eq!(shown["origin"], ORIGIN);
        assert_eq!(shown["signature"], "valid", "seq {seq}: {shown}");
        assert_eq!(shown["kind"], original["kind"], "seq {seq}");
        assert_eq!(
            &shown["record"], original,
            "seq {seq}: the record shown is the record submitted"
        );
    }

    // prove: the proof verifies against the root of the signed checkpoint.
    let checkpoint = node.checkpoint();
    for seq in [0, 5, size / 2, size - 1] {
        let run = yibao(["prove", "--data", node.data(), &seq.to_string()]).ok();
        let proof: Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(proof["seq"], seq);
        assert_eq!(proof["tree_size"], size);
        assert_eq!(proof["origin"], ORIGIN);
        let in_proof = SignedCheckpoint::parse(proof["checkpoint"].as_str().unwrap()).unwrap();
        assert_eq!(in_proof, checkpoint, "prove embeds the latest checkpoint");
        let entry = unhex(proof["entry"].as_str().unwrap());
        let leaf = Blake3Hasher::leaf(&entry);
        assert_eq!(
            proof["leaf_hash"].as_str().unwrap(),
            node.show(seq)["leaf_hash"].as_str().unwrap()
        );
        assert_eq!(unhex32(proof["leaf_hash"].as_str().unwrap()), leaf);
        assert_eq!(
            unhex32(proof["root"].as_str().unwrap()),
            checkpoint.checkpoint.root
        );
        let path: Vec<[u8; 32]> = proof["inclusion_proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| unhex32(h.as_str().unwrap()))
            .collect();
        let root = checkpoint.checkpoint.root;
        verify_inclusion::<Blake3Hasher>(
            &leaf,
            LeafIndex(seq),
            TreeSize(checkpoint.checkpoint.size),
            &path,
            &root,
        )
        .unwrap_or_else(|e| panic!("seq {seq}: the proof does not verify: {e}"));
        let other = (seq + 1) % size;
        assert!(
            verify_inclusion::<Blake3Hasher>(&leaf, LeafIndex(other), TreeSize(size), &path, &root)
                .is_err(),
            "the proof of seq {seq} must not prove seq {other}"
        );
    }
}

#[test]
fn show_and_prove_refuse_a_seq_beyond_the_log() {
    let node = Node::init();
    for command in ["show", "prove"] {
        let run = yibao([command, "--data", node.data(), "1"]).refused(&[]);
        assert!(run.stderr.contains("error:"), "{}", run.describe());
        assert!(run.stdout.is_empty(), "{}", run.describe());
        yibao([command, "--data", node.data(), "18446744073709551615"]).refused(&[]);
    }
}

// ---------------------------------------------------------------------------------------
// refusals
// ---------------------------------------------------------------------------------------

#[test]
fn submit_refuses_files_that_are_not_records_and_leaves_the_log_unchanged() {
    let staffed = Staffed::new();
    let node = &staffed.node;
    let examples = example_files();
    let before = node.checkpoint_text();

    let not_json = node.scratch("not-json.json");
    std::fs::write(&not_json, "kind: finding\n").unwrap();
    node.submit(&staffed.administrator, &[&not_json])
        .refused(&["not-json.json", "not json"]);

    let missing = node.scratch("missing.json");
    node.submit(&staffed.administrator, &[&missing])
        .refused(&["missing.json"]);

    let mut unknown = examples[0].1[0].clone();
    unknown["colour"] = json!("red");
    node.submit_records(&staffed.administrator, "unknown-field.json", &[unknown])
        .refused(&["colour"]);

    let mut float = examples[1].1[1].clone();
    float["amount_involved"] = json!(4521000.5);
    node.submit_records(&staffed.inspector, "float.json", &[float])
        .refused(&["amount_involved", "fen"]);

    let mut unknown_kind = examples[0].1[0].clone();
    unknown_kind["kind"] = json!("institution_demolished");
    node.submit_records(&staffed.administrator, "unknown-kind.json", &[unknown_kind])
        .refused(&["institution_demolished"]);

    // A file with one good record and one bad one appends nothing: it is refused whole.
    let mut bad_second = examples[0].1[1].clone();
    bad_second["colour"] = json!("red");
    node.submit_records(
        &staffed.administrator,
        "mixed.json",
        &[examples[0].1[0].clone(), bad_second],
    )
    .refused(&["colour"]);

    assert_eq!(
        node.checkpoint_text(),
        before,
        "refused submits leave the log and its checkpoint unchanged"
    );
    // The unmodified records are accepted, so each refusal above was for its one change.
    node.submit(&staffed.administrator, &[&examples[0].0]).ok();
}

#[test]
fn submit_refuses_a_decision_whose_total_is_wrong_naming_the_field() {
    let staffed = Staffed::new();
    let node = &staffed.node;
    staffed.open_case(&staffed.inspector);
    let size = node.size();
    let run = node
        .submit_records(
            &staffed.adjudicator,
            "wrong-total.json",
            &[decision_on_f1(DECISION_TOTAL + 1)],
        )
        .refused(&["totals.total"]);
    assert!(!run.stdout.contains("appended"), "{}", run.describe());
    assert_eq!(
        node.size(),
        size,
        "a refused decision leaves the log unchanged"
    );
    node.submit_records(
        &staffed.adjudicator,
        "right-total.json",
        &[decision_on_f1(DECISION_TOTAL)],
    )
    .ok();
    assert_eq!(node.size(), size + 1);
}

#[test]
fn submit_refuses_a_record_the_officer_is_not_authorised_for() {
    let staffed = Staffed::new();
    let node = &staffed.node;
    let examples = example_files();
    node.submit(&staffed.administrator, &[&examples[0].0]).ok();
    node.submit_records(&staffed.inspector, "inspection.json", &examples[1].1[..1])
        .ok();
    let size = node.size();
    let finding = &examples[1].1[1..2];
    assert_eq!(finding[0]["kind"], "finding");
    node.submit_records(&staffed.adjudicator, "finding-by-adjudicator.json", finding)
        .refused(&["authoris", "finding"]);
    // The bureau key signs key events only.
    node.submit_records(
        &node.data.join("bureau.key"),
        "finding-by-bureau.json",
        finding,
    )
    .refused(&["authoris"]);
    // A key the log does not know.
    let stranger = node.scratch("stranger.key");
    yibao(["keygen", "--out", stranger.to_str().unwrap()]).ok();
    node.submit_records(&stranger, "finding-by-stranger.json", finding)
        .refused(&["authoris"]);
    assert_eq!(node.size(), size, "refused submits leave the log unchanged");
    node.submit_records(&staffed.inspector, "finding.json", finding)
        .ok();
}

#[test]
fn submit_refuses_a_decision_by_the_officer_who_recorded_the_finding() {
    let staffed = Staffed::new();
    let node = &staffed.node;
    let (dual, _) = node.add_officer("dual.key", "inspector,adjudicator", "14112500017", "王");
    staffed.open_case(&dual);
    let size = node.size();
    let run = node
        .submit_records(
            &dual,
            "decision-by-finder.json",
            &[decision_on_f1(DECISION_TOTAL)],
        )
        .refused(&["查办分离", "separation"]);
    assert!(
        run.stderr.contains("LLYB-2021-JC-001-F1"),
        "the message names the finding: {}",
        run.describe()
    );
    assert_eq!(
        node.size(),
        size,
        "a refused decision leaves the log unchanged"
    );
    node.submit_records(
        &staffed.adjudicator,
        "decision.json",
        &[decision_on_f1(DECISION_TOTAL)],
    )
    .ok();
}

#[test]
fn submit_refuses_a_key_file_that_is_not_a_key_file() {
    let staffed = Staffed::new();
    let node = &staffed.node;
    let institutions = &example_files()[0].0;
    let size = node.size();

    let text = node.scratch("notes.txt");
    std::fs::write(&text, "this is not a key\n").unwrap();
    node.submit(&text, &[institutions])
        .refused(&["notes.txt", "not a yibao key file"]);

    // node.json is JSON, but not a key file.
    node.submit(&node.data.join("node.json"), &[institutions])
        .refused(&["not a yibao key file"]);

    // A key file whose public key is not its secret key's.
    let mut forged: Value =
        serde_json::from_str(&std::fs::read_to_string(&staffed.administrator).unwrap()).unwrap();
    forged["public_key"] = json!("ab".repeat(32));
    let forged_path = node.write_json("forged.key", &forged);
    node.submit(&forged_path, &[institutions])
        .refused(&["public_key"]);

    node.submit(&node.scratch("absent.key"), &[institutions])
        .refused(&["absent.key"]);
    assert_eq!(node.size(), size, "refused submits leave the log unchanged");
}

#[test]
fn commands_refuse_a_data_directory_that_is_not_a_node_and_leave_it_alone() {
    let staffed = Staffed::new();
    let empty = staffed.node.scratch("empty");
    std::fs::create_dir(&empty).unwrap();
    let empty_arg = empty.to_str().unwrap();
    let institutions = example_files()[0].0.clone();
    let bundle = staffed.node.scratch("out.bundle");
    let runs = [
        yibao([
            "submit",
            "--data",
            empty_arg,
            "--key",
            staffed.administrator.to_str().unwrap(),
            institutions.to_str().unwrap(),
        ]),
        yibao(["checkpoint", "--data", empty_arg]),
        yibao(["checkpoint", "--data", empty_arg, "--vkey"]),
        yibao(["verify", "--data", empty_arg]),
        yibao(["list", "--data", empty_arg]),
        yibao(["show", "--data", empty_arg, "0"]),
        yibao(["prove", "--data", empty_arg, "0"]),
        yibao(["officer", "list", "--data", empty_arg]),
        yibao([
            "officer",
            "revoke",
            "--data",
            empty_arg,
            "--public-key",
            &"ab".repeat(32),
            "--reason",
            "x",
        ]),
        yibao([
            "export",
            "--data",
            empty_arg,
            "--out",
            bundle.to_str().unwrap(),
        ]),
    ];
    for run in runs {
        run.refused(&["not a yibao node directory", "yibao init"]);
    }
    assert_eq!(
        std::fs::read_dir(&empty).unwrap().count(),
        0,
        "nothing may be created in a non-node directory"
    );
    assert!(
        !bundle.exists(),
        "no bundle is written from a non-node directory"
    );
    // A directory that does not exist at all.
    let absent = staffed.node.scratch("absent");
    yibao(["checkpoint", "--data", absent.to_str().unwrap()])
        .refused(&["not a yibao node directory"]);
    assert!(!absent.exists());
}

// ---------------------------------------------------------------------------------------
// export and verify-bundle
// ---------------------------------------------------------------------------------------

#[test]
fn export_bundle_verifies_offline_only_with_the_right_vkey() {
    let staffed = Staffed::new();
    let node = &staffed.node;
    staffed.submit_examples();
    let size = node.size();
    let bundle = node.scratch("liulin.bundle");
    let bundle_arg = bundle.to_str().unwrap();
    let export = yibao(["export", "--data", node.data(), "--out", bundle_arg]).ok();
    assert!(
        export.stdout.contains(&format!("exported {size} entries")),
        "{}",
        export.describe()
    );

    let vkey = node.vkey();
    let good = yibao(["verify-bundle", bundle_arg, "--vkey", &vkey]).ok();
    assert!(
        good.stdout
            .contains(&format!("log {COUNTY}: {size} entries")),
        "{}",
        good.describe()
    );
    assert!(
        !good.stdout.contains("no --vkey pinned"),
        "{}",
        good.describe()
    );

    // Unpinned, it refuses to run unless told to trust the bundle's own keys, and then says
    // that it did.
    yibao(["verify-bundle", bundle_arg]).refused(&["--vkey", "--trust-bundle"]);
    let unpinned = yibao(["verify-bundle", bundle_arg, "--trust-bundle"]).ok();
    assert!(
        unpinned.stdout.contains("no --vkey pinned"),
        "{}",
        unpinned.describe()
    );

    // Another node of the same county (a forged bureau key), and a node of another county.
    let same_county = Node::init();
    let wrong =
        yibao(["verify-bundle", bundle_arg, "--vkey", &same_county.vkey()]).failed_verification();
    assert!(wrong.stdout.contains("FAILED"), "{}", wrong.describe());
    assert!(
        wrong.output().contains(COUNTY),
        "the report names the log: {}",
        wrong.describe()
    );
    let other_county = Node::init_county("141124");
    yibao(["verify-bundle", bundle_arg, "--vkey", &other_county.vkey()]).failed_verification();

    // A flipped byte anywhere in the middle is a report, never a panic and never a pass.
    let original = std::fs::read(&bundle).unwrap();
    let damaged = node.scratch("damaged.bundle");
    for position in [
        original.len() / 2,
        original.len() / 3,
        2 * original.len() / 3,
        original.len() / 2 + 17,
    ] {
        let mut bytes = original.clone();
        bytes[position] ^= 0x01;
        std::fs::write(&damaged, &bytes).unwrap();
        let run = yibao(["verify-bundle", damaged.to_str().unwrap(), "--vkey", &vkey]);
        run.assert_no_panic();
        assert!(
            matches!(run.code, Some(1) | Some(2)),
            "byte {position} of {} flipped: expected exit 1 or 2: {}",
            original.len(),
            run.describe()
        );
        assert!(
            run.output().contains("FAILED") || run.stderr.contains("error:"),
            "a report: {}",
            run.describe()
        );
    }
    // Truncated and empty bundles too.
    for len in [original.len() / 2, 0] {
        std::fs::write(&damaged, &original[..len]).unwrap();
        let run = yibao(["verify-bundle", damaged.to_str().unwrap(), "--vkey", &vkey]);
        run.assert_no_panic();
        assert!(matches!(run.code, Some(1) | Some(2)), "{}", run.describe());
    }
    yibao([
        "verify-bundle",
        node.scratch("absent.bundle").to_str().unwrap(),
        "--trust-bundle",
    ])
    .refused(&["absent.bundle"]);
}

#[test]
fn list_refuses_an_unknown_kind_instead_of_listing_nothing() {
    let node = Node::init();
    let all = yibao(["list", "--data", node.data(), "--kind", "key_event"]).ok();
    assert_eq!(all.stdout.lines().count(), 1, "{}", all.describe());
    // A typo (`findings`) must not look like "there are no findings".
    yibao(["list", "--data", node.data(), "--kind", "findings"]).refused(&["--kind", "findings"]);
}

#[test]
fn verify_bundle_refuses_a_malformed_vkey_naming_the_option() {
    let node = Node::init();
    let bundle = node.scratch("small.bundle");
    let bundle_arg = bundle.to_str().unwrap();
    yibao(["export", "--data", node.data(), "--out", bundle_arg]).ok();
    yibao(["verify-bundle", bundle_arg, "--vkey", &node.vkey()]).ok();
    // A pinned key that is not a verifier key is a bad argument, not "no pinned key".
    yibao(["verify-bundle", bundle_arg, "--vkey", "not a verifier key"]).refused(&["--vkey"]);
    let mut corrupted = node.vkey();
    corrupted.truncate(corrupted.len() - 4);
    yibao(["verify-bundle", bundle_arg, "--vkey", &corrupted]).refused(&["--vkey"]);
}

#[test]
fn export_of_an_unknown_log_leaves_no_partial_bundle() {
    let node = Node::init();
    let bundle = node.scratch("unknown.bundle");
    let run = yibao([
        "export",
        "--data",
        node.data(),
        "--out",
        bundle.to_str().unwrap(),
        "--log",
        "999999",
    ])
    .refused(&["no log 999999"]);
    assert!(
        !bundle.exists(),
        "a failed export must not leave a partial bundle behind"
    );
    assert_eq!(
        run.stderr.matches("no log 999999").count(),
        1,
        "said once: {}",
        run.describe()
    );
    yibao([
        "export",
        "--data",
        node.data(),
        "--out",
        bundle.to_str().unwrap(),
        "--log",
        "abc",
    ])
    .refused(&["--log"]);
    assert!(!bundle.exists());
}

// ---------------------------------------------------------------------------------------
// tampering with the store
// ---------------------------------------------------------------------------------------

/// Opens a ledger's sled database directly, waiting for a previous handle's background
/// threads to let go of the lock.
fn open_sled(path: &Path) -> sled::Db {
    for _ in 0..100 {
        match yibao_ledger::store::sled_config(path).open() {
            Ok(db) => return db,
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => panic!("cannot open {}: {e}", path.display()),
        }
    }
    panic!("{} stayed locked", path.display());
}

/// Replaces entry `seq`'s stored bytes with `f(bytes)` directly in sled: in its tail row
/// when it is in the partly filled last page, else inside its entry page (32 entries per
/// row, each framed by a 4-byte big-endian length, full pages compressed; see
/// `yibao_ledger::page`). Returns the original entry bytes.
fn tamper_entry(data: &Path, seq: u64, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let db = open_sled(&data.join("ledger").join("sled"));
    let tree = db.open_tree("ledger").unwrap();
    let code = yibao_ledger::keys::LogCode::parse(COUNTY).unwrap();
    let tail = yibao_ledger::keys::tail(&code, seq);
    if let Some(stored) = tree.get(tail).unwrap() {
        let original = stored.to_vec();
        let mut bytes = original.clone();
        f(&mut bytes);
        assert_eq!(
            bytes.len(),
            original.len(),
            "tamper_entry keeps the entry's length"
        );
        tree.insert(tail, bytes).unwrap();
        tree.flush().unwrap();
        db.flush().unwrap();
        return original;
    }
    let page_index = seq / yibao_ledger::page::ENTRIES_PER_PAGE;
    let mut key = vec![b'E'];
    key.extend_from_slice(COUNTY.as_bytes());
    key.extend_from_slice(&page_index.to_be_bytes());
    let stored = tree
        .get(&key)
        .unwrap()
        .unwrap_or_else(|| panic!("no entry page for seq {seq}"));
    // Full pages are stored compressed; the tampered page is written back raw.
    let mut page = yibao_ledger::page::decode(&stored).unwrap().to_vec();
    let frames = yibao_ledger::page::frames(&page).unwrap();
    let (offset, len) = frames[(seq % yibao_ledger::page::ENTRIES_PER_PAGE) as usize];
    let original = page[offset..offset + len].to_vec();
    let mut bytes = original.clone();
    f(&mut bytes);
    assert_eq!(bytes.len(), len, "tamper_entry keeps the entry's length");
    page[offset..offset + len].copy_from_slice(&bytes);
    tree.insert(&key, yibao_ledger::page::encode_raw(&page))
        .unwrap();
    tree.flush().unwrap();
    db.flush().unwrap();
    original
}

#[test]
fn verify_reports_a_flipped_bit_in_an_entry_naming_the_log_and_seq() {
    let staffed = Staffed::new();
    let node = &staffed.node;
    staffed.submit_examples();
    let size = node.size();
    yibao(["verify", "--data", node.data()]).ok();
    let report_file = node.scratch("report.json");

    for seq in [3, size / 2, size - 1] {
        // Three places in the entry: its first byte, its middle, its last byte.
        let len = tamper_entry(&node.data, seq, |_| {}).len();
        for (i, position) in [0, len / 2, len - 1].into_iter().enumerate() {
            let bit = 1u8 << (i + 2);
            let original = tamper_entry(&node.data, seq, |bytes| bytes[position] ^= bit);
            let run = yibao([
                "verify",
                "--data",
                node.data(),
                "--json",
                report_file.to_str().unwrap(),
            ])
            .failed_verification();
            assert!(run.stdout.contains("FAILED"), "{}", run.describe());
            assert!(
                run.stdout.contains(&format!("log {COUNTY} seq {seq}")),
                "seq {seq}, byte {position}: the report must name the log and the seq: {}",
                run.describe()
            );
            let report: Value =
                serde_json::from_str(&std::fs::read_to_string(&report_file).unwrap()).unwrap();
            assert!(
                report["failure_count"].as_u64().unwrap() >= 1
                    && report["failures"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|f| f["log"] == COUNTY),
                "the JSON report names the log: {report}"
            );
            tamper_entry(&node.data, seq, |bytes| *bytes = original);
        }
    }
    // Restored, it verifies again (the failures above were the flipped bits).
    yibao(["verify", "--data", node.data()]).ok();
}

#[test]
fn verify_json_report_keeps_the_seq_of_a_damaged_last_entry() {
    let node = Node::init();
    node.add_officer("inspector.key", "inspector", "14112500012", "王");
    let report_file = node.scratch("report.json");
    // The last entry (seq 1) is checked when the store opens.
    tamper_entry(&node.data, 1, |bytes| {
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x10;
    });
    let run = yibao([
        "verify",
        "--data",
        node.data(),
        "--json",
        report_file.to_str().unwrap(),
    ])
    .failed_verification();
    assert!(
        run.stdout.contains(&format!("log {COUNTY} seq 1")),
        "{}",
        run.describe()
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&report_file).unwrap()).unwrap();
    assert!(
        report["failures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["log"] == COUNTY && f["seq"] == 1),
        "the JSON report must carry the seq it knows, not null: {report}"
    );
}

#[test]
fn verify_fails_when_the_nodes_log_is_missing() {
    let node = Node::init();
    node.add_officer("inspector.key", "inspector", "14112500012", "王");
    yibao(["verify", "--data", node.data()]).ok();
    std::fs::remove_dir_all(node.data.join("ledger")).unwrap();
    let run = yibao(["verify", "--data", node.data()]).failed_verification();
    assert!(run.stdout.contains("FAILED"), "{}", run.describe());
    assert!(
        run.stdout.contains(COUNTY),
        "the report names the missing log: {}",
        run.describe()
    );
    assert!(!run.stdout.contains("verified:"), "{}", run.describe());
}

/// Flips one bit in the middle of the first row of `tag` in the ledger tree; returns the key.
fn tamper_row(data: &Path, tag: u8) -> Vec<u8> {
    let db = open_sled(&data.join("ledger").join("sled"));
    let tree = db.open_tree("ledger").unwrap();
    let (key, value) = tree
        .scan_prefix([tag])
        .next()
        .unwrap_or_else(|| panic!("no row with tag {}", tag as char))
        .unwrap();
    let mut bytes = value.to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x04;
    tree.insert(&key, bytes).unwrap();
    tree.flush().unwrap();
    db.flush().unwrap();
    key.to_vec()
}

#[test]
fn verify_reports_a_flipped_bit_in_a_tree_node_checkpoint_head_or_metadata_row() {
    let staffed = Staffed::new();
    staffed.submit_examples();
    let pristine = staffed.node.scratch("pristine");
    copy_dir(&staffed.node.data, &pristine);
    // N: a stored tree node (height >= 4), C: a signed checkpoint, H: the head, M: metadata.
    for tag in [b'N', b'C', b'H', b'M'] {
        let copy = staffed.node.scratch(&format!("copy-{}", tag as char));
        copy_dir(&pristine, &copy);
        yibao(["verify", "--data", copy.to_str().unwrap()]).ok();
        tamper_row(&copy, tag);
        let run = yibao(["verify", "--data", copy.to_str().unwrap()]).failed_verification();
        assert!(
            run.stdout.contains("FAILED"),
            "row {}: {}",
            tag as char,
            run.describe()
        );
        assert!(
            run.stdout.contains(&format!("log {COUNTY}")),
            "row {}: {}",
            tag as char,
            run.describe()
        );
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn commands_say_clearly_that_a_node_is_in_use_by_another_process() {
    let node = Node::init();
    // Hold the ledger's lock as another process (a running submit, say) would.
    let db = open_sled(&node.data.join("ledger").join("sled"));
    for command in ["checkpoint", "list", "verify"] {
        let run = yibao([command, "--data", node.data()]);
        run.assert_no_panic();
        // "Could not run" (2), not "verification found problems" (1): nothing is corrupt.
        assert_eq!(run.code, Some(2), "{}", run.describe());
        assert!(
            !run.stdout.contains("FAILED"),
            "a lock is not a verification failure: {}",
            run.describe()
        );
        assert!(
            run.stderr.contains("lock"),
            "the message says the node is locked: {}",
            run.describe()
        );
        assert!(
            !run.stderr.contains("Os {") && !run.stderr.contains("WouldBlock"),
            "no Rust debug output in messages: {}",
            run.describe()
        );
        assert!(
            run.stderr.matches("lock on").count() <= 1,
            "said once: {}",
            run.describe()
        );
    }
    drop(db);
    yibao(["checkpoint", "--data", node.data()]).ok();
}

// ---------------------------------------------------------------------------------------
// demo and help
// ---------------------------------------------------------------------------------------

#[test]
fn demo_runs_from_the_workspace_root_and_keeps_a_verifiable_node_with_data() {
    let records: u64 = example_files().iter().map(|(_, r)| r.len() as u64).sum();
    let run = run_in(Some(&workspace_root()), ["demo", "--one-county"]).ok();
    assert!(run.stdout.contains("verified"), "{}", run.describe());
    assert!(
        !run.stdout.contains("FAILED") && !run.stdout.contains("DOES NOT VERIFY"),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout.contains(ORIGIN),
        "the demo prints its checkpoint: {}",
        run.describe()
    );

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("demo");
    let data_arg = data.to_str().unwrap();
    let kept = run_in(
        Some(&workspace_root()),
        ["demo", "--one-county", "--data", data_arg],
    )
    .ok();
    assert!(
        kept.stdout
            .contains("verifies against the checkpoint's root"),
        "{}",
        kept.describe()
    );
    yibao(["verify", "--data", data_arg]).ok();
    let vkey_run = yibao(["checkpoint", "--data", data_arg, "--vkey"]).ok();
    let vkey = VerifierKey::parse(vkey_run.stdout.trim_end()).unwrap();
    let checkpoint =
        SignedCheckpoint::parse(&yibao(["checkpoint", "--data", data_arg]).ok().stdout).unwrap();
    checkpoint.verify(&vkey).unwrap();
    assert_eq!(
        checkpoint.checkpoint.size,
        5 + records,
        "log_created, four officers, every example record"
    );
    assert!(
        kept.stdout.contains(&vkey.to_string()),
        "the demo prints the verifier key: {}",
        kept.describe()
    );
    assert_eq!(mode(&data.join("bureau.key")), 0o600);

    // The demo refuses to overwrite a node.
    run_in(
        Some(&workspace_root()),
        ["demo", "--one-county", "--data", data_arg],
    )
    .refused(&["already holds a node"]);
    yibao(["verify", "--data", data_arg]).ok();
}

#[test]
fn help_describes_the_commands() {
    let help = yibao(["--help"]).ok();
    assert!(help.stdout.contains("Yibao Ledger"), "{}", help.describe());
    for command in [
        "init",
        "checkpoint",
        "verify",
        "officer",
        "keygen",
        "submit",
        "show",
        "list",
        "prove",
        "export",
        "verify-bundle",
        "demo",
    ] {
        assert!(
            help.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(command)),
            "--help lists {command}: {}",
            help.describe()
        );
    }
    let submit = yibao(["submit", "--help"]).ok();
    assert!(
        submit.stdout.contains("Sign JSON record files"),
        "{}",
        submit.describe()
    );
    for option in ["--data", "--key", "FILES"] {
        assert!(
            submit.stdout.contains(option),
            "submit --help names {option}: {}",
            submit.describe()
        );
    }
    yibao(["officer", "add", "--help"]).ok();
    // No command is a usage error (exit 2), not a panic.
    let none = yibao(Vec::<&str>::new());
    none.assert_no_panic();
    assert_eq!(none.code, Some(2), "{}", none.describe());
    assert!(none.stderr.contains("Usage"), "{}", none.describe());
}

#[test]
fn audit_exits_by_breaches_and_writes_json_and_a_workbook() {
    let staffed = Staffed::new();
    let node = &staffed.node;
    staffed.submit_examples();
    let json_path = node.scratch("audit.json");
    let xlsx_path = node.scratch("audit.xlsx");
    let (json_arg, xlsx_arg) = (json_path.to_str().unwrap(), xlsx_path.to_str().unwrap());

    // Judged before any deadline falls due, the example ledger is clean.
    let clean = yibao([
        "audit",
        "--data",
        node.data(),
        "--as-of",
        "2021-01-01",
        "--quiet",
        "--json",
        json_arg,
    ])
    .ok();
    assert!(clean.stdout.contains("未发现问题"), "{}", clean.describe());
    assert!(clean.stdout.contains(COUNTY), "{}", clean.describe());

    // Years later, the items never closed out are overdue: exit 1, each with its entry.
    let late = yibao([
        "audit",
        "--data",
        node.data(),
        "--as-of",
        "2030-01-01",
        "--quiet",
        "--json",
        json_arg,
        "--xlsx",
        xlsx_arg,
    ])
    .failed_verification();
    // The summary names each kind in Chinese with its id, and counts them.
    assert!(
        late.stdout
            .contains("整改逾期未销号（overdue-rectification）："),
        "{}",
        late.describe()
    );
    assert!(late.stdout.contains("发现问题 "), "{}", late.describe());
    let report: Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_eq!(report["format"], "yibao-audit/v1");
    assert_eq!(report["as_of"], "2030-01-01");
    let breaches = report["breaches"].as_array().unwrap();
    assert!(!breaches.is_empty());
    assert_eq!(report["breach_count"].as_u64(), Some(breaches.len() as u64));
    for b in breaches {
        let seq = b["entries"][0]["seq"].as_u64().unwrap();
        assert!(seq < node.size(), "{b}");
        // The entry named is the rectification item itself.
        if b["kind"] == "overdue-rectification" {
            assert_eq!(node.show(seq)["kind"], "rectification_item", "{b}");
        }
    }
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&xlsx_path).unwrap();
    use calamine::Reader;
    let issues = book.worksheet_range("问题清单").unwrap();
    assert_eq!(
        issues.height(),
        breaches.len() + 1,
        "header + one row per breach"
    );

    // Bad input names the option; an unpinned bundle is refused unless trusted.
    yibao(["audit", "--data", node.data(), "--period", "2025-H3"]).refused(&["--period"]);
    yibao([
        "audit",
        "--data",
        node.data(),
        "--from",
        "2025-02-01",
        "--to",
        "2025-01-01",
    ])
    .refused(&["--from", "--to"]);
    let empty = node.scratch("not-a-node");
    std::fs::create_dir_all(&empty).unwrap();
    yibao(["audit", "--data", empty.to_str().unwrap()]).refused(&["no ledger"]);
    let bundle = node.scratch("liulin.bundle");
    let bundle_arg = bundle.to_str().unwrap();
    yibao(["export", "--data", node.data(), "--out", bundle_arg]).ok();
    yibao(["audit", "--bundle", bundle_arg]).refused(&["--vkey", "--trust-bundle"]);
    let pinned = yibao([
        "audit",
        "--bundle",
        bundle_arg,
        "--vkey",
        &node.vkey(),
        "--as-of",
        "2021-01-01",
    ])
    .ok();
    assert!(
        pinned.stdout.contains("未发现问题"),
        "{}",
        pinned.describe()
    );
    let forged = Node::init();
    yibao([
        "audit",
        "--bundle",
        bundle_arg,
        "--vkey",
        &forged.vkey(),
        "--as-of",
        "2021-01-01",
    ])
    .refused(&["pinned"]);
}
