//! The viewer's static files: the style sheet and the in-browser verifier, compiled into
//! the binary and served under names that carry a hash of their content, so they can be
//! cached for a year (`immutable`) and a new build is fetched under a new name.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// The in-browser verifier (BLAKE3, RFC 9162 paths, signed notes, WebCrypto Ed25519).
pub const VERIFY_JS: &str = include_str!("../assets/verify.js");

/// The style sheet (responsive: readable on a phone).
pub const STYLE_CSS: &str = include_str!("../assets/style.css");

/// `stem.HASH.ext`, HASH the first 16 hex digits of the content's BLAKE3.
fn versioned(stem: &str, ext: &str, content: &str) -> String {
    let hash = blake3::hash(content.as_bytes()).to_hex();
    format!("{stem}.{}.{ext}", &hash.as_str()[..16])
}

static VERIFY_NAME: LazyLock<String> = LazyLock::new(|| versioned("verify", "js", VERIFY_JS));
static STYLE_NAME: LazyLock<String> = LazyLock::new(|| versioned("style", "css", STYLE_CSS));

/// The path the pages load the verifier from.
pub fn verify_js_path() -> String {
    format!("/assets/{}", *VERIFY_NAME)
}

/// The path the pages load the style sheet from.
pub fn style_css_path() -> String {
    format!("/assets/{}", *STYLE_NAME)
}

/// `GET /assets/{name}`: one of the two files under its current name, else a 404.
pub(crate) async fn serve(Path(name): Path<String>) -> Response {
    let (content, content_type) = if name == *VERIFY_NAME {
        (VERIFY_JS, "text/javascript; charset=utf-8")
    } else if name == *STYLE_NAME {
        (STYLE_CSS, "text/css; charset=utf-8")
    } else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "no such asset\n",
        )
            .into_response();
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        content,
    )
        .into_response()
}
