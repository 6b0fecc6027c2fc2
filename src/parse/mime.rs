//! MIME with mail-parser: the facts of a message that matching needs, and its attachments.
//!
//! Subjects and file names come decoded (RFC 2047, RFC 2231, raw UTF-8, legacy charsets such as
//! windows-1258) and in NFC. A forwarded `message/rfc822` part becomes [`MailFacts::forwarded`],
//! with its own sender, subject and attachments: a forward by office staff is judged on it.

use mail_parser::{HeaderName, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    #[serde(skip)]
    pub data: Vec<u8>,
}

/// One method's result in an `Authentication-Results` header: `dkim=fail` of `mx.example`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthResult {
    pub authserv_id: String,
    pub method: String,
    pub result: String,
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
    /// Every method result of every `Authentication-Results` header (RFC 8601).
    pub auth: Vec<AuthResult>,
    /// A read receipt (MDN: `multipart/report; report-type=disposition-notification`).
    pub receipt: bool,
    /// `Return-Path: <>`: a null sender, which mail systems use for notifications only.
    pub null_sender: bool,
    pub body_text: String,
    pub attachments: Vec<Attachment>,
    pub forwarded: Option<Box<MailFacts>>,
    /// The message had no header block a mail system would write (not MIME at all).
    pub not_mail: bool,
    /// The idempotency key of the office's own mail this one replies to (`In-Reply-To` or
    /// `References` naming it), filled in by intake from the outbox; not read from the bytes.
    #[serde(default)]
    pub replied_to: Option<String>,
    /// The addresses a bounce says could not be reached (its `Final-Recipient`s, or the
    /// addresses its text names): shown on their unit's page (SPEC §17).
    #[serde(default)]
    pub bounced_to: Vec<String>,
}

const MAX_BODY_TEXT: usize = 64 * 1024;

/// The flags that mark a mail written by a machine (an automatic reply, a list, a bounce, a read
/// receipt, an empty sender): nobody is answered, and it is no mail for people to handle.
const AUTOMATIC: [&str; 5] = ["auto_submitted", "list", "bounce", "receipt", "null_sender"];

/// [`MailFacts::is_automatic`] over the facts kept with a recorded message (their JSON summary).
pub fn kept_facts_automatic(f: &serde_json::Value) -> bool {
    AUTOMATIC.iter().any(|k| f[*k].as_bool().unwrap_or(false))
}

impl MailFacts {
    /// Whether a machine wrote this mail (see [`AUTOMATIC`]): the one rule for "gets no reply".
    pub fn is_automatic(&self) -> bool {
        self.auto_submitted || self.list || self.bounce || self.receipt || self.null_sender
    }

    /// Lets go of the attachments' decoded bytes (their names stay): once the documents are
    /// read, a message waiting for its batch's commit holds its raw bytes, not a second copy.
    pub fn forget_attachment_bytes(&mut self) {
        for a in &mut self.attachments {
            a.data = Vec::new();
        }
        if let Some(f) = self.forwarded.as_mut() {
            f.forget_attachment_bytes();
        }
    }
}

/// Parses a raw message. Never fails: what cannot be read is reported in the facts.
pub fn parse(raw: &[u8]) -> MailFacts {
    // mail-parser decodes base64 a byte at a time, a tenth of intake's CPU: its parts are taken
    // undecoded and decoded here. What that reading does not cover — a nested message sent in
    // base64, a part that is not clean base64 or quoted-printable — is read again the way
    // mail-parser decodes, so what comes out never depends on which way was taken.
    static UNDECODED: std::sync::LazyLock<MessageParser> = std::sync::LazyLock::new(undecoding_parser);
    let Some(m) = UNDECODED.parse(raw) else {
        return MailFacts { not_mail: true, ..Default::default() };
    };
    match facts_of(&m, 0, Bodies::Undecoded) {
        Ok(f) => f,
        Err(NotClean) => match MessageParser::default().parse(raw) {
            Some(m) => facts_of(&m, 0, Bodies::Decoded).unwrap_or_default(),
            None => MailFacts { not_mail: true, ..Default::default() },
        },
    }
}

/// mail-parser's default reading of every header (its `parse_headers` table, which applies only
/// while no header is configured) except `Content-Transfer-Encoding`, skipped so that no part
/// is decoded.
fn undecoding_parser() -> MessageParser {
    use HeaderName::*;
    let mut p = MessageParser::new();
    for h in [Subject, Comments, ContentDescription, ContentLocation] {
        p = p.header_text(h);
    }
    for h in [From, To, Cc, Bcc, ReplyTo, Sender, ResentTo, ResentFrom, ResentBcc, ResentCc, ResentSender, ListArchive, ListHelp, ListId, ListOwner, ListPost, ListSubscribe, ListUnsubscribe] {
        p = p.header_address(h);
    }
    for h in [Date, ResentDate] {
        p = p.header_date(h);
    }
    for h in [MessageId, References, InReplyTo, ReturnPath, ContentId, ResentMessageId] {
        p = p.header_id(h);
    }
    for h in [Keywords, ContentLanguage] {
        p = p.header_comma_separated(h);
    }
    p.header_received(Received).header_raw(MimeVersion).header_content_type(ContentType).header_content_type(ContentDisposition).default_header_raw().ignore_header(ContentTransferEncoding)
}

/// How the parts' bodies came from mail-parser.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bodies {
    /// Decoded by mail-parser itself.
    Decoded,
    /// As they are in the message: the transfer encoding is undone here.
    Undecoded,
}

/// A part this module does not decode itself; the message is read with mail-parser's decoding.
struct NotClean;

#[derive(Clone, Copy, PartialEq, Eq)]
enum TransferEncoding {
    Identity,
    Base64,
    QuotedPrintable,
}

/// A part's `Content-Transfer-Encoding`, read from its raw header (mail-parser was told to skip
/// it). Anything but base64 and quoted-printable is taken as is, as mail-parser does.
fn transfer_encoding(m: &Message, part: &MessagePart) -> TransferEncoding {
    // The last one counts, as in mail-parser's own lookup.
    let Some(h) = part.headers.iter().rev().find(|h| h.name == HeaderName::ContentTransferEncoding) else {
        return TransferEncoding::Identity;
    };
    let value = whole(m).get(h.offset_start as usize..h.offset_end as usize).unwrap_or_default();
    let value = value.trim_ascii();
    if value.eq_ignore_ascii_case(b"base64") {
        TransferEncoding::Base64
    } else if value.eq_ignore_ascii_case(b"quoted-printable") {
        TransferEncoding::QuotedPrintable
    } else {
        TransferEncoding::Identity
    }
}

/// Clean MIME base64 — lines of the alphabet, padding only at the end — decoded to exactly the
/// bytes mail-parser gives for it; anything else is [`NotClean`].
fn decode_base64(text: &[u8]) -> Result<Vec<u8>, NotClean> {
    let mut clean = Vec::with_capacity(text.len());
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', text).chain([text.len()]) {
        let line = &text[start..end];
        clean.extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
        start = end + 1;
    }
    let pad = clean.iter().rev().take_while(|&&b| b == b'=').count();
    let body = &clean[..clean.len() - pad];
    // mail-parser flushes a partial group at `=` and drops one left without it.
    match (body.len() % 4, pad) {
        (0, 0) | (2, 1..) | (3, 1..) => {}
        _ => return Err(NotClean),
    }
    // Strict: a character outside the alphabet, or bits left over at the end, is not clean.
    base64_simd::STANDARD_NO_PAD.decode_to_vec(body).map_err(|_| NotClean)
}

/// The bytes a message's offsets count in: for a nested message read in place, its whole outer
/// message (`raw_message()` would start at the nested message's own header).
fn whole<'a>(m: &'a Message) -> &'a [u8] {
    &m.raw_message
}

/// Every `=` starts an escape of two hex digits or a soft line break (blanks, then the end of
/// the line or of the part). mail-parser's decoders part ways on anything else.
fn clean_quoted_printable(raw: &[u8]) -> bool {
    memchr::memchr_iter(b'=', raw).all(|i| {
        let rest = &raw[i + 1..];
        match rest {
            [a, b, ..] if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => true,
            _ => {
                let after = rest.iter().position(|b| !matches!(b, b' ' | b'\t')).map_or(&[][..], |n| &rest[n..]);
                after.is_empty() || after.starts_with(b"\n") || after.starts_with(b"\r\n")
            }
        }
    })
}

/// A part's bytes with its transfer encoding undone.
fn decoded(enc: TransferEncoding, raw: &[u8]) -> Result<Vec<u8>, NotClean> {
    match enc {
        TransferEncoding::Identity => Ok(raw.to_vec()),
        TransferEncoding::Base64 => decode_base64(raw),
        TransferEncoding::QuotedPrintable => {
            // The part ends before the line break ahead of its boundary, so the last line's
            // trailing blanks (which RFC 2045 has a decoder drop) are not followed by one here.
            let raw = &raw[..raw.iter().rposition(|b| !matches!(b, b' ' | b'\t' | b'\r')).map_or(0, |i| i + 1)];
            if !clean_quoted_printable(raw) {
                return Err(NotClean);
            }
            mail_parser::decoders::quoted_printable::quoted_printable_decode(raw).ok_or(NotClean)
        }
    }
}

/// A text part's bytes as text: its charset, as mail-parser reads it.
fn text_of(part: &MessagePart, bytes: Vec<u8>) -> String {
    match part.content_type().and_then(|c| c.attribute("charset")).and_then(|c| mail_parser::decoders::charsets::map::charset_decoder(c.as_bytes())) {
        Some(decode) => decode(&bytes),
        None => String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

/// What is left to undo of a part's transfer encoding: nothing once mail-parser decoded it.
fn left_to_undo(m: &Message, part: &MessagePart, bodies: Bodies) -> TransferEncoding {
    match bodies {
        Bodies::Decoded => TransferEncoding::Identity,
        Bodies::Undecoded => transfer_encoding(m, part),
    }
}

/// A text part's text, decoded here when mail-parser did not.
fn part_text<'a>(m: &Message, part: &MessagePart, given: &'a str, bodies: Bodies) -> Result<std::borrow::Cow<'a, str>, NotClean> {
    let enc = left_to_undo(m, part, bodies);
    if enc == TransferEncoding::Identity {
        return Ok(given.into());
    }
    let raw = whole(m).get(part.offset_body as usize..part.offset_end as usize).ok_or(NotClean)?;
    Ok(text_of(part, decoded(enc, raw)?).into())
}

fn header_text(m: &Message, name: &str) -> Option<String> {
    m.header_raw(name).map(|s| s.trim().to_string())
}

fn facts_of(m: &Message, depth: usize, bodies: Bodies) -> Result<MailFacts, NotClean> {
    let mut f = MailFacts::default();
    identity(m, &mut f);
    machine_marks(m, &mut f);
    f.not_mail = depth == 0 && f.from.is_none() && f.message_id.is_none() && m.subject().is_none() && m.date().is_none();
    let mut body = parts(m, depth, bodies, &mut f)?;
    unwrap_outlook(&mut f, &mut body, depth);
    crate::parse::truncate_at_char(&mut body, MAX_BODY_TEXT);
    f.body_text = unlegacy(crate::text::nfc(&body));
    if f.bounce {
        f.bounced_to = bounced_recipients(whole(m), &f.body_text, f.from.as_deref());
    }
    Ok(f)
}

/// Who sent it to whom, its subject, dates and place in a thread.
fn identity(m: &Message, f: &mut MailFacts) {
    f.message_id = m.message_id().map(|s| bounded(&format!("<{}>", s.trim().trim_start_matches('<').trim_end_matches('>'))));
    if let Some(a) = m.from().and_then(|a| a.first()) {
        f.from = a.address().map(|s| bounded(&s.trim().to_ascii_lowercase()));
        f.from_name = a.name().map(|n| bounded(&crate::text::nfc(n)));
    }
    if let Some(to) = m.to() {
        f.to = to.iter().take(MAX_LIST).filter_map(|a| a.address().map(|s| bounded(&s.to_ascii_lowercase()))).collect();
    }
    f.subject = unlegacy(bounded(&crate::text::nfc(m.subject().unwrap_or("").trim())));
    f.date = m.date().map(|d| d.to_timestamp());
    f.received = m.received_all().filter_map(|r| r.date.map(|d| d.to_timestamp())).max();
    f.in_reply_to = match m.in_reply_to() {
        HeaderValue::Text(t) => Some(bounded(&format!("<{}>", t.trim_matches(['<', '>'])))),
        HeaderValue::TextList(l) => l.first().map(|t| bounded(&format!("<{}>", t.trim_matches(['<', '>'])))),
        _ => None,
    };
    f.references = match m.references() {
        HeaderValue::Text(t) => vec![bounded(&format!("<{}>", t.trim_matches(['<', '>'])))],
        // The newest references matter for threading; a very long chain keeps its last ones.
        HeaderValue::TextList(l) => l.iter().rev().take(MAX_LIST).rev().map(|t| bounded(&format!("<{}>", t.trim_matches(['<', '>'])))).collect(),
        _ => vec![],
    };
}

/// What says a machine sent it: auto-replies, lists, bounces and read receipts, an empty
/// Return-Path, and the receiving servers' authentication results.
fn machine_marks(m: &Message, f: &mut MailFacts) {
    let auto = header_text(m, "Auto-Submitted").map(|s| s.to_ascii_lowercase());
    f.auto_submitted = auto.as_deref().is_some_and(|a| !a.starts_with("no"))
        || m.header_raw("X-Autoreply").is_some()
        || m.header_raw("X-Autorespond").is_some()
        || header_text(m, "Precedence").is_some_and(|p| p.eq_ignore_ascii_case("auto_reply"));
    let precedence = header_text(m, "Precedence").map(|s| s.to_ascii_lowercase()).unwrap_or_default();
    f.list = m.header_raw("List-Id").is_some() || matches!(precedence.as_str(), "bulk" | "list" | "junk");
    let ct = m.root_part().content_type();
    let report_type = |want: &str| {
        ct.is_some_and(|c| {
            c.c_type.eq_ignore_ascii_case("multipart")
                && c.c_subtype.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("report"))
                && c.attribute("report-type").is_some_and(|r| r.eq_ignore_ascii_case(want))
        })
    };
    let is_report = report_type("delivery-status");
    f.receipt = report_type("disposition-notification");
    f.null_sender = header_text(m, "Return-Path").is_some_and(|r| r.trim_matches(|c: char| c.is_whitespace() || c == '<' || c == '>').is_empty());
    let from_daemon = f.from.as_deref().is_some_and(|a| {
        let local = a.split('@').next().unwrap_or("");
        local.eq_ignore_ascii_case("mailer-daemon") || local.eq_ignore_ascii_case("postmaster")
    });
    f.bounce = is_report || from_daemon;
    f.auth = m
        .headers()
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case("Authentication-Results"))
        .filter_map(|h| {
            let raw = whole(m).get(h.offset_start() as usize..h.offset_end() as usize)?;
            Some(auth_results(&String::from_utf8_lossy(raw)))
        })
        .flatten()
        .take(64)
        .collect();
}

/// The message's own text (not that of messages nested in it) and its attachments; the first
/// message nested in it is read as the one it forwards.
fn parts(m: &Message, depth: usize, bodies: Bodies, f: &mut MailFacts) -> Result<String, NotClean> {
    let mut body = String::new();
    for (i, part) in m.parts.iter().enumerate() {
        let name = part.attachment_name().map(crate::text::nfc).map(unlegacy);
        let ctype = part
            .content_type()
            .map(|c| format!("{}/{}", c.c_type, c.c_subtype.as_deref().unwrap_or("")).to_ascii_lowercase())
            .unwrap_or_default();
        match &part.body {
            PartType::Text(t) if name.is_none() => {
                if body.len() < MAX_BODY_TEXT {
                    body.push_str(&part_text(m, part, t, bodies)?);
                    body.push('\n');
                }
            }
            PartType::Html(h) if name.is_none() => {
                if body.is_empty() {
                    body.push_str(&strip_html(&part_text(m, part, h, bodies)?));
                }
            }
            PartType::Message(inner) => {
                // Undecoded, a nested message in base64 was read as if it were plain text.
                if left_to_undo(m, part, bodies) != TransferEncoding::Identity {
                    return Err(NotClean);
                }
                if depth < 3 && f.forwarded.is_none() {
                    f.forwarded = Some(Box::new(facts_of(inner, depth + 1, bodies)?));
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
                    data: decoded(left_to_undo(m, part, bodies), b)?,
                });
            }
            PartType::Text(t) | PartType::Html(t) => f.attachments.push(Attachment {
                filename: name.unwrap_or_else(|| format!("attachment-{i}")),
                content_type: ctype,
                data: part_text(m, part, t, bodies)?.as_bytes().to_vec(),
            }),
            PartType::Multipart(_) => {}
        }
    }
    Ok(body)
}

/// Outlook's wrappers opened (SPEC §5, §6): a TNEF attachment (`winmail.dat`, known by its
/// signature whatever its name) is replaced by the files it holds, and gives its text when the
/// mail has none; an attached Outlook message (`.msg`) becomes the forwarded message, its files
/// read like any forward's (or, when the mail already forwards one, its files join the mail's).
/// A wrapper that cannot be opened stays an attachment, whose reader says why.
fn unwrap_outlook(f: &mut MailFacts, body: &mut String, depth: usize) {
    use super::outlook;
    if !f.attachments.iter().any(|a| outlook::is_tnef(&a.data) || outlook::is_msg(&a.data)) {
        return;
    }
    let file = |(name, data): (String, Vec<u8>)| Attachment { filename: unlegacy(crate::text::nfc(&name)), content_type: "application/octet-stream".into(), data };
    let mut kept = Vec::with_capacity(f.attachments.len());
    for a in std::mem::take(&mut f.attachments) {
        if outlook::is_tnef(&a.data) {
            let u = outlook::read_tnef(&a.data);
            // Nothing readable in it: kept, and its reader says so. A wrapper read whole gives
            // way to what it holds, which may be no file (its text only, or RTF not read here).
            if u.attributes == 0 {
                kept.push(a);
                continue;
            }
            if body.trim().is_empty() {
                if let Some(b) = u.body.clone().or_else(|| u.html.as_deref().map(strip_html)) {
                    body.push_str(&b);
                    body.push('\n');
                }
            }
            kept.extend(u.attachments.into_iter().take(MAX_LIST).map(file));
        } else if outlook::is_msg(&a.data) && depth < 3 {
            let Some(u) = outlook::read_msg(&a.data) else {
                kept.push(a);
                continue;
            };
            let mut inner = MailFacts::default();
            // A received message keeps the headers it came with: its sender and date as sent.
            if let Some(h) = u.headers.as_deref() {
                let raw = format!("{}\r\n\r\n", h.trim_end());
                if let Some(m) = MessageParser::default().parse(raw.as_bytes()) {
                    if let Some(a) = m.from().and_then(|a| a.first()) {
                        inner.from = a.address().map(|s| bounded(&s.trim().to_ascii_lowercase()));
                        inner.from_name = a.name().map(|n| bounded(&crate::text::nfc(n)));
                    }
                    inner.date = m.date().map(|d| d.to_timestamp());
                    inner.message_id = m.message_id().map(|s| bounded(&format!("<{}>", s.trim_matches(['<', '>']))));
                }
            }
            inner.from = inner.from.or(u.from.map(|s| bounded(&s.trim().to_ascii_lowercase())));
            inner.from_name = inner.from_name.or(u.from_name.map(|n| bounded(&crate::text::nfc(&n))));
            inner.message_id = inner.message_id.or(u.message_id.map(|s| bounded(&format!("<{}>", s.trim().trim_matches(['<', '>'])))));
            inner.subject = unlegacy(bounded(&crate::text::nfc(u.subject.as_deref().unwrap_or("").trim())));
            let mut text = u.body.or_else(|| u.html.as_deref().map(strip_html)).unwrap_or_default();
            crate::parse::truncate_at_char(&mut text, MAX_BODY_TEXT);
            inner.body_text = unlegacy(crate::text::nfc(&text));
            inner.attachments = u.attachments.into_iter().take(MAX_LIST).map(file).collect();
            if f.forwarded.is_none() {
                f.forwarded = Some(Box::new(inner));
            } else {
                kept.extend(inner.attachments);
            }
        } else {
            kept.push(a);
        }
    }
    f.attachments = kept;
}

/// Who a bounce could not reach: the `Final-Recipient` (or `Original-Recipient`) fields of its
/// delivery report; without a report, the addresses its text names other than the mail system's.
fn bounced_recipients(raw: &[u8], text: &str, from: Option<&str>) -> Vec<String> {
    let raw = &raw[..raw.len().min(256 * 1024)];
    let mut out: Vec<String> = Vec::new();
    let add = |out: &mut Vec<String>, a: &str| {
        let a = a.trim().trim_matches(|c: char| c == '<' || c == '>' || c == '"' || c == '\'' || c == '.' || c == ',' || c == ':' || c == ';' || c == '(' || c == ')').to_ascii_lowercase();
        let ok = a.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !a.contains(char::is_whitespace));
        if ok && !out.contains(&a) && out.len() < 10 {
            out.push(a);
        }
    };
    for line in String::from_utf8_lossy(raw).lines() {
        let l = line.trim_start();
        let lower = l.get(..19).map(|p| p.to_ascii_lowercase()).unwrap_or_default();
        if lower.starts_with("final-recipient:") || lower.starts_with("original-recipient:") {
            if let Some((_, addr)) = l.split_once(';') {
                add(&mut out, addr);
            }
        }
    }
    if out.is_empty() {
        let system = |a: &str| {
            let local = a.split('@').next().unwrap_or("");
            from.is_some_and(|f| f.eq_ignore_ascii_case(a)) || local.eq_ignore_ascii_case("mailer-daemon") || local.eq_ignore_ascii_case("postmaster")
        };
        for w in text.split(|c: char| c.is_whitespace() || c == '<' || c == '>') {
            if w.contains('@') && !system(w.trim_matches(|c: char| !c.is_ascii_alphanumeric())) {
                add(&mut out, w);
            }
        }
    }
    out
}

/// A subject, file name or body typed in a legacy Vietnamese encoding (an old mail program,
/// a file named on a machine with VNI fonts), decoded when its statistics say so clearly.
fn unlegacy(s: String) -> String {
    use crate::text::legacy;
    match legacy::detect(&s) {
        Some(l) => legacy::decode_if_legacy(&s, l).unwrap_or(s),
        None => s,
    }
}

/// The longest header text kept and echoed (a subject, an address, a Message-ID): RFC 5322's
/// line limit. What is longer is cut at a character boundary.
pub const MAX_HEADER_TEXT: usize = 998;
/// How many addresses or references are kept.
const MAX_LIST: usize = 100;

/// Header text as it is kept: control characters (NUL, escape, …) become spaces, at most
/// [`MAX_HEADER_TEXT`] bytes.
fn bounded(s: &str) -> String {
    let mut t: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    crate::parse::truncate_at_char(&mut t, MAX_HEADER_TEXT);
    t
}

/// Removes RFC 5322 comments `( … )` (nested, with quoted pairs) outside quoted strings.
fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in s.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Reads one `Authentication-Results` header (RFC 8601): its authserv-id and each method's
/// result, whatever the spacing, case, comments and folding (`dkim = fail (bad sig)`).
pub fn auth_results(header: &str) -> Vec<AuthResult> {
    let value = header.split_once(':').map(|(name, v)| if name.trim().eq_ignore_ascii_case("authentication-results") { v } else { header }).unwrap_or(header);
    let text = strip_comments(&value.replace(['\r', '\n'], " ")).to_ascii_lowercase();
    let mut parts = split_unquoted(&text, ';').into_iter();
    let id = parts.next().unwrap_or_default();
    let authserv_id = id.split_whitespace().next().unwrap_or("").to_string();
    let mut out = Vec::new();
    for p in parts {
        let p = p.trim_start();
        let Some((lhs, rest)) = p.split_once('=') else { continue };
        // `method [/ version]`
        let method = lhs.split('/').next().unwrap_or("").trim();
        let result: String = rest.trim_start().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
        if method.is_empty() || result.is_empty() || method.contains(char::is_whitespace) {
            continue;
        }
        out.push(AuthResult { authserv_id: authserv_id.clone(), method: method.to_string(), result });
    }
    out
}

fn split_unquoted(s: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in s.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        if c == sep && !quoted {
            out.push(String::new());
        } else {
            out.last_mut().expect("never empty").push(c);
        }
    }
    out
}

impl MailFacts {
    /// Why the sender's authentication says the mail may be forged, if it does: DMARC failed, or
    /// DKIM failed and SPF did not pass. Only the office's own server's verdicts (`authserv_id`)
    /// are trusted when it is named; a sender's own header can then neither help nor harm.
    pub fn auth_suspect(&self, authserv_id: Option<&str>) -> Option<String> {
        let trusted: Vec<&AuthResult> = self.auth.iter().filter(|r| authserv_id.is_none_or(|id| r.authserv_id == id)).collect();
        let is = |method: &str, results: &[&str]| trusted.iter().any(|r| r.method == method && results.contains(&r.result.as_str()));
        if is("dmarc", &["fail"]) {
            return Some("DMARC không đạt".into());
        }
        let spf_pass = is("spf", &["pass"]);
        if is("dkim", &["fail"]) && !spf_pass {
            return Some(if is("spf", &["fail", "softfail"]) { "DKIM và SPF đều không đạt".into() } else { "DKIM không đạt, SPF không xác nhận".into() });
        }
        None
    }
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
    if let Some(i) = memchr::memmem::find(raw, b"\r\n\r\n") {
        return &raw[i + 4..];
    }
    match memchr::memmem::find(raw, b"\n\n") {
        Some(i) => &raw[i + 2..],
        None => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_and_file_name_typed_in_vni_or_tcvn3_are_decoded() {
        let subject = crate::text::legacy::encode_vni("Báo cáo quý I năm 2021");
        let name = crate::text::legacy::encode_tcvn3("Báo cáo tự chấm điểm.xlsx");
        let raw = format!(
            "From: a@x.example\r\nSubject: =?UTF-8?B?{}?=\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhi\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=UTF-8''{}\r\n\r\nPK\r\n--b--\r\n",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, subject.as_bytes()),
            name.bytes().map(|b| format!("%{b:02X}")).collect::<String>()
        );
        let f = parse(raw.as_bytes());
        assert_eq!(f.subject, "Báo cáo quý I năm 2021");
        assert_eq!(f.attachments[0].filename, "Báo cáo tự chấm điểm.xlsx");
    }

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
        assert!(f.auth_suspect(None).is_some());
        let f = parse(b"Authentication-Results: mx; dkim=pass header.d=x; spf=fail smtp.mailfrom=a@x\r\nFrom: a@x.example\r\nSubject: x\r\n\r\nbody");
        assert!(f.auth_suspect(None).is_none());
    }

    #[test]
    fn authentication_results_are_read_as_rfc_8601_writes_them() {
        let r = auth_results("Authentication-Results: MX.SYT.example (Postfix 3.7);\r\n dkim = fail (signature did not verify) header.d=x.example;\r\n\tspf=none smtp.mailfrom=a@x.example; DMARC=Fail header.from=x.example");
        let got: Vec<(&str, &str, &str)> = r.iter().map(|a| (a.authserv_id.as_str(), a.method.as_str(), a.result.as_str())).collect();
        assert_eq!(got, vec![("mx.syt.example", "dkim", "fail"), ("mx.syt.example", "spf", "none"), ("mx.syt.example", "dmarc", "fail")]);
        assert!(auth_results("mx.example; none").is_empty());
        let quoted = auth_results("mx.example; dkim=pass header.b=\"a;b=c\"; spf=pass");
        assert_eq!(quoted.len(), 2, "{quoted:?}");
    }

    #[test]
    fn a_forged_mail_is_suspect_only_by_the_office_servers_word_when_it_is_named() {
        let spaced = parse(b"Authentication-Results: mx.syt.example; dkim = fail; spf = softfail\r\nFrom: a@x.example\r\nSubject: x\r\n\r\nb");
        assert_eq!(spaced.auth_suspect(None).as_deref(), Some("DKIM và SPF đều không đạt"));
        let dmarc = parse(b"Authentication-Results: mx.syt.example; dkim=none; spf=fail; dmarc=fail\r\nFrom: a@x.example\r\nSubject: x\r\n\r\nb");
        assert_eq!(dmarc.auth_suspect(Some("mx.syt.example")).as_deref(), Some("DMARC không đạt"));
        // The sender's own header claiming a failure (or a pass) is not the office server's word.
        let sender_says = parse(b"Authentication-Results: evil.example; dmarc=fail\r\nAuthentication-Results: mx.syt.example; dkim=pass; spf=pass; dmarc=pass\r\nFrom: a@x.example\r\nSubject: x\r\n\r\nb");
        assert!(sender_says.auth_suspect(Some("mx.syt.example")).is_none());
        let hides = parse(b"Authentication-Results: mx.syt.example; dmarc=fail\r\nAuthentication-Results: mx.syt.example; dmarc=pass\r\nFrom: a@x.example\r\nSubject: x\r\n\r\nb");
        assert!(hides.auth_suspect(Some("mx.syt.example")).is_some(), "a pass added by the sender cannot hide the server's fail");
    }

    #[test]
    fn read_receipts_and_null_senders_are_recognised() {
        let mdn = parse(b"From: a@x.example\r\nSubject: Read: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=disposition-notification; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nread\r\n--b--\r\n");
        assert!(mdn.receipt);
        let null = parse(b"Return-Path: <>\r\nFrom: a@x.example\r\nSubject: x\r\n\r\nb");
        assert!(null.null_sender);
        let normal = parse(b"Return-Path: <a@x.example>\r\nFrom: a@x.example\r\nSubject: x\r\n\r\nb");
        assert!(!normal.null_sender && !normal.receipt);
    }

    #[test]
    fn a_huge_subject_is_kept_and_echoed_within_the_line_limit() {
        let mut raw = b"From: a@x.example\r\nSubject: ".to_vec();
        raw.extend(std::iter::repeat_n(b'a', 100_000));
        raw.extend_from_slice(b"\x00b\r\n\r\nbody");
        let f = parse(&raw);
        assert_eq!(f.subject.len(), MAX_HEADER_TEXT);
        let nul = parse(b"From: a@x.example\r\nSubject: =?UTF-8?B?QsOhbyBjw6FvAA==?=\r\n\r\nb");
        assert!(!nul.subject.contains('\0'), "{:?}", nul.subject);
    }

    /// The facts as mail-parser's own decoding gives them, for comparison.
    fn decoded_by_mail_parser(raw: &[u8]) -> MailFacts {
        facts_of(&MessageParser::default().parse(raw).unwrap(), 0, Bodies::Decoded).unwrap_or_default()
    }

    fn same_reading(raw: &[u8]) -> MailFacts {
        let (ours, theirs) = (parse(raw), decoded_by_mail_parser(raw));
        let bodies = |f: &MailFacts| (f.body_text.clone(), f.attachments.iter().map(|a| (a.filename.clone(), a.content_type.clone(), a.data.clone())).collect::<Vec<_>>());
        assert_eq!(bodies(&ours), bodies(&theirs), "{}", String::from_utf8_lossy(raw));
        assert_eq!(ours.forwarded.as_ref().map(|f| bodies(f)), theirs.forwarded.as_ref().map(|f| bodies(f)));
        ours
    }

    fn with_part(cte: &str, ctype: &str, body: &str) -> Vec<u8> {
        format!(
            "From: a@x.example\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nK=C3=ADnh g=E1=BB=ADi=\r\n anh\r\n--b\r\nContent-Type: {ctype}\r\nContent-Disposition: attachment; filename=\"a.bin\"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n{body}\r\n--b--\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn parts_decoded_here_equal_mail_parsers_own_decoding_clean_or_not() {
        use base64::Engine;
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
        let lines: Vec<&str> = b64.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect();
        let f = same_reading(&with_part("base64", "application/octet-stream", &lines.join("\r\n")));
        assert_eq!(f.attachments[0].data, data);
        assert_eq!(f.body_text, "Kính gửi anh\n");
        for n in [1, 2, 3] {
            let short = base64::engine::general_purpose::STANDARD.encode(&data[..n]);
            same_reading(&with_part("BASE64", "application/octet-stream", &short));
            same_reading(&with_part("base64", "application/octet-stream", short.trim_end_matches('=')));
        }
        // Odd lines, spaces, padding in the middle, a stray dash, bad characters: mail-parser's way.
        for odd in ["QUJD\r\nREVG\r\nRw", "QUJ\r\nDREVG", "QU JD", "QQ==QUJD", "QUJD-REVG", "QUJD*REVG", "Q===", "QR==", "QUJDR", "", "\r\n"] {
            same_reading(&with_part("base64", "application/octet-stream", odd));
        }
        let text = base64::engine::general_purpose::STANDARD.encode("Báo cáo quý I".as_bytes());
        assert_eq!(same_reading(&with_part("base64", "text/plain; charset=utf-8", &text)).attachments[0].data, "Báo cáo quý I".as_bytes());
        same_reading(&with_part("base64", "text/plain; charset=windows-1258", &base64::engine::general_purpose::STANDARD.encode(b"K\xEDnh")));
        same_reading(&with_part("quoted-printable", "application/octet-stream", "a=3Db=\r\nc = =ZZ"));
        same_reading(&with_part("7bit", "application/octet-stream", "plain"));
        // Named twice: the last one counts, both ways.
        let twice = same_reading(&with_part("7bit\r\nContent-Transfer-Encoding: base64", "application/octet-stream", "QUJD"));
        assert_eq!(twice.attachments[0].data, b"ABC");
    }

    proptest::proptest! {
        /// Any body under any transfer encoding, clean or not: the same bytes both ways.
        #[test]
        fn any_part_reads_the_same_decoded_here_or_by_mail_parser(
            body in "[A-Za-z0-9+/=\\-* \r\n\t%]{0,200}",
            cte in proptest::sample::select(vec!["base64", "quoted-printable", "7bit", "Base64"]),
            ctype in proptest::sample::select(vec!["application/octet-stream", "text/plain; charset=utf-8", "text/html", "image/png"]),
        ) {
            // Except mail-parser's loss of a quoted-printable part's tail (next test), and a
            // body holding its own boundary (then the part is cut mid-line, mid-escape).
            if body.contains("--b") {
                return Ok(());
            }
            let last_line = body.rsplit('\n').next().unwrap_or_default();
            let soft_break_at_end = cte == "quoted-printable" && last_line.trim_end_matches([' ', '\t', '\r']).ends_with('=');
            if soft_break_at_end {
                return Ok(());
            }
            same_reading(&with_part(cte, ctype, &body));
        }
    }

    #[test]
    fn a_quoted_printable_part_ending_in_a_soft_line_break_keeps_its_last_characters() {
        // mail-parser alone reads "abc=" before the boundary as "a" (it takes back two bytes too many).
        for (body, want) in [("abc=", "abc"), ("ab=\r\nc=", "abc"), ("abc= ", "abc")] {
            let f = parse(&with_part("quoted-printable", "application/octet-stream", body));
            assert_eq!(f.attachments[0].data, want.as_bytes(), "{body:?}");
        }
        let raw = "From: a@x.example\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nK=C3=ADnh g=E1=BB=ADi V=C4=83n ph=C3=B2ng=\r\n--b--\r\n";
        assert_eq!(parse(raw.as_bytes()).body_text, "Kính gửi Văn phòng\n");
    }

    #[test]
    fn a_winmail_dat_gives_way_to_its_files_and_its_text_is_the_mails_when_it_has_none() {
        let tnef = std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tnefparse/body.tnef")).unwrap();
        let two = std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tnefparse/two-files.tnef")).unwrap();
        use base64::Engine;
        let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
        let raw = |d: &[u8]| format!("From: a@b.example\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\n--o\r\nContent-Type: application/ms-tnef; name=\"winmail.dat\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--o--\r\n", b64(d));
        let f = parse(raw(&tnef).as_bytes());
        assert!(f.attachments.is_empty(), "{:?}", f.attachments.iter().map(|a| &a.filename).collect::<Vec<_>>());
        assert!(f.body_text.contains("THE BILL OF RIGHTS"), "the HTML text of the wrapper: {}", f.body_text);
        let f = parse(raw(&two).as_bytes());
        assert_eq!(f.attachments.iter().map(|a| a.filename.as_str()).collect::<Vec<_>>(), ["AUTHORS", "README"]);
    }

    #[test]
    fn a_forwarded_message_in_base64_or_as_it_is_is_read_with_its_attachment() {
        use base64::Engine;
        let inner = "Authentication-Results: mx.syt.example; dmarc=fail\r\nFrom: u@unit.example\r\nSubject: =?UTF-8?B?QsOhbyBjw6Fv?=\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"i\"\r\n\r\n--i\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nZ+G7rWkgVsSDbiBwaMOybmc=\r\n--i\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"r.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--i--\r\n";
        for (cte, body) in [("7bit", inner.to_string()), ("base64", base64::engine::general_purpose::STANDARD.encode(inner))] {
            let raw = format!("From: staff@office.example\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\n--o\r\nContent-Type: text/plain\r\n\r\nxem\r\n--o\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: {cte}\r\n\r\n{body}\r\n--o--\r\n");
            let f = same_reading(raw.as_bytes());
            let fwd = f.forwarded.expect("the forwarded message");
            assert_eq!(fwd.subject, "Báo cáo", "{cte}");
            assert_eq!(fwd.body_text, "gửi Văn phòng\n", "{cte}");
            assert_eq!(fwd.attachments[0].data, b"%PDF-1.4\n", "{cte}");
            // Its own header block is read where it lies in the outer message.
            assert_eq!(fwd.auth_suspect(Some("mx.syt.example")).as_deref(), Some("DMARC không đạt"), "{cte}");
        }
    }

    #[test]
    fn the_body_is_what_follows_the_header_block() {
        assert_eq!(body_bytes(b"A: b\r\nC: d\r\n\r\nhello"), b"hello");
        assert_eq!(body_bytes(b"A: b\n\nhello"), b"hello");
    }
}
