//! How `baocao` logs in to the office's mail servers: a password (from an environment variable
//! or a command such as a secret store's), or an OAuth2 access token for SASL `XOAUTH2` or
//! `OAUTHBEARER` — what Microsoft 365 and Gmail want once password logins are switched off.
//!
//! A token comes from a command the operator configures (`token_command`: any provider's tool
//! fits, the way msmtp's `passwordeval` and isync's `PassCmd` work), or from a refresh token
//! exchanged at the provider's token URL (RFC 6749 §6). Either way it is kept in memory until
//! shortly before it expires, and forgotten at once when a server refuses it, so the next login
//! asks for a fresh one: an expired token costs one refused attempt, never a stuck daemon.
//!
//! The one place outside `parse/` that runs other programs, and the only HTTP client: a small
//! one, for one form POST to the token URL (TLS through [`crate::tls`]; plain HTTP only to
//! loopback, like every other login here).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How a server is logged in to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// A password for `LOGIN` (IMAP) or `AUTH PLAIN`/`LOGIN` (SMTP).
    Password(Secret),
    /// An OAuth2 access token, sent with this SASL mechanism.
    OAuth2 { mechanism: Mechanism, token: TokenSource },
}

/// The SASL mechanisms that carry a bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// Google's and Microsoft's `XOAUTH2`.
    XOAuth2,
    /// RFC 7628 `OAUTHBEARER`.
    OAuthBearer,
}

impl Mechanism {
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// The client's first (and only) SASL message.
    pub fn initial_response(self, user: &str, token: &str, host: &str, port: u16) -> String {
        match self {
            Mechanism::XOAuth2 => format!("user={user}\x01auth=Bearer {token}\x01\x01"),
            Mechanism::OAuthBearer => format!("n,a={},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01", user.replace('=', "=3D").replace(',', "=2C")),
        }
    }
}

/// A secret read when it is needed, never from the config file itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// An environment variable's value.
    Env(String),
    /// The first line a command (run with `sh -c`) prints.
    Command(String),
}

/// Where access tokens come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// A command printing the token, or a JSON object with `access_token` and `expires_in`.
    Command(String),
    /// A refresh token exchanged at the provider's token URL.
    Refresh { url: String, client_id: String, client_secret: Option<Secret>, refresh_token: Secret, scope: Option<String> },
}

impl TokenSource {
    /// What the operator reads in a message: where the token came from, never the token.
    pub fn describe(&self) -> String {
        match self {
            TokenSource::Command(_) => "token from token_command".into(),
            TokenSource::Refresh { url, .. } => format!("token refreshed at {url}"),
        }
    }

    fn cache_key(&self) -> String {
        match self {
            TokenSource::Command(c) => format!("command:{c}"),
            TokenSource::Refresh { url, client_id, refresh_token, .. } => format!("refresh:{url}:{client_id}:{refresh_token:?}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the environment variable {0} is not set")]
    Unset(String),
    #[error("`{command}` {why}")]
    Command { command: String, why: String },
    #[error("the token URL {url}: {why}")]
    TokenUrl { url: String, why: String },
}

/// How long a token whose lifetime nobody said is used: providers' tokens last an hour.
const UNSAID_LIFETIME: Duration = Duration::from_secs(50 * 60);
/// A token this close to its end is not handed out: a login takes a while.
const MARGIN: Duration = Duration::from_secs(60);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The tokens got lately, by source: one process (the daemon) logs in to IMAP and SMTP many
/// times an hour.
fn cache() -> &'static Mutex<HashMap<String, (String, Instant)>> {
    static CACHE: std::sync::OnceLock<Mutex<HashMap<String, (String, Instant)>>> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Reads a secret now.
pub async fn reveal(s: &Secret) -> Result<String, SecretError> {
    match s {
        Secret::Env(v) => std::env::var(v).map_err(|_| SecretError::Unset(v.clone())),
        Secret::Command(c) => {
            let out = run(c).await?;
            Ok(out.lines().next().unwrap_or("").trim_end_matches('\r').to_string())
        }
    }
}

/// An access token: the one kept, unless it is about to expire, or a fresh one.
pub async fn token(src: &TokenSource) -> Result<String, SecretError> {
    let key = src.cache_key();
    if let Some((t, until)) = cache().lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        if Instant::now() + MARGIN < *until {
            return Ok(t.clone());
        }
    }
    let (t, lifetime) = match src {
        TokenSource::Command(c) => read_token(&run(c).await?).map_err(|why| SecretError::Command { command: c.clone(), why })?,
        TokenSource::Refresh { url, client_id, client_secret, refresh_token, scope } => {
            let mut form = vec![("grant_type", "refresh_token".to_string()), ("refresh_token", reveal(refresh_token).await?), ("client_id", client_id.clone())];
            if let Some(s) = client_secret {
                form.push(("client_secret", reveal(s).await?));
            }
            if let Some(s) = scope {
                form.push(("scope", s.clone()));
            }
            let (status, body) = post_form(url, &form).await.map_err(|why| SecretError::TokenUrl { url: url.clone(), why })?;
            exchange_answer(status, &body).map_err(|why| SecretError::TokenUrl { url: url.clone(), why })?
        }
    };
    cache().lock().unwrap_or_else(|e| e.into_inner()).insert(key, (t.clone(), Instant::now() + lifetime.unwrap_or(UNSAID_LIFETIME)));
    Ok(t)
}

/// Forgets `token` from `src` (a server refused it): the next login gets a fresh one. Returns
/// whether it was the one kept.
pub fn forget(src: &TokenSource, token: &str) -> bool {
    let mut c = cache().lock().unwrap_or_else(|e| e.into_inner());
    let key = src.cache_key();
    if c.get(&key).is_some_and(|(t, _)| t == token) {
        c.remove(&key);
        return true;
    }
    false
}

/// A token command's output: the token on the first line, or a JSON object with
/// `access_token` (and `expires_in` seconds), as `oauth2l fetch --output_format json` and
/// similar tools print.
fn read_token(out: &str) -> Result<(String, Option<Duration>), String> {
    let t = out.trim();
    if t.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(t).map_err(|e| format!("printed JSON that cannot be read: {e}"))?;
        let token = v["access_token"].as_str().filter(|s| !s.is_empty()).ok_or("printed JSON without an access_token")?;
        return Ok((token.to_string(), lifetime(&v)));
    }
    let token = t.lines().next().unwrap_or("").trim();
    if token.is_empty() {
        return Err("printed no token".into());
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("printed something that is not a token (spaces in it)".into());
    }
    Ok((token.to_string(), None))
}

fn lifetime(v: &serde_json::Value) -> Option<Duration> {
    let s = v["expires_in"].as_u64().or_else(|| v["expires_in"].as_str().and_then(|s| s.parse().ok()))?;
    Some(Duration::from_secs(s))
}

/// The token endpoint's answer (RFC 6749 §5.1, §5.2).
fn exchange_answer(status: u16, body: &[u8]) -> Result<(String, Option<Duration>), String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| format!("answered {status} with something that is not JSON: {}", String::from_utf8_lossy(&body[..body.len().min(200)])))?;
    if status != 200 || v.get("error").is_some() {
        let err = v["error"].as_str().unwrap_or("no error code");
        let desc = v["error_description"].as_str().map(|d| format!(" ({d})")).unwrap_or_default();
        let hint = if err == "invalid_grant" { "; the refresh token was revoked or has expired: make a new one (deploy/RUNBOOK.md)" } else { "" };
        return Err(format!("refused the refresh token ({status}): {err}{desc}{hint}"));
    }
    let token = v["access_token"].as_str().filter(|s| !s.is_empty()).ok_or_else(|| format!("answered {status} without an access_token"))?;
    Ok((token.to_string(), lifetime(&v)))
}

/// Runs an operator's command (`sh -c`), its standard output as text; within a time limit.
async fn run(command: &str) -> Result<String, SecretError> {
    let fail = |why: String| SecretError::Command { command: command.to_string(), why };
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| fail(format!("cannot be started: {e}")))?;
    let out = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| fail(format!("did not finish within {COMMAND_TIMEOUT:?}")))?
        .map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
        return Err(fail(format!("failed ({}){}", out.status, if first.is_empty() { String::new() } else { format!(": {first}") })));
    }
    String::from_utf8(out.stdout).map_err(|_| fail("printed something that is not UTF-8".into()))
}

fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// One `application/x-www-form-urlencoded` POST: (status, body).
async fn post_form(url: &str, form: &[(&str, String)]) -> Result<(u16, Vec<u8>), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (tls, rest) = match url.split_once("://") {
        Some(("https", r)) => (true, r),
        Some(("http", r)) => (false, r),
        _ => return Err("is not an http(s):// URL".into()),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || p.parse::<u16>().is_ok() => (h.trim_matches(['[', ']']), p.parse::<u16>().map_err(|_| format!("bad port `{p}`"))?),
        _ => (authority.trim_matches(['[', ']']), if tls { 443 } else { 80 }),
    };
    if !tls && !crate::tls::is_loopback(host) {
        return Err("plain http is allowed only to this machine; use https".into());
    }
    let body = form.iter().map(|(k, v)| format!("{k}={}", form_encode(v))).collect::<Vec<_>>().join("&");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: baocao\r\nAccept: application/json\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect((host, port)).await.map_err(|e| format!("cannot connect: {e}"))?;
        let mut io: Box<dyn crate::tls::Io> = Box::new(tcp);
        if tls {
            io = crate::tls::wrap(host, io, None).await?;
        }
        io.write_all(request.as_bytes()).await.map_err(|e| format!("writing: {e}"))?;
        let mut raw = Vec::new();
        // An answer larger than this is not a token.
        io.take(1 << 20).read_to_end(&mut raw).await.map_err(|e| format!("reading: {e}"))?;
        Ok::<_, String>(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(30), exchange).await.map_err(|_| "no answer within 30 s".to_string())??;
    parse_response(&raw)
}

/// An HTTP/1.1 response read to its end: (status, body), chunked or not.
fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("the answer has no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|c| c.parse().ok()).ok_or("the answer is not HTTP")?;
    let chunked = lines.any(|l| l.to_ascii_lowercase().replace(' ', "").starts_with("transfer-encoding:") && l.to_ascii_lowercase().contains("chunked"));
    let mut body = raw[end + 4..].to_vec();
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest.windows(2).position(|w| w == b"\r\n").ok_or("a chunk without its size line")?;
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..nl]).split(';').next().unwrap_or("").trim(), 16).map_err(|_| "a bad chunk size")?;
            rest = &rest[nl + 2..];
            if size == 0 {
                break;
            }
            if rest.len() < size {
                return Err("the answer ended inside a chunk".into());
            }
            out.extend_from_slice(&rest[..size]);
            rest = rest.get(size + 2..).unwrap_or(&[]);
        }
        body = out;
    }
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sasl_messages_are_as_the_providers_and_rfc_7628_write_them() {
        assert_eq!(Mechanism::XOAuth2.initial_response("vp@x.vn", "ya29.a", "h", 993), "user=vp@x.vn\x01auth=Bearer ya29.a\x01\x01");
        assert_eq!(
            Mechanism::OAuthBearer.initial_response("a=b,c@x.vn", "tok", "imap.x.vn", 993),
            "n,a=a=3Db=2Cc@x.vn,\x01host=imap.x.vn\x01port=993\x01auth=Bearer tok\x01\x01"
        );
    }

    #[test]
    fn a_token_command_may_print_the_token_or_json_with_its_lifetime() {
        assert_eq!(read_token("ya29.abc\n").unwrap(), ("ya29.abc".to_string(), None));
        assert_eq!(read_token("{\"access_token\": \"t1\", \"expires_in\": 3599}").unwrap(), ("t1".to_string(), Some(Duration::from_secs(3599))));
        assert!(read_token("\n").unwrap_err().contains("no token"));
        assert!(read_token("Error: not logged in").unwrap_err().contains("not a token"));
        assert!(read_token("{\"error\": \"x\"}").unwrap_err().contains("access_token"));
    }

    #[test]
    fn the_token_endpoint_s_refusal_is_told_with_its_words() {
        let e = exchange_answer(400, br#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#).unwrap_err();
        assert!(e.contains("invalid_grant") && e.contains("expired or revoked") && e.contains("RUNBOOK"), "{e}");
        assert_eq!(exchange_answer(200, br#"{"access_token":"a","expires_in":"60"}"#).unwrap(), ("a".into(), Some(Duration::from_secs(60))));
        assert!(exchange_answer(502, b"<html>Bad gateway</html>").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn http_answers_are_read_whole_or_chunked() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"a\":1}";
        assert_eq!(parse_response(plain).unwrap(), (200, b"{\"a\":1}".to_vec()));
        let chunked = b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3;x=y\r\n:1}\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), (400, b"{\"a\":1}".to_vec()));
        assert!(parse_response(b"garbage").is_err());
    }

    #[test]
    fn form_values_are_encoded() {
        assert_eq!(form_encode("1//0g-x y&z=ê"), "1%2F%2F0g-x+y%26z%3D%C3%AA");
    }

    #[tokio::test]
    async fn a_token_is_kept_until_a_server_refuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let n = dir.path().join("n");
        // Each run prints a new token: tok1, tok2, …
        let cmd = format!("n=$(cat {0} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {0}; echo tok$n", n.display());
        let src = TokenSource::Command(cmd);
        assert_eq!(token(&src).await.unwrap(), "tok1");
        assert_eq!(token(&src).await.unwrap(), "tok1", "kept, not asked again");
        assert!(!forget(&src, "tok0"), "an older token refused: the kept one stays");
        assert!(forget(&src, "tok1"));
        assert_eq!(token(&src).await.unwrap(), "tok2");
        let e = token(&TokenSource::Command("echo 'not logged in' >&2; exit 3".into())).await.unwrap_err().to_string();
        assert!(e.contains("not logged in") && e.contains("exit status: 3"), "{e}");
    }

    #[tokio::test]
    async fn a_password_comes_from_its_variable_or_command() {
        assert_eq!(reveal(&Secret::Command("printf 'mật khẩu\\nrest'".into())).await.unwrap(), "mật khẩu");
        let e = reveal(&Secret::Env("BAOCAO_TEST_SURELY_UNSET".into())).await.unwrap_err().to_string();
        assert_eq!(e, "the environment variable BAOCAO_TEST_SURELY_UNSET is not set");
    }
}
