//! A small SMTP client (RFC 5321) for the outbox: plain (loopback only), STARTTLS and implicit
//! TLS with rustls, AUTH PLAIN/LOGIN, one connection reused for a batch of mails.
//!
//! Why not a library's `send`: exactly-once delivery needs a seam at the final dot. The server
//! commits a message when it reads the dot, whatever happens to the client afterwards. So the
//! delivery worker opens a transaction marking the mail "handed over", writes the dot, commits
//! at once, and only then waits for the server's verdict. After a crash a mail marked handed
//! over is taken as delivered and one still queued is sent again; the only gap left for a
//! double is between the dot and the commit leaving on a connection already held. (Measured
//! here: committing the mark before the dot lost mails killed during the commit; marking after
//! the dot through the pool doubled them; a library call that does everything at once leaves a
//! whole round trip plus a commit as the gap.)

use crate::config::SmtpMode;
use crate::secrets::{self, Auth, Mechanism, TokenSource};
use base64::Engine;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    /// Worth retrying later: 4xx replies, network trouble, timeouts.
    #[error("{0}")]
    Transient(String),
    /// The server refused for good (5xx): retrying will not help.
    #[error("{0}")]
    Permanent(String),
    /// The final dot went out but no verdict came back (the connection broke or timed out): the
    /// server may well have the message, so it must not be sent again.
    #[error("no reply after the end of data: {0}")]
    NoVerdict(String),
}

use crate::tls::Io;

pub struct Endpoint {
    pub mode: SmtpMode,
    pub host: String,
    pub port: u16,
    /// The login name and how it logs in; None: no login.
    pub login: Option<(String, crate::secrets::Auth)>,
    /// The name this client greets with (EHLO).
    pub helo: String,
    pub timeout: Duration,
    /// Extra trusted CA certificates (PEM).
    pub ca_file: Option<std::path::PathBuf>,
}

pub struct Session {
    io: BufReader<Box<dyn Io>>,
    timeout: Duration,
}

async fn wrap_tls(ep: &Endpoint, io: Box<dyn Io>) -> Result<Box<dyn Io>, SmtpError> {
    crate::tls::wrap(&ep.host, io, ep.ca_file.as_deref()).await.map_err(SmtpError::Transient)
}

/// A reply: its code and its text lines.
#[derive(Debug)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    fn text(&self) -> String {
        format!("{} {}", self.code, self.lines.join(" / "))
    }
    fn check(self, what: &str, ok: &[u16]) -> Result<Reply, SmtpError> {
        if ok.contains(&self.code) {
            Ok(self)
        } else if (400..500).contains(&self.code) {
            Err(SmtpError::Transient(format!("{what}: {}", self.text())))
        } else {
            Err(SmtpError::Permanent(format!("{what}: {}", self.text())))
        }
    }
}

impl Session {
    /// Connects, greets, secures the connection as configured and logs in.
    pub async fn open(ep: &Endpoint) -> Result<Session, SmtpError> {
        let tcp = tokio::time::timeout(ep.timeout, TcpStream::connect((ep.host.as_str(), ep.port)))
            .await
            .map_err(|_| SmtpError::Transient(format!("connecting to {}:{}: no answer in {:?}", ep.host, ep.port, ep.timeout)))?
            .map_err(|e| SmtpError::Transient(format!("connecting to {}:{}: {e}", ep.host, ep.port)))?;
        let _ = tcp.set_nodelay(true);
        let mut io: Box<dyn Io> = Box::new(tcp);
        if ep.mode == SmtpMode::Tls {
            io = wrap_tls(ep, io).await?;
        }
        let mut s = Session { io: BufReader::new(io), timeout: ep.timeout };
        s.read_reply().await?.check("greeting", &[220])?;
        let mut caps = s.ehlo(&ep.helo).await?;
        if ep.mode == SmtpMode::StartTls {
            if !caps.iter().any(|c| c.eq_ignore_ascii_case("STARTTLS")) {
                return Err(SmtpError::Permanent(format!("{} does not offer STARTTLS", ep.host)));
            }
            s.command("STARTTLS").await?.check("STARTTLS", &[220])?;
            let inner = s.io.into_inner();
            s = Session { io: BufReader::new(wrap_tls(ep, inner).await?), timeout: ep.timeout };
            caps = s.ehlo(&ep.helo).await?;
        }
        if let Some((user, auth)) = &ep.login {
            match auth {
                Auth::Password(secret) => {
                    let pass = secrets::reveal(secret).await.map_err(|e| SmtpError::Permanent(format!("login: {e}")))?;
                    let auth = caps.iter().find(|c| c.to_ascii_uppercase().starts_with("AUTH")).cloned().unwrap_or_default().to_ascii_uppercase();
                    let b64 = base64::engine::general_purpose::STANDARD;
                    if auth.contains("PLAIN") || !auth.contains("LOGIN") {
                        let token = b64.encode(format!("\0{user}\0{pass}"));
                        s.command(&format!("AUTH PLAIN {token}")).await?.check("login", &[235])?;
                    } else {
                        s.command("AUTH LOGIN").await?.check("login", &[334])?;
                        s.command(&b64.encode(user)).await?.check("login", &[334])?;
                        s.command(&b64.encode(&pass)).await?.check("login", &[235])?;
                    }
                }
                Auth::OAuth2 { mechanism, token } => s.login_oauth2(ep, user, *mechanism, token).await?,
            }
        }
        Ok(s)
    }

    /// SASL XOAUTH2 or OAUTHBEARER (RFC 4954, RFC 7628). A refused token is forgotten and a
    /// fresh one tried once; refused again, it is a connection error naming where the token
    /// came from (every mail stays queued).
    async fn login_oauth2(&mut self, ep: &Endpoint, user: &str, mechanism: Mechanism, src: &TokenSource) -> Result<(), SmtpError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let name = mechanism.name();
        for attempt in 0..2 {
            let token = secrets::token(src).await.map_err(|e| SmtpError::Transient(format!("login ({name}): {e}")))?;
            let ir = b64.encode(mechanism.initial_response(user, &token, &ep.host, ep.port));
            // A long token goes on a line of its own: some servers cut command lines at 512.
            let mut r = if ir.len() <= 400 {
                self.command(&format!("AUTH {name} {ir}")).await?
            } else {
                self.command(&format!("AUTH {name}")).await?.check("login", &[334])?;
                self.command(&ir).await?
            };
            if r.code == 334 {
                // The server's error, as a challenge: the client ends the exchange (XOAUTH2
                // with an empty line, OAUTHBEARER with %x01) and gets the final refusal.
                let why = r.lines.first().and_then(|l| b64.decode(l.trim()).ok()).map(|j| String::from_utf8_lossy(&j).into_owned()).unwrap_or_default();
                let end = match mechanism {
                    Mechanism::XOAuth2 => String::new(),
                    Mechanism::OAuthBearer => b64.encode([1u8]),
                };
                r = self.command(&end).await?;
                if !why.is_empty() {
                    r.lines.push(why);
                }
            }
            if r.code == 235 {
                return Ok(());
            }
            if (500..600).contains(&r.code) && secrets::forget(src, &token) && attempt == 0 {
                tracing::info!("{}: the {name} token was refused ({}); trying a fresh one", ep.host, r.text());
                continue;
            }
            let what = format!("login ({name}, {}): the server refused the token", src.describe());
            return Err(if (400..500).contains(&r.code) { SmtpError::Transient(format!("{what}: {}", r.text())) } else { SmtpError::Permanent(format!("{what}: {}", r.text())) });
        }
        unreachable!("the second attempt returns")
    }

    async fn ehlo(&mut self, helo: &str) -> Result<Vec<String>, SmtpError> {
        let r = self.command(&format!("EHLO {helo}")).await?.check("EHLO", &[250])?;
        Ok(r.lines.into_iter().skip(1).collect())
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), SmtpError> {
        let t = self.timeout;
        tokio::time::timeout(t, async {
            self.io.get_mut().write_all(data).await?;
            self.io.get_mut().flush().await
        })
        .await
        .map_err(|_| SmtpError::Transient("the server stopped reading".into()))?
        .map_err(|e| SmtpError::Transient(format!("writing: {e}")))
    }

    async fn read_reply(&mut self) -> Result<Reply, SmtpError> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(self.timeout, self.io.read_line(&mut line))
                .await
                .map_err(|_| SmtpError::Transient("no reply from the server".into()))?
                .map_err(|e| SmtpError::Transient(format!("reading: {e}")))?;
            if n == 0 {
                return Err(SmtpError::Transient("the server closed the connection".into()));
            }
            if line.len() < 3 || line.len() > 4096 {
                return Err(SmtpError::Transient(format!("not an SMTP reply: {}", line.trim_end())));
            }
            let code: u16 = line[..3].parse().map_err(|_| SmtpError::Transient(format!("not an SMTP reply: {}", line.trim_end())))?;
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").trim_end().to_string());
            if !more {
                return Ok(Reply { code, lines });
            }
        }
    }

    async fn command(&mut self, cmd: &str) -> Result<Reply, SmtpError> {
        self.write(format!("{cmd}\r\n").as_bytes()).await?;
        self.read_reply().await
    }

    /// Sends the envelope and the message up to, not including, the final dot. A recipient the
    /// server refuses for good (5xx) is left out and returned with the server's reply; the mail
    /// goes to the others. A temporary refusal of any recipient, or of every one, is an error.
    pub async fn hand_over(&mut self, from: &str, to: &[String], message: &[u8]) -> Result<Vec<(String, String)>, SmtpError> {
        self.command(&format!("MAIL FROM:<{from}>")).await?.check("MAIL FROM", &[250])?;
        let mut refused = Vec::new();
        for r in to {
            match self.command(&format!("RCPT TO:<{r}>")).await?.check(&format!("RCPT TO {r}"), &[250, 251]) {
                Ok(_) => {}
                Err(SmtpError::Permanent(why)) => refused.push((r.clone(), why)),
                Err(e) => return Err(e),
            }
        }
        if refused.len() == to.len() {
            let all: Vec<String> = refused.into_iter().map(|(_, why)| why).collect();
            return Err(SmtpError::Permanent(format!("every recipient was refused: {}", all.join("; "))));
        }
        self.command("DATA").await?.check("DATA", &[354])?;
        self.write(&dot_stuff(message)).await?;
        Ok(refused)
    }

    /// Ends the data: from here on the server may have the message.
    pub async fn end_data(&mut self) -> Result<(), SmtpError> {
        self.write(b".\r\n").await
    }

    /// The server's verdict on the message just ended. A reply that refuses is Transient or
    /// Permanent; no reply at all is [`SmtpError::NoVerdict`].
    pub async fn verdict(&mut self) -> Result<(), SmtpError> {
        let reply = self.read_reply().await.map_err(|e| SmtpError::NoVerdict(e.to_string()))?;
        reply.check("end of data", &[250])?;
        Ok(())
    }

    /// Clears a half-done transaction so the connection can carry the next mail.
    pub async fn reset(&mut self) -> Result<(), SmtpError> {
        self.command("RSET").await?.check("RSET", &[250])?;
        Ok(())
    }

    pub async fn quit(mut self) {
        let _ = self.command("QUIT").await;
    }
}

/// CRLF line ends, a dot doubled at the start of a line, and a final CRLF.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 64);
    let mut at_line_start = true;
    let mut prev = 0u8;
    for &b in message {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
        prev = b;
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_starting_with_a_dot_is_doubled_and_bare_newlines_become_crlf() {
        assert_eq!(dot_stuff(b"a\n.b\r\n..c"), b"a\r\n..b\r\n...c\r\n".to_vec());
        assert_eq!(dot_stuff(b".\r\n"), b"..\r\n".to_vec());
    }
}
