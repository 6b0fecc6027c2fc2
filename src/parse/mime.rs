//! MIME with mail-parser: the facts of a message that matching needs, and its attachments.
//!
//! Subjects and file names come decoded (RFC 2047, RFC 2231, raw UTF-8, legacy charsets such as
//! windows-1258) and in NFC. A forwarded `message/rfc822` part becomes [`MailFacts::forwarded`],
//! with its own sender, subject and attachments: a forward by office staff is judged on it.

use mail_parser::{HeaderValue, Message, MessageParser, MimeHeaders, PartType};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    #[serde(skip)]
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MailFacts {
    pub message_id: Option<String>,
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub to: Vec<String>,
    pub subject: String,
    /// The `Date:` header (the sender's clock; never used for timeliness).
    pub date: Option<i64>,
    /// The newest `Received:` header's date: the arrival of a bare `.eml`.
    pub received: Option<i64>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub auto_submitted: bool,
    pub list: bool,
    pub bounce: bool,
    /// DKIM and SPF both failed in `Authentication-Results`.
    pub auth_failed: bool,
    pub body_text: String,
    pub attachments: Vec<Attachment>,
    pub forwarded: Option<Box<MailFacts>>,
    /// The message had no header block a mail system would write (not MIME at all).
    pub not_mail: bool,
}

const MAX_BODY_TEXT: usize = 64 * 1024;

/// Parses a raw message. Never fails: what cannot be read is reported in the facts.
pub fn parse(raw: &[u8]) -> MailFacts {
    match MessageParser::default().parse(raw) {
        Some(m) => facts_of(&m, 0),
        None => MailFacts { not_mail: true, ..Default::default() },
    }
}

fn header_text(m: &Message, name: &str) -> Option<String> {
    m.header_raw(name).map(|s| s.trim().to_string())
}

fn facts_of(m: &Message, depth: usize) -> MailFacts {
    let mut f = MailFacts::default();
    f.message_id = m.message_id().map(|s| format!("<{}>", s.trim().trim_start_matches('<').trim_end_matches('>')));
    if let Some(a) = m.from().and_then(|a| a.first()) {
        f.from = a.address().map(|s| s.trim().to_ascii_lowercase());
        f.from_name = a.name().map(crate::text::nfc);
    }
    if let Some(to) = m.to() {
        f.to = to.iter().filter_map(|a| a.address().map(|s| s.to_ascii_lowercase())).collect();
    }
    f.subject = crate::text::nfc(m.subject().unwrap_or("").trim());
    f.date = m.date().map(|d| d.to_timestamp());
    f.received = m.received_all().filter_map(|r| r.date.map(|d| d.to_timestamp())).max();
    f.in_reply_to = match m.in_reply_to() {
        HeaderValue::Text(t) => Some(format!("<{}>", t.trim_matches(['<', '>']))),
        HeaderValue::TextList(l) => l.first().map(|t| format!("<{}>", t.trim_matches(['<', '>']))),
        _ => None,
    };
    f.references = match m.references() {
        HeaderValue::Text(t) => vec![format!("<{}>", t.trim_matches(['<', '>']))],
        HeaderValue::TextList(l) => l.iter().map(|t| format!("<{}>", t.trim_matches(['<', '>']))).collect(),
        _ => vec![],
    };
    let auto = header_text(m, "Auto-Submitted").map(|s| s.to_ascii_lowercase());
    f.auto_submitted = auto.as_deref().is_some_and(|a| !a.starts_with("no"))
        || m.header_raw("X-Autoreply").is_some()
        || m.header_raw("X-Autorespond").is_some()
        || header_text(m, "Precedence").is_some_and(|p| p.eq_ignore_ascii_case("auto_reply"));
    let precedence = header_text(m, "Precedence").map(|s| s.to_ascii_lowercase()).unwrap_or_default();
    f.list = m.header_raw("List-Id").is_some() || matches!(precedence.as_str(), "bulk" | "list" | "junk");
    let ct = m.root_part().content_type();
    let is_report = ct.is_some_and(|c| {
        c.c_type.eq_ignore_ascii_case("multipart")
            && c.c_subtype.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && c.attribute("report-type").is_some_and(|r| r.eq_ignore_ascii_case("delivery-status"))
    });
    let from_daemon = f.from.as_deref().is_some_and(|a| {
        let local = a.split('@').next().unwrap_or("");
        local.eq_ignore_ascii_case("mailer-daemon") || local.eq_ignore_ascii_case("postmaster")
    });
    f.bounce = is_report || from_daemon;
    f.auth_failed = m
        .header_values("Authentication-Results")
        .filter_map(|v| match v {
            HeaderValue::Text(t) => Some(t.to_ascii_lowercase()),
            _ => None,
        })
        .chain(header_text(m, "Authentication-Results").map(|s| s.to_ascii_lowercase()))
        .any(|t| has_result(&t, "dkim", "fail") && has_result(&t, "spf", "fail"));
    f.not_mail = depth == 0 && f.from.is_none() && f.message_id.is_none() && m.subject().is_none() && m.date().is_none();

    // Bodies and attachments of this message (not of messages nested in it).
    let mut body = String::new();
    for (i, part) in m.parts.iter().enumerate() {
        let name = part.attachment_name().map(crate::text::nfc);
        let ctype = part
            .content_type()
            .map(|c| format!("{}/{}", c.c_type, c.c_subtype.as_deref().unwrap_or("")).to_ascii_lowercase())
            .unwrap_or_default();
        match &part.body {
            PartType::Text(t) if name.is_none() => {
                if body.len() < MAX_BODY_TEXT {
                    body.push_str(t);
                    body.push('\n');
                }
            }
            PartType::Html(h) if name.is_none() => {
                if body.is_empty() {
                    body.push_str(&strip_html(h));
                }
            }
            PartType::Message(inner) => {
                if depth < 3 && f.forwarded.is_none() {
                    f.forwarded = Some(Box::new(facts_of(inner, depth + 1)));
                }
            }
            PartType::Binary(b) | PartType::InlineBinary(b) => {
                // Inline images of a signature carry no name; they are not submissions.
                if name.is_none() && (ctype.starts_with("image/") || part.content_id().is_some()) {
                    continue;
                }
                f.attachments.push(Attachment {
                    filename: name.unwrap_or_else(|| format!("attachment-{i}")),
                    content_type: ctype,
                    data: b.to_vec(),
                });
            }
            PartType::Text(t) | PartType::Html(t) => f.attachments.push(Attachment {
                filename: name.unwrap_or_else(|| format!("attachment-{i}")),
                content_type: ctype,
                data: t.as_bytes().to_vec(),
            }),
            PartType::Multipart(_) => {}
        }
    }
    crate::parse::truncate_at_char(&mut body, MAX_BODY_TEXT);
    f.body_text = crate::text::nfc(&body);
    f
}

fn has_result(t: &str, method: &str, result: &str) -> bool {
    let needle = format!("{method}={result}");
    t.match_indices(&needle).any(|(i, _)| {
        let before_ok = i == 0 || !t.as_bytes()[i - 1].is_ascii_alphanumeric();
        let after = t.as_bytes().get(i + needle.len());
        before_ok && after.is_none_or(|c| !c.is_ascii_alphanumeric())
    })
}

fn strip_html(h: &str) -> String {
    let mut out = String::with_capacity(h.len().min(MAX_BODY_TEXT));
    let mut in_tag = false;
    for c in h.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
        if out.len() > MAX_BODY_TEXT {
            break;
        }
    }
    crate::text::squash_ws(&out)
}

/// The body of a raw message: everything after the header block. Two deliveries of one message
/// through different relays differ in `Received:` headers but keep this.
pub fn body_bytes(raw: &[u8]) -> &[u8] {
    for (i, w) in raw.windows(4).enumerate() {
        if w == b"\r\n\r\n" {
            return &raw[i + 4..];
        }
    }
    for (i, w) in raw.windows(2).enumerate() {
        if w == b"\n\n" {
            return &raw[i + 2..];
        }
    }
    &[]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_encoded_subject_and_rfc2231_filename_are_decoded() {
        let raw = "From: A <a@x.example>\r\nSubject: =?UTF-8?B?QsOhbyBjw6Fv?=\r\nMessage-ID: <1@x>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhi\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=UTF-8''B%C3%A1o%20c%C3%A1o.docx\r\n\r\nPK\r\n--b--\r\n";
        let f = parse(raw.as_bytes());
        assert_eq!(f.subject, "Báo cáo");
        assert_eq!(f.from.as_deref(), Some("a@x.example"));
        assert_eq!(f.message_id.as_deref(), Some("<1@x>"));
        assert_eq!(f.attachments.len(), 1);
        assert_eq!(f.attachments[0].filename, "Báo cáo.docx");
    }

    #[test]
    fn a_windows_1258_body_is_read() {
        // "Kính gửi" in windows-1258: K, í (0xED), n, h, space, g, ư (0xFD), combining hook above (0xD2), i
        let mut raw = b"From: a@x.example\r\nSubject: x\r\nContent-Type: text/plain; charset=windows-1258\r\n\r\nK\xEDnh g\xFD\xD2i".to_vec();
        raw.extend_from_slice(b"\r\n");
        let f = parse(&raw);
        assert_eq!(crate::text::fold(&f.body_text), "kinh gui");
    }

    #[test]
    fn an_auto_reply_a_list_and_failed_authentication_are_recognised() {
        let f = parse(b"From: a@x.example\r\nAuto-Submitted: auto-replied\r\nSubject: x\r\n\r\nbody");
        assert!(f.auto_submitted);
        let f = parse(b"From: a@x.example\r\nAuto-Submitted: no\r\nSubject: x\r\n\r\nbody");
        assert!(!f.auto_submitted);
        let f = parse(b"From: n@news.example\r\nList-Id: <x.news>\r\nSubject: x\r\n\r\nbody");
        assert!(f.list);
        let f = parse(b"Authentication-Results: mx; dkim=fail header.d=x; spf=fail smtp.mailfrom=a@x\r\nFrom: a@x.example\r\nSubject: x\r\n\r\nbody");
        assert!(f.auth_failed);
        let f = parse(b"Authentication-Results: mx; dkim=pass header.d=x; spf=fail smtp.mailfrom=a@x\r\nFrom: a@x.example\r\nSubject: x\r\n\r\nbody");
        assert!(!f.auth_failed);
    }

    #[test]
    fn the_body_is_what_follows_the_header_block() {
        assert_eq!(body_bytes(b"A: b\r\nC: d\r\n\r\nhello"), b"hello");
        assert_eq!(body_bytes(b"A: b\n\nhello"), b"hello");
    }
}
