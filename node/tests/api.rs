//! The HTTP API through its router (`oneshot`): every endpoint, and every error path with
//! its status and JSON body naming the field; responses checked against the OpenAPI
//! document's required fields.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use yibao_ledger::appender::{system_clock, Appender};
use yibao_ledger::keys::LogCode;
use yibao_ledger::merkle::{verify_inclusion, Blake3Hasher, LeafIndex, TreeSize};
use yibao_ledger::store::Ledger;
use yibao_node::api::{router, ApiState, Metrics, OPENAPI};
use yibao_node::workload::{self, Officers};
use yibao_schema::entry::Submission;
use yibao_schema::note::SignedCheckpoint;
use yibao_schema::policy::Policy;

const COUNTY: &str = "141125";

struct Fixture {
    _dir: tempfile::TempDir,
    state: ApiState,
    officers: Officers,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Ledger::open(dir.path(), Policy::default()).unwrap());
    let code = LogCode::parse(COUNTY).unwrap();
    let officers = Officers::from_seed(3);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    ledger
        .create_log(code, "柳林县医疗保障局", officers.bureau.clone(), now)
        .unwrap();
    let mut records = officers.key_events().unwrap();
    // 20 institutions, 6 cases (with exposure notices), grade sets 2021–2024.
    records.extend(workload::county_records(COUNTY, "柳林县医疗保障局", 20, 6, 11).unwrap());
    let subs = workload::sign(&officers, &code.origin(), now, &records).unwrap();
    workload::append_all(&ledger, &code, subs, now).unwrap();
    let (appender, _writer) = Appender::start(ledger.clone(), code, system_clock()).unwrap();
    Fixture {
        _dir: dir,
        state: ApiState {
            ledger,
            appender: Some((code, appender)),
            metrics: Arc::new(Metrics::default()),
            network_metrics: None,
        },
        officers,
    }
}

async fn call(state: &ApiState, request: Request<Body>) -> (StatusCode, String, Vec<u8>) {
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, content_type, body)
}

async fn get(state: &ApiState, uri: &str) -> (StatusCode, String, Vec<u8>) {
    call(state, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn get_json(state: &ApiState, uri: &str) -> (StatusCode, Value) {
    let (status, content_type, body) = get(state, uri).await;
    assert!(
        content_type.starts_with("application/json"),
        "{uri}: {content_type}"
    );
    (status, serde_json::from_slice(&body).unwrap())
}

/// The error body names a field and a reason.
fn assert_error(body: &Value, field: &str) {
    assert_eq!(body["error"]["field"], field, "{body}");
    assert!(
        !body["error"]["reason"].as_str().unwrap().is_empty(),
        "{body}"
    );
}

/// The OpenAPI schema named `name` lists required fields; the value has them all.
fn assert_schema(value: &Value, name: &str) {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    let schema = &doc["components"]["schemas"][name];
    for field in schema["required"].as_array().unwrap() {
        assert!(
            value.get(field.as_str().unwrap()).is_some(),
            "{name} lacks {field}: {value}"
        );
    }
}

fn submission(f: &Fixture) -> Submission {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    submission_at(f, now)
}

/// The same registration as [`submission`], signed at `timestamp_ms`: two made in the same
/// millisecond are the same statement.
fn submission_at(f: &Fixture, timestamp_ms: u64) -> Submission {
    let inst = workload::institutions(COUNTY, 30).pop().unwrap();
    let record = workload::register(&inst).unwrap();
    Submission::sign(
        &f.officers.administrator,
        &LogCode::parse(COUNTY).unwrap().origin(),
        timestamp_ms,
        record.kind().as_str(),
        record.encode_payload().unwrap(),
    )
    .unwrap()
}

fn post_cbor(uri: &str, body: Vec<u8>, content_type: &str) -> Request<Body> {
    Request::post(uri)
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn reads_logs_checkpoints_entries_and_proofs() {
    let f = fixture();
    let s = &f.state;
    let (status, _, body) = get(s, "/healthz").await;
    assert_eq!(
        (status, body.as_slice()),
        (StatusCode::OK, b"ok\n".as_slice())
    );

    let (status, logs) = get_json(s, "/v1/logs").await;
    assert_eq!(status, StatusCode::OK);
    assert_schema(&logs, "Logs");
    let log = &logs["logs"][0];
    assert_schema(log, "Log");
    assert_eq!(log["log"], COUNTY);
    assert!(log["vkey"]
        .as_str()
        .unwrap()
        .starts_with("yibao.ledger/v1/blake3/141125+"));
    let size = log["size"].as_u64().unwrap();

    let (status, content_type, text) = get(s, "/v1/logs/141125/checkpoint").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/plain"));
    let checkpoint = SignedCheckpoint::parse(std::str::from_utf8(&text).unwrap()).unwrap();
    assert_eq!(checkpoint.checkpoint.size, size);

    let (status, page) = get_json(s, "/v1/logs/141125/entries?start=0&count=1000").await;
    assert_eq!(status, StatusCode::OK);
    assert_schema(&page, "Entries");
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len() as u64, size);
    // The log says how many notices it holds and when its newest entry was signed.
    let (_, notices) = get_json(s, "/v1/notices?per_page=100").await;
    assert!(notices["total"].as_u64().unwrap() >= 1, "{notices}");
    assert_eq!(log["notices"], notices["total"]);
    assert_eq!(
        log["latest_entry_ms"],
        entries.last().unwrap()["timestamp_ms"]
    );
    let registration = entries
        .iter()
        .rev()
        .find(|e| e["kind"] == "institution_registered")
        .unwrap();
    assert_eq!(registration["record"]["kind"], "institution_registered");
    // Key events are withheld (certificate numbers); registrations are shown in full,
    // with the signed bytes.
    assert!(entries[0]["withheld"].is_string() && entries[0]["entry"].is_null());
    let last = entries.last().unwrap();
    assert_schema(last, "Entry");
    assert!(last["entry"].is_string() && last["record"]["kind"] == last["kind"]);

    // The inclusion proof of the last entry verifies against the checkpoint.
    let seq = size - 1;
    let (status, proof) = get_json(s, &format!("/v1/logs/141125/proofs/inclusion?seq={seq}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_schema(&proof, "Inclusion");
    let hashes: Vec<[u8; 32]> = proof["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            hex::decode(h.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap()
        })
        .collect();
    let leaf: [u8; 32] = hex::decode(proof["leaf_hash"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    verify_inclusion::<Blake3Hasher>(
        &leaf,
        LeafIndex(seq),
        TreeSize(size),
        &hashes,
        &checkpoint.checkpoint.root,
    )
    .unwrap();

    let (status, one) = get_json(s, &format!("/v1/logs/141125/entries/{seq}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["leaf_hash"], proof["leaf_hash"]);

    let (status, consistency) = get_json(s, "/v1/logs/141125/proofs/consistency?from=3").await;
    assert_eq!(status, StatusCode::OK);
    assert_schema(&consistency, "Consistency");
    assert_eq!(consistency["to"], size);

    let (status, eq) = get_json(s, "/v1/equivocations").await;
    assert_eq!(
        (status, eq["equivocations"].as_array().unwrap().len()),
        (StatusCode::OK, 0)
    );

    let (status, content_type, body) = get(s, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("application/json"));
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");

    let (status, _, metrics) = get(s, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(metrics.contains("yibao_http_requests_total"));
    assert!(metrics.contains(&format!("yibao_log_size{{log=\"141125\"}} {size}")));
}

#[tokio::test]
async fn bad_reads_are_4xx_with_the_field_named() {
    let f = fixture();
    let s = &f.state;
    let cases = [
        ("/v1/logs/14112x/checkpoint", StatusCode::BAD_REQUEST, "log"),
        ("/v1/logs/999999/checkpoint", StatusCode::NOT_FOUND, "log"),
        (
            "/v1/logs/141125/entries?count=0",
            StatusCode::BAD_REQUEST,
            "count",
        ),
        (
            "/v1/logs/141125/entries?count=5000",
            StatusCode::BAD_REQUEST,
            "count",
        ),
        (
            "/v1/logs/141125/entries?start=999999",
            StatusCode::BAD_REQUEST,
            "start",
        ),
        (
            "/v1/logs/141125/entries/abc",
            StatusCode::BAD_REQUEST,
            "seq",
        ),
        (
            "/v1/logs/141125/entries/999999",
            StatusCode::NOT_FOUND,
            "seq",
        ),
        (
            "/v1/logs/141125/proofs/inclusion",
            StatusCode::BAD_REQUEST,
            "seq",
        ),
        (
            "/v1/logs/141125/proofs/inclusion?seq=99999",
            StatusCode::BAD_REQUEST,
            "seq",
        ),
        (
            "/v1/logs/141125/proofs/inclusion?seq=1&size=99999",
            StatusCode::BAD_REQUEST,
            "range",
        ),
        (
            "/v1/logs/141125/proofs/consistency",
            StatusCode::BAD_REQUEST,
            "from",
        ),
        (
            "/v1/logs/141125/proofs/consistency?from=5&to=2",
            StatusCode::BAD_REQUEST,
            "from",
        ),
        (
            "/v1/logs/141125/proofs/consistency?from=1&to=99999",
            StatusCode::BAD_REQUEST,
            "range",
        ),
        ("/v2/nothing", StatusCode::NOT_FOUND, "path"),
    ];
    for (uri, expected, field) in cases {
        let (status, content_type, body) = get(s, uri).await;
        assert_eq!(status, expected, "{uri}");
        if content_type.starts_with("application/json") {
            let body: Value = serde_json::from_slice(&body).unwrap();
            assert_error(&body, field);
        } else {
            // Query strings that do not parse are refused by the extractor, as 400.
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {content_type}");
        }
    }
    // A query value of the wrong type is refused, not a panic.
    let (status, _, _) = get(s, "/v1/logs/141125/entries?start=minus").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = get(s, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn submissions_are_acknowledged_durable_with_a_proof_and_bad_ones_refused() {
    let f = fixture();
    let s = &f.state;
    let sub = submission(&f);
    let (status, _, body) = call(
        s,
        post_cbor("/v1/logs/141125/entries", sub.encode(), "application/cbor"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let receipt: Value = serde_json::from_slice(&body).unwrap();
    assert_schema(&receipt, "Receipt");
    let seq = receipt["seq"].as_u64().unwrap();
    assert_eq!(
        s.ledger.size(&LogCode::parse(COUNTY).unwrap()).unwrap(),
        seq + 1,
        "durable before the answer"
    );
    // The same statement again: 200 with the same seq, nothing new.
    let (status, _, body) = call(
        s,
        post_cbor("/v1/logs/141125/entries", sub.encode(), "application/cbor"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let again: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (again["seq"].as_u64(), again["duplicate"].as_bool()),
        (Some(seq), Some(true))
    );

    // Forged signature.
    // A statement not in the log yet (the first one, made in the same millisecond, would
    // be answered as a duplicate before its signature is looked at).
    let first_ms = sub.view().unwrap().statement.timestamp_ms;
    let mut forged = submission_at(&f, first_ms + 1);
    forged.signature[3] ^= 1;
    // A rule-breaking record (an unauthorised author: the inspector may not register).
    let inst = workload::institutions(COUNTY, 31).pop().unwrap();
    let record = workload::register(&inst).unwrap();
    let unauthorised = Submission::sign(
        &f.officers.inspector,
        &LogCode::parse(COUNTY).unwrap().origin(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64,
        record.kind().as_str(),
        record.encode_payload().unwrap(),
    )
    .unwrap();
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (
            post_cbor(
                "/v1/logs/141125/entries",
                forged.encode(),
                "application/cbor",
            ),
            StatusCode::BAD_REQUEST,
            "signature",
        ),
        (
            post_cbor(
                "/v1/logs/141125/entries",
                vec![0xff, 0x00],
                "application/cbor",
            ),
            StatusCode::BAD_REQUEST,
            "body",
        ),
        (
            post_cbor("/v1/logs/141125/entries", sub.encode(), "application/json"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content-type",
        ),
        (
            post_cbor("/v1/logs/140702/entries", sub.encode(), "application/cbor"),
            StatusCode::FORBIDDEN,
            "log",
        ),
        (
            post_cbor(
                "/v1/logs/141125/entries",
                unauthorised.encode(),
                "application/cbor",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "author",
        ),
    ];
    let before = s.ledger.size(&LogCode::parse(COUNTY).unwrap()).unwrap();
    for (request, expected, field) in cases {
        let (status, _, body) = call(s, request).await;
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        assert_eq!(status, expected, "{field}: {body}");
        assert_error(&body, field);
    }
    // Too large: refused before it is read.
    let (status, _, _) = call(
        s,
        post_cbor(
            "/v1/logs/141125/entries",
            vec![0u8; 600 * 1024],
            "application/cbor",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        s.ledger.size(&LogCode::parse(COUNTY).unwrap()).unwrap(),
        before,
        "nothing half-written"
    );

    // A read-only node accepts no submissions.
    let read_only = ApiState {
        appender: None,
        ..s.clone()
    };
    let (status, _, body) = call(
        &read_only,
        post_cbor(
            "/v1/logs/141125/entries",
            submission(&f).encode(),
            "application/cbor",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_error(&serde_json::from_slice(&body).unwrap(), "log");
}

#[tokio::test]
async fn every_documented_path_is_served_and_answers_with_a_documented_status() {
    let f = fixture();
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let uri = path.replace("{log}", COUNTY).replace("{seq}", "1")
            + if path.contains("inclusion") {
                "?seq=1"
            } else if path.contains("consistency") {
                "?from=1"
            } else {
                ""
            };
        for (method, op) in item.as_object().unwrap() {
            let request = match method.as_str() {
                "get" => Request::get(&uri).body(Body::empty()).unwrap(),
                "post" => post_cbor(&uri, submission(&f).encode(), "application/cbor"),
                other => panic!("undocumented method {other}"),
            };
            let (status, _, body) = call(&f.state, request).await;
            let documented: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
            assert!(
                documented
                    .iter()
                    .any(|code| code.as_str() == status.as_str()),
                "{method} {uri}: {status} is not documented ({documented:?}): {}",
                String::from_utf8_lossy(&body)
            );
        }
    }
}

#[tokio::test]
async fn notices_institutions_cases_and_grades() {
    let f = fixture();
    let s = &f.state;
    let (status, all) = get_json(s, "/v1/notices?per_page=100").await;
    assert_eq!(status, StatusCode::OK);
    assert_schema(&all, "Notices");
    let total = all["total"].as_u64().unwrap();
    assert!(total > 0, "the fixture has exposure notices");
    let notices = all["notices"].as_array().unwrap();
    assert!(notices
        .iter()
        .all(|n| n["kind"] == "exposure_notice" && n["log"] == COUNTY));
    // Newest first: by publication day, then by entry time.
    let order: Vec<(&str, u64)> = notices
        .iter()
        .map(|n| {
            (
                n["record"]["published_on"].as_str().unwrap(),
                n["timestamp_ms"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {order:?}"
    );
    let (_, first_page) = get_json(s, "/v1/notices?per_page=1&page=1").await;
    assert_eq!(first_page["notices"].as_array().unwrap().len(), 1);
    let (_, beyond) = get_json(s, &format!("/v1/notices?per_page=1&page={}", total + 1)).await;
    assert!(beyond["notices"].as_array().unwrap().is_empty());

    // The institution a notice is about: its page has the notice and its grades.
    let inst = notices[0]["record"]["institution"]["code"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, about) = get_json(s, &format!("/v1/institutions/{inst}")).await;
    assert_eq!(status, StatusCode::OK);
    let kinds: Vec<&str> = about["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"institution_registered") && kinds.contains(&"exposure_notice"),
        "{kinds:?}"
    );

    // Its case: inspection, findings, decision, in order.
    let case_id = notices[0]["record"]["case_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, case) = get_json(s, &format!("/v1/logs/141125/cases/{case_id}")).await;
    assert_eq!(status, StatusCode::OK);
    let seqs: Vec<u64> = case["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]) && seqs.len() >= 3,
        "{seqs:?}"
    );
    assert_eq!(case["entries"][0]["kind"], "inspection_opened");

    let (status, grades) = get_json(s, "/v1/grades?period=2023").await;
    assert_eq!(status, StatusCode::OK);
    assert!(grades["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "grade_set"));

    for (uri, expected, field) in [
        ("/v1/notices?page=0", StatusCode::BAD_REQUEST, "page"),
        (
            "/v1/notices?per_page=1000",
            StatusCode::BAD_REQUEST,
            "per_page",
        ),
        ("/v1/institutions/X123", StatusCode::BAD_REQUEST, "code"),
        (
            "/v1/institutions/H99999999999",
            StatusCode::NOT_FOUND,
            "code",
        ),
        (
            "/v1/logs/141125/cases/none",
            StatusCode::NOT_FOUND,
            "case_id",
        ),
        ("/v1/logs/999999/cases/x", StatusCode::NOT_FOUND, "log"),
        ("/v1/grades", StatusCode::BAD_REQUEST, "period"),
        (
            "/v1/grades?period=20%2F23",
            StatusCode::BAD_REQUEST,
            "period",
        ),
        ("/v1/grades?period=abc", StatusCode::BAD_REQUEST, "period"),
        (
            "/v1/grades?period=2023-H3",
            StatusCode::BAD_REQUEST,
            "period",
        ),
    ] {
        let (status, body) = get_json(s, uri).await;
        assert_eq!(status, expected, "{uri}: {body}");
        assert_error(&body, field);
    }
}

#[tokio::test]
async fn published_notices_verify_from_the_files_alone() {
    let f = fixture();
    let out_root = tempfile::tempdir().unwrap();
    let out = out_root.path().join("site");
    let count = yibao_node::publish::publish(&f.state.ledger, &out).unwrap();
    assert!(count > 0);
    let read = |p: &str| -> Value {
        serde_json::from_slice(&std::fs::read(out.join(p)).unwrap()).unwrap()
    };
    let logs = read("logs.json");
    let vkey: yibao_schema::note::VerifierKey =
        logs["logs"][0]["vkey"].as_str().unwrap().parse().unwrap();
    let checkpoint_text = std::fs::read_to_string(out.join("logs/141125/checkpoint.txt")).unwrap();
    let checkpoint = SignedCheckpoint::parse(&checkpoint_text).unwrap();
    checkpoint.verify(&vkey).unwrap();
    let index = read("notices.json");
    let listed = index["notices"].as_array().unwrap();
    assert_eq!(listed.len(), count);
    // In the order the API lists them.
    let (_, api) = get_json(&f.state, "/v1/notices?per_page=100").await;
    let at = |v: &Value| (v["log"].to_string(), v["seq"].as_u64());
    let api_order: Vec<_> = api["notices"].as_array().unwrap().iter().map(at).collect();
    assert_eq!(api_order.len(), count);
    assert!(api_order
        .iter()
        .all(|(log, seq)| log != "null" && seq.is_some()));
    assert_eq!(listed.iter().map(at).collect::<Vec<_>>(), api_order);
    for item in listed {
        let notice = read(item["file"].as_str().unwrap());
        let bytes = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            notice["entry"].as_str().unwrap(),
        )
        .unwrap();
        let leaf = <Blake3Hasher as yibao_ledger::merkle::MerkleHasher>::leaf(&bytes);
        assert_eq!(hex::encode(leaf), notice["leaf_hash"]);
        let proof: Vec<[u8; 32]> = notice["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                hex::decode(h.as_str().unwrap())
                    .unwrap()
                    .try_into()
                    .unwrap()
            })
            .collect();
        verify_inclusion::<Blake3Hasher>(
            &leaf,
            LeafIndex(notice["seq"].as_u64().unwrap()),
            TreeSize(checkpoint.checkpoint.size),
            &proof,
            &checkpoint.checkpoint.root,
        )
        .unwrap();
        assert_eq!(notice["record"]["kind"], "exposure_notice");
    }
    // Publishing again replaces the publication; a directory that is not one is refused.
    yibao_node::publish::publish(&f.state.ledger, &out).unwrap();
    let other = out_root.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("x"), b"keep").unwrap();
    assert!(yibao_node::publish::publish(&f.state.ledger, &other).is_err());
    assert!(other.join("x").exists());
}

// ---------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn metrics_have_latency_histograms_by_route_and_status_class() {
    let f = fixture();
    let s = &f.state;
    assert_eq!(
        get(s, "/v1/logs/141125/entries?count=1").await.0,
        StatusCode::OK
    );
    assert_eq!(
        get(s, "/v1/logs/141125/entries?count=0").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(get(s, "/v2/nothing").await.0, StatusCode::NOT_FOUND);
    let (status, _, metrics) = get(s, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(metrics).unwrap();
    for line in [
        "# TYPE yibao_http_request_duration_seconds histogram\n",
        "yibao_http_request_duration_seconds_bucket{route=\"/v1/logs/{log}/entries\",status=\"2xx\",le=\"+Inf\"} 1\n",
        "yibao_http_request_duration_seconds_count{route=\"/v1/logs/{log}/entries\",status=\"2xx\"} 1\n",
        "yibao_http_request_duration_seconds_count{route=\"/v1/logs/{log}/entries\",status=\"4xx\"} 1\n",
        "yibao_http_request_duration_seconds_count{route=\"unmatched\",status=\"4xx\"} 1\n",
        "yibao_log_size{log=\"141125\"} ",
        "yibao_appends_total 0\n",
    ] {
        assert!(text.contains(line), "metrics lack {line:?}:\n{text}");
    }
    // Buckets are cumulative: each `le` count is at least the one before.
    let counts: Vec<u64> = text
        .lines()
        .filter(|l| {
            l.starts_with("yibao_http_request_duration_seconds_bucket{route=\"/v1/logs/{log}/entries\",status=\"2xx\"")
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(counts.len(), yibao_node::api::metrics::BUCKETS.len() + 1);
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
}

// ---------------------------------------------------------------------------------------
// Officer-authenticated reads (SPEC.md §16)
// ---------------------------------------------------------------------------------------

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn signed_get(uri: &str, authorization: &str) -> Request<Body> {
    Request::get(uri)
        .header("authorization", authorization)
        .body(Body::empty())
        .unwrap()
}

async fn answer(app: &axum::Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn member_officers_read_key_events_and_the_roster_and_others_are_refused() {
    use yibao_node::api::auth::authorization;
    let f = fixture();
    let app = router(f.state.clone());
    let inspector = &f.officers.inspector;
    let entries = "/v1/logs/141125/entries?start=0&count=10";

    // The public sees key events as their leaf hash only.
    let (status, public) = answer(&app, Request::get(entries).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let key_event = &public["entries"][1];
    assert_eq!(key_event["kind"], "key_event");
    assert!(key_event.get("record").is_none() && key_event.get("entry").is_none());
    let (status, body) = answer(
        &app,
        Request::get("/v1/logs/141125/officers")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "authorization");

    // An officer of the log sees them in full, and the roster.
    let (status, full) = answer(
        &app,
        signed_get(entries, &authorization(inspector, "GET", entries, now_ms())),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{full}");
    let key_event = &full["entries"][1];
    assert_eq!(
        key_event["record"]["officer_id"], "14000000001",
        "{key_event}"
    );
    assert!(key_event["entry"].is_string());
    let one = "/v1/logs/141125/entries/2";
    let (status, entry) = answer(
        &app,
        signed_get(one, &authorization(inspector, "GET", one, now_ms())),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(entry["record"]["officer_id"], "14000000002", "{entry}");
    let roster = "/v1/logs/141125/officers";
    let (status, officers) = answer(
        &app,
        signed_get(
            roster,
            &authorization(&f.officers.bureau, "GET", roster, now_ms()),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{officers}");
    assert_schema(&officers, "Officers");
    assert_eq!(officers["officers"].as_array().unwrap().len(), 4);
    assert_eq!(officers["officers"][1]["surname"], "王");

    // Refused: a key no log authorises, a request too old or too far ahead, a signature
    // for another path, a tampered signature, a replay, a malformed header.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[0x42; 32]);
    let refused = [
        (
            authorization(&stranger, "GET", one, now_ms()),
            "not an active officer",
        ),
        (
            authorization(inspector, "GET", one, now_ms() - 120_000),
            "away from the node's clock",
        ),
        (
            authorization(inspector, "GET", one, now_ms() + 120_000),
            "away from the node's clock",
        ),
        (
            authorization(inspector, "GET", "/v1/logs/141125/entries/3", now_ms()),
            "does not verify",
        ),
        (
            authorization(inspector, "POST", one, now_ms()),
            "does not verify",
        ),
        (
            {
                let good = authorization(inspector, "GET", one, now_ms());
                let (head, sig) = good.rsplit_once(' ').unwrap();
                let mut raw = base64::engine::general_purpose::STANDARD
                    .decode(sig)
                    .unwrap();
                raw[10] ^= 1;
                format!(
                    "{head} {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                )
            },
            "does not verify",
        ),
        ("Bearer abc".to_string(), "unknown scheme"),
        ("Yibao-Officer 00 1 AA==".to_string(), "64 hex digits"),
    ];
    for (header, reason) in refused {
        let (status, body) = answer(&app, signed_get(one, &header)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{header}: {body}");
        assert_error(&body, "authorization");
        assert!(
            body["error"]["reason"].as_str().unwrap().contains(reason),
            "{header}: {body}"
        );
    }
    let three = "/v1/logs/141125/entries/3";
    let header = authorization(inspector, "GET", three, now_ms());
    assert_eq!(
        answer(&app, signed_get(three, &header)).await.0,
        StatusCode::OK
    );
    let (status, body) = answer(&app, signed_get(three, &header)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a replay is refused");
    assert!(body["error"]["reason"]
        .as_str()
        .unwrap()
        .contains("already"));

    // A revoked officer reads nothing more (the roster follows the log as it grows).
    let revoke = workload::parse(serde_json::json!({
        "kind": "key_event",
        "event": "officer_revoked",
        "key": hex::encode(inspector.verifying_key().to_bytes()),
        "reason": "调离",
    }))
    .unwrap();
    let statement = Submission::sign(
        &f.officers.bureau,
        &LogCode::parse(COUNTY).unwrap().origin(),
        now_ms(),
        revoke.kind().as_str(),
        revoke.encode_payload().unwrap(),
    )
    .unwrap();
    let (status, _, body) = call(
        &f.state,
        post_cbor(
            "/v1/logs/141125/entries",
            statement.encode(),
            "application/cbor",
        ),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (status, body) = answer(
        &app,
        signed_get(one, &authorization(inspector, "GET", one, now_ms())),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["error"]["reason"]
        .as_str()
        .unwrap()
        .contains("not an active officer"));
}

// ---------------------------------------------------------------------------------------
// The API against its OpenAPI document
// ---------------------------------------------------------------------------------------

/// A subset of JSON Schema (OpenAPI 3.0 flavour): `$ref`, `type`, `nullable`, `required`,
/// `properties`, `additionalProperties: false`, `items`, `enum`, `pattern`, `minimum`.
fn validate(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    if value.is_null() && schema["nullable"] == true {
        return;
    }
    if let Some(t) = schema["type"].as_str() {
        let ok = match t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_u64() || value.is_i64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            other => panic!("schema type {other} not supported"),
        };
        if !ok {
            errors.push(format!("{at}: expected {t}, got {value}"));
            return;
        }
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            errors.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let (Some(pattern), Some(text)) = (schema["pattern"].as_str(), value.as_str()) {
        if !regex::Regex::new(pattern).unwrap().is_match(text) {
            errors.push(format!("{at}: {text:?} does not match {pattern}"));
        }
    }
    if let (Some(min), Some(n)) = (schema["minimum"].as_f64(), value.as_f64()) {
        if n < min {
            errors.push(format!("{at}: {n} is below {min}"));
        }
    }
    if let Some(object) = value.as_object() {
        for field in schema["required"].as_array().into_iter().flatten() {
            if !object.contains_key(field.as_str().unwrap()) {
                errors.push(format!("{at}: lacks {field}"));
            }
        }
        let properties = schema["properties"].as_object();
        for (key, v) in object {
            match properties.and_then(|p| p.get(key)) {
                Some(s) => validate(doc, s, v, &format!("{at}.{key}"), errors),
                None if schema["additionalProperties"] == false => {
                    errors.push(format!("{at}: unexpected field {key}"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, v) in array.iter().enumerate() {
            validate(doc, items, v, &format!("{at}[{i}]"), errors);
        }
    }
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let mut target = doc;
            for part in reference.trim_start_matches("#/").split('/') {
                target = &target[part];
            }
            assert!(!target.is_null(), "dangling {reference}");
            resolve(doc, target)
        }
        None => schema,
    }
}

/// The answer to `method uri` is documented under `template`: its status, its content
/// type, and (for JSON) its body validates against the documented schema.
fn check_documented(
    doc: &Value,
    template: &str,
    method: &str,
    uri: &str,
    (status, content_type, body): &(StatusCode, String, Vec<u8>),
) {
    let op = &doc["paths"][template][method];
    assert!(op.is_object(), "{method} {template} is not documented");
    let documented = &op["responses"][status.as_str()];
    assert!(
        documented.is_object(),
        "{method} {uri}: {status} is not documented for {template}: {}",
        String::from_utf8_lossy(body)
    );
    let documented = resolve(doc, documented);
    let Some(content) = documented["content"].as_object() else {
        return;
    };
    let media = content_type.split(';').next().unwrap_or("").trim();
    let entry = content.get(media).unwrap_or_else(|| {
        panic!(
            "{method} {uri}: {status} answered {media}, documented {:?}",
            content.keys()
        )
    });
    if media == "application/json" {
        let value: Value = serde_json::from_slice(body).unwrap();
        let mut errors = Vec::new();
        validate(doc, &entry["schema"], &value, "$", &mut errors);
        assert!(
            errors.is_empty(),
            "{method} {uri} ({status}) does not match its schema: {errors:?}\n{value}"
        );
    }
}

#[test]
fn the_schema_checker_refuses_what_does_not_match() {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    let schema = serde_json::json!({"$ref": "#/components/schemas/Error"});
    let mut errors = Vec::new();
    validate(
        &doc,
        &schema,
        &serde_json::json!({"error": {"field": "x", "reason": "y"}}),
        "$",
        &mut errors,
    );
    assert!(errors.is_empty(), "{errors:?}");
    for bad in [
        serde_json::json!({"error": {"field": "x"}}),
        serde_json::json!({"error": {"field": 1, "reason": "y"}}),
        serde_json::json!({"error": {"field": "x", "reason": "y", "stack": "z"}}),
        serde_json::json!([]),
    ] {
        let mut errors = Vec::new();
        validate(&doc, &schema, &bad, "$", &mut errors);
        assert!(!errors.is_empty(), "{bad} passed");
    }
    let mut errors = Vec::new();
    let entry = serde_json::json!({"$ref": "#/components/schemas/Entry"});
    validate(
        &doc,
        &entry,
        &serde_json::json!({"seq": 1, "leaf_hash": "XYZ"}),
        "$",
        &mut errors,
    );
    assert!(!errors.is_empty(), "a leaf hash that is not hex passed");
}

/// Every route of the router (read from its source) with its methods.
fn router_routes() -> Vec<(String, Vec<&'static str>)> {
    let source = include_str!("../src/api.rs");
    source
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix(".route(\"")?;
            let (path, call) = rest.split_once('"')?;
            let methods = ["get", "post", "put", "delete", "patch"]
                .into_iter()
                .filter(|m| call.contains(&format!("{m}(")))
                .collect();
            Some((path.to_string(), methods))
        })
        .collect()
}

#[test]
fn every_route_of_the_router_is_documented_and_every_documented_path_is_routed() {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    let routes = router_routes();
    assert!(routes.len() >= 15, "{routes:?}");
    for (path, methods) in &routes {
        assert!(!methods.is_empty(), "{path}");
        for method in methods {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} is routed but not in openapi.json"
            );
        }
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            assert!(
                routes
                    .iter()
                    .any(|(p, m)| p == path && m.contains(&method.as_str())),
                "{method} {path} is documented but not routed"
            );
        }
    }
}

#[tokio::test]
async fn every_answer_validates_against_the_documented_schema() {
    let f = fixture();
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    let s = &f.state;
    let (_, notices) = get_json(s, "/v1/notices?per_page=1").await;
    let case_id = notices["notices"][0]["record"]["case_id"]
        .as_str()
        .unwrap()
        .to_string();
    let inst = notices["notices"][0]["record"]["institution"]["code"]
        .as_str()
        .unwrap()
        .to_string();
    // Good and bad values for every parameter; a small deterministic spread of numbers.
    let numbers = [
        "0",
        "1",
        "2",
        "5",
        "7",
        "31",
        "1000",
        "99999",
        "-1",
        "abc",
        "",
        "1e3",
        "18446744073709551616",
    ];
    let mut gets: Vec<(&str, String)> = vec![
        ("/healthz", "/healthz".into()),
        ("/metrics", "/metrics".into()),
        ("/openapi.json", "/openapi.json".into()),
        ("/v1/logs", "/v1/logs".into()),
        ("/v1/equivocations", "/v1/equivocations".into()),
        (
            "/v1/institutions/{code}",
            format!("/v1/institutions/{inst}"),
        ),
        (
            "/v1/institutions/{code}",
            "/v1/institutions/H00000000000".into(),
        ),
        ("/v1/institutions/{code}", "/v1/institutions/xyz".into()),
        (
            "/v1/logs/{log}/cases/{case_id}",
            format!("/v1/logs/141125/cases/{case_id}"),
        ),
        (
            "/v1/logs/{log}/cases/{case_id}",
            "/v1/logs/141125/cases/none".into(),
        ),
        (
            "/v1/logs/{log}/cases/{case_id}",
            format!("/v1/logs/141125/cases/{}", "x".repeat(65)),
        ),
        ("/v1/grades", "/v1/grades?period=2023".into()),
        ("/v1/grades", "/v1/grades?period=20%2023".into()),
        ("/v1/grades", "/v1/grades".into()),
        ("/v1/institutions", "/v1/institutions?q=H1411".into()),
        ("/v1/institutions", "/v1/institutions?q=".into()),
        (
            "/v1/institutions",
            format!("/v1/institutions?q={}", "x".repeat(65)),
        ),
        ("/v1/logs/{log}/officers", "/v1/logs/141125/officers".into()),
        (
            "/v1/logs/{log}/entries/{seq}",
            "/v1/logs/141125/entries/abc".into(),
        ),
    ];
    for log in ["141125", "999999", "14112x", "1411250"] {
        gets.push((
            "/v1/logs/{log}/checkpoint",
            format!("/v1/logs/{log}/checkpoint"),
        ));
        gets.push((
            "/v1/logs/{log}/officers",
            format!("/v1/logs/{log}/officers"),
        ));
        gets.push(("/v1/logs/{log}/entries", format!("/v1/logs/{log}/entries")));
        gets.push((
            "/v1/logs/{log}/proofs/inclusion",
            format!("/v1/logs/{log}/proofs/inclusion?seq=1"),
        ));
        gets.push((
            "/v1/logs/{log}/proofs/consistency",
            format!("/v1/logs/{log}/proofs/consistency?from=1"),
        ));
    }
    for (i, a) in numbers.iter().enumerate() {
        let b = numbers[(i * 7 + 3) % numbers.len()];
        gets.push((
            "/v1/logs/{log}/entries",
            format!("/v1/logs/141125/entries?start={a}&count={b}"),
        ));
        gets.push((
            "/v1/logs/{log}/entries/{seq}",
            format!("/v1/logs/141125/entries/{a}"),
        ));
        gets.push((
            "/v1/logs/{log}/proofs/inclusion",
            format!("/v1/logs/141125/proofs/inclusion?seq={a}"),
        ));
        gets.push((
            "/v1/logs/{log}/proofs/inclusion",
            format!("/v1/logs/141125/proofs/inclusion?seq={a}&size={b}"),
        ));
        gets.push((
            "/v1/logs/{log}/proofs/consistency",
            format!("/v1/logs/141125/proofs/consistency?from={a}"),
        ));
        gets.push((
            "/v1/logs/{log}/proofs/consistency",
            format!("/v1/logs/141125/proofs/consistency?from={a}&to={b}"),
        ));
        gets.push(("/v1/notices", format!("/v1/notices?page={a}&per_page={b}")));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (template, uri) in &gets {
        let answer = get(s, uri).await;
        check_documented(&doc, template, "get", uri, &answer);
        seen.insert((template.to_string(), answer.0.as_u16()));
    }
    // Signed reads, and a signed read that is refused.
    let entries = "/v1/logs/141125/entries?count=20";
    let header =
        yibao_node::api::auth::authorization(&f.officers.adjudicator, "GET", entries, now_ms());
    let answer = call(s, signed_get(entries, &header)).await;
    check_documented(&doc, "/v1/logs/{log}/entries", "get", entries, &answer);
    assert_eq!(answer.0, StatusCode::OK);
    let roster = "/v1/logs/141125/officers";
    let header =
        yibao_node::api::auth::authorization(&f.officers.publisher, "GET", roster, now_ms());
    let answer = call(s, signed_get(roster, &header)).await;
    check_documented(&doc, "/v1/logs/{log}/officers", "get", roster, &answer);
    assert_eq!(answer.0, StatusCode::OK);
    seen.insert(("/v1/logs/{log}/officers".to_string(), 200));
    let answer = call(s, signed_get(entries, "Yibao-Officer x")).await;
    check_documented(&doc, "/v1/logs/{log}/entries", "get", entries, &answer);
    assert_eq!(answer.0, StatusCode::UNAUTHORIZED);

    // Submissions: good, duplicate, wrong type, garbage, wrong log, too large.
    let good = submission(&f).encode();
    let post = "/v1/logs/{log}/entries";
    for (uri, body, content_type, expected) in [
        (
            "/v1/logs/141125/entries",
            good.clone(),
            "application/cbor",
            StatusCode::CREATED,
        ),
        (
            "/v1/logs/141125/entries",
            good.clone(),
            "application/cbor",
            StatusCode::OK,
        ),
        (
            "/v1/logs/141125/entries",
            good.clone(),
            "application/json",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "/v1/logs/141125/entries",
            vec![0xff, 0x00],
            "application/cbor",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v1/logs/141126/entries",
            good.clone(),
            "application/cbor",
            StatusCode::FORBIDDEN,
        ),
        (
            "/v1/logs/14112x/entries",
            good.clone(),
            "application/cbor",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v1/logs/141125/entries",
            vec![0u8; yibao_node::api::MAX_BODY_BYTES + 1],
            "application/cbor",
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ] {
        let answer = call(s, post_cbor(uri, body, content_type)).await;
        assert_eq!(
            answer.0,
            expected,
            "{uri}: {}",
            String::from_utf8_lossy(&answer.2)
        );
        check_documented(&doc, post, "post", uri, &answer);
    }
    // A method a path does not take: the same JSON refusal, with Allow.
    let response = router(s.clone())
        .oneshot(Request::delete("/v1/logs").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(response.headers().get("allow").is_some());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_error(&body, "method");
    let mut errors = Vec::new();
    validate(
        &doc,
        &serde_json::json!({"$ref": "#/components/schemas/Error"}),
        &body,
        "$",
        &mut errors,
    );
    assert!(errors.is_empty(), "{errors:?}");

    // Every documented GET path was exercised, with a success and a refusal where it has one.
    for (path, item) in doc["paths"].as_object().unwrap() {
        if let Some(op) = item.get("get") {
            for code in op["responses"].as_object().unwrap().keys() {
                if code == "401" || code == "500" {
                    continue;
                }
                assert!(
                    seen.contains(&(path.clone(), code.parse().unwrap())),
                    "GET {path} never answered {code} in this test"
                );
            }
        }
    }
}

/// Institutions are found by part of their name or the start of their code, across the
/// logs the node holds, with their name as last changed; bad searches are refused.
#[tokio::test]
async fn institutions_are_found_by_name_or_code() {
    let f = fixture();
    let s = &f.state;
    let insts = workload::institutions(COUNTY, 20);
    let wanted = &insts[7];
    // By the whole name, by a part of it, and by the start of the code (any case).
    for q in [
        wanted.name.clone(),
        wanted.name.chars().skip(1).collect::<String>(),
        wanted.code.to_ascii_lowercase(),
    ] {
        let (status, found) = get_json(
            s,
            &format!(
                "/v1/institutions?q={}",
                yibao_web_viewer::html::query_value(&q)
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{q}: {found}");
        assert_schema(&found, "Institutions");
        let codes: Vec<&str> = found["institutions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["code"].as_str().unwrap())
            .collect();
        assert!(codes.contains(&wanted.code.as_str()), "{q}: {found}");
        assert_eq!(found["total"].as_u64(), Some(codes.len() as u64), "{found}");
    }
    let (_, found) = get_json(s, &format!("/v1/institutions?q={}", wanted.code)).await;
    let hit = &found["institutions"][0];
    assert_eq!(hit["name"], wanted.name.as_str());
    assert_eq!(hit["log"], COUNTY);
    assert_eq!(hit["division"], COUNTY);
    // A change of name is found under the new name, from the router that read the old one.
    let app = router(f.state.clone());
    let ask = |q: &str| {
        Request::get(format!(
            "/v1/institutions?q={}",
            yibao_web_viewer::html::query_value(q)
        ))
        .body(Body::empty())
        .unwrap()
    };
    let (_, before) = answer(&app, ask(&wanted.code)).await;
    assert_eq!(before["institutions"][0]["name"], wanted.name.as_str());
    let rename = workload::parse(serde_json::json!({
        "kind": "institution_updated", "code": wanted.code,
        "changes": { "name": "柳林县新城社区卫生服务中心" }, "reason": "机构更名",
    }))
    .unwrap();
    let origin = LogCode::parse(COUNTY).unwrap().origin();
    for sub in workload::sign(
        &f.officers,
        &origin,
        now_ms(),
        &[(workload::Signer::Administrator, rename)],
    )
    .unwrap()
    {
        let request = post_cbor("/v1/logs/141125/entries", sub.encode(), "application/cbor");
        let (status, body) = answer(&app, request).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, after) = answer(&app, ask("新城社区")).await;
    assert_eq!(after["total"], 1, "{after}");
    assert_eq!(after["institutions"][0]["code"], wanted.code.as_str());
    let (_, none) = get_json(
        s,
        &format!(
            "/v1/institutions?q={}",
            yibao_web_viewer::html::query_value("没有这家机构")
        ),
    )
    .await;
    assert_eq!(none["total"], 0, "{none}");
    for bad in ["/v1/institutions", "/v1/institutions?q=%20"] {
        let (status, body) = get_json(s, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_error(&body, "q");
    }
}

/// A number too large for any seq is refused as too large, not as "not a number".
#[tokio::test]
async fn numbers_beyond_u64_are_refused_as_too_large() {
    let f = fixture();
    let s = &f.state;
    for (uri, field) in [
        ("/v1/logs/141125/entries/99999999999999999999999", "seq"),
        (
            "/v1/logs/141125/entries?start=99999999999999999999999",
            "start",
        ),
    ] {
        let (status, body) = get_json(s, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_error(&body, field);
        assert!(
            body["error"]["reason"]
                .as_str()
                .unwrap()
                .contains("too large"),
            "{uri}: {body}"
        );
    }
    let (_, body) = get_json(s, "/v1/logs/141125/entries/12a").await;
    assert!(body["error"]["reason"]
        .as_str()
        .unwrap()
        .contains("not a non-negative integer"));
}

/// The notice list kept by one router follows the log as it grows: a notice submitted
/// through that router's own API shows up first on the next read, and the total grows.
#[tokio::test]
async fn the_notice_list_of_one_router_follows_the_growing_log() {
    let f = fixture();
    let app = router(f.state.clone());
    let list = || {
        Request::get("/v1/notices?per_page=100")
            .body(Body::empty())
            .unwrap()
    };
    let (status, before) = answer(&app, list()).await;
    assert_eq!(status, StatusCode::OK, "{before}");
    let total = before["total"].as_u64().unwrap();
    let insts = workload::institutions(COUNTY, 20);
    let mut rng = workload::Rng::new(99);
    let records = workload::case_records(
        &mut rng,
        COUNTY,
        "柳林县医疗保障局",
        900,
        &insts[4],
        2025,
        true,
    )
    .unwrap();
    let now = now_ms();
    let origin = LogCode::parse(COUNTY).unwrap().origin();
    for sub in workload::sign(&f.officers, &origin, now, &records).unwrap() {
        let request = post_cbor("/v1/logs/141125/entries", sub.encode(), "application/cbor");
        let (status, body) = answer(&app, request).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, after) = answer(&app, list()).await;
    assert_eq!(after["total"].as_u64(), Some(total + 1), "{after}");
    let newest = &after["notices"][0]["record"];
    assert_eq!(newest["notice_id"], "141125-2025-000900-N", "{after}");
    // Every notice listed before is still listed, once.
    let ids: Vec<&str> = after["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["record"]["notice_id"].as_str().unwrap())
        .collect();
    let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len());
    for n in before["notices"].as_array().unwrap() {
        assert!(ids.contains(&n["record"]["notice_id"].as_str().unwrap()));
    }

    // A notice signed later but published on an earlier day is listed after the others:
    // the list is in order of publication day (发布日期), which is what the public reads.
    let records = workload::case_records(
        &mut rng,
        COUNTY,
        "柳林县医疗保障局",
        901,
        &insts[5],
        2020,
        true,
    )
    .unwrap();
    for sub in workload::sign(&f.officers, &origin, now + 1, &records).unwrap() {
        let request = post_cbor("/v1/logs/141125/entries", sub.encode(), "application/cbor");
        let (status, body) = answer(&app, request).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, later) = answer(&app, list()).await;
    let notices = later["notices"].as_array().unwrap();
    assert_eq!(notices.len() as u64, total + 2, "{later}");
    assert_eq!(notices[0]["record"]["notice_id"], "141125-2025-000900-N");
    let last = &notices[notices.len() - 1]["record"];
    assert_eq!(last["notice_id"], "141125-2020-000901-N", "{later}");
    assert_eq!(last["published_on"], "2021-01-15");
}
