//! The public, read-only web viewer of Yibao Ledger.
//!
//! A separate process that holds no keys and has no route that writes: it reads a node's
//! HTTP API through a [`Source`] and renders server-side HTML (Chinese first, English with
//! `?lang=en`). Every exposure notice shown on its own page is verified here first — leaf
//! hash recomputed from the signed entry bytes, inclusion proof against the checkpoint
//! root, checkpoint signature against the log's key — and its content is decoded from the
//! verified bytes, never from the node's JSON (`verify.rs`).
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod assets;
pub mod bundle;
mod cache;
pub mod display;
pub mod html;
pub mod http_client;
mod pages;
mod records;
mod relay;
pub mod verify;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::{header, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::Value;

use html::Lang;

/// The name the viewer shows in its page titles.
pub const VIEWER_TITLE: &str = "医保基金监管账本 · Yibao Ledger";

/// How long one read from the node may take.
pub const SOURCE_TIMEOUT: Duration = Duration::from_secs(20);

/// What a [`Source`] answers: the HTTP status and the body.
pub type SourceFuture<'a> =
    Pin<Box<dyn Future<Output = anyhow::Result<(u16, Vec<u8>)>> + Send + 'a>>;

/// Where the viewer reads from: a node's API. One method, GET only.
pub trait Source: Send + Sync {
    /// `GET path` (with its query), e.g. `/v1/notices?page=2`.
    fn get<'a>(&'a self, path: &'a str) -> SourceFuture<'a>;
}

/// A node reached over plain HTTP/1.1 (`http://host:port[/prefix]`).
#[derive(Debug, Clone)]
pub struct HttpSource {
    url: String,
}

impl HttpSource {
    /// A source for the node at `url`; the URL is checked now.
    pub fn new(url: String) -> anyhow::Result<HttpSource> {
        http_client::parse_url(&url)?;
        Ok(HttpSource { url })
    }
}

impl Source for HttpSource {
    fn get<'a>(&'a self, path: &'a str) -> SourceFuture<'a> {
        let url = self.url.clone();
        let path = path.to_string();
        Box::pin(async move {
            let call = tokio::task::spawn_blocking(move || {
                http_client::request(&url, "GET", &path, None, &[])
            });
            tokio::time::timeout(SOURCE_TIMEOUT, call)
                .await
                .context("the node did not answer in time")?
                .context("the request thread failed")?
        })
    }
}

/// The viewer's shared state.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) source: Arc<dyn Source>,
    /// Logs, checkpoints and verified entries kept between pages (`cache.rs`).
    pub(crate) cache: Arc<cache::Cache>,
}

/// A page that cannot be shown: a 4xx for a bad request, a 502 for a node that is down
/// or answers garbage. Rendered as an HTML page saying what is wrong.
#[derive(Debug)]
pub(crate) struct PageError {
    pub(crate) status: StatusCode,
    pub(crate) lang: Lang,
    pub(crate) message: String,
}

impl PageError {
    pub(crate) fn bad(lang: Lang, message: impl Into<String>) -> PageError {
        PageError {
            status: StatusCode::BAD_REQUEST,
            lang,
            message: message.into(),
        }
    }

    pub(crate) fn not_found(lang: Lang, message: impl Into<String>) -> PageError {
        PageError {
            status: StatusCode::NOT_FOUND,
            lang,
            message: message.into(),
        }
    }

    pub(crate) fn upstream(lang: Lang, message: impl Into<String>) -> PageError {
        PageError {
            status: StatusCode::BAD_GATEWAY,
            lang,
            message: message.into(),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let lang = self.lang;
        let heading = match self.status {
            StatusCode::BAD_GATEWAY => lang.t("账本节点不可用", "The ledger node is unavailable"),
            StatusCode::NOT_FOUND => lang.t("未找到", "Not found"),
            StatusCode::METHOD_NOT_ALLOWED => lang.t("不允许的请求方法", "Method not allowed"),
            _ => lang.t("请求有误", "Bad request"),
        };
        let body = format!(
            "<h1>{} ({})</h1><p class=\"error\">{}</p><p><a href=\"{}\">{}</a></p>",
            html::escape(heading),
            self.status.as_u16(),
            html::escape(&self.message),
            lang.href("/"),
            lang.t("返回曝光通报列表", "Back to the exposure notices"),
        );
        let mut response =
            (self.status, Html(html::page(lang, heading, "/", &body))).into_response();
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            response
                .headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
        }
        response
    }
}

/// What a node answered, as JSON; a transport failure or a body that is not JSON is a 502.
pub(crate) async fn fetch_json(
    source: &dyn Source,
    lang: Lang,
    path: &str,
) -> Result<(u16, Value), PageError> {
    let (status, body) = source.get(path).await.map_err(|e| {
        tracing::warn!(error = %e, path, "node read failed");
        PageError::upstream(lang, format!("GET {path}: {e:#}"))
    })?;
    if status >= 500 {
        return Err(PageError::upstream(
            lang,
            format!("GET {path}: the node answered {status}"),
        ));
    }
    let value: Value = serde_json::from_slice(&body).map_err(|_| {
        PageError::upstream(
            lang,
            format!("GET {path}: the node's answer ({status}) is not JSON"),
        )
    })?;
    Ok((status, value))
}

/// Like [`fetch_json`] but only a 200 is an answer; a 4xx becomes this viewer's 404 (for
/// a 404) or 400, with the node's reason.
pub(crate) async fn fetch_ok(
    source: &dyn Source,
    lang: Lang,
    path: &str,
) -> Result<Value, PageError> {
    let (status, value) = fetch_json(source, lang, path).await?;
    match status {
        200 => Ok(value),
        400..=499 => {
            // The node's reason is English: it is quoted after the viewer's own words.
            let reason = value["error"]["reason"].as_str().unwrap_or("refused");
            let quoted = |what: &str| match lang {
                Lang::Zh => format!("{what}（账本节点答复：{reason}）"),
                Lang::En => format!("{what} (the ledger node says: {reason})"),
            };
            if status == 404 {
                Err(PageError::not_found(
                    lang,
                    quoted(lang.t(
                        "账本节点上没有所查的记录",
                        "The ledger node has no such record",
                    )),
                ))
            } else {
                Err(PageError::bad(
                    lang,
                    quoted(lang.t(
                        "账本节点拒绝了这一查询",
                        "The ledger node refused the query",
                    )),
                ))
            }
        }
        other => Err(PageError::upstream(
            lang,
            format!("GET {path}: unexpected status {other}"),
        )),
    }
}

/// The viewer's router: GET pages only; any other method is a 405.
pub fn router(source: Arc<dyn Source>) -> Router {
    Router::new()
        .route("/", get(pages::index))
        .route("/notices/{log}/{seq}", get(pages::notice))
        .route("/entries/{log}/{seq}", get(pages::entry))
        .route("/institutions/{code}", get(pages::institution))
        .route("/counties/{code}", get(pages::county))
        .route("/search", get(pages::search))
        .route("/assets/{name}", get(assets::serve))
        .route("/data/entry/{log}/{seq}", get(relay::entry))
        .fallback(pages::unknown)
        .layer(axum::middleware::from_fn(read_only))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(AppState {
            source,
            cache: Arc::new(cache::Cache::default()),
        })
}

/// The Content-Security-Policy of every answer: scripts, styles and data from this origin
/// only, no inline script or style, no frames, forms only to this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Adds the security headers to every answer.
async fn security_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Refuses every method but GET and HEAD before routing: the viewer never writes.
async fn read_only(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if request.method() == Method::GET || request.method() == Method::HEAD {
        return next.run(request).await;
    }
    let lang = Lang::from_param(
        request
            .uri()
            .query()
            .filter(|q| q.split('&').any(|kv| kv == "lang=en"))
            .map(|_| "en"),
    );
    PageError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        lang,
        message: lang
            .t(
                "此页面只读：查看器没有任何写入功能。",
                "This viewer is read-only: it has no route that writes.",
            )
            .to_string(),
    }
    .into_response()
}

/// Serves the viewer of `source` (an [`HttpSource`] or a [`bundle::BundleSource`]) on
/// `listen`, printing `viewer: http://ADDR`, until Ctrl-C or SIGTERM.
pub async fn serve(source: Arc<dyn Source>, listen: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    println!("viewer: http://{addr}");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot watch SIGTERM")?;
    axum::serve(listener, router(source))
        .with_graceful_shutdown(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        })
        .await
        .context("the viewer's HTTP server failed")?;
    Ok(())
}
