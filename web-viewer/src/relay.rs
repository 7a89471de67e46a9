//! `GET /data/entry/{log}/{seq}`: what the in-browser verifier (`assets/verify.js`) checks,
//! relayed from the source as it answered, without any judgement of the viewer's own:
//!
//! ```json
//! { "log": {…/v1/logs item…}, "logs": [{"log", "name", "vkey"}, …],
//!   "checkpoint": "<the log's latest signed note>",
//!   "entry": {…/v1/logs/LOG/entries/SEQ…},
//!   "inclusion": {…/v1/logs/LOG/proofs/inclusion?seq=SEQ&size=<checkpoint size>…} | null }
//! ```
//!
//! The browser trusts none of it: it checks the checkpoint against the log key shown on
//! the page, the entry against the checkpoint, and the record against the page.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::html::Lang;
use crate::{fetch_json, AppState};

fn error(status: StatusCode, reason: impl Into<String>) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({"error": {"reason": reason.into()}})),
    )
        .into_response()
}

/// The relay handler.
pub(crate) async fn entry(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    let Ok(Path((log, seq_text))) = path else {
        return error(StatusCode::BAD_REQUEST, "bad path");
    };
    if log.len() != 6 || !log.bytes().all(|b| b.is_ascii_digit()) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("log `{log}`: not a 6-digit division code"),
        );
    }
    let Ok(seq) = seq_text.parse::<u64>() else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("seq `{seq_text}`: not a whole number"),
        );
    };
    match gather(&state, &log, seq).await {
        Ok(value) => ([(header::CACHE_CONTROL, "no-store")], Json(value)).into_response(),
        Err((status, reason)) => error(status, reason),
    }
}

type Gathered = Result<Value, (StatusCode, String)>;

async fn read(state: &AppState, path: &str) -> Result<Value, (StatusCode, String)> {
    let (status, value) = fetch_json(&*state.source, Lang::En, path)
        .await
        .map_err(|e| (StatusCode::BAD_GATEWAY, e.message))?;
    match status {
        200 => Ok(value),
        404 => Err((StatusCode::NOT_FOUND, format!("GET {path}: not found"))),
        other => Err((
            StatusCode::BAD_GATEWAY,
            format!("GET {path}: the source answered {other}"),
        )),
    }
}

async fn gather(state: &AppState, log: &str, seq: u64) -> Gathered {
    let logs = read(state, "/v1/logs").await?;
    let list = logs["logs"].as_array().cloned().unwrap_or_default();
    let Some(info) = list
        .iter()
        .find(|l| l["log"].as_str() == Some(log))
        .cloned()
    else {
        return Err((
            StatusCode::NOT_FOUND,
            format!("the source holds no log {log}"),
        ));
    };
    let witnesses: Vec<Value> = list
        .iter()
        .map(|l| json!({"log": l["log"], "name": l["name"], "vkey": l["vkey"]}))
        .collect();
    let path = format!("/v1/logs/{log}/checkpoint");
    let (status, body) = state
        .source
        .get(&path)
        .await
        .map_err(|e| (StatusCode::BAD_GATEWAY, format!("GET {path}: {e:#}")))?;
    if status != 200 {
        return Err((
            StatusCode::BAD_GATEWAY,
            format!("GET {path}: the source answered {status}"),
        ));
    }
    let checkpoint = String::from_utf8(body)
        .map_err(|_| (StatusCode::BAD_GATEWAY, format!("GET {path}: not UTF-8")))?;
    // The size is only read here, to ask for a proof at it; the browser checks the rest.
    let size: u64 = checkpoint
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let entry = read(state, &format!("/v1/logs/{log}/entries/{seq}")).await?;
    let inclusion = if seq < size {
        read(
            state,
            &format!("/v1/logs/{log}/proofs/inclusion?seq={seq}&size={size}"),
        )
        .await?
    } else {
        Value::Null
    };
    let mut info = info;
    if let Some(map) = info.as_object_mut() {
        // The signed note travels once, as `checkpoint`.
        map.remove("checkpoint");
    }
    Ok(json!({
        "log": info,
        "logs": witnesses,
        "checkpoint": checkpoint,
        "entry": entry,
        "inclusion": inclusion,
    }))
}
