//! A real browser for the console's tests: Debian's Chromium driven by its chromedriver over
//! the W3C WebDriver protocol (JSON over HTTP; the few commands the tests need, no client crate),
//! and a small HTTP client for requests a browser would not make (a form without its token).

#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One HTTP/1.1 exchange on loopback: (status, headers lower-cased, body).
pub fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    // Read the head, then exactly the body it announces: a server may keep the connection open.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let split = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break buf.len(),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let mut lines = head.lines();
    let code = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|c| c.parse().ok()).unwrap_or(0);
    let hs: Vec<(String, String)> = lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())).collect();
    let mut body = buf[split.min(buf.len())..].to_vec();
    let chunked = hs.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let length = hs.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse::<usize>().ok());
    loop {
        let done = match (chunked, length) {
            (true, _) => body.windows(5).any(|w| w == b"0\r\n\r\n"),
            (false, Some(n)) => body.len() >= n,
            (false, None) => false,
        };
        if done {
            break;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    if chunked {
        body = unchunk(&body);
    }
    (code, hs, body)
}

fn unchunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else { return out };
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).split(';').next().unwrap().trim(), 16).unwrap_or(0);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}

pub fn header<'a>(hs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    hs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Percent-encodes a form value.
pub fn form_enc(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// A console session opened over plain HTTP, as a script would: its cookie and CSRF token.
pub struct Login {
    pub port: u16,
    pub cookie: String,
    pub csrf: String,
}

impl Login {
    /// Logs in; None when the console refused (the status is in the panic message otherwise).
    pub fn new(port: u16, name: &str, password: &str) -> Result<Login, u16> {
        let body = format!("name={}&password={}", form_enc(name), form_enc(password));
        let (code, hs, _) = http(port, "POST", "/login", &[("Content-Type", "application/x-www-form-urlencoded")], body.as_bytes());
        if code != 303 {
            return Err(code);
        }
        let cookie = header(&hs, "set-cookie").expect("a session cookie").split(';').next().unwrap().to_string();
        let (_, _, page) = http(port, "GET", "/", &[("Cookie", &cookie)], b"");
        let page = String::from_utf8_lossy(&page).to_string();
        let csrf = page.split("name=\"csrf\" value=\"").nth(1).and_then(|r| r.split('"').next()).expect("every page carries the CSRF token in its logout form").to_string();
        Ok(Login { port, cookie, csrf })
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        let (code, _, body) = http(self.port, "GET", path, &[("Cookie", &self.cookie)], b"");
        (code, String::from_utf8_lossy(&body).to_string())
    }

    /// Posts a form (fields given as pairs); the CSRF token is added unless `with_token` is false.
    pub fn post(&self, path: &str, fields: &[(&str, &str)], with_token: bool) -> (u16, Vec<(String, String)>, String) {
        let mut parts: Vec<String> = fields.iter().map(|(k, v)| format!("{}={}", form_enc(k), form_enc(v))).collect();
        if with_token {
            parts.push(format!("csrf={}", self.csrf));
        }
        let (code, hs, body) = http(self.port, "POST", path, &[("Cookie", &self.cookie), ("Content-Type", "application/x-www-form-urlencoded")], parts.join("&").as_bytes());
        (code, hs, String::from_utf8_lossy(&body).to_string())
    }
}

/// chromedriver and one headless Chromium session.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    pub fn start(width: u32, height: u32) -> Browser {
        let port = super::free_port();
        let driver = Command::new(std::env::var("BAOCAO_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian chromium-driver) is installed: .ci/run installs it");
        let mut b = Browser { driver, port, session: String::new() };
        super::wait_until(30, "chromedriver", || TcpStream::connect(("127.0.0.1", port)).is_ok());
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": std::env::var("BAOCAO_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--lang=vi-VN", "--hide-scrollbars", "--force-device-scale-factor=1", format!("--window-size={width},{height}")],
        }}}});
        let v = b.call("POST", "/session", Some(caps));
        b.session = v["sessionId"].as_str().unwrap_or_else(|| panic!("a browser session: {v}")).to_string();
        b.call("POST", &format!("/session/{}/window/rect", b.session), Some(json!({"width": width, "height": height})));
        // Finding an element waits a little for a page still loading after a click.
        b.call("POST", &format!("/session/{}/timeouts", b.session), Some(json!({"implicit": 3000, "pageLoad": 30000})));
        b
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let (code, _, resp) = http(self.port, method, path, &[("Content-Type", "application/json")], body.as_bytes());
        let v: Value = serde_json::from_slice(&resp).unwrap_or(Value::Null);
        let v = v.get("value").cloned().unwrap_or(Value::Null);
        if code >= 400 {
            return json!({"error": v.get("error").cloned().unwrap_or(json!(code)), "message": v.get("message").cloned().unwrap_or(Value::Null)});
        }
        v
    }

    fn s(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    pub fn go(&self, url: &str) {
        self.call("POST", &self.s("/url"), Some(json!({"url": url})));
    }

    pub fn url(&self) -> String {
        self.call("GET", &self.s("/url"), None).as_str().unwrap_or("").to_string()
    }

    pub fn source(&self) -> String {
        self.call("GET", &self.s("/source"), None).as_str().unwrap_or("").to_string()
    }

    pub fn title(&self) -> String {
        self.call("GET", &self.s("/title"), None).as_str().unwrap_or("").to_string()
    }

    /// The element the CSS selector finds first; panics naming the selector when none does.
    pub fn find(&self, css: &str) -> String {
        self.try_find(css).unwrap_or_else(|| panic!("no element `{css}` on {}", self.url()))
    }

    pub fn try_find(&self, css: &str) -> Option<String> {
        let v = self.call("POST", &self.s("/element"), Some(json!({"using": "css selector", "value": css})));
        v.get(ELEMENT).and_then(|e| e.as_str()).map(str::to_string)
    }

    /// How many elements the selector finds now (no waiting: zero is an answer).
    pub fn count(&self, css: &str) -> usize {
        self.call("POST", &self.s("/elements"), Some(json!({"using": "css selector", "value": css}))).as_array().map(|a| a.len()).unwrap_or(0)
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.call("POST", &self.s(&format!("/element/{e}/value")), Some(json!({"text": text})));
    }

    pub fn click(&self, css: &str) {
        let e = self.find(css);
        let v = self.call("POST", &self.s(&format!("/element/{e}/click")), Some(json!({})));
        assert!(v.get("error").is_none(), "clicking `{css}`: {v}");
    }

    /// Waits (up to `secs`) until the page's address contains `part`: a form posted and
    /// redirected may still be loading when the click returns, on a busy machine.
    /// Waits until the element `css` says `needle` (a message of the page a click leads to,
    /// not the one still shown before the browser has followed it).
    pub fn wait_for_text(&self, css: &str, needle: &str, secs: u64) -> bool {
        let t0 = std::time::Instant::now();
        while t0.elapsed().as_secs() < secs {
            let script = format!("var e = document.querySelector({}); return e ? e.innerText : ''", serde_json::to_string(css).unwrap());
            if self.eval(&script).as_str().is_some_and(|t| t.contains(needle)) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        false
    }

    pub fn wait_for_url(&self, part: &str, secs: u64) -> bool {
        let t0 = std::time::Instant::now();
        while t0.elapsed().as_secs() < secs {
            if self.url().contains(part) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        self.url().contains(part)
    }

    /// Waits (up to `secs`) until the selector finds an element on the page.
    pub fn wait_for(&self, css: &str, secs: u64) -> bool {
        let t0 = std::time::Instant::now();
        while t0.elapsed().as_secs() < secs {
            if self.count(css) > 0 {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        self.count(css) > 0
    }

    pub fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.call("GET", &self.s(&format!("/element/{e}/text")), None).as_str().unwrap_or("").to_string()
    }

    /// The text of an open alert dialog, when a script managed to open one.
    pub fn alert(&self) -> Option<String> {
        let v = self.call("GET", &self.s("/alert/text"), None);
        v.as_str().map(str::to_string)
    }

    /// Runs a script in the page (WebDriver's own channel, which the page's CSP does not govern).
    pub fn eval(&self, script: &str) -> Value {
        self.call("POST", &self.s("/execute/sync"), Some(json!({"script": script, "args": []})))
    }

    pub fn resize(&self, width: u32, height: u32) {
        self.call("POST", &self.s("/window/rect"), Some(json!({"width": width, "height": height})));
    }

    /// A PNG of the whole page at the window's width.
    pub fn screenshot(&self, path: &std::path::Path) {
        let v = self.call(
            "POST",
            &self.s("/goog/cdp/execute"),
            Some(json!({"cmd": "Page.captureScreenshot", "params": {"format": "png", "captureBeyondViewport": true}})),
        );
        let data = v.get("data").and_then(|d| d.as_str()).map(str::to_string).unwrap_or_else(|| self.call("GET", &self.s("/screenshot"), None).as_str().unwrap_or("").to_string());
        use base64::Engine;
        let png = base64::engine::general_purpose::STANDARD.decode(data).expect("a base64 PNG");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }

    /// Logs in through the login page.
    pub fn login(&self, port: u16, name: &str, password: &str) {
        self.go(&format!("http://127.0.0.1:{port}/login"));
        self.type_into("input[name=name]", name);
        self.type_into("input[name=password]", password);
        self.click("form[action='/login'] button");
        // The post and its redirect may still be under way when the click returns.
        let t0 = std::time::Instant::now();
        while self.url().ends_with("/login") && t0.elapsed().as_secs() < 10 {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
