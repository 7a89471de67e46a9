//! The node's HTTP API (axum): officers submit signed statements; programs and the public
//! viewer read logs, checkpoints, entries with their signed bytes, proofs and equivocation
//! proofs. Every refusal is a 4xx with a JSON body `{"error": {"field", "reason"}}`;
//! internal errors are logged and answered with a bare 500.
//!
//! Privacy: officers' key events carry certificate numbers, which public pages may not
//! show. The read API gives key-event entries only as their leaf hash (enough to check
//! proofs), never their bytes or content.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use yibao_ledger::appender::Appender;
use yibao_ledger::keys::LogCode;
use yibao_ledger::merkle::{Blake3Hasher, MerkleHasher};
use yibao_ledger::store::{AppendError, Ledger, StoreError};
use yibao_schema::entry::{EntryRef, Submission};
use yibao_schema::record::{Record, RecordKind};

/// The largest request body accepted (a submission is at most 256 KiB of payload).
pub const MAX_BODY_BYTES: usize = 512 * 1024;
/// The most entries one range read returns.
pub const MAX_RANGE: u64 = 1000;
/// How long a request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the API serves from.
#[derive(Clone)]
pub struct ApiState {
    pub ledger: Arc<Ledger>,
    /// The appender of the node's own log (absent on a read-only node).
    pub appender: Option<(LogCode, Appender)>,
    pub metrics: Arc<Metrics>,
    /// Extra metrics lines (sync lag, peers, bans) from the network side.
    pub network_metrics: Option<Arc<dyn Fn() -> String + Send + Sync>>,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    pub requests: AtomicU64,
    pub client_errors: AtomicU64,
    pub server_errors: AtomicU64,
    pub appends: AtomicU64,
    pub request_micros: AtomicU64,
}

/// A refusal or failure, rendered as JSON.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    field: String,
    reason: String,
}

impl ApiError {
    fn bad(field: &str, reason: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            field: field.into(),
            reason: reason.into(),
        }
    }

    fn not_found(field: &str, reason: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            field: field.into(),
            reason: reason.into(),
        }
    }

    fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %e, "internal error answering a request");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            field: String::new(),
            reason: String::new(),
        }
    }

    fn from_store(e: StoreError, log: &LogCode) -> ApiError {
        match e {
            StoreError::UnknownLog(_) => {
                ApiError::not_found("log", format!("this node holds no log {log}"))
            }
            StoreError::OutOfRange { what, size, .. } => ApiError::bad(
                "range",
                format!("{what} is out of range for a log of {size} entries"),
            ),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            return (
                self.status,
                Json(json!({"error": {"reason": "internal error"}})),
            )
                .into_response();
        }
        (
            self.status,
            Json(json!({"error": {"field": self.field, "reason": self.reason}})),
        )
            .into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

fn log_code(text: &str) -> ApiResult<LogCode> {
    LogCode::parse(text)
        .ok_or_else(|| ApiError::bad("log", format!("`{text}` is not a 6-digit division code")))
}

/// The router.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/v1/logs", get(logs))
        .route("/v1/logs/{log}/checkpoint", get(checkpoint))
        .route("/v1/logs/{log}/entries", get(entries).post(submit))
        .route("/v1/logs/{log}/entries/{seq}", get(entry))
        .route("/v1/logs/{log}/proofs/inclusion", get(inclusion))
        .route("/v1/logs/{log}/proofs/consistency", get(consistency))
        .route("/v1/equivocations", get(equivocations))
        .route("/v1/notices", get(notices))
        .route("/v1/institutions/{code}", get(institution))
        .route("/v1/logs/{log}/cases/{case_id}", get(case))
        .route("/v1/grades", get(grades))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.clone(), count))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .with_state(state)
}

async fn count(
    State(state): State<ApiState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    let m = &state.metrics;
    m.requests.fetch_add(1, Ordering::Relaxed);
    m.request_micros
        .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    if response.status().is_client_error() {
        m.client_errors.fetch_add(1, Ordering::Relaxed);
    } else if response.status().is_server_error() {
        m.server_errors.fetch_add(1, Ordering::Relaxed);
    }
    response
}

async fn not_found() -> ApiError {
    ApiError::not_found("path", "no such endpoint (see /openapi.json)")
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics(State(state): State<ApiState>) -> impl IntoResponse {
    let m = &state.metrics;
    let mut out = String::new();
    let line = |out: &mut String, name: &str, help: &str, kind: &str, value: u64| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        ));
    };
    line(
        &mut out,
        "yibao_http_requests_total",
        "HTTP requests answered.",
        "counter",
        m.requests.load(Ordering::Relaxed),
    );
    line(
        &mut out,
        "yibao_http_client_errors_total",
        "HTTP requests answered with a 4xx.",
        "counter",
        m.client_errors.load(Ordering::Relaxed),
    );
    line(
        &mut out,
        "yibao_http_server_errors_total",
        "HTTP requests answered with a 5xx.",
        "counter",
        m.server_errors.load(Ordering::Relaxed),
    );
    line(
        &mut out,
        "yibao_http_request_seconds_sum_micros",
        "Total time spent answering requests, in microseconds.",
        "counter",
        m.request_micros.load(Ordering::Relaxed),
    );
    line(
        &mut out,
        "yibao_appends_total",
        "Entries appended through the API.",
        "counter",
        m.appends.load(Ordering::Relaxed),
    );
    for code in state.ledger.log_codes() {
        let size = state.ledger.size(&code).unwrap_or(0);
        out.push_str(&format!("yibao_log_size{{log=\"{code}\"}} {size}\n"));
    }
    if let Some(extra) = &state.network_metrics {
        out.push_str(&extra());
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn logs(State(state): State<ApiState>) -> ApiResult<Json<Value>> {
    let mut out = Vec::new();
    for code in state.ledger.log_codes() {
        let meta = state.ledger.meta(&code).map_err(ApiError::internal)?;
        let checkpoint = state
            .ledger
            .latest_checkpoint(&code)
            .map_err(ApiError::internal)?;
        let vkey = state
            .ledger
            .log_verifier_key(&code)
            .map(|k| k.to_string())
            .map_err(ApiError::internal)?;
        out.push(json!({
            "log": code.to_string(),
            "origin": meta.origin,
            "name": meta.name,
            "vkey": vkey,
            "size": state.ledger.size(&code).map_err(ApiError::internal)?,
            "checkpoint": checkpoint,
            "frozen": state.ledger.is_frozen(&code).map_err(ApiError::internal)?,
            "own": state.appender.as_ref().map(|(c, _)| *c == code).unwrap_or(false),
        }));
    }
    Ok(Json(json!({ "logs": out })))
}

async fn checkpoint(State(state): State<ApiState>, Path(log): Path<String>) -> ApiResult<Response> {
    let code = log_code(&log)?;
    let text = state
        .ledger
        .latest_checkpoint(&code)
        .map_err(|e| ApiError::from_store(e, &code))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// One entry as the API (and the published files) show it: key events withheld.
pub fn entry_json(seq: u64, bytes: &[u8]) -> Value {
    let leaf = hex::encode(Blake3Hasher::leaf(bytes));
    let Ok(entry) = EntryRef::decode(bytes) else {
        return json!({"seq": seq, "leaf_hash": leaf, "error": "stored entry does not decode"});
    };
    let statement = &entry.submission.statement;
    let Some(kind) = RecordKind::parse(statement.kind) else {
        return json!({"seq": seq, "leaf_hash": leaf, "kind": statement.kind});
    };
    if kind == RecordKind::KeyEvent {
        // Officers' certificate numbers are not public: the hash proves inclusion.
        return json!({"seq": seq, "leaf_hash": leaf, "kind": statement.kind, "withheld": "key events are not public"});
    }
    let record = Record::decode_payload(kind, entry.submission.payload)
        .ok()
        .and_then(|r| serde_json::to_value(r).ok())
        .unwrap_or(Value::Null);
    json!({
        "seq": seq,
        "leaf_hash": leaf,
        "kind": statement.kind,
        "timestamp_ms": statement.timestamp_ms,
        "author": hex::encode(statement.author),
        "entry": base64::engine::general_purpose::STANDARD.encode(bytes),
        "record": record,
    })
}

#[derive(Debug, Deserialize)]
struct RangeQuery {
    start: Option<u64>,
    count: Option<u64>,
}

async fn entries(
    State(state): State<ApiState>,
    Path(log): Path<String>,
    Query(q): Query<RangeQuery>,
) -> ApiResult<Json<Value>> {
    let code = log_code(&log)?;
    let start = q.start.unwrap_or(0);
    let count = q.count.unwrap_or(100);
    if count == 0 || count > MAX_RANGE {
        return Err(ApiError::bad("count", format!("must be 1 to {MAX_RANGE}")));
    }
    let size = state
        .ledger
        .size(&code)
        .map_err(|e| ApiError::from_store(e, &code))?;
    if start > size {
        return Err(ApiError::bad(
            "start",
            format!("{start} is beyond the log's {size} entries"),
        ));
    }
    let ledger = state.ledger.clone();
    let rows = tokio::task::spawn_blocking(move || ledger.entries(&code, start, count))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::from_store(e, &code))?;
    let list: Vec<Value> = rows
        .iter()
        .map(|(seq, bytes)| entry_json(*seq, bytes))
        .collect();
    Ok(Json(
        json!({"log": code.to_string(), "size": size, "start": start, "entries": list}),
    ))
}

async fn entry(
    State(state): State<ApiState>,
    Path((log, seq)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let code = log_code(&log)?;
    let seq: u64 = seq
        .parse()
        .map_err(|_| ApiError::bad("seq", format!("`{seq}` is not a number")))?;
    let size = state
        .ledger
        .size(&code)
        .map_err(|e| ApiError::from_store(e, &code))?;
    if seq >= size {
        return Err(ApiError::not_found(
            "seq",
            format!("the log has {size} entries"),
        ));
    }
    let bytes = state
        .ledger
        .entry(&code, seq)
        .map_err(|e| ApiError::from_store(e, &code))?;
    Ok(Json(entry_json(seq, &bytes)))
}

#[derive(Debug, Deserialize)]
struct InclusionQuery {
    seq: Option<u64>,
    size: Option<u64>,
}

fn checkpoint_size(state: &ApiState, code: &LogCode) -> ApiResult<u64> {
    let text = state
        .ledger
        .latest_checkpoint(code)
        .map_err(|e| ApiError::from_store(e, code))?;
    Ok(text
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or(0))
}

async fn inclusion(
    State(state): State<ApiState>,
    Path(log): Path<String>,
    Query(q): Query<InclusionQuery>,
) -> ApiResult<Json<Value>> {
    let code = log_code(&log)?;
    let seq = q.seq.ok_or_else(|| ApiError::bad("seq", "required"))?;
    let size = match q.size {
        Some(size) => size,
        None => checkpoint_size(&state, &code)?,
    };
    if seq >= size {
        return Err(ApiError::bad(
            "seq",
            format!("{seq} is not below the tree size {size}"),
        ));
    }
    let proof = state
        .ledger
        .inclusion_proof(&code, seq, size)
        .map_err(|e| ApiError::from_store(e, &code))?;
    let bytes = state
        .ledger
        .entry(&code, seq)
        .map_err(|e| ApiError::from_store(e, &code))?;
    Ok(Json(json!({
        "log": code.to_string(),
        "seq": seq,
        "tree_size": size,
        "leaf_hash": hex::encode(Blake3Hasher::leaf(&bytes)),
        "proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
        "checkpoint": state.ledger.latest_checkpoint(&code).map_err(ApiError::internal)?,
    })))
}

#[derive(Debug, Deserialize)]
struct ConsistencyQuery {
    from: Option<u64>,
    to: Option<u64>,
}

async fn consistency(
    State(state): State<ApiState>,
    Path(log): Path<String>,
    Query(q): Query<ConsistencyQuery>,
) -> ApiResult<Json<Value>> {
    let code = log_code(&log)?;
    let from = q.from.ok_or_else(|| ApiError::bad("from", "required"))?;
    let to = match q.to {
        Some(to) => to,
        None => checkpoint_size(&state, &code)?,
    };
    if from > to {
        return Err(ApiError::bad(
            "from",
            format!("{from} is larger than to ({to})"),
        ));
    }
    let proof = state
        .ledger
        .consistency_proof(&code, from, to)
        .map_err(|e| ApiError::from_store(e, &code))?;
    Ok(Json(json!({
        "log": code.to_string(),
        "from": from,
        "to": to,
        "proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
    })))
}

async fn equivocations(State(state): State<ApiState>) -> ApiResult<Json<Value>> {
    let mut out = Vec::new();
    for code in state.ledger.log_codes() {
        if let Some(proof) = state
            .ledger
            .equivocation(&code)
            .map_err(ApiError::internal)?
        {
            out.push(json!({
                "log": code.to_string(),
                "proof": base64::engine::general_purpose::STANDARD.encode(proof.encode()),
                "first": proof.first,
                "second": proof.second,
            }));
        }
    }
    Ok(Json(json!({ "equivocations": out })))
}

/// Entries at (log, seq) pointers, as the API shows them, with the log's frozen flag.
fn pointed(state: &ApiState, pointers: &[(LogCode, u64)]) -> ApiResult<Vec<Value>> {
    let mut out = Vec::with_capacity(pointers.len());
    for (log, seq) in pointers {
        let bytes = state.ledger.entry(log, *seq).map_err(ApiError::internal)?;
        let mut v = entry_json(*seq, &bytes);
        if let Some(map) = v.as_object_mut() {
            map.insert("log".into(), json!(log.to_string()));
            map.insert(
                "frozen".into(),
                json!(state.ledger.is_frozen(log).map_err(ApiError::internal)?),
            );
        }
        out.push(v);
    }
    Ok(out)
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    page: Option<u64>,
    per_page: Option<u64>,
}

/// `GET /v1/notices`: exposure notices of every log the node holds, newest first.
async fn notices(
    State(state): State<ApiState>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<Value>> {
    let page = q.page.unwrap_or(1);
    let per_page = q.per_page.unwrap_or(20);
    if page == 0 {
        return Err(ApiError::bad("page", "pages count from 1"));
    }
    if per_page == 0 || per_page > 100 {
        return Err(ApiError::bad("per_page", "must be 1 to 100"));
    }
    let pointers = state
        .ledger
        .exposure_notices()
        .map_err(ApiError::internal)?;
    let mut all = pointed(&state, &pointers)?;
    all.sort_by_key(|v| std::cmp::Reverse(v["timestamp_ms"].as_u64().unwrap_or(0)));
    let total = all.len() as u64;
    let start = ((page - 1) * per_page).min(total) as usize;
    let end = (page * per_page).min(total) as usize;
    Ok(Json(json!({
        "total": total,
        "page": page,
        "per_page": per_page,
        "notices": all.get(start..end).unwrap_or_default(),
    })))
}

/// `GET /v1/institutions/{code}`: every public entry about an institution, in every log.
async fn institution(
    State(state): State<ApiState>,
    Path(code): Path<String>,
) -> ApiResult<Json<Value>> {
    let valid = code.len() == 12
        && matches!(code.as_bytes().first(), Some(b'H' | b'P'))
        && code.bytes().skip(1).all(|b| b.is_ascii_digit());
    if !valid {
        return Err(ApiError::bad(
            "code",
            format!("`{code}` is not an institution code (H or P and 11 digits)"),
        ));
    }
    let pointers = state
        .ledger
        .entries_about_institution(&code)
        .map_err(ApiError::internal)?;
    if pointers.is_empty() {
        return Err(ApiError::not_found(
            "code",
            format!("no entry about {code} in the logs this node holds"),
        ));
    }
    Ok(Json(
        json!({"institution": code, "entries": pointed(&state, &pointers)?}),
    ))
}

/// `GET /v1/logs/{log}/cases/{case_id}`: every record of a case, in order.
async fn case(
    State(state): State<ApiState>,
    Path((log, case_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let code = log_code(&log)?;
    if case_id.is_empty() || case_id.len() > 64 {
        return Err(ApiError::bad("case_id", "must be 1 to 64 characters"));
    }
    state
        .ledger
        .size(&code)
        .map_err(|e| ApiError::from_store(e, &code))?;
    let seqs = state
        .ledger
        .entries_of_case(&code, &case_id)
        .map_err(ApiError::internal)?;
    if seqs.is_empty() {
        return Err(ApiError::not_found(
            "case_id",
            format!("no case {case_id} in log {code}"),
        ));
    }
    let pointers: Vec<(LogCode, u64)> = seqs.into_iter().map(|s| (code, s)).collect();
    Ok(Json(
        json!({"log": code.to_string(), "case_id": case_id, "entries": pointed(&state, &pointers)?}),
    ))
}

#[derive(Debug, Deserialize)]
struct GradesQuery {
    period: Option<String>,
}

/// `GET /v1/grades?period=2023`: grade sets and revisions of a period, in every log.
async fn grades(
    State(state): State<ApiState>,
    Query(q): Query<GradesQuery>,
) -> ApiResult<Json<Value>> {
    let period = q
        .period
        .ok_or_else(|| ApiError::bad("period", "required, e.g. 2023 or 2023-H1"))?;
    if period.is_empty()
        || period.len() > 16
        || !period
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(ApiError::bad(
            "period",
            format!("`{period}` is not a period like 2023 or 2023-H1"),
        ));
    }
    let pointers = state
        .ledger
        .grades_of_period(&period)
        .map_err(ApiError::internal)?;
    Ok(Json(
        json!({"period": period, "entries": pointed(&state, &pointers)?}),
    ))
}

/// `POST /v1/logs/{log}/entries`, body `application/cbor`: one submission (SPEC.md §3.2),
/// signed by an officer authorised for its kind. Answered once durable.
async fn submit(
    State(state): State<ApiState>,
    Path(log): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let code = log_code(&log)?;
    let Some((own, appender)) = state.appender.clone() else {
        return Err(ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            field: "log".into(),
            reason: "this node accepts no submissions".into(),
        });
    };
    if own != code {
        return Err(ApiError {
            status: StatusCode::FORBIDDEN,
            field: "log".into(),
            reason: format!(
                "this node appends only to its own log {own}; submit to the node of {code}"
            ),
        });
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type != "application/cbor" {
        return Err(ApiError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            field: "content-type".into(),
            reason: "send one submission as application/cbor (SPEC.md §3.2)".into(),
        });
    }
    let submission = Submission::decode(&body).map_err(|e| ApiError::bad("body", e.to_string()))?;
    let answer = tokio::task::spawn_blocking(move || appender.submit(submission))
        .await
        .map_err(ApiError::internal)?;
    let receipt = match answer {
        Ok(r) => r,
        Err(AppendError::Storage(e)) => return Err(ApiError::internal(e)),
        Err(AppendError::Rule(v)) => {
            return Err(ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                field: v.field.clone(),
                reason: format!("{}: {}", v.rule, v.reason),
            })
        }
        Err(AppendError::Frozen(l)) => {
            return Err(ApiError {
                status: StatusCode::CONFLICT,
                field: "log".into(),
                reason: format!("log {l} is frozen"),
            })
        }
        Err(e @ AppendError::Signature(_)) => {
            return Err(ApiError::bad("signature", e.to_string()))
        }
        Err(e @ (AppendError::FromTheFuture { .. } | AppendError::TooOld { .. })) => {
            return Err(ApiError::bad("timestamp", e.to_string()))
        }
        Err(e @ AppendError::WrongLog { .. }) => {
            return Err(ApiError::bad("origin", e.to_string()))
        }
        Err(e) => return Err(ApiError::bad("record", e.to_string())),
    };
    state
        .metrics
        .appends
        .fetch_add(u64::from(!receipt.duplicate), Ordering::Relaxed);
    let proof = state
        .ledger
        .inclusion_proof(&code, receipt.seq, receipt.checkpoint_size)
        .map_err(ApiError::internal)?;
    let status = if receipt.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(json!({
            "log": code.to_string(),
            "seq": receipt.seq,
            "leaf_hash": hex::encode(receipt.leaf_hash),
            "duplicate": receipt.duplicate,
            "tree_size": receipt.checkpoint_size,
            "proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
        })),
    )
        .into_response())
}

/// The OpenAPI document.
pub const OPENAPI: &str = include_str!("openapi.json");
