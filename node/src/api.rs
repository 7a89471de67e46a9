//! The node's HTTP API (axum): officers submit signed statements; programs and the public
//! viewer read logs, checkpoints, entries with their signed bytes, proofs and equivocation
//! proofs. Every refusal is a 4xx with a JSON body `{"error": {"field", "reason"}}`;
//! internal errors are logged and answered with a bare 500.
//!
//! Privacy: officers' key events carry certificate numbers, which public pages may not
//! show. The read API gives key-event entries only as their leaf hash (enough to check
//! proofs), never their bytes or content — unless the request is signed by a member
//! officer (`auth.rs`, SPEC.md §16), who also may read the officer roster.

pub mod auth;
pub mod institutions;
pub mod metrics;
pub mod notices;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRef, MatchedPath, Path, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};
use yibao_ledger::appender::Appender;
use yibao_ledger::keys::LogCode;
use yibao_ledger::store::{AppendError, Ledger, StoreError};
use yibao_schema::entry::{EntryRef, Submission};

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
    /// Latency histograms by matched route and status class.
    pub latency: metrics::LatencyHistograms,
}

/// The router's state: what the caller gave, plus what the router keeps for itself.
#[derive(Clone)]
struct Server {
    state: ApiState,
    auth: Arc<auth::OfficerAuth>,
    notices: Arc<notices::NoticeCache>,
    institutions: Arc<institutions::InstitutionDirectory>,
}

impl FromRef<Server> for ApiState {
    fn from_ref(server: &Server) -> ApiState {
        server.state.clone()
    }
}

impl FromRef<Server> for Arc<notices::NoticeCache> {
    fn from_ref(server: &Server) -> Arc<notices::NoticeCache> {
        server.notices.clone()
    }
}

impl FromRef<Server> for Arc<institutions::InstitutionDirectory> {
    fn from_ref(server: &Server) -> Arc<institutions::InstitutionDirectory> {
        server.institutions.clone()
    }
}

impl FromRef<Server> for Arc<auth::OfficerAuth> {
    fn from_ref(server: &Server) -> Arc<auth::OfficerAuth> {
        server.auth.clone()
    }
}

/// The route pattern a request matched, passed from the inner layer to the outer one.
#[derive(Clone)]
struct RouteLabel(String);

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

    fn unauthorized(reason: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            field: "authorization".into(),
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
        let mut response = (
            self.status,
            Json(json!({"error": {"field": self.field, "reason": self.reason}})),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static(auth::SCHEME),
            );
        }
        response
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// A request's query parameters, by name (the last value of a repeated one wins).
type Params = Query<std::collections::HashMap<String, String>>;

/// An optional number parameter; a value that is not one is refused naming the parameter.
fn number(params: &Params, name: &str) -> ApiResult<Option<u64>> {
    params
        .get(name)
        .map(|text| parse_number(name, text))
        .transpose()
}

/// A non-negative integer named `name`, refused as too large or as not a number.
fn parse_number(name: &str, text: &str) -> ApiResult<u64> {
    text.parse::<u64>().map_err(|e| {
        let reason = if *e.kind() == std::num::IntErrorKind::PosOverflow {
            format!("`{text}` is too large (at most {})", u64::MAX)
        } else {
            format!("`{text}` is not a non-negative integer")
        };
        ApiError::bad(name, reason)
    })
}

fn log_code(text: &str) -> ApiResult<LogCode> {
    LogCode::parse(text)
        .ok_or_else(|| ApiError::bad("log", format!("`{text}` is not a 6-digit division code")))
}

/// The router. It starts reading what the public's reads keep between requests (the notice
/// list, the institution directory) in the background at once, without delaying the start.
pub fn router(state: ApiState) -> Router {
    let notice_list = Arc::new(notices::NoticeCache::default());
    let directory = Arc::new(institutions::InstitutionDirectory::default());
    warm_in_background(&state.ledger, &notice_list, &directory);
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
        .route("/v1/institutions", get(search_institutions))
        .route("/v1/institutions/{code}", get(institution))
        .route("/v1/logs/{log}/cases/{case_id}", get(case))
        .route("/v1/grades", get(grades))
        .route("/v1/logs/{log}/officers", get(officers))
        .route_layer(axum::middleware::from_fn(label_route))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), count))
        .with_state(Server {
            state,
            auth: Arc::new(auth::OfficerAuth::default()),
            notices: notice_list,
            institutions: directory,
        })
}

/// Fills the notice list and the institution directory on a thread of their own, so that
/// the first public search after a start does not read every entry of every log while its
/// reader waits (a request arriving before they are ready waits for the part being read,
/// then reads the rest itself). The thread holds the ledger only while it reads: once the
/// router and its state are gone, it stops. If the thread cannot be started, both are
/// built by the first request that needs them, as before.
fn warm_in_background(
    ledger: &Arc<Ledger>,
    notices: &Arc<notices::NoticeCache>,
    institutions: &Arc<institutions::InstitutionDirectory>,
) {
    let ledger = Arc::downgrade(ledger);
    let (notices, institutions) = (notices.clone(), institutions.clone());
    let started = std::thread::Builder::new()
        .name("api-warm".into())
        .spawn(move || {
            if let Some(held) = ledger.upgrade() {
                if let Err(e) = notices.counts(&held) {
                    tracing::warn!(error = %e, "could not read the exposure notices in advance");
                }
            }
            if let Err(e) = institutions.warm(&ledger) {
                tracing::warn!(error = %e, "could not read the institution directory in advance");
            }
        });
    if let Err(e) = started {
        tracing::warn!(error = %e, "cannot start the thread that reads the public caches in advance");
    }
}

/// Passes the matched route pattern out to [`count`] on the response.
async fn label_route(
    matched: Option<MatchedPath>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    if let Some(path) = matched {
        response
            .extensions_mut()
            .insert(RouteLabel(path.as_str().to_string()));
    }
    response
}

async fn count(
    State(state): State<ApiState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    let response = json_refusal(response).await;
    let elapsed = started.elapsed();
    let m = &state.metrics;
    let route = response
        .extensions()
        .get::<RouteLabel>()
        .map_or("unmatched", |r| r.0.as_str());
    m.latency
        .observe(route, response.status().as_u16(), elapsed);
    m.requests.fetch_add(1, Ordering::Relaxed);
    m.request_micros
        .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    if response.status().is_client_error() {
        m.client_errors.fetch_add(1, Ordering::Relaxed);
    } else if response.status().is_server_error() {
        m.server_errors.fetch_add(1, Ordering::Relaxed);
    }
    response
}

/// Refusals made outside the handlers (axum's 405 for a method a path does not take, the
/// 413 of the body limit, the 408 of the timeout) get the same JSON body as every other.
async fn json_refusal(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !status.is_client_error() || is_json {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let (field, reason) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method",
            format!(
                "this path takes {}",
                allow
                    .as_ref()
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("other methods")
            ),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "body",
            format!("larger than the limit of {MAX_BODY_BYTES} bytes"),
        ),
        StatusCode::REQUEST_TIMEOUT => ("request", "took too long to answer".to_string()),
        other => {
            let text = axum::body::to_bytes(response.into_body(), 4096)
                .await
                .map(|b| String::from_utf8_lossy(&b).to_string())
                .unwrap_or_default();
            let reason = if text.is_empty() {
                other.canonical_reason().unwrap_or("refused").to_string()
            } else {
                text
            };
            return ApiError {
                status: other,
                field: "request".into(),
                reason,
            }
            .into_response();
        }
    };
    let mut refusal = ApiError {
        status,
        field: field.into(),
        reason,
    }
    .into_response();
    if let Some(allow) = allow {
        refusal.headers_mut().insert(header::ALLOW, allow);
    }
    refusal
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
    out.push_str(
        "# HELP yibao_log_size Entries in each log the node holds.\n# TYPE yibao_log_size gauge\n",
    );
    for code in state.ledger.log_codes() {
        let size = state.ledger.size(&code).unwrap_or(0);
        out.push_str(&format!("yibao_log_size{{log=\"{code}\"}} {size}\n"));
    }
    m.latency.render(&mut out);
    if let Some(extra) = &state.network_metrics {
        out.push_str(&extra());
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// `GET /v1/logs`: every log the node holds, with its latest checkpoint, how many exposure
/// notices it has published and when the newest entry that checkpoint covers was signed
/// (a checkpoint carries no time of its own).
async fn logs(
    State(state): State<ApiState>,
    State(notices): State<Arc<notices::NoticeCache>>,
) -> ApiResult<Json<Value>> {
    let notice_counts = notices.counts(&state.ledger).map_err(ApiError::internal)?;
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
        let latest_entry_ms = match size_of_checkpoint(&checkpoint).checked_sub(1) {
            None => None,
            Some(last) => {
                let bytes = state
                    .ledger
                    .entry(&code, last)
                    .map_err(ApiError::internal)?;
                EntryRef::decode(&bytes)
                    .ok()
                    .map(|e| e.submission.statement.timestamp_ms)
            }
        };
        out.push(json!({
            "log": code.to_string(),
            "origin": meta.origin,
            "name": meta.name,
            "vkey": vkey,
            "size": state.ledger.size(&code).map_err(ApiError::internal)?,
            "checkpoint": checkpoint,
            "latest_entry_ms": latest_entry_ms,
            "notices": notice_counts.get(&code).copied().unwrap_or(0),
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

/// Who reads: the public, or a member officer who signed the request (SPEC.md §16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Anyone: key events withheld.
    Public,
    /// A member officer: everything.
    Officer,
}

/// The officer who signed the request, if it carries an `Authorization` header; a header
/// that does not check out is a 401, never a silent public answer.
async fn caller(
    state: &ApiState,
    auth: &Arc<auth::OfficerAuth>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> ApiResult<Option<auth::OfficerCaller>> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("the header is not ASCII"))?
        .to_string();
    let path_and_query = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_string(), |p| p.as_str().to_string());
    let method = method.as_str().to_string();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let ledger = state.ledger.clone();
    let auth = auth.clone();
    let answer = tokio::task::spawn_blocking(move || {
        auth.check(&ledger, &value, &method, &path_and_query, now_ms)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    match answer {
        Ok(officer) => Ok(Some(officer)),
        Err(e) => Err(ApiError::unauthorized(e.to_string())),
    }
}

async fn audience(
    state: &ApiState,
    auth: &Arc<auth::OfficerAuth>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> ApiResult<Audience> {
    Ok(match caller(state, auth, method, uri, headers).await? {
        Some(_) => Audience::Officer,
        None => Audience::Public,
    })
}

/// One entry as the API (and the published files) show it to the public: key events
/// withheld.
pub fn entry_json(seq: u64, bytes: &[u8]) -> Value {
    entry_json_for(seq, bytes, Audience::Public)
}

/// One entry as `audience` may see it.
pub fn entry_json_for(seq: u64, bytes: &[u8], audience: Audience) -> Value {
    yibao_ledger::entry_json::entry_json(seq, bytes, audience == Audience::Officer)
}

async fn entries(
    State(state): State<ApiState>,
    State(auth): State<Arc<auth::OfficerAuth>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(log): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let code = log_code(&log)?;
    let start = number(&params, "start")?.unwrap_or(0);
    let count = number(&params, "count")?.unwrap_or(100);
    let audience = audience(&state, &auth, &method, &uri, &headers).await?;
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
        .map(|(seq, bytes)| entry_json_for(*seq, bytes, audience))
        .collect();
    Ok(Json(
        json!({"log": code.to_string(), "size": size, "start": start, "entries": list}),
    ))
}

async fn entry(
    State(state): State<ApiState>,
    State(auth): State<Arc<auth::OfficerAuth>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path((log, seq)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let code = log_code(&log)?;
    let audience = audience(&state, &auth, &method, &uri, &headers).await?;
    let seq = parse_number("seq", &seq)?;
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
    Ok(Json(entry_json_for(seq, &bytes, audience)))
}

/// `GET /v1/logs/{log}/officers`: the log's officers with their certificate numbers and
/// roles, as replayed from its key events. Member officers only (SPEC.md §16).
async fn officers(
    State(state): State<ApiState>,
    State(auth): State<Arc<auth::OfficerAuth>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(log): Path<String>,
) -> ApiResult<Json<Value>> {
    let code = log_code(&log)?;
    state
        .ledger
        .size(&code)
        .map_err(|e| ApiError::from_store(e, &code))?;
    if caller(&state, &auth, &method, &uri, &headers)
        .await?
        .is_none()
    {
        return Err(ApiError::unauthorized(
            "the officer roster is for member officers: sign the request (SPEC.md §16)",
        ));
    }
    let ledger = state.ledger.clone();
    let log_state = tokio::task::spawn_blocking(move || ledger.state(&code))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::from_store(e, &code))?;
    let list: Vec<Value> = log_state
        .officers()
        .iter()
        .map(|o| {
            json!({
                "key": hex::encode(o.key),
                "officer_id": o.officer_id.to_string(),
                "surname": o.surname,
                "roles": o.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                "added_seq": o.added_seq,
                "revoked_seq": o.revoked_seq,
            })
        })
        .collect();
    Ok(Json(json!({
        "log": code.to_string(),
        "bureau_key": log_state.bureau_key().map(hex::encode),
        "officers": list,
    })))
}

fn checkpoint_size(state: &ApiState, code: &LogCode) -> ApiResult<u64> {
    let text = state
        .ledger
        .latest_checkpoint(code)
        .map_err(|e| ApiError::from_store(e, code))?;
    Ok(size_of_checkpoint(&text))
}

/// The tree size a checkpoint's text states (its second line), or 0.
fn size_of_checkpoint(text: &str) -> u64 {
    text.lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or(0)
}

async fn inclusion(
    State(state): State<ApiState>,
    Path(log): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let code = log_code(&log)?;
    let seq = number(&params, "seq")?.ok_or_else(|| ApiError::bad("seq", "required"))?;
    let size = match number(&params, "size")? {
        Some(size) => size,
        None => checkpoint_size(&state, &code)?,
    };
    if seq >= size {
        return Err(ApiError::bad(
            "seq",
            format!("{seq} is not below the tree size {size}"),
        ));
    }
    let (leaf, proof) = state
        .ledger
        .leaf_with_inclusion_proof(&code, seq, size)
        .map_err(|e| ApiError::from_store(e, &code))?;
    Ok(Json(json!({
        "log": code.to_string(),
        "seq": seq,
        "tree_size": size,
        "leaf_hash": hex::encode(leaf),
        "proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
        "checkpoint": state.ledger.latest_checkpoint(&code).map_err(ApiError::internal)?,
    })))
}

async fn consistency(
    State(state): State<ApiState>,
    Path(log): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let code = log_code(&log)?;
    let from = number(&params, "from")?.ok_or_else(|| ApiError::bad("from", "required"))?;
    let to = match number(&params, "to")? {
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

/// `GET /v1/notices`: exposure notices of every log the node holds, newest first.
async fn notices(
    State(state): State<ApiState>,
    State(cache): State<Arc<notices::NoticeCache>>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let page = number(&params, "page")?.unwrap_or(1);
    let per_page = number(&params, "per_page")?.unwrap_or(20);
    if page == 0 {
        return Err(ApiError::bad("page", "pages count from 1"));
    }
    if per_page == 0 || per_page > 100 {
        return Err(ApiError::bad("per_page", "must be 1 to 100"));
    }
    let start = usize::try_from((page - 1).saturating_mul(per_page)).unwrap_or(usize::MAX);
    let end = usize::try_from(page.saturating_mul(per_page)).unwrap_or(usize::MAX);
    let (total, notices) = cache
        .page(&state.ledger, start, end)
        .map_err(ApiError::internal)?;
    Ok(Json(json!({
        "total": total,
        "page": page,
        "per_page": per_page,
        "notices": notices,
    })))
}

/// Longest search text `GET /v1/institutions` takes, in characters.
const MAX_SEARCH_CHARS: usize = 64;
/// Most institutions one search answers with.
const MAX_SEARCH_RESULTS: usize = 50;

/// `GET /v1/institutions?q=…`: institutions whose name contains the text or whose code
/// starts with it, in every log the node holds, by code (at most 50, with the total).
async fn search_institutions(
    State(state): State<ApiState>,
    State(directory): State<Arc<institutions::InstitutionDirectory>>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let q = params.get("q").map(|q| q.trim()).unwrap_or_default();
    if q.is_empty() {
        return Err(ApiError::bad(
            "q",
            "required: part of an institution's name, or the start of its code",
        ));
    }
    if q.chars().count() > MAX_SEARCH_CHARS {
        return Err(ApiError::bad(
            "q",
            format!("at most {MAX_SEARCH_CHARS} characters"),
        ));
    }
    // Off the async threads: a search may wait for the directory being read.
    let ledger = state.ledger.clone();
    let text = q.to_string();
    let (total, found) =
        tokio::task::spawn_blocking(move || directory.search(&ledger, &text, MAX_SEARCH_RESULTS))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
    Ok(Json(
        json!({ "q": q, "total": total, "institutions": found }),
    ))
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

/// `GET /v1/grades?period=2023`: grade sets and revisions of a period, in every log.
async fn grades(State(state): State<ApiState>, params: Params) -> ApiResult<Json<Value>> {
    let period = params
        .get("period")
        .cloned()
        .ok_or_else(|| ApiError::bad("period", "required, e.g. 2023 or 2023-H1"))?;
    // The period as a record carries it (SPEC.md §8.9), so that a typo is refused rather
    // than answered with an empty list.
    let period = yibao_schema::record::Period::parse(&period)
        .map_err(|e| ApiError::bad("period", e.to_string()))?
        .to_string();
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
    let (reply, answer) = tokio::sync::oneshot::channel();
    let queued = appender.submit_then(submission, move |result| {
        // A client that went away is not an error for the others.
        let _ = reply.send(result);
    });
    let answer = match queued {
        Ok(()) => answer.await.map_err(ApiError::internal)?,
        Err(e) => Err(e),
    };
    let receipt = match answer {
        Ok(r) => r,
        Err(AppendError::Storage(e)) => {
            // The node's fault (a full disk, say), not the submission's: the officer is
            // told it was not stored and may send it again; the operator's log has why.
            tracing::error!(error = %e, "a submission could not be stored");
            return Err(ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                field: "storage".into(),
                reason: "this node could not store the submission (its operator's log says \
                         why); it was not acknowledged, and submitting it again is safe"
                    .into(),
            });
        }
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
