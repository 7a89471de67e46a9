//! `yibao viewer` as a real process: it prints its address, serves HTML pages, answers a
//! node that is down with a 502 and a write with a 405, and stops cleanly on SIGTERM; with
//! `--bundle` it serves a verified export bundle and refuses one that does not verify.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use yibao_ledger::keys::LogCode;
use yibao_ledger::store::Ledger;
use yibao_node::http_client::request;
use yibao_node::workload::build_ledger;
use yibao_schema::policy::Policy;

/// Kills the viewer if the test ends early.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn viewer_serves_pages_and_stops_on_sigterm() {
    // Port 1 on loopback: nothing listens there, so the node is "down".
    let mut child = Proc(
        Command::new(env!("CARGO_BIN_EXE_yibao"))
            .args([
                "viewer",
                "--source",
                "http://127.0.0.1:1",
                "--listen",
                "127.0.0.1:0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().strip_prefix("viewer: ").unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");

    let (status, body) = request(&url, "GET", "/", None, &[]).unwrap();
    let body = String::from_utf8(body).unwrap();
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("<!DOCTYPE html>") && body.contains("账本节点不可用"));

    let (status, _) = request(&url, "POST", "/", Some("text/plain"), b"x").unwrap();
    assert_eq!(status, 405);
    let (status, _) = request(&url, "GET", "/nope", None, &[]).unwrap();
    assert_eq!(status, 404);

    Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    let status = child.0.wait().unwrap();
    assert!(
        status.success(),
        "SIGTERM stops the viewer cleanly: {status}"
    );
}

/// A bundle of one generated county log (with exposure notices).
fn bundle_file(dir: &std::path::Path) -> std::path::PathBuf {
    let ledger = Ledger::open(&dir.join("ledger"), Policy::default()).unwrap();
    let code = LogCode::parse("141125").unwrap();
    build_ledger(&ledger, code, "柳林县医疗保障局", 1_200, 5).unwrap();
    let path = dir.join("county.bundle");
    let mut file = std::fs::File::create(&path).unwrap();
    yibao_ledger::bundle::export(&ledger, &[], &mut file).unwrap();
    ledger.close().unwrap();
    path
}

#[test]
fn viewer_serves_a_verified_bundle_and_refuses_a_tampered_one() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = bundle_file(dir.path());
    let mut child = Proc(
        Command::new(env!("CARGO_BIN_EXE_yibao"))
            .args(["viewer", "--bundle"])
            .arg(&bundle)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut out = BufReader::new(child.0.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(
        first.starts_with("bundle verified: 1 logs, 1200 entries"),
        "{first}"
    );
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("viewer: ").unwrap().to_string();

    let (status, body) = request(&url, "GET", "/", None, &[]).unwrap();
    let list = String::from_utf8(body).unwrap();
    assert_eq!(status, 200, "{list}");
    let link = list
        .split("href=\"/notices/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the bundle's notices are listed")
        .to_string();
    let (status, body) = request(&url, "GET", &format!("/notices/{link}"), None, &[]).unwrap();
    let page = String::from_utf8(body).unwrap();
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("class=\"badge ok\" id=\"verification\""),
        "{page}"
    );
    drop(child);

    // One flipped byte in the last entry: refused before serving anything.
    let mut bytes = std::fs::read(&bundle).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&bundle, &bytes).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_yibao"))
        .args(["viewer", "--bundle"])
        .arg(&bundle)
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("does not verify") || stderr.contains("cannot be read"),
        "{stderr}"
    );

    // A source is required, and only one.
    let output = Command::new(env!("CARGO_BIN_EXE_yibao"))
        .arg("viewer")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let output = Command::new(env!("CARGO_BIN_EXE_yibao"))
        .args(["viewer", "--source", "http://127.0.0.1:1", "--bundle"])
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot be used with"));
}
