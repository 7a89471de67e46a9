//! The viewer in real headless Chromium (Debian's `chromium` and `chromium-driver`, which
//! scripts/test installs), driven over WebDriver: the pages, search, the English switch,
//! the in-browser verification turning to verified, a source that lies only to the
//! browser shown as failed by the browser's own check, the no-JavaScript path, a phone's
//! width, and the BLAKE3 implementation against the Rust crate. Screenshots of the main
//! pages are kept under target/screenshots/.
//!
//! The tests fail (they do not skip) when chromedriver or chromium is missing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine;
use serde_json::Value;
use yibao_node::api::ApiState;
use yibao_web_viewer::{router, Source, SourceFuture};

mod common;
use common::webdriver::{Browser, Mode};
use common::{api_get, cosign, fixture, ApiSource, Fixture, COUNTY, WITNESS_BUREAU};

/// One browser at a time: the machine has two cores.
static ONE_BROWSER: Mutex<()> = Mutex::new(());

fn one_browser() -> MutexGuard<'static, ()> {
    ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner())
}

/// Serves the viewer of `source` on a loopback port (in a thread of its own) and returns
/// its URL.
fn serve(source: Arc<dyn Source>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, router(source)).await.unwrap();
        });
    });
    format!("http://{addr}")
}

fn honest(f: &Fixture) -> String {
    serve(Arc::new(ApiSource(f.state.clone())))
}

/// The newest notice of the first county, as the node lists it.
fn a_notice(f: &Fixture) -> Value {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_, body) = rt.block_on(api_get(&f.state, "/v1/notices?per_page=100"));
    let v: Value = serde_json::from_slice(&body).unwrap();
    v["notices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["log"] == COUNTY)
        .unwrap()
        .clone()
}

const BADGE_SETTLED: &str = "const b = document.getElementById('browser-verification'); \
     return b && b.dataset.state !== 'pending' ? b.dataset.state : null;";

/// Waits for the notice page's browser badge to settle; returns (state, text).
fn browser_verdict(b: &Browser) -> (String, String) {
    let state = b.wait_for("the in-browser verification to finish", BADGE_SETTLED);
    (
        state.as_str().unwrap_or_default().to_string(),
        b.text("#browser-verification"),
    )
}

#[test]
fn notice_list_and_county_page() {
    let _one = one_browser();
    let f = fixture();
    let url = honest(&f);
    let b = Browser::start(Mode::Desktop);
    b.goto(&format!("{url}/"));
    let rows = b.run("return document.querySelectorAll('#notices tbody tr').length;");
    assert_eq!(rows, 20, "20 notices on the first page");
    let counties = b.run("return document.querySelectorAll('#counties tbody tr').length;");
    assert_eq!(counties, 2, "both counties listed");
    let first = b
        .attribute("#notices tbody tr a[href^='/notices/']", "href")
        .unwrap();
    let newest = a_notice(&f);
    assert!(
        first.ends_with(&format!(
            "/notices/{}/{}",
            newest["log"].as_str().unwrap(),
            newest["seq"]
        )),
        "newest first: {first} vs {newest}"
    );
    assert!(b.text("h1").contains("曝光"));
    b.screenshot("index");
    b.click("a[rel=next]");
    assert!(b.current_url().ends_with("/?page=2"), "{}", b.current_url());
    b.goto(&format!("{url}/counties/{COUNTY}"));
    assert!(b.text("main").contains("检查点签名有效"));
    b.screenshot("county");
}

/// Serves the files of `dir` on a loopback port as any static web server would (`/` is
/// `index.html`), and returns its URL.
fn serve_files(dir: std::path::PathBuf) -> String {
    use axum::http::{header, StatusCode, Uri};
    use axum::response::IntoResponse;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let dir = dir.clone();
        async move {
            let path = match uri.path().trim_start_matches('/') {
                "" => "index.html".to_string(),
                p => p.to_string(),
            };
            let kind = match path.rsplit('.').next() {
                Some("html") => "text/html; charset=utf-8",
                Some("js") => "text/javascript; charset=utf-8",
                Some("css") => "text/css; charset=utf-8",
                Some("json") => "application/json",
                _ => "text/plain; charset=utf-8",
            };
            match std::fs::read(dir.join(&path)) {
                Ok(bytes) if !path.split('/').any(|c| c == "..") => {
                    ([(header::CONTENT_TYPE, kind)], bytes).into_response()
                }
                _ => StatusCode::NOT_FOUND.into_response(),
            }
        }
    });
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{addr}")
}

const ROWS_SETTLED: &str = "const s = Array.from(document.querySelectorAll('tr.browser-check [data-role=badge]'), e => e.dataset.state); \
     return s.length && !s.includes('pending') ? s : null;";

/// `yibao publish` writes static files that a plain web server serves; the page lists
/// every notice and the browser checks each one from the files alone, and catches a
/// tampered proof file and a page whose text differs from the signed record.
#[test]
fn a_publication_is_verified_in_the_browser_from_its_files_alone() {
    let _one = one_browser();
    let f = fixture();
    cosign(&f);
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("site");
    let count = yibao_node::publish::publish(&f.state.ledger, &out).unwrap();
    assert!(count > 2, "the fixture publishes several notices");
    let url = serve_files(out.clone());
    let b = Browser::start(Mode::Desktop);
    b.goto(&format!("{url}/"));
    let states = b.wait_for("every published notice's browser check", ROWS_SETTLED);
    let states: Vec<String> = serde_json::from_value(states).unwrap();
    assert_eq!(states.len(), count);
    assert!(
        states.iter().all(|s| s == "ok"),
        "{states:?}: {}",
        b.text("tbody")
    );
    assert!(b.text("tbody").contains("浏览器已验证"));
    b.screenshot("publication");

    // The first row's proof file with one hash changed; the second row's title changed
    // on the page only.
    let listed: Value =
        serde_json::from_slice(&std::fs::read(out.join("notices.json")).unwrap()).unwrap();
    let first = listed["notices"][0]["file"].as_str().unwrap().to_string();
    let mut notice: Value =
        serde_json::from_slice(&std::fs::read(out.join(&first)).unwrap()).unwrap();
    let hash = notice["proof"][0].as_str().unwrap().to_string();
    let flipped = format!(
        "{}{}",
        if hash.starts_with('0') { "1" } else { "0" },
        &hash[1..]
    );
    notice["proof"][0] = Value::String(flipped);
    std::fs::write(out.join(&first), serde_json::to_vec(&notice).unwrap()).unwrap();
    let title = listed["notices"][1]["title"].as_str().unwrap();
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    let cell = format!("<td data-field=\"title\">{title}</td>");
    assert!(page.contains(&cell), "the second row's title cell");
    let page = page.replacen(&cell, "<td data-field=\"title\">已整改完毕，无违规</td>", 1);
    std::fs::write(out.join("index.html"), page).unwrap();

    b.goto(&format!("{url}/index.html"));
    let states = b.wait_for("the browser checks after tampering", ROWS_SETTLED);
    let states: Vec<String> = serde_json::from_value(states).unwrap();
    let texts = b.run(
        "return Array.from(document.querySelectorAll('tr.browser-check [data-role=badge]'), e => e.textContent);",
    );
    let texts: Vec<String> = serde_json::from_value(texts).unwrap();
    assert_eq!(states[0], "bad", "{}", texts[0]);
    assert!(texts[0].contains("包含证明"), "{}", texts[0]);
    assert_eq!(states[1], "bad", "{}", texts[1]);
    assert!(texts[1].contains("title"), "{}", texts[1]);
    assert!(states[2..].iter().all(|s| s == "ok"), "{states:?}");
}

#[test]
fn search_from_the_header() {
    let _one = one_browser();
    let f = fixture();
    let url = honest(&f);
    let n = a_notice(&f);
    let name = n["record"]["institution"]["name"].as_str().unwrap();
    let code = n["record"]["institution"]["code"].as_str().unwrap();
    let b = Browser::start(Mode::Desktop);
    b.goto(&format!("{url}/"));
    b.type_into("header form.search input[name=q]", name);
    b.click("header form.search button");
    b.wait_for(
        "the search results page",
        "return location.pathname === '/search' ? true : null;",
    );
    let link = format!("a[href='/institutions/{code}']");
    assert!(b.find(&link).is_some(), "{}", b.source());
    assert!(b.text("main").contains(name));
    b.screenshot("search");
    b.goto(&format!(
        "{url}/search?q=%E4%B8%8D%E5%AD%98%E5%9C%A8%E7%9A%84%E6%9C%BA%E6%9E%84"
    ));
    assert!(b.text("#no-results").contains("不存在的机构"));
}

#[test]
fn institution_page_grade_rows_verified_in_the_browser() {
    let _one = one_browser();
    let f = fixture();
    let url = honest(&f);
    let code = a_notice(&f)["record"]["institution"]["code"]
        .as_str()
        .unwrap()
        .to_string();
    let b = Browser::start(Mode::Desktop);
    b.goto(&format!("{url}/institutions/{code}"));
    let states = b.wait_for("every grade row's browser check", ROWS_SETTLED);
    let states: Vec<&str> = states
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(states.len() >= 4, "grades of 2021–2024: {states:?}");
    assert!(states.iter().all(|s| *s == "ok"), "{states:?}");
    assert!(b.text("#grades").contains("浏览器已验证"));
    b.screenshot("institution");
    // The records of its cases open as pages the browser verifies too: a finding (its amount
    // in yuan) and a decision (its totals).
    for kind in ["finding", "decision"] {
        b.goto(&format!("{url}/institutions/{code}"));
        b.click(&format!("tr[data-kind={kind}] a"));
        let (state, text) = browser_verdict(&b);
        assert_eq!(state, "ok", "{kind}: {text}");
        assert!(b.current_url().contains("/entries/"), "{}", b.current_url());
        b.screenshot(kind);
    }
}

#[test]
fn notice_verified_in_the_browser_with_cosignatures_and_english_switch() {
    let _one = one_browser();
    let f = fixture();
    cosign(&f);
    let url = honest(&f);
    let n = a_notice(&f);
    let b = Browser::start(Mode::Desktop);
    b.goto(&format!("{url}/notices/{COUNTY}/{}", n["seq"]));
    // The server's verification, then the browser's.
    assert!(b.text("#verification").contains("已核验"));
    let (state, text) = browser_verdict(&b);
    assert_eq!(state, "ok", "{text}");
    assert!(text.contains("浏览器已验证"), "{text}");
    let cosigs = b.text("#browser-cosignatures");
    assert!(
        cosigs.contains(&format!("✔ {WITNESS_BUREAU}")),
        "the known witness's cosignature checks: {cosigs}"
    );
    assert!(cosigs.contains("未知见证方"), "{cosigs}");
    assert!(
        b.text("main").contains(&format!("✔ {WITNESS_BUREAU}")),
        "the server checked it too"
    );
    b.screenshot("notice");

    // The English switch keeps the page and verifies again in English.
    b.click("nav.lang a");
    assert!(b.current_url().ends_with("?lang=en"), "{}", b.current_url());
    assert_eq!(b.run("return document.documentElement.lang;"), "en");
    let (state, text) = browser_verdict(&b);
    assert_eq!(state, "ok", "{text}");
    assert!(text.contains("verified in your browser"), "{text}");
    assert!(b.text("main").contains("Amount involved"));
    b.screenshot("notice-en");
    // Links keep the language.
    b.click("header a.home");
    assert!(
        b.current_url().ends_with("/?lang=en"),
        "{}",
        b.current_url()
    );
    assert!(b.text("h1").contains("Exposure notices"));
}

/// What a lying source changes, for the browser only.
#[derive(Clone, Copy)]
enum Lie {
    /// The first hash of the inclusion proof.
    Proof,
    /// The root line of the checkpoint.
    Checkpoint,
    /// A broken cosignature by the known witness.
    Cosignature,
    /// Another (valid, signed) entry in place of the one asked for.
    OtherEntry(u64),
}

/// A node that answers each path honestly the first time — when the viewer's server
/// verifies the page — and lies on every later read of it, which is the relay's read for
/// the browser. The server's check passes; only the browser's own check can catch it.
struct SplitView {
    state: ApiState,
    lie: Lie,
    reads: Mutex<HashMap<String, u32>>,
}

impl Source for SplitView {
    fn get<'a>(&'a self, path: &'a str) -> SourceFuture<'a> {
        Box::pin(async move {
            let read = {
                let mut reads = self.reads.lock().unwrap();
                let n = reads.entry(path.to_string()).or_insert(0);
                *n += 1;
                *n
            };
            let lying = read >= 2;
            match self.lie {
                Lie::OtherEntry(other) if lying && path.contains("/entries/") => {
                    return Ok(
                        api_get(&self.state, &format!("/v1/logs/{COUNTY}/entries/{other}")).await,
                    )
                }
                _ => {}
            }
            let (status, mut body) = api_get(&self.state, path).await;
            match self.lie {
                Lie::Proof if lying && path.contains("/proofs/inclusion") => {
                    let mut v: Value = serde_json::from_slice(&body).unwrap();
                    let first = v["proof"][0].as_str().unwrap().to_string();
                    let flipped = if first.starts_with('0') { "1" } else { "0" };
                    v["proof"][0] = Value::String(format!("{flipped}{}", &first[1..]));
                    body = serde_json::to_vec(&v).unwrap();
                }
                Lie::Cosignature if lying && path.ends_with("/checkpoint") => {
                    let text = String::from_utf8(body).unwrap();
                    body = common::break_cosignature(&text).into_bytes();
                }
                Lie::Checkpoint if lying && path.ends_with("/checkpoint") => {
                    let text = String::from_utf8(body).unwrap();
                    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
                    let root = base64::engine::general_purpose::STANDARD
                        .decode(&lines[2])
                        .unwrap();
                    let mut other = root.clone();
                    other[0] ^= 1;
                    lines[2] = base64::engine::general_purpose::STANDARD.encode(other);
                    body = (lines.join("\n") + "\n").into_bytes();
                }
                _ => {}
            }
            Ok((status, body))
        })
    }
}

#[test]
fn a_source_lying_to_the_browser_is_caught_by_the_browser() {
    let _one = one_browser();
    let f = fixture();
    cosign(&f);
    let n = a_notice(&f);
    let seq = n["seq"].as_u64().unwrap();
    let b = Browser::start(Mode::Desktop);
    for (lie, name, expected) in [
        (Lie::Cosignature, "cosignature", "见证联署"),
        (Lie::Proof, "proof", "包含证明"),
        (Lie::Checkpoint, "checkpoint", "检查点签名"),
        (Lie::OtherEntry(seq - 1), "entry", "条目字节"),
    ] {
        let url = serve(Arc::new(SplitView {
            state: f.state.clone(),
            lie,
            reads: Mutex::new(HashMap::new()),
        }));
        b.goto(&format!("{url}/notices/{COUNTY}/{seq}"));
        // The server saw honest data and says so.
        let server = b.attribute("#verification", "class").unwrap();
        assert!(server.contains("ok"), "{name}: server badge {server}");
        let (state, text) = browser_verdict(&b);
        assert_eq!(state, "bad", "{name}: {text}");
        assert!(text.contains("浏览器核验失败"), "{name}: {text}");
        assert!(
            text.contains(expected),
            "{name}: the failure names {expected}: {text}"
        );
        if name == "proof" {
            b.screenshot("notice-tampered-proof");
        }
    }
}

#[test]
fn without_javascript_the_server_verification_is_shown() {
    let _one = one_browser();
    let f = fixture();
    let url = honest(&f);
    let n = a_notice(&f);
    let b = Browser::start(Mode::NoScript);
    b.goto(&format!("{url}/notices/{COUNTY}/{}", n["seq"]));
    assert!(b.text("#verification").contains("已核验"));
    assert_eq!(
        b.text("#browser-check"),
        "",
        "the in-browser section stays hidden without scripts"
    );
    assert!(b.text("#no-script").contains("服务器端核验"));
    assert!(b
        .text("main")
        .contains(n["record"]["title"].as_str().unwrap()));
    b.screenshot("notice-noscript");
    // Search works without scripts too (a plain form).
    b.goto(&format!("{url}/search?q={COUNTY}"));
    assert!(b.find(&format!("a[href='/counties/{COUNTY}']")).is_some());
}

#[test]
fn pages_fit_a_phone() {
    let _one = one_browser();
    let f = fixture();
    let url = honest(&f);
    let n = a_notice(&f);
    let code = n["record"]["institution"]["code"]
        .as_str()
        .unwrap()
        .to_string();
    let b = Browser::start(Mode::Phone);
    let fits = "return [document.documentElement.scrollWidth, window.innerWidth];";
    for (path, name) in [
        ("/".to_string(), "phone-index"),
        (format!("/notices/{COUNTY}/{}", n["seq"]), "phone-notice"),
        (format!("/institutions/{code}"), "phone-institution"),
    ] {
        b.goto(&format!("{url}{path}"));
        let size = b.run(fits);
        let (scroll, inner) = (size[0].as_u64().unwrap(), size[1].as_u64().unwrap());
        assert_eq!(inner, 390, "{name}: the phone's viewport (viewport meta)");
        assert!(
            scroll <= inner,
            "{name}: the page is {scroll}px wide on a {inner}px screen"
        );
        if name == "phone-notice" {
            let (state, text) = browser_verdict(&b);
            assert_eq!(state, "ok", "{text}");
        }
        b.screenshot(name);
    }
}

#[test]
fn blake3_and_key_checks_in_the_browser_match_rust() {
    let _one = one_browser();
    let f = fixture();
    let url = honest(&f);
    let b = Browser::start(Mode::Desktop);
    b.goto(&format!("{url}/"));
    // The official test-vector input: bytes 0, 1, …, 250, 0, 1, … of these lengths.
    let lengths = [
        0usize, 1, 2, 3, 63, 64, 65, 127, 128, 129, 1023, 1024, 1025, 2048, 2049, 3072, 3073, 4096,
        4097, 5120, 5121, 6144, 6145, 7168, 7169, 8192, 8193, 16384, 31744, 102400,
    ];
    let got = b.run(&format!(
        "return {lengths:?}.map(n => YibaoVerify.hex(YibaoVerify.blake3(Uint8Array.from({{length: n}}, (_, i) => i % 251))));"
    ));
    for (i, n) in lengths.iter().enumerate() {
        let input: Vec<u8> = (0..*n).map(|i| (i % 251) as u8).collect();
        assert_eq!(
            got[i].as_str().unwrap(),
            blake3::hash(&input).to_hex().as_str(),
            "BLAKE3 of {n} bytes"
        );
    }
    // The leaf hash and an audit path, against the ledger's own Merkle code.
    use yibao_ledger::merkle::{Blake3Hasher, LeafIndex, MemoryTree, TreeSize};
    let leaves: Vec<Vec<u8>> = (0..13u8).map(|i| vec![i; usize::from(i) * 100]).collect();
    let tree = MemoryTree::<Blake3Hasher>::from_leaf_data(&leaves);
    for (index, size) in [(0u64, 1u64), (5, 13), (12, 13), (7, 8)] {
        let proof: Vec<String> = tree
            .inclusion_proof(LeafIndex(index), TreeSize(size))
            .unwrap()
            .iter()
            .map(hex::encode)
            .collect();
        let root = hex::encode(tree.reference_root(TreeSize(size)).unwrap());
        let leaf = &leaves[index as usize];
        let got = b.run(&format!(
            "const leaf = YibaoVerify.leafHash(Uint8Array.from({leaf:?})); \
             const path = {proof:?}.map(h => Uint8Array.from(h.match(/../g), x => parseInt(x, 16))); \
             return YibaoVerify.hex(YibaoVerify.rootFromInclusion(leaf, {index}n, {size}n, path));"
        ));
        assert_eq!(got.as_str().unwrap(), root, "leaf {index} of {size}");
    }
    // Keys: a real one passes; the identity (small order) and a non-canonical y do not.
    let key = yibao_node::workload::Officers::from_seed(1).bureau;
    let good = key.verifying_key().to_bytes();
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let checks = b.run(&format!(
        "return [{:?}, {:?}, {:?}].map(k => YibaoVerify.keyProblem(Uint8Array.from(k)));",
        good, identity, [0xffu8; 32]
    ));
    assert_eq!(checks[0], Value::Null, "{checks}");
    assert_eq!(checks[1], "a key of small order", "{checks}");
    assert_eq!(checks[2], "not a canonical curve point", "{checks}");
}
