//! A minimal W3C WebDriver client for headless Chromium through Debian's `chromedriver`,
//! over the viewer's own HTTP/1.1 client: sessions, navigation, scripts, elements,
//! screenshots. Every wait has a deadline and says what it waited for.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};
use yibao_web_viewer::http_client;

/// How long a wait for the browser may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(60);

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How a session's browser is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A desktop window, scripts on.
    Desktop,
    /// A desktop window with JavaScript disabled.
    NoScript,
    /// A phone: 390 × 844 CSS pixels, device pixel ratio 2, touch.
    Phone,
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn missing(what: &str) -> ! {
    panic!(
        "{what} is not installed: run scripts/test, which installs Debian's `chromium` and \
         `chromium-driver` (apt-get install chromium chromium-driver) before the browser tests"
    )
}

/// A chromedriver process and one browser session in it; both end on drop.
pub struct Browser {
    driver: Child,
    url: String,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and a headless Chromium session.
    pub fn start(mode: Mode) -> Browser {
        let driver_path = find_program("chromedriver").unwrap_or_else(|| missing("chromedriver"));
        let chromium = find_program("chromium").unwrap_or_else(|| missing("chromium"));
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok((200, body)) = http_client::request(&url, "GET", "/status", None, &[]) {
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                if v["value"]["ready"].as_bool() == Some(true) {
                    break;
                }
            }
            if Instant::now() >= deadline {
                let _ = driver.kill();
                let _ = driver.wait();
                panic!("chromedriver did not become ready on {url} within {WAIT:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--lang=zh-CN".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut options = json!({ "binary": chromium.to_string_lossy() });
        match mode {
            Mode::Desktop => args.push("--window-size=1280,1400".into()),
            Mode::NoScript => {
                args.push("--window-size=1280,1400".into());
                args.push("--blink-settings=scriptEnabled=false".into());
            }
            Mode::Phone => {
                options["mobileEmulation"] = json!({
                    "deviceMetrics": { "width": 390, "height": 844, "pixelRatio": 2.0, "touch": true },
                    "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36"
                });
            }
        }
        options["args"] = json!(args);
        let mut browser = Browser {
            driver,
            url,
            session: String::new(),
            _profile: profile,
        };
        let created = browser.command(
            "POST",
            "/session",
            json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": options,
            }}}),
        );
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {created}"))
            .to_string();
        browser
    }

    /// One WebDriver command; its `value`, or a panic naming the command and the error.
    fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let body = if method == "GET" || method == "DELETE" {
            Vec::new()
        } else {
            serde_json::to_vec(&body).unwrap()
        };
        let (status, answer) = http_client::request(
            &self.url,
            method,
            path,
            Some("application/json; charset=utf-8"),
            &body,
        )
        .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e:#}"));
        let v: Value = serde_json::from_slice(&answer).unwrap_or_else(|_| {
            panic!(
                "WebDriver {method} {path}: {status}: {}",
                String::from_utf8_lossy(&answer)
            )
        });
        assert_eq!(status, 200, "WebDriver {method} {path}: {v}");
        v["value"].clone()
    }

    fn session_command(&self, method: &str, path: &str, body: Value) -> Value {
        self.command(method, &format!("/session/{}{path}", self.session), body)
    }

    /// Loads `url` (waits for the document to load).
    pub fn goto(&self, url: &str) {
        self.session_command("POST", "/url", json!({ "url": url }));
    }

    /// The current URL.
    pub fn current_url(&self) -> String {
        self.session_command("GET", "/url", Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Runs `script` (a function body) in the page and returns its value.
    pub fn run(&self, script: &str) -> Value {
        self.session_command(
            "POST",
            "/execute/sync",
            json!({ "script": script, "args": [] }),
        )
    }

    /// Runs `script` until it returns something other than null or false, or fails after
    /// [`WAIT`] with `what`.
    pub fn wait_for(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self.run(script);
            if !v.is_null() && v != Value::Bool(false) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "waited {WAIT:?} for {what} on {}",
                self.current_url()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The first element matching a CSS selector, if any.
    pub fn find(&self, css: &str) -> Option<String> {
        let list = self.session_command(
            "POST",
            "/elements",
            json!({ "using": "css selector", "value": css }),
        );
        list.as_array()
            .and_then(|a| a.first())
            .and_then(|e| e[ELEMENT].as_str())
            .map(str::to_string)
    }

    /// The rendered text of an element (empty for a hidden one), found by CSS selector.
    pub fn text(&self, css: &str) -> String {
        let id = self
            .find(css)
            .unwrap_or_else(|| panic!("no element `{css}` on {}", self.current_url()));
        self.session_command("GET", &format!("/element/{id}/text"), Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// An attribute of an element found by CSS selector.
    pub fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let id = self.find(css)?;
        self.session_command(
            "GET",
            &format!("/element/{id}/attribute/{name}"),
            Value::Null,
        )
        .as_str()
        .map(str::to_string)
    }

    /// Types into an element.
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self
            .find(css)
            .unwrap_or_else(|| panic!("no element `{css}`"));
        self.session_command(
            "POST",
            &format!("/element/{id}/value"),
            json!({ "text": text }),
        );
    }

    /// Clicks an element.
    pub fn click(&self, css: &str) {
        let id = self
            .find(css)
            .unwrap_or_else(|| panic!("no element `{css}`"));
        self.session_command("POST", &format!("/element/{id}/click"), json!({}));
    }

    /// The page's HTML as the browser holds it.
    pub fn source(&self) -> String {
        self.session_command("GET", "/source", Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Saves a PNG of the viewport under `target/screenshots/NAME.png`, prints and returns
    /// the path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let encoded = self.session_command("GET", "/screenshot", Value::Null);
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}: not a PNG");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, &png).unwrap();
        println!("screenshot: {}", path.display());
        path
    }
}

/// `$CARGO_TARGET_DIR/screenshots`, or the workspace's `target/screenshots`.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    target.join("screenshots")
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = http_client::request(
                &self.url,
                "DELETE",
                &format!("/session/{}", self.session),
                None,
                &[],
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
