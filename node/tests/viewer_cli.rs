//! `yibao viewer` as a real process: it prints its address, serves HTML pages, answers a
//! node that is down with a 502 and a write with a 405, and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use yibao_node::http_client::request;

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
