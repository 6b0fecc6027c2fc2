//! Test fixtures built in code: Word reports (docx-rs), score workbooks (rust_xlsxwriter), MIME
//! messages, a small office's config, and fresh databases (a SQLite file, or a PostgreSQL
//! database created for the test and dropped after it).
#![allow(dead_code)]

pub mod browser;
pub mod forms;

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_baocao"))
}

pub fn b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (i, chunk) in data.chunks(3).enumerate() {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = ((b[0] as u32) << 16) | ((b[1] as u32) << 8) | b[2] as u32;
        for j in 0..4 {
            if j <= chunk.len() {
                out.push(T[((n >> (18 - 6 * j)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
        if (i + 1) % 19 == 0 {
            out.push_str("\r\n");
        }
    }
    out
}

/// A report the way units write them: a borderless header table, type, summary, body, signature.
pub fn report_docx(issuer: &str, number: &str, date_line: &str, doc_type: &str, summary: &str, body: &[&str], deleted: Option<&str>) -> Vec<u8> {
    use docx_rs::*;
    let cell = |lines: &[&str]| {
        let mut c = TableCell::new();
        for l in lines {
            c = c.add_paragraph(Paragraph::new().add_run(Run::new().add_text(*l)));
        }
        c
    };
    let number_line = format!("Số: {number}");
    let header = Table::new(vec![TableRow::new(vec![
        cell(&["SỞ Y TẾ TỈNH KIỂM THỬ", issuer, &number_line]),
        cell(&["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", date_line]),
    ])]);
    let mut d = Docx::new()
        .add_table(header)
        .add_paragraph(Paragraph::new().add_run(Run::new().add_text(doc_type).bold()))
        .add_paragraph(Paragraph::new().add_run(Run::new().add_text("Kết quả ")).add_run(Run::new().add_text(summary.trim_start_matches("Kết quả "))));
    for b in body {
        d = d.add_paragraph(Paragraph::new().add_run(Run::new().add_text(*b)));
    }
    if let Some(del) = deleted {
        d = d.add_paragraph(
            Paragraph::new()
                .add_run(Run::new().add_text("Kiến nghị: "))
                .add_delete(Delete::new().add_run(Run::new().add_delete_text(del)))
                .add_insert(Insert::new(Run::new().add_text("Không."))),
        );
    }
    d = d.add_table(Table::new(vec![TableRow::new(vec![cell(&["Nơi nhận:", "- Lưu: VT."]), cell(&["GIÁM ĐỐC", "", "Trần Thị Thu"])])]));
    let mut buf = Cursor::new(Vec::new());
    d.build().pack(&mut buf).unwrap();
    buf.into_inner()
}

/// A self-assessment workbook: issuer, title, the header row, numbered rows and a total row.
pub fn score_xlsx(issuer: &str, title: &str, rows: &[(&str, &str, f64, f64)], total: (f64, f64)) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Tự chấm điểm").unwrap();
    ws.write_string(0, 0, issuer).unwrap();
    ws.write_string(1, 0, title).unwrap();
    for (c, h) in ["STT", "Tiêu chí", "Điểm tối đa", "Điểm tự chấm"].iter().enumerate() {
        ws.write_string(3, c as u16, *h).unwrap();
    }
    for (i, (stt, name, max, got)) in rows.iter().enumerate() {
        let r = 4 + i as u32;
        ws.write_string(r, 0, *stt).unwrap();
        ws.write_string(r, 1, *name).unwrap();
        ws.write_number(r, 2, *max).unwrap();
        ws.write_number(r, 3, *got).unwrap();
    }
    let r = 4 + rows.len() as u32;
    ws.write_string(r, 1, "Tổng cộng").unwrap();
    ws.write_number(r, 2, total.0).unwrap();
    ws.write_number(r, 3, total.1).unwrap();
    wb.save_to_buffer().unwrap()
}

/// A MIME message with base64 attachments and RFC 2231 file names.
/// A plain mail with no attachment: a unit's question or request for more time.
pub fn text_mail(from: &str, subject: &str, message_id: &str, date: &str, body: &str) -> Vec<u8> {
    let enc_subject = format!("=?UTF-8?B?{}?=", b64(subject.as_bytes()).replace("\r\n", ""));
    format!(
        "Received: from mx.test by mx.so.test; {date}\r\nFrom: {from}\r\nTo: vanphong@so.test\r\nSubject: {enc_subject}\r\nDate: {date}\r\nMessage-ID: {message_id}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        b64(body.as_bytes())
    )
    .into_bytes()
}

pub fn mail(from: &str, subject: &str, message_id: &str, date: &str, extra_headers: &str, attachments: &[(&str, &[u8])]) -> Vec<u8> {
    let enc_subject = format!("=?UTF-8?B?{}?=", b64(subject.as_bytes()).replace("\r\n", ""));
    let mut m = format!(
        "Received: from mx.test by mx.so.test; {date}\r\nFrom: {from}\r\nTo: vanphong@so.test\r\nSubject: {enc_subject}\r\nDate: {date}\r\nMessage-ID: {message_id}\r\n{extra_headers}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XYZ\"\r\n\r\n--XYZ\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        b64("Kính gửi Văn phòng Sở.".as_bytes())
    );
    for (name, data) in attachments {
        let pct: String = name.bytes().map(|b| if b.is_ascii_alphanumeric() || b == b'.' { (b as char).to_string() } else { format!("%{b:02X}") }).collect();
        m.push_str(&format!(
            "--XYZ\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=UTF-8''{pct}\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            b64(data)
        ));
    }
    m.push_str("--XYZ--\r\n");
    m.into_bytes()
}

pub const CONFIG: &str = r#"
[office]
name = "Văn phòng Sở Y tế Kiểm Thử"
address = "vanphong@so.test"
timezone = "Asia/Ho_Chi_Minh"
leadership = ["giamdoc@so.test"]
staff = ["chanhvanphong@so.test"]

[database]
url = "DBURL"

[intake]
source = "maildir:inbox"
# The tests' mail is from 2021; the office answers it as if it had just arrived.
acknowledge_within_days = 36500

[outbound]
transport = "file:var/outbox"
from = "Văn phòng Sở <vanphong@so.test>"
# Tests send many reports from one address; the flood test sets its own limit.
acks_per_sender_hour = 1000

[schedule]
reminders = "0 0 8 * * Mon-Fri"

[calendar]
start = "2021-01-01"
shift_to_workday = true
holidays = ["2021-04-30", "2021-05-03"]

[[unit]]
id = "BVA"
name = "Bệnh viện Đa khoa An Bình"
aliases = ["BV An Bình", "BVĐK An Bình"]
emails = ["bva@test.example"]
group = "benh-vien"

[[unit]]
id = "TTYT-B"
name = "Trung tâm Y tế huyện Bắc Sơn"
aliases = ["TTYT Bắc Sơn"]
emails = ["ttyt.bacson@test.example"]
group = "ttyt"

[[unit]]
id = "CC-C"
name = "Chi cục Dân số tỉnh"
aliases = ["Chi cục DS"]
emails = ["ccds@test.example"]
group = "chi-cuc"

[[report]]
id = "q-report"
name = "Báo cáo kết quả công tác quý"
keywords = ["báo cáo quý", "kết quả công tác quý", "BC quý"]
doc_types = ["BÁO CÁO"]
period = "quarter"
due = { month = "next", day = 10, exclusive = true }
applies_to = ["benh-vien", "ttyt"]
extract = "report"
remind_before_days = [3]
remind_after_days = [1, 5]
escalate_after_days = 5

[[report]]
id = "score"
name = "Bảng tự chấm điểm"
keywords = ["tự chấm điểm", "chấm điểm"]
period = "year"
due = { month = 10, day = 20 }
applies_to = ["*"]
extract = "score-table"
remind_before_days = [5]
remind_after_days = [2]
"#;

/// A database for one test: a SQLite file in the office folder, or a fresh PostgreSQL database.
pub enum Db {
    Sqlite,
    Postgres(String),
}

impl Db {
    pub fn url(&self) -> String {
        match self {
            Db::Sqlite => "sqlite://var/baocao.db".into(),
            Db::Postgres(name) => format!("postgres://postgres@127.0.0.1:5432/{name}"),
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Db::Postgres(name) = self {
            let _ = psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

fn psql(sql: &str) -> std::io::Result<Output> {
    Command::new("psql").args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql]).output()
}

fn unique() -> String {
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{}_{}", std::process::id(), n % 1_000_000_000)
}

/// The databases to run a test against: SQLite always; PostgreSQL when reachable, and required
/// when `BAOCAO_TEST_PG=require` (CI sets it, so a missing server fails instead of skipping).
pub fn databases() -> Vec<Db> {
    let mut v = vec![Db::Sqlite];
    let mode = std::env::var("BAOCAO_TEST_PG").unwrap_or_default();
    if mode == "0" {
        return v;
    }
    let name = format!("baocao_test_{}", unique());
    match psql(&format!("CREATE DATABASE {name}")) {
        Ok(o) if o.status.success() => v.push(Db::Postgres(name)),
        other => {
            if mode == "require" {
                panic!("PostgreSQL is required (BAOCAO_TEST_PG=require) but unreachable: {other:?}");
            }
            eprintln!("note: PostgreSQL unreachable, testing SQLite only");
        }
    }
    v
}

/// One office on disk: config, an empty Maildir inbox, its database.
pub struct Office {
    pub dir: tempfile::TempDir,
    pub db: Db,
}

impl Office {
    pub fn new(db: Db) -> Office {
        Office::with_config(db, CONFIG)
    }

    pub fn with_config(db: Db, config: &str) -> Office {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), config.replace("DBURL", &db.url())).unwrap();
        std::fs::create_dir_all(dir.path().join("inbox/new")).unwrap();
        Office { dir, db }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Delivers a message into inbox/new with the arrival time in its name.
    pub fn deliver(&self, arrival: i64, tag: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path().join(format!("inbox/new/{arrival}.M{tag}P1.test"));
        std::fs::write(&p, bytes).unwrap();
        p
    }

    pub fn run(&self, args: &[&str]) -> Output {
        bin().current_dir(self.path()).arg("--config").arg("config.toml").args(args).output().unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(o.status.success(), "baocao {args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    /// Adds a console account (`baocao user add`), the password given on stdin as a script would.
    pub fn add_user(&self, name: &str, role: &str, password: &str) {
        use std::io::Write;
        let mut c = bin()
            .current_dir(self.path())
            .args(["--config", "config.toml", "--by", "test", "user", "add", name, "--role", role])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "user add {name}: {}", String::from_utf8_lossy(&out.stderr));
    }

    pub fn outbox(&self) -> Vec<PathBuf> {
        let d = self.path().join("var/outbox");
        let mut v: Vec<PathBuf> = std::fs::read_dir(&d).map(|r| r.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "eml")).collect()).unwrap_or_default();
        v.sort();
        v
    }
}

/// RFC 2822 date and Unix seconds for a local time in Vietnam (UTC+7).
pub fn at(y: i32, mo: u32, d: u32, h: u32) -> (String, i64) {
    use chrono::TimeZone;
    let tz = chrono::FixedOffset::east_opt(7 * 3600).unwrap();
    let t = tz.with_ymd_and_hms(y, mo, d, h, 0, 0).unwrap();
    (t.to_rfc2822(), t.timestamp())
}

/// A quarterly report from unit BVA for 2021 Q1.
pub fn bva_q1(number: &str, day: u32) -> Vec<u8> {
    report_docx(
        "BỆNH VIỆN ĐA KHOA AN BÌNH",
        number,
        &format!("Kiểm Thử, ngày {day} tháng 4 năm 2021"),
        "BÁO CÁO",
        "Kết quả công tác quý I năm 2021",
        &["Bệnh viện Đa khoa An Bình báo cáo như sau:", "1. Khám chữa bệnh: 12.345 lượt."],
        Some("Đề nghị cắt giảm toàn bộ chỉ tiêu"),
    )
}

/// A report from TTYT-B on quý I whose subject names quý II: the machine cannot decide, so it
/// waits in review with TTYT-B, q-report, 2021-Q1 as its best guess.
pub fn ttyt_b_disputed(o: &Office) {
    let (d, t) = at(2021, 4, 12, 10);
    let doc = report_docx(
        "TRUNG TÂM Y TẾ HUYỆN BẮC SƠN",
        "5/BC-TTYT",
        "Bắc Sơn, ngày 12 tháng 4 năm 2021",
        "BÁO CÁO",
        "Kết quả công tác quý I năm 2021",
        &["Trung tâm Y tế huyện Bắc Sơn báo cáo như sau:", "1. Khám chữa bệnh: 2.345 lượt."],
        None,
    );
    o.deliver(t, "r", &mail("ttyt.bacson@test.example", "Báo cáo quý II năm 2021 - TTYT Bắc Sơn", "<r1@test>", &d, "", &[("BC quy I.docx", &doc)]));
}

/// A free loopback port for a server a test starts. Taken below Linux's ephemeral range (so
/// no client socket grabs it in between), never handed out twice in this process (tests run
/// in parallel threads), and checked free by binding it.
pub fn free_port() -> u16 {
    use std::sync::Mutex;
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap();
    let mut x = (std::process::id() as u64) ^ std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64;
    loop {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let port = 20000 + ((x >> 33) % 12000) as u16;
        if given.contains(&port) {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.push(port);
            return port;
        }
    }
}

fn wait_for_port(port: u16, what: &str) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("{what} did not start listening on 127.0.0.1:{port}");
}

/// Finds a Debian daemon that may live in an sbin directory outside a test's PATH.
pub fn sbin(name: &str) -> PathBuf {
    for d in ["/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin"] {
        let p = Path::new(d).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} is not installed (apt-get install postfix dovecot-imapd)");
}

/// Postfix's smtp-sink on a loopback port, writing every message it accepts to a file.
pub struct SmtpSink {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: std::process::Child,
}

/// One message as smtp-sink wrote it: the envelope recipients and the message.
pub struct Sunk {
    pub rcpt: Vec<String>,
    pub raw: Vec<u8>,
}

impl Sunk {
    pub fn header(&self, name: &str) -> Option<String> {
        let m = mail_parser::MessageParser::default().parse(&self.raw)?;
        m.header_raw(name).map(|v| v.trim().to_string())
    }
    pub fn key(&self) -> String {
        self.header("X-Baocao-Key").unwrap_or_default()
    }
    pub fn kind(&self) -> String {
        self.header("X-Baocao-Kind").unwrap_or_default()
    }
    pub fn attachment_names(&self) -> Vec<String> {
        let m = mail_parser::MessageParser::default().parse(&self.raw).unwrap();
        use mail_parser::MimeHeaders;
        m.attachments().filter_map(|a| a.attachment_name().map(|n| n.to_string())).collect()
    }
    pub fn attachment(&self, i: usize) -> Vec<u8> {
        let m = mail_parser::MessageParser::default().parse(&self.raw).unwrap();
        m.attachment(i as u32).map(|a| a.contents().to_vec()).unwrap_or_default()
    }
    pub fn html(&self) -> String {
        let m = mail_parser::MessageParser::default().parse(&self.raw).unwrap();
        m.body_html(0).map(|h| h.to_string()).unwrap_or_default()
    }
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        Self::start_on(free_port(), &[])
    }

    /// smtp-sink on `port` with extra options (e.g. `-f CONNECT`: a 5xx greeting).
    pub fn start_on(port: u16, extra: &[&str]) -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("m")).unwrap();
        // smtp-sink drops to `nobody` and writes there.
        let _ = Command::new("chown").args(["-R", "nobody"]).arg(dir.path()).status();
        let _ = Command::new("chmod").args(["755"]).arg(dir.path()).status();
        let child = Command::new(sbin("smtp-sink"))
            .args(extra)
            .args(["-u", "nobody", "-R"])
            .arg(dir.path())
            .args(["-d", "/m/%M."])
            .arg(format!("127.0.0.1:{port}"))
            .arg("100")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("smtp-sink (apt-get install postfix)");
        let mut child = child;
        wait_for_port(port, "smtp-sink");
        assert!(child.try_wait().unwrap().is_none(), "smtp-sink exited: port {port} taken?");
        SmtpSink { port, dir, child }
    }

    pub fn url(&self) -> String {
        format!("smtp+plain://127.0.0.1:{}", self.port)
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<Sunk> {
        let mut out = Vec::new();
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("m")).unwrap().flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            // smtp-sink removes the file of a transaction the client abandoned mid-way.
            let Ok(data) = std::fs::read(&p) else { continue };
            let mut rcpt = Vec::new();
            let mut rest = &data[..];
            // The envelope comes first, as X-…-Args lines.
            loop {
                let end = rest.iter().position(|b| *b == b'\n').map(|i| i + 1).unwrap_or(rest.len());
                let line = String::from_utf8_lossy(&rest[..end]).to_string();
                if let Some(r) = line.strip_prefix("X-Rcpt-Args:") {
                    // An MTA relaying adds ESMTP parameters (ORCPT=…) after the address.
                    rcpt.push(r.split_whitespace().next().unwrap_or_default().trim_matches(['<', '>']).to_lowercase());
                } else if !line.starts_with("X-") || end == 0 {
                    break;
                }
                rest = &rest[end..];
            }
            out.push(Sunk { rcpt, raw: data });
        }
        out
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private Dovecot on a loopback port (as ../shared/notes/real-servers.md describes), with
/// one user `vanphong` / `secret`. Stop and start it again with the same mail store.
pub struct Dovecot {
    pub port: u16,
    /// The implicit-TLS port when started with TLS.
    pub tls_port: Option<u16>,
    pub dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

/// Dovecot's auth settings for OAuth2 (when a provider is given): its mechanisms, and the
/// `oauth2` passdb checking tokens at the provider's introspection endpoint.
fn oauth2_passdb(dir: &Path, provider: Option<&OAuthProvider>) -> (String, String) {
    let Some(p) = provider else { return ("plain login".into(), String::new()) };
    let ext = dir.join("dovecot-oauth2.conf.ext");
    std::fs::write(
        &ext,
        format!(
            "introspection_mode = post\nintrospection_url = {}\nforce_introspection = yes\nusername_attribute = username\nactive_attribute = active\nactive_value = true\n",
            p.url("/introspect")
        ),
    )
    .unwrap();
    ("plain login xoauth2 oauthbearer".into(), format!("passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {}\n}}\n", ext.display()))
}

/// A small OAuth2 provider on loopback, as Google's or Microsoft's are to a mail server and to
/// a client: a token endpoint exchanging the refresh token `refresh` for access tokens
/// (`tok-1`, `tok-2`, …), and an introspection endpoint (RFC 7662) saying which are active and
/// whose. With `first_expired`, the first token it issues is already dead when used.
pub struct OAuthProvider {
    pub port: u16,
    pub state: std::sync::Arc<std::sync::Mutex<OAuthState>>,
}

#[derive(Default, Debug)]
pub struct OAuthState {
    pub user: String,
    pub refresh: String,
    /// Active tokens.
    pub good: std::collections::HashSet<String>,
    pub issued: usize,
    pub first_expired: bool,
    /// Every token the mail servers asked about.
    pub introspected: Vec<String>,
}

impl OAuthProvider {
    pub fn start(user: &str, refresh: &str, first_expired: bool) -> OAuthProvider {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = std::sync::Arc::new(std::sync::Mutex::new(OAuthState { user: user.into(), refresh: refresh.into(), first_expired, ..Default::default() }));
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let st = st.clone();
                std::thread::spawn(move || OAuthProvider::serve(conn, &st));
            }
        });
        OAuthProvider { port, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Makes `token` active.
    pub fn grant(&self, token: &str) {
        self.state.lock().unwrap().good.insert(token.to_string());
    }

    fn serve(mut conn: std::net::TcpStream, st: &std::sync::Mutex<OAuthState>) {
        use std::io::{Read, Write};
        let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(10)));
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let (head, body) = loop {
            let Ok(n) = conn.read(&mut chunk) else { return };
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..i]).to_string();
                let len: usize = head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0))).unwrap_or(0);
                while buf.len() < i + 4 + len {
                    let Ok(n) = conn.read(&mut chunk) else { return };
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                break (head, String::from_utf8_lossy(&buf[i + 4..]).to_string());
            }
        };
        let form: std::collections::HashMap<String, String> = body
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), percent_decode_form(v)))
            .collect();
        let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
        let (status, json) = {
            let mut s = st.lock().unwrap();
            match path.as_str() {
                "/introspect" => {
                    let token = form.get("token").cloned().unwrap_or_default();
                    s.introspected.push(token.clone());
                    if s.good.contains(&token) {
                        (200, format!("{{\"active\": true, \"username\": \"{}\"}}", s.user))
                    } else {
                        (200, "{\"active\": false}".to_string())
                    }
                }
                "/token" if form.get("grant_type").map(String::as_str) == Some("refresh_token") && form.get("refresh_token") == Some(&s.refresh) => {
                    s.issued += 1;
                    let t = format!("tok-{}", s.issued);
                    if !(s.first_expired && s.issued == 1) {
                        s.good.insert(t.clone());
                    }
                    (200, format!("{{\"access_token\": \"{t}\", \"expires_in\": 3599, \"token_type\": \"Bearer\"}}"))
                }
                "/token" => (400, "{\"error\": \"invalid_grant\", \"error_description\": \"Token has been expired or revoked.\"}".to_string()),
                _ => (404, "{}".to_string()),
            }
        };
        let _ = conn.write_all(format!("HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}", json.len()).as_bytes());
    }
}

fn percent_decode_form(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap_or(b'?'));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

/// A private certificate authority and a server certificate for localhost / 127.0.0.1, made
/// with openssl in `dir`: returns (CA file, server certificate, server key).
pub fn make_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let o = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl");
        assert!(o.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    run(&["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=baocao test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    run(&["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]);
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n").unwrap();
    run(&["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf"]);
    (dir.join("ca.pem"), dir.join("server.pem"), dir.join("server.key"))
}

impl Dovecot {
    pub fn start() -> Dovecot {
        Dovecot::start_with(false)
    }

    /// With `tls`: STARTTLS on the plain port and implicit TLS on `tls_port`, with a certificate
    /// from a private CA (`ca.pem` in the server's folder).
    pub fn start_with(tls: bool) -> Dovecot {
        Dovecot::start_opts(tls, None)
    }

    /// With OAuth2 besides the password: XOAUTH2 and OAUTHBEARER checked at `provider`'s
    /// introspection endpoint (Dovecot's `oauth2` passdb).
    pub fn start_with_oauth2(provider: &OAuthProvider) -> Dovecot {
        Dovecot::start_opts(false, Some(provider))
    }

    fn start_opts(tls: bool, oauth2: Option<&OAuthProvider>) -> Dovecot {
        let dir = tempfile::Builder::new().prefix("dovecot").tempdir().unwrap();
        let r = dir.path();
        for d in ["mail", "run", "state"] {
            std::fs::create_dir_all(r.join(d)).unwrap();
        }
        let _ = Command::new("chown").args(["65534:65534"]).arg(r.join("mail")).status();
        let _ = Command::new("chmod").args(["755"]).arg(r).status();
        std::fs::write(r.join("users"), "vanphong:{PLAIN}secret\n").unwrap();
        let port = free_port();
        let tls_port = if tls { Some(free_port()) } else { None };
        let ssl = if tls {
            let (_, cert, key) = make_certs(r);
            format!("ssl = yes\nssl_cert = <{}\nssl_key = <{}\n", cert.display(), key.display())
        } else {
            "ssl = no\n".to_string()
        };
        let rs = r.display();
        let (mechanisms, oauth_passdb) = oauth2_passdb(r, oauth2);
        let conf = format!(
            "base_dir = {rs}/run\nstate_dir = {rs}/state\nlog_path = {rs}/dovecot.log\nprotocols = imap\nlisten = 127.0.0.1\n{ssl}\
             disable_plaintext_auth = no\nauth_mechanisms = {mechanisms}\nmail_location = maildir:{rs}/mail/%u\nfirst_valid_uid = 1\n\
             passdb {{\n  driver = passwd-file\n  mechanisms = plain login\n  args = scheme=PLAIN username_format=%u {rs}/users\n}}\n{oauth_passdb}\
             userdb {{\n  driver = static\n  args = uid=65534 gid=65534 home={rs}/mail/%u\n}}\n\
             service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {}\n  }}\n}}\n",
            tls_port.unwrap_or(0)
        );
        std::fs::write(r.join("dovecot.conf"), conf).unwrap();
        let mut d = Dovecot { port, tls_port, dir, child: None };
        d.resume();
        d
    }

    /// Starts (again) on the same port and mail store.
    pub fn resume(&mut self) {
        let child = Command::new(sbin("dovecot"))
            .args(["-F", "-c"])
            .arg(self.dir.path().join("dovecot.conf"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("dovecot (apt-get install dovecot-imapd)");
        self.child = Some(child);
        wait_for_port(self.port, "dovecot");
        assert!(self.child.as_mut().unwrap().try_wait().unwrap().is_none(), "dovecot exited: port {} taken?", self.port);
    }

    /// Stops the server (its clients see the connection drop).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // The master's children (imap, imap-login) go with it; wait until the port is closed.
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
    }

    pub fn url(&self) -> String {
        format!("imap://vanphong@127.0.0.1:{}/INBOX", self.port)
    }

    pub fn client(&self) -> Imap {
        Imap::login(self.port)
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
        let pid = std::fs::read_to_string(self.dir.path().join("run/master.pid")).unwrap_or_default();
        if let Ok(pid) = pid.trim().parse::<i32>() {
            let _ = Command::new("kill").arg(pid.to_string()).stderr(std::process::Stdio::null()).status();
        }
    }
}

/// A minimal synchronous IMAP client for tests: APPEND with INTERNALDATE, flags, folders.
pub struct Imap {
    r: std::io::BufReader<std::net::TcpStream>,
    w: std::net::TcpStream,
    tag: u32,
}

impl Imap {
    pub fn login(port: u16) -> Imap {
        let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
        let mut c = Imap { r: std::io::BufReader::new(s.try_clone().unwrap()), w: s, tag: 0 };
        c.line();
        c.cmd("LOGIN vanphong secret");
        c
    }

    fn line(&mut self) -> String {
        use std::io::BufRead;
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        l
    }

    /// Sends a command and returns the untagged lines; panics unless it ends OK.
    pub fn cmd(&mut self, c: &str) -> Vec<String> {
        use std::io::Write;
        self.tag += 1;
        let t = format!("T{}", self.tag);
        self.w.write_all(format!("{t} {c}\r\n").as_bytes()).unwrap();
        let mut lines = Vec::new();
        loop {
            let l = self.line();
            assert!(!l.is_empty(), "IMAP connection closed during {c}");
            if let Some(rest) = l.strip_prefix(&format!("{t} ")) {
                assert!(rest.starts_with("OK"), "{c}: {rest}");
                return lines;
            }
            lines.push(l);
        }
    }

    /// APPENDs a message with an arrival time (unix seconds) as its INTERNALDATE.
    pub fn append(&mut self, mailbox: &str, arrival: i64, msg: &[u8]) {
        use std::io::Write;
        let d = chrono::DateTime::from_timestamp(arrival, 0).unwrap().format("%d-%b-%Y %H:%M:%S +0000");
        self.tag += 1;
        let t = format!("T{}", self.tag);
        self.w.write_all(format!("{t} APPEND {mailbox} \"{d}\" {{{}}}\r\n", msg.len()).as_bytes()).unwrap();
        let cont = self.line();
        assert!(cont.starts_with('+'), "APPEND: {cont}");
        self.w.write_all(msg).unwrap();
        self.w.write_all(b"\r\n").unwrap();
        loop {
            let l = self.line();
            if let Some(rest) = l.strip_prefix(&format!("{t} ")) {
                assert!(rest.starts_with("OK"), "APPEND: {rest}");
                return;
            }
        }
    }

    /// UID -> flags of every message in `mailbox`.
    pub fn flags(&mut self, mailbox: &str) -> Vec<(u32, String)> {
        self.cmd(&format!("SELECT {mailbox}"));
        let lines = self.cmd("UID FETCH 1:* (UID FLAGS)");
        let re = regex::Regex::new(r"UID (\d+).*FLAGS \(([^)]*)\)|FLAGS \(([^)]*)\).*UID (\d+)").unwrap();
        let mut v: Vec<(u32, String)> = lines
            .iter()
            .filter_map(|l| {
                let c = re.captures(l)?;
                match (c.get(1), c.get(2), c.get(3), c.get(4)) {
                    (Some(u), Some(f), _, _) => Some((u.as_str().parse().ok()?, f.as_str().to_string())),
                    (_, _, Some(f), Some(u)) => Some((u.as_str().parse().ok()?, f.as_str().to_string())),
                    _ => None,
                }
            })
            .collect();
        v.sort();
        v
    }

    pub fn count(&mut self, mailbox: &str) -> usize {
        let lines = self.cmd(&format!("STATUS {mailbox} (MESSAGES)"));
        let re = regex::Regex::new(r"MESSAGES (\d+)").unwrap();
        lines.iter().find_map(|l| re.captures(l).and_then(|c| c[1].parse().ok())).unwrap_or(0)
    }
}

/// Waits until `cond` holds, polling; panics with `what` after `secs`.
pub fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = std::time::Instant::now();
    while t0.elapsed().as_secs() < secs {
        if cond() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("timed out after {secs} s waiting for {what}");
}

/// A `baocao run` daemon in the background, stopped with SIGTERM (or killed) on drop.
pub struct Daemon {
    pub child: std::process::Child,
}

impl Daemon {
    pub fn start(o: &Office, envs: &[(&str, &str)]) -> Daemon {
        let mut c = bin();
        c.current_dir(o.path()).args(["--config", "config.toml", "run"]).stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null());
        c.stderr(std::fs::File::create(o.path().join(format!("daemon-{}.log", unique()))).unwrap());
        for (k, v) in envs {
            c.env(k, v);
        }
        Daemon { child: c.spawn().unwrap() }
    }

    /// SIGTERM, then the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let t0 = std::time::Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            if t0.elapsed().as_secs() > 20 {
                let _ = self.child.kill();
                panic!("the daemon did not stop within 20 s of SIGTERM");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A small HTTP GET on loopback: (status, body).
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let (code, _, body) = browser::http(port, "GET", path, &[], b"");
    (code, String::from_utf8_lossy(&body).to_string())
}

/// A private, full Postfix (master, `smtpd`, queue, `smtp` client) on loopback, as an office's
/// submission server is: STARTTLS on `port`, implicit TLS on `tls_port`, a third port offering
/// only AUTH LOGIN (`login_port`, STARTTLS); SASL through a private Dovecot's auth service (user
/// `sender` / `secret`); mail only from authenticated clients, relayed on to a smtp-sink whose
/// messages the test reads. The certificate comes from a private CA (`ca`).
pub struct Postfix {
    pub port: u16,
    pub tls_port: u16,
    pub login_port: u16,
    pub ca: PathBuf,
    pub sink: SmtpSink,
    pub dir: tempfile::TempDir,
    etc: PathBuf,
    master: Option<std::process::Child>,
    auth: Option<std::process::Child>,
}

impl Postfix {
    pub fn start() -> Postfix {
        Postfix::start_opts(None)
    }

    /// With XOAUTH2 and OAUTHBEARER besides the passwords, tokens checked at `provider`.
    pub fn start_with_oauth2(provider: &OAuthProvider) -> Postfix {
        Postfix::start_opts(Some(provider))
    }

    fn start_opts(oauth2: Option<&OAuthProvider>) -> Postfix {
        let sink = SmtpSink::start();
        let dir = tempfile::Builder::new().prefix("postfix").tempdir().unwrap();
        let r = dir.path().to_path_buf();
        for d in ["etc", "spool", "data", "auth/run", "auth/state"] {
            std::fs::create_dir_all(r.join(d)).unwrap();
        }
        // The daemons run as `postfix`: they must reach the folder and own their data folder.
        let _ = Command::new("chmod").args(["755"]).arg(&r).status();
        let _ = Command::new("chown").args(["postfix"]).arg(r.join("data")).status();
        let (ca, cert, key) = make_certs(&r);
        let _ = Command::new("chmod").args(["644"]).arg(&key).status();
        let (port, tls_port, login_port, auth_port) = (free_port(), free_port(), free_port(), free_port());

        let rs = r.display();
        std::fs::write(r.join("auth/users"), "sender:{PLAIN}secret\n").unwrap();
        let (mechanisms, oauth_passdb) = oauth2_passdb(&r.join("auth"), oauth2);
        std::fs::write(
            r.join("auth/dovecot.conf"),
            format!(
                "base_dir = {rs}/auth/run\nstate_dir = {rs}/auth/state\nlog_path = {rs}/auth/dovecot.log\nprotocols =\nlisten = 127.0.0.1\nssl = no\n\
                 disable_plaintext_auth = no\nauth_mechanisms = {mechanisms}\n\
                 passdb {{\n  driver = passwd-file\n  mechanisms = plain login\n  args = scheme=PLAIN username_format=%u {rs}/auth/users\n}}\n{oauth_passdb}\
                 userdb {{\n  driver = static\n  args = uid=65534 gid=65534 home={rs}/auth\n}}\n\
                 service auth {{\n  inet_listener {{\n    address = 127.0.0.1\n    port = {auth_port}\n  }}\n}}\n"
            ),
        )
        .unwrap();
        let auth = Command::new(sbin("dovecot"))
            .args(["-F", "-c"])
            .arg(r.join("auth/dovecot.conf"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("dovecot (apt-get install dovecot-imapd)");
        wait_for_port(auth_port, "dovecot's auth service");

        std::fs::write(
            r.join("etc/main.cf"),
            format!(
                "compatibility_level = 3.6\nqueue_directory = {rs}/spool\ndata_directory = {rs}/data\nmail_owner = postfix\nsetgid_group = postdrop\n\
                 inet_interfaces = loopback-only\ninet_protocols = ipv4\nmyhostname = smtp.test.example\nmydestination =\nmynetworks = 192.0.2.1/32\n\
                 relayhost = [127.0.0.1]:{}\nmaillog_file = {rs}/postfix.log\nmaillog_file_prefixes = {rs}\n\
                 smtpd_tls_cert_file = {}\nsmtpd_tls_key_file = {}\nsmtpd_tls_security_level = may\nsmtpd_tls_auth_only = yes\n\
                 smtpd_sasl_auth_enable = yes\nsmtpd_sasl_type = dovecot\nsmtpd_sasl_path = inet:127.0.0.1:{auth_port}\n\
                 smtpd_relay_restrictions = permit_sasl_authenticated, reject\n",
                sink.port,
                cert.display(),
                key.display()
            ),
        )
        .unwrap();
        let services = "pickup unix n - n 60 1 pickup\ncleanup unix n - n - 0 cleanup\nqmgr unix n - n 300 1 qmgr\ntlsmgr unix - - n 1000? 1 tlsmgr\n\
             rewrite unix - - n - - trivial-rewrite\nbounce unix - - n - 0 bounce\ndefer unix - - n - 0 bounce\ntrace unix - - n - 0 bounce\n\
             verify unix - - n - 1 verify\nflush unix n - n 1000? 0 flush\nproxymap unix - - n - - proxymap\nsmtp unix - - n - - smtp\n\
             relay unix - - n - - smtp\nerror unix - - n - - error\nretry unix - - n - - error\ndiscard unix - - n - - discard\n\
             anvil unix - - n - 1 anvil\nscache unix - - n - 1 scache\npostlog unix-dgram n - n - 1 postlogd\n";
        std::fs::write(
            r.join("etc/master.cf"),
            format!(
                "127.0.0.1:{port} inet n - n - - smtpd\n127.0.0.1:{tls_port} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes\n\
                 127.0.0.1:{login_port} inet n - n - - smtpd -o smtpd_sasl_mechanism_filter=login\n{services}"
            ),
        )
        .unwrap();
        let etc = r.join("etc");
        let master = Command::new(sbin("postfix"))
            .arg("-c")
            .arg(&etc)
            .arg("start-fg")
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(r.join("start.log")).unwrap())
            .stderr(std::fs::File::create(r.join("start.err")).unwrap())
            .spawn()
            .expect("postfix (apt-get install postfix)");
        let mut p = Postfix { port, tls_port, login_port, ca, sink, dir, etc, master: Some(master), auth: Some(auth) };
        for (port, what) in [(port, "postfix smtpd"), (tls_port, "postfix smtpd (TLS)"), (login_port, "postfix smtpd (LOGIN)")] {
            for _ in 0..400 {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    break;
                }
                if let Some(s) = p.master.as_mut().unwrap().try_wait().unwrap() {
                    panic!("postfix exited ({s}): {}", p.log());
                }
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(), "{what} is not listening: {}", p.log());
        }
        p
    }

    /// Postfix's own log: who logged in, with which mechanism, what was relayed.
    pub fn log(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
        format!("{}{}{}", read("start.log"), read("start.err"), read("postfix.log"))
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new(sbin("postfix")).arg("-c").arg(&self.etc).arg("stop").stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).status();
        for c in [self.master.take(), self.auth.take()].into_iter().flatten() {
            let mut c = c;
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Converts `data` (a file with extension `from`) with a headless LibreOffice, as a clerk saving
/// "as Word 97" or "as PDF" would (`to` as `soffice --convert-to` takes it).
pub fn soffice(data: &[u8], from: &str, to: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join(format!("f.{from}"));
    std::fs::write(&input, data).unwrap();
    let out = Command::new("soffice")
        .args(["--headless", "--norestore", "--nolockcheck"])
        .arg(format!("-env:UserInstallation=file://{}/profile", dir.path().display()))
        .args(["--convert-to", to, "--outdir"])
        .arg(dir.path())
        .arg(&input)
        .env("HOME", dir.path())
        .output()
        .expect("soffice (apt-get install libreoffice-writer-nogui libreoffice-calc-nogui)");
    let ext = to.split(':').next().unwrap();
    std::fs::read(dir.path().join(format!("f.{ext}"))).unwrap_or_else(|_| panic!("soffice wrote no .{ext}: {}", String::from_utf8_lossy(&out.stderr)))
}

/// A PDF file of `objects` (numbered from 1, the first the catalog), with its cross-reference
/// table: enough for poppler to read.
pub fn pdf_of(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut pdf: Vec<u8> = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend(format!("{} 0 obj\n", i + 1).as_bytes());
        pdf.extend(o);
        pdf.extend(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        pdf.extend(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend(format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes());
    pdf
}

/// Every recorded message as `submissions --json` lists it.
pub fn subs(o: &Office) -> Vec<serde_json::Value> {
    o.json(&["submissions", "--json"]).as_array().unwrap().clone()
}

/// The recorded message with this Message-ID.
pub fn by_mid<'a>(s: &'a [serde_json::Value], mid: &str) -> &'a serde_json::Value {
    s.iter().find(|x| x["message_id"] == mid).unwrap_or_else(|| panic!("{mid} was not recorded: {s:?}"))
}

/// The text of every mail written to the file outbox.
pub fn mail_texts(o: &Office) -> Vec<String> {
    o.outbox()
        .into_iter()
        .filter_map(|p| {
            let raw = std::fs::read(p).unwrap();
            let m = mail_parser::MessageParser::default().parse(&raw)?;
            Some(m.body_text(0).map(|b| b.to_string()).unwrap_or_default())
        })
        .collect()
}
