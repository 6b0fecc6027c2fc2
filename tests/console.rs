//! The office's console (SPEC §14) in a real browser: Debian's Chromium through chromedriver,
//! against `baocao run` serving a small office built here. What a clerk and a leader do by
//! clicking, what a script without a session or a token cannot do, and how each page looks at
//! a desktop's and a phone's width.

mod common;

use common::browser::{http, Browser, Login};
use common::*;

const PASSWORD: &str = "mat-khau-du-dai-2021";

/// An office with a quarter accepted on time (BVA), one message waiting in review (TTYT-B), and
/// a daemon serving the console; accounts: a clerk, a viewer and an admin.
fn office_with_console(extra_units: &str) -> (Office, Daemon, u16) {
    office_with_console_on(Db::Sqlite, extra_units)
}

/// The same office on the database given (the console's tests run on SQLite, and on
/// PostgreSQL at least once).
fn office_with_console_on(db: Db, extra_units: &str) -> (Office, Daemon, u16) {
    let port = free_port();
    // The inbox is looked at every 2 s: a test that mails the running daemon does not wait a minute.
    let cfg = format!("{CONFIG}{extra_units}\n[http]\nlisten = \"127.0.0.1:{port}\"\n").replace("source = \"maildir:inbox\"", "source = \"maildir:inbox\"\npoll_seconds = 2");
    let o = Office::with_config(db, &cfg);
    let (d, t) = at(2021, 4, 5, 9);
    o.deliver(t, "1", &mail("bva@test.example", "Báo cáo quý I năm 2021", "<bva-q1@test>", &d, "", &[("BC quy I - BVA.docx", &bva_q1("12/BC-BVĐK", 5))]));
    ttyt_b_disputed(&o);
    o.ok(&["ingest", "inbox", "--no-deliver"]);
    o.add_user("lan", "clerk", PASSWORD);
    o.add_user("giamdoc", "viewer", PASSWORD);
    o.add_user("quantri", "admin", PASSWORD);
    let daemon = Daemon::start(&o, &[]);
    wait_until(20, "the console", || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    (o, daemon, port)
}

fn waiting_id(o: &Office) -> i64 {
    let subs = o.json(&["submissions", "--json", "--decision", "needs_review"]);
    subs[0]["id"].as_str().and_then(|i| i.parse().ok()).expect("one message waits in review")
}

#[test]
fn a_clerk_logs_in_sees_the_matrix_and_resolves_a_review_item_by_clicking() {
    let (o, daemon, port) = office_with_console("");
    let id = waiting_id(&o);
    let b = Browser::start(1280, 900);
    b.login(port, "lan", PASSWORD);
    assert_eq!(b.url().trim_end_matches('/'), format!("http://127.0.0.1:{port}"), "after logging in the browser lands on Tổng quan");
    assert!(b.text("h1").contains("năm 2026") || b.text("h1").contains("năm 20"), "the current year first");
    b.click("select[name=year] option[value='2021']");
    b.click("form.filters button");
    assert!(b.wait_for_url("year=2021", 10), "{}", b.url());
    let page = b.source();
    assert!(page.contains("Bệnh viện Đa khoa An Bình") && page.contains("Trung tâm Y tế huyện Bắc Sơn"), "the matrix lists the units");
    assert!(page.contains("Báo cáo kết quả công tác quý I năm 2021"), "a column per report and period, as an office writes it");
    assert!(page.contains("Đã nộp đúng hạn") && page.contains("Chờ xem xét"), "BVA submitted on time; TTYT-B waits in review");
    assert!(b.text("nav a[href='/review'] .badge").contains('1'), "the count waiting in review is on every page");

    b.click("nav a[href='/review']");
    assert!(b.source().contains("Báo cáo quý II năm 2021 - TTYT Bắc Sơn"), "the waiting message is listed with its subject");
    b.click(&format!("#m{id} form[action='/review/{id}/accept'] button"));
    assert!(b.text(".flash.ok").contains(&format!("Đã chấp nhận bài nộp số {id}")), "{}", b.source());
    assert!(b.source().contains("Không có thư nào chờ xem xét"));

    // The decision went through the office's action: status and audit changed, naming the clerk.
    let st = o.json(&["status", "--json", "--as-of", "2021-04-20", "--unit", "TTYT-B", "--report", "q-report", "--period", "2021-Q1"]);
    assert_eq!(st[0]["state"], "submitted_late", "{st}");
    let audit = o.json(&["audit", "--json"]);
    let ev = audit.as_array().unwrap().iter().find(|e| e["kind"] == "review_assign").expect("an audit event for the decision");
    assert_eq!(ev["actor"], "lan", "the event names the account: {ev}");
    assert_eq!(ev["subject"], format!("submission:{id}"));
    b.click("nav a[href='/audit']");
    assert!(b.text(".flash.ok").contains("nguyên vẹn"), "the audit page says the chain verifies");
    assert!(b.source().contains("Chấp nhận, gán (người duyệt)"));

    // Search finds the submission by words typed without diacritics.
    b.go(&format!("http://127.0.0.1:{port}/submissions"));
    b.type_into("input[name=q]", "ket qua cong tac bac son");
    b.click("form.filters button");
    assert!(b.wait_for_url("q=ket", 10), "the search is sent: {}", b.url());
    let found = b.source();
    assert!(found.contains(&format!("/submissions/{id}\"")), "found by folded words: {found}");
    assert!(!found.contains("Báo cáo quý I năm 2021</a>"), "BVA's report does not hold those words: {found}");

    b.go(&format!("http://127.0.0.1:{port}/submissions/{id}"));
    let detail = b.source();
    assert!(detail.contains("5/BC-TTYT") && detail.contains("Thư gốc (.eml)") && detail.contains("BC quy I.docx"), "header fields and downloads");
    let login = Login::new(port, "lan", PASSWORD).unwrap();
    let (code, hs, raw) = http(port, "GET", &format!("/submissions/{id}/raw"), &[("Cookie", &login.cookie)], b"");
    assert_eq!(code, 200);
    assert!(common::browser::header(&hs, "content-disposition").unwrap().starts_with("attachment"));
    assert!(String::from_utf8_lossy(&raw).contains("Message-ID: <r1@test>"), "the raw message as received");
    let (code, hs, doc) = http(port, "GET", &format!("/submissions/{id}/files/0"), &[("Cookie", &login.cookie)], b"");
    assert_eq!((code, common::browser::header(&hs, "content-type")), (200, Some("application/octet-stream")));
    assert!(doc.starts_with(b"PK"), "the .docx as sent");

    b.click("form.me button");
    assert!(b.wait_for_url("/login", 10), "logging out returns to the login page: {}", b.url());
    b.go(&format!("http://127.0.0.1:{port}/review"));
    assert!(b.wait_for_url("/login", 10), "and the session is gone: {}", b.url());
    assert!(daemon.stop().success());
}

#[test]
fn a_viewer_cannot_act_and_a_form_without_its_token_is_forbidden() {
    let (o, daemon, port) = office_with_console("");
    let id = waiting_id(&o);
    let path = format!("/review/{id}/reject");
    let viewer = Login::new(port, "giamdoc", PASSWORD).unwrap();
    let (code, _, page) = viewer.post(&path, &[("reason", "không đúng mẫu")], true);
    assert_eq!(code, 403, "a viewer reads, never acts: {page}");
    assert!(page.contains("chỉ được xem"));
    let (_, overview) = viewer.get("/");
    assert!(overview.contains("id=\"late-week\"") && overview.contains("Muộn hạn trong 7 ngày qua"), "leadership sees the week's late ones on the console as in the digest");
    let (_, review) = viewer.get("/review");
    assert!(!review.contains(&format!("action=\"{path}\"")), "a viewer is not even shown the forms");
    // The compiled workbook is downloaded from the console (SPEC §9), by anyone logged in only.
    assert!(overview.contains("href=\"/export\""));
    let (code, xlsx) = viewer.get("/export");
    assert!(code == 200 && xlsx.starts_with("PK"), "an .xlsx (a zip) comes back: {code}");
    assert_eq!(http(port, "GET", "/export", &[], b"").0, 303, "not without a session");

    let clerk = Login::new(port, "lan", PASSWORD).unwrap();
    let (code, _, page) = clerk.post(&path, &[("reason", "không đúng mẫu")], false);
    assert_eq!(code, 403, "a POST without the CSRF token: {page}");
    let (code, _, _) = clerk.post(&path, &[("reason", "không đúng mẫu"), ("csrf", "0000")], false);
    assert_eq!(code, 403, "a POST with another token");
    let (code, _, _) = http(port, "POST", &path, &[("Content-Type", "application/x-www-form-urlencoded")], format!("reason=x&csrf={}", clerk.csrf).as_bytes());
    assert_eq!(code, 303, "a token without the session's cookie leads to the login page, nothing else");
    assert_eq!(o.json(&["submissions", "--json", "--decision", "needs_review"]).as_array().unwrap().len(), 1, "nothing was decided");

    let (code, hs, _) = clerk.post(&path, &[("reason", "không đúng mẫu")], true);
    assert_eq!(code, 303, "the clerk with the token rejects");
    let to = common::browser::header(&hs, "location").unwrap().to_string();
    assert!(!to.contains('?'), "what happened is kept by the server, not put in the address: {to}");
    let (_, shown) = clerk.get(&to);
    assert!(shown.contains("Đã từ chối bài nộp số"), "the next page says what was done: {shown}");
    let (_, again) = clerk.get(&to);
    assert!(!again.contains("Đã từ chối bài nộp số"), "once");
    // Text put in the address is never shown as the console's own message (a phishing lure).
    let (_, lure) = clerk.get("/review?ok=T%C3%A0i+kho%E1%BA%A3n+b%E1%BB%8B+kh%C3%B3a%2C+g%E1%BB%8Di+0900&err=G%E1%BB%8Di+ngay");
    assert!(!lure.contains("Tài khoản bị khóa") && !lure.contains("Gọi ngay") && !lure.contains("flash ok"), "{lure}");
    assert_eq!(o.json(&["submissions", "--json", "--decision", "rejected"]).as_array().unwrap().iter().filter(|s| s["id"] == id.to_string()).count(), 1);

    // Accounts are the admin's: a clerk cannot add one.
    let (code, _, _) = clerk.post("/accounts", &[("name", "moi"), ("role", "admin"), ("password", PASSWORD)], true);
    assert_eq!(code, 403);
    let admin = Login::new(port, "quantri", PASSWORD).unwrap();
    let (code, _, _) = admin.post("/accounts/lan/disable", &[], true);
    assert_eq!(code, 303);
    assert_eq!(clerk.get("/").0, 303, "disabling an account ends its sessions");
    assert!(Login::new(port, "lan", PASSWORD).is_err(), "and it cannot log in");
    assert!(daemon.stop().success());
}

#[test]
fn only_health_metrics_and_the_login_page_answer_without_a_session() {
    let (_o, daemon, port) = office_with_console("");
    for path in ["/", "/review", "/submissions", "/submissions/1", "/submissions/1/raw", "/submissions/1/files/0", "/units/BVA", "/exemptions", "/outbox", "/audit", "/accounts", "/nowhere"] {
        let (code, hs, _) = http(port, "GET", path, &[], b"");
        assert_eq!((code, common::browser::header(&hs, "location")), (303, Some("/login")), "{path}");
    }
    let (code, hs, body) = http(port, "GET", "/login", &[], b"");
    assert_eq!(code, 200);
    assert!(String::from_utf8_lossy(&body).contains("Đăng nhập"));
    assert!(common::browser::header(&hs, "content-security-policy").unwrap().contains("default-src 'none'"));
    assert_eq!(http(port, "GET", "/metrics", &[], b"").0, 200);
    assert!(matches!(http(port, "GET", "/healthz", &[], b"").0, 200 | 503));
    let (code, hs, _) = http(port, "POST", "/login", &[("Content-Type", "application/x-www-form-urlencoded")], format!("name=lan&password={PASSWORD}").as_bytes());
    assert_eq!(code, 303);
    let cookie = common::browser::header(&hs, "set-cookie").unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http on loopback: no Secure flag (public_url is not https)");
    assert!(daemon.stop().success());
}

#[test]
fn wrong_passwords_are_throttled_per_account_even_when_the_right_one_follows() {
    let (_o, daemon, port) = office_with_console("");
    for i in 0..5 {
        assert_eq!(Login::new(port, "lan", &format!("sai-mat-khau-{i}")).err(), Some(401), "attempt {i} is refused");
    }
    assert_eq!(Login::new(port, "lan", PASSWORD).err(), Some(429), "the sixth attempt within 15 minutes is not even checked");
    assert!(Login::new(port, "giamdoc", PASSWORD).is_ok(), "another account from the same address still logs in");
    assert!(daemon.stop().success());
}

#[test]
fn markup_in_subjects_file_names_and_unit_names_is_shown_escaped() {
    let evil = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";
    let unit = format!("\n[[unit]]\nid = \"XSS\"\nname = '{evil}'\nemails = [\"xss@test.example\"]\ngroup = \"ttyt\"\n");
    let (o, daemon, port) = office_with_console(&unit);
    let (d, t) = at(2021, 4, 6, 9);
    o.deliver(t, "x", &mail("xss@test.example", &format!("Báo cáo quý I {evil}"), "<xss@test>", &d, "", &[(&format!("{evil}.docx"), &bva_q1("1/BC", 6))]));
    o.ok(&["ingest", "inbox", "--no-deliver"]);
    let b = Browser::start(1280, 900);
    b.login(port, "lan", PASSWORD);
    for path in ["/", "/review", "/submissions", "/units", "/units/XSS", "/audit"] {
        b.go(&format!("http://127.0.0.1:{port}{path}"));
        assert_eq!(b.alert(), None, "no script ran on {path}");
        let page = b.source();
        assert!(!page.contains("<script>alert") && !page.contains("<img src=\"x\"") && !page.contains("<img src=x"), "{path}: {page}");
        assert_eq!(b.count("img"), 0, "{path}: no image element was injected");
    }
    b.go(&format!("http://127.0.0.1:{port}/submissions?unit=XSS"));
    assert!(b.source().contains("&lt;script&gt;"), "the markup is shown as text");
    assert!(daemon.stop().success());
}

/// Every page at a desktop's width and a phone's: nothing wider than the screen but the tables
/// (which scroll inside their frame). The PNGs go to target/visual/, and to
/// tests/visual/reference/ with BAOCAO_UPDATE_SCREENSHOTS=1, to be looked at.
/// What a person reads on a page holds no report or group id, no JSON object and no English
/// sentence from the code (SPEC §17).
fn people_can_read(path: &str, text: &str) {
    // Mail addresses are what they are (`ttyt.bacson@…`): words are read outside them.
    let words: Vec<String> = text
        .split_whitespace()
        .filter(|w| !w.contains('@'))
        .flat_map(|w| w.split(|c: char| matches!(c, ',' | '.' | ';' | ':' | '(' | ')' | '«' | '»' | '·' | '—')).map(str::to_string).collect::<Vec<_>>())
        .collect();
    for id in ["q-report", "score", "benh-vien", "ttyt", "chi-cuc"] {
        assert!(!words.iter().any(|w| w == id), "{path} shows the id `{id}`: {text}");
    }
    assert!(!text.contains("{\"") && !text.contains("\":"), "{path} shows JSON: {text}");
    for english in [" the ", " was ", " is ", " not ", " error", " failed", "submission", " older than", " refused", " recipient", "os error", " cannot "] {
        assert!(!text.to_lowercase().contains(english), "{path} shows English ({english}): {text}");
    }
}

#[test]
fn every_page_fits_a_desktop_and_a_phone_and_is_photographed() {
    let (o, daemon, port) = office_with_console("");
    let id = waiting_id(&o);
    let (d, t) = at(2021, 7, 6, 9);
    o.deliver(t, "hoi", &text_mail("bva@test.example", "Hỏi về mẫu báo cáo quý II", "<hoi@bva.test>", &d, "Kính gửi Văn phòng,\nĐơn vị xin hỏi báo cáo quý II dùng mẫu nào ạ? Đơn vị đã gửi thư hỏi từ tuần trước nhưng chưa nhận được trả lời, mong Văn phòng hướng dẫn sớm.\nTrân trọng."));
    wait_until(30, "the daemon records the question", || o.json(&["submissions", "--json", "--decision", "not_submission"]).as_array().is_some_and(|a| !a.is_empty()));
    let pages = [
        ("tong-quan", "/?year=2021".to_string()),
        ("can-xem-xet", "/review".to_string()),
        ("thu-khac", "/mail".to_string()),
        ("bai-nop", "/submissions".to_string()),
        ("bai-nop-chi-tiet", format!("/submissions/{id}")),
        ("don-vi", "/units/BVA".to_string()),
        ("loai-bao-cao", "/reports".to_string()),
        ("loai-bao-cao-chi-tiet", "/reports/q-report".to_string()),
        ("mien-nop", "/exemptions".to_string()),
        ("cong-van", "/requests".to_string()),
        ("thu-di", "/outbox".to_string()),
        ("nhat-ky", "/audit".to_string()),
        ("tai-khoan", "/accounts".to_string()),
    ];
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let top = if std::env::var_os("BAOCAO_UPDATE_SCREENSHOTS").is_some() { root.join("tests/visual/reference/console") } else { root.join("target/visual/console") };
    // Each role sees its own pages (forms only for those who may use them): a set per role.
    for (account, role) in [("quantri", "quan-tri"), ("lan", "van-thu"), ("giamdoc", "lanh-dao")] {
        let b = Browser::start(1280, 900);
        b.login(port, account, PASSWORD);
        let out = top.join(role);
        for width in [1280u32, 420] {
            b.resize(width, 900);
            for (name, path) in pages.iter().filter(|(n, _)| role == "quan-tri" || *n != "tai-khoan") {
                b.go(&format!("http://127.0.0.1:{port}{path}"));
                assert!(b.try_find("main").is_some(), "{path} rendered");
                let body_width = b.eval("return document.documentElement.scrollWidth").as_u64().unwrap_or(0);
                let inner = b.eval("return window.innerWidth").as_u64().unwrap_or(width as u64);
                let wide = b.eval(
                    "return Array.from(document.querySelectorAll('body *')).filter(e => !e.closest('.wrap') && e.getBoundingClientRect().right > window.innerWidth + 1)\
                     .slice(0, 6).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).join('; ')",
                );
                assert!(body_width <= inner, "{path} at {width} px as {account}: the page is {body_width} px wide in a {inner} px window; too wide: {wide}");
                if width == 1280 {
                    let text = b.eval("return document.body.innerText").as_str().unwrap_or("").to_string();
                    people_can_read(path, &text);
                }
                b.screenshot(&out.join(format!("{name}-{width}.png")));
            }
        }
        if role != "quan-tri" {
            // What each role may not use is not offered to it.
            b.go(&format!("http://127.0.0.1:{port}/reports/q-report"));
            assert_eq!(b.count("form[action='/reports/q-report']"), 0, "no form to change a kind for {account}");
        }
    }
    let anon = Browser::start(420, 900);
    anon.go(&format!("http://127.0.0.1:{port}/login"));
    anon.screenshot(&top.join("dang-nhap-420.png"));
    assert!(daemon.stop().success());
}

/// Search over subject, number, file names and document text, with or without diacritics, on
/// SQLite (FTS5) and PostgreSQL (tsvector) alike; a decision changed later is found by its new
/// text too (the index follows reprocessing and decisions).
#[test]
fn search_finds_submissions_typed_with_or_without_diacritics_on_both_databases() {
    for db in databases() {
        let port = free_port();
        let cfg = format!("{CONFIG}\n[http]\nlisten = \"127.0.0.1:{port}\"\n");
        let o = Office::with_config(db, &cfg);
        let (d, t) = at(2021, 4, 5, 9);
        o.deliver(t, "1", &mail("bva@test.example", "Báo cáo quý I năm 2021", "<bva-q1@test>", &d, "", &[("BC quy I - BVA.docx", &bva_q1("12/BC-BVĐK", 5))]));
        ttyt_b_disputed(&o);
        o.ok(&["ingest", "inbox", "--no-deliver"]);
        o.add_user("lan", "viewer", PASSWORD);
        let daemon = Daemon::start(&o, &[]);
        wait_until(20, "the console", || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        let l = Login::new(port, "lan", PASSWORD).unwrap();
        let ids = |q: &str| -> Vec<String> {
            let (code, page) = l.get(&format!("/submissions?q={}", common::browser::form_enc(q)));
            assert_eq!(code, 200, "{q}");
            let mut v: Vec<String> = page.split("<td class=\"num\"><a href=\"/submissions/").skip(1).map(|r| r.split('"').next().unwrap().to_string()).collect();
            v.dedup();
            v
        };
        let subs = o.json(&["submissions", "--json"]);
        let id_of = |mid: &str| subs.as_array().unwrap().iter().find(|s| s["message_id"] == mid).unwrap()["id"].as_str().unwrap().to_string();
        let (bva, ttyt) = (id_of("<bva-q1@test>"), id_of("<r1@test>"));
        assert_eq!(ids("Bắc Sơn"), vec![ttyt.clone()], "with diacritics");
        assert_eq!(ids("bac son"), vec![ttyt.clone()], "without diacritics");
        assert_eq!(ids("BVĐK"), vec![bva.clone()], "a document number, đ typed as such");
        assert_eq!(ids("bvdk"), vec![bva.clone()], "and as d");
        assert_eq!(ids("quy I - BVA"), vec![bva.clone()], "a file name");
        assert_eq!(ids("khám chữa bệnh").len(), 2, "document text of both");
        assert_eq!(ids("kham chu").len(), 2, "words are prefixes");
        assert!(ids("không có từ này").is_empty());
        assert!(ids("\"'*:&|!()").len() == 2, "punctuation alone filters nothing and breaks nothing");
        assert!(daemon.stop().success());
    }
}

#[test]
fn a_person_changes_their_own_password_only_by_knowing_the_current_one() {
    let (o, daemon, port) = office_with_console("");
    let new = "mat-khau-moi-nam-2021";
    let me = Login::new(port, "giamdoc", PASSWORD).unwrap();
    let (code, hs, _) = me.post("/password", &[("current", "doan-thu-xem"), ("new", new), ("again", new)], true);
    assert_eq!(code, 303);
    assert_eq!(common::browser::header(&hs, "location"), Some("/password"));
    assert!(me.get("/password").1.contains("Mật khẩu hiện tại không đúng"), "a wrong current password is refused");
    let (_, hs, _) = me.post("/password", &[("current", PASSWORD), ("new", new), ("again", "khac-hoan-toan-2021")], true);
    assert_eq!(common::browser::header(&hs, "location"), Some("/password"));
    assert!(me.get("/password").1.contains("không giống nhau"), "the two new ones must agree");
    let (_, hs, _) = me.post("/password", &[("current", PASSWORD), ("new", "ngan"), ("again", "ngan")], true);
    assert!(me.get("/password").1.contains("quá ngắn"), "too short: {hs:?}");
    assert_eq!(me.get("/").0, 200, "nothing changed yet");
    let (code, _, _) = me.post("/password", &[("current", PASSWORD), ("new", new), ("again", new)], false);
    assert_eq!(code, 403, "not without the form's token");
    let (_, hs, _) = me.post("/password", &[("current", PASSWORD), ("new", new), ("again", new)], true);
    assert_eq!(common::browser::header(&hs, "location"), Some("/login?why=password"), "a viewer may change their own password");
    assert_eq!(me.get("/").0, 303, "the change ended the account's sessions");
    let (_, _, login) = http(port, "GET", "/login?why=password", &[], b"");
    assert!(String::from_utf8_lossy(&login).contains("Mật khẩu đã được đổi"), "and the login page says why");
    assert!(Login::new(port, "giamdoc", PASSWORD).is_err());
    assert!(Login::new(port, "giamdoc", new).is_ok());
    let audit = o.json(&["audit", "--json"]);
    assert!(audit.as_array().unwrap().iter().any(|e| e["kind"] == "account_password" && e["actor"] == "giamdoc" && e["subject"] == "account:giamdoc"));
    assert!(daemon.stop().success());
}

const LETTER: &str = "SỞ Y TẾ\nSố: 88/SYT-VP\nV/v báo cáo công tác tiêm chủng năm 2021\nKiểm Thử, ngày 01 tháng 12 năm 2021\nKính gửi:\n- Thủ trưởng các đơn vị y tế trong ngành.\nTrước ngày 15/12/2021 các đơn vị gửi báo cáo công tác tiêm chủng năm 2021 về Văn phòng Sở.\nVăn phòng Sở tổng hợp, báo cáo Giám đốc Sở trước ngày 25/12/2021.\n";

#[test]
fn a_clerk_confirms_a_letters_request_for_the_units_ticked_and_the_running_daemon_owes_and_matches_it() {
    let (o, daemon, port) = office_with_console("");
    let letter = o.path().join("Công văn 88.txt");
    std::fs::write(&letter, LETTER).unwrap();
    // A viewer cannot upload one; the clerk does, on the page (no command line).
    let viewer = Login::new(port, "giamdoc", PASSWORD).unwrap();
    let (code, _, _) = viewer.post("/requests/upload", &[("letter", "x")], true);
    assert_eq!(code, 403, "a viewer cannot add a letter");
    let b = Browser::start(1280, 900);
    b.login(port, "lan", PASSWORD);
    b.click("nav a[href='/requests']");
    assert!(b.wait_for_url("/requests", 10), "{}", b.url());
    assert!(!b.source().contains("baocao request add"), "the page no longer sends people to the command line");
    b.type_into("#upload input[type=file]", letter.to_str().unwrap());
    b.click("#upload button");
    assert!(b.wait_for(".flash.ok", 20), "{}", b.source());
    assert!(b.text(".flash.ok").contains("Đã đọc công văn số 88/SYT-VP: yêu cầu số 1 chờ xác nhận"), "{}", b.source());
    let page = b.source();
    assert!(page.contains("Công văn số 88/SYT-VP ngày 01/12/2021") && page.contains("chờ xác nhận"), "{page}");
    assert!(page.contains("việc của Văn phòng, không tạo nghĩa vụ"), "the office's own deadline is told apart");
    // The clerk leaves CC-C out and confirms.
    b.click("input[name='unit:CC-C']");
    b.click("form[action='/requests/1/confirm'] button");
    // The upload's message stays on the page until the browser has followed the click.
    assert!(b.wait_for_text(".flash.ok", "Đã xác nhận yêu cầu số 1", 10), "{}", b.source());
    assert!(b.source().contains("hạn 14/12/2021"), "the obligation and its due day (trước ngày 15 = by the 14th)");
    assert!(b.text("#r1 .owing").contains("Trung tâm Y tế huyện Bắc Sơn") && !b.text("#r1 .owing").contains("Chi cục"), "who owes it: {}", b.source());
    let audit = o.json(&["audit", "--json"]);
    let ev = audit.as_array().unwrap().iter().find(|e| e["kind"] == "request_confirmed").expect("the confirmation is in the trail");
    assert_eq!(ev["actor"], "lan", "{ev}");

    // The running daemon matches a report citing the letter at once, without a restart.
    let (d, t) = at(2021, 12, 10, 9);
    let doc = report_docx("BỆNH VIỆN ĐA KHOA AN BÌNH", "95/BC-BVA", "Kiểm Thử, ngày 10 tháng 12 năm 2021", "BÁO CÁO", "Công tác tiêm chủng năm 2021", &["Đã tiêm 10.000 liều."], None);
    o.deliver(t, "cv", &mail("bva@test.example", "Báo cáo theo Công văn 88/SYT-VP", "<cv88@test>", &d, "", &[("BC tiêm chủng.docx", &doc)]));
    let mut last = serde_json::Value::Null;
    wait_until(30, "the daemon records the report", || {
        last = o.json(&["submissions", "--json"]);
        last.as_array().unwrap().iter().any(|s| s["message_id"] == "<cv88@test>")
    });
    let s = last.as_array().unwrap().iter().find(|s| s["message_id"] == "<cv88@test>").unwrap().clone();
    assert_eq!((s["decision"].as_str(), s["report"].as_str(), s["timeliness"].as_str()), (Some("accepted"), Some("cv-88-syt-vp"), Some("on_time")), "{s}");
    let st = o.json(&["status", "--as-of", "2021-12-20", "--json"]);
    let mut rows: Vec<(String, String)> = st.as_array().unwrap().iter().filter(|r| r["report"] == "cv-88-syt-vp").map(|r| (r["unit"].as_str().unwrap().to_string(), r["state"].as_str().unwrap().to_string())).collect();
    rows.sort();
    assert_eq!(rows, vec![("BVA".to_string(), "submitted_on_time".to_string()), ("TTYT-B".to_string(), "overdue".to_string())], "CC-C was left out: {st}");
    // Photographed at a phone's width.
    b.resize(420, 900);
    b.go(&format!("http://127.0.0.1:{port}/requests"));
    let wide = b.eval("return document.documentElement.scrollWidth").as_u64().unwrap_or(0);
    assert!(wide <= 420, "the requests page fits a phone: {wide} px");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    b.screenshot(&root.join("target/visual/console/cong-van-da-xac-nhan-420.png"));
    assert!(daemon.stop().success());
}

#[test]
fn a_units_request_for_more_time_is_shown_granted_and_answered_in_its_thread() {
    let (o, daemon, port) = office_with_console("");
    let (d, t) = at(2021, 7, 6, 9);
    let body = "Kính gửi Văn phòng Sở,\nDo thay đổi nhân sự, Bệnh viện xin gia hạn nộp báo cáo quý II năm 2021 đến ngày 20/7/2021.\nTrân trọng.";
    o.deliver(t, "xin-gia-han", &text_mail("bva@test.example", "Xin gia hạn nộp báo cáo quý II", "<gh1@bva.test>", &d, body));
    wait_until(30, "the daemon records the request", || o.json(&["submissions", "--json", "--decision", "not_submission"]).as_array().is_some_and(|a| !a.is_empty()));
    let id = o.json(&["submissions", "--json", "--decision", "not_submission"])[0]["id"].as_str().unwrap().to_string();

    let viewer = Login::new(port, "giamdoc", PASSWORD).unwrap();
    let (_, page) = viewer.get("/mail");
    assert!(page.contains("Xin gia hạn nộp báo cáo quý II") && page.contains("Do thay đổi nhân sự"), "a viewer reads it: {page}");
    assert!(!page.contains(&format!("action=\"/mail/{id}/answer\"")), "but is not offered the forms");
    for path in [format!("/mail/{id}/answer"), format!("/mail/{id}/handled"), "/extensions".to_string()] {
        let (code, _, _) = viewer.post(&path, &[("text", "x"), ("unit", "BVA"), ("report", "q-report"), ("period", "2021-Q2"), ("until", "2021-07-20")], true);
        assert_eq!(code, 403, "a viewer cannot use {path}");
    }

    let b = Browser::start(1280, 900);
    b.login(port, "lan", PASSWORD);
    assert!(b.text("nav a[href='/mail'] .badge").contains('1'), "the mail waiting is counted on every page");
    b.click("nav a[href='/mail']");
    assert!(b.wait_for(&format!("#m{id}"), 10));
    assert!(b.text(&format!("#m{id}")).contains("Bệnh viện Đa khoa An Bình"), "the unit is named by its address");
    b.click(&format!("#m{id} a.button"));
    assert!(b.wait_for_url("/exemptions", 10), "{}", b.url());
    b.click("form[action='/extensions'] select[name=report] option[value='q-report']");
    b.click("form[action='/extensions'] select[name=period] option[value='2021-Q2']");
    b.eval("document.querySelector(\"form[action='/extensions'] input[name=until]\").value = '2021-07-20'; document.querySelector(\"form[action='/extensions'] input[name=reason]\").value = 'Theo đề nghị của đơn vị';");
    b.click("form[action='/extensions'] button");
    assert!(b.wait_for(".flash", 10), "{}", b.source());
    assert!(b.text(".flash.ok").contains("Đã gia hạn Báo cáo kết quả công tác quý II năm 2021 cho Bệnh viện Đa khoa An Bình đến hết ngày 20/07/2021"), "{}", b.source());
    assert!(b.text("#extensions").contains("20/07/2021") && b.text("#extensions").contains("hạn cũ 09/07/2021"));

    let st = o.json(&["status", "--as-of", "2021-07-18", "--json"]);
    let bva = st.as_array().unwrap().iter().find(|s| s["unit"] == "BVA" && s["period"] == "2021-Q2").cloned().unwrap();
    assert_eq!((bva["due"].as_str(), bva["state"].as_str()), (Some("2021-07-20"), Some("due_soon")), "the running daemon's and the command line's status follow: {bva}");

    // The grant answers the unit's own mail, in its thread.
    let sent = |kind: &str| o.outbox().into_iter().map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned()).find(|m| m.contains(&format!("X-Baocao-Kind: {kind}")));
    wait_until(30, "the notice is delivered", || sent("extension").is_some());
    let notice = sent("extension").expect("the unit is told");
    assert!(notice.contains("In-Reply-To: <gh1@bva.test>"), "{notice}");

    b.click("nav a[href='/mail']");
    assert!(b.wait_for(&format!("#m{id} textarea"), 10));
    b.type_into(&format!("#m{id} textarea"), "Văn phòng đã gia hạn theo đề nghị của đơn vị.");
    b.click(&format!("#m{id} form.answer button"));
    assert!(b.wait_for(".flash.ok", 10), "{}", b.source());
    assert!(b.text(&format!("#m{id}")).contains("Đã trả lời: lan"), "{}", b.source());
    assert_eq!(b.count("nav a[href='/mail'] .badge"), 0, "nothing waits any more");
    wait_until(30, "the answer is delivered", || sent("answer").is_some());
    let answer = sent("answer").expect("the answer is sent");
    assert!(answer.contains("In-Reply-To: <gh1@bva.test>") && answer.contains("To: bva@test.example"), "{answer}");
    let audit = o.json(&["audit", "--json"]);
    assert!(audit.as_array().unwrap().iter().any(|e| e["kind"] == "mail_answered" && e["actor"] == "lan"));
    assert!(audit.as_array().unwrap().iter().any(|e| e["kind"] == "extension_granted" && e["actor"] == "lan"));
    assert!(daemon.stop().success());
}

/// A delivery-status report of the office's mail server: `to` could not be reached.
fn bounce_of(to: &str, date: &str) -> Vec<u8> {
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@so.example>\r\nTo: vanphong@so.example\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce-1@so.example>\r\nDate: {date}\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThis is the mail system at host so.example.\r\n<{to}>: host mx.test.example said: 550 5.1.1 mailbox unavailable\r\n\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; so.example\r\n\r\nFinal-Recipient: rfc822; {to}\r\nOriginal-Recipient: rfc822;{to}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--B--\r\n"
    )
    .into_bytes()
}

#[test]
fn the_directory_is_kept_on_the_console_by_role_and_the_running_daemon_follows_it() {
    // On PostgreSQL when it is there (CI requires it): the console's one run on the shared database.
    let db = databases().pop().unwrap();
    let (o, daemon, port) = office_with_console_on(db, "");

    // A report from an address the directory does not know, its document naming the hospital.
    let (d, t) = at(2021, 7, 5, 9);
    o.deliver(t, "new-addr", &mail("khth.bva@test.example", "Báo cáo quý II năm 2021", "<q2-new@test>", &d, "", &[("BC quý II.docx", &report_docx("BỆNH VIỆN ĐA KHOA AN BÌNH", "20/BC-BVĐK", "An Bình, ngày 05 tháng 7 năm 2021", "BÁO CÁO", "Kết quả công tác quý II năm 2021", &["Nội dung."], None))]));
    wait_until(30, "the daemon records it", || o.json(&["submissions", "--json"]).as_array().unwrap().iter().any(|s| s["message_id"] == "<q2-new@test>"));
    let sub = o.json(&["submissions", "--json"]).as_array().unwrap().iter().find(|s| s["message_id"] == "<q2-new@test>").cloned().unwrap();
    assert_eq!((sub["unit"].as_str(), sub["decision"].as_str()), (Some("BVA"), Some("accepted")), "{sub}");
    let id = sub["id"].as_str().unwrap().to_string();

    // Who may do what: a viewer nothing, a clerk addresses and other names only.
    let viewer = Login::new(port, "giamdoc", PASSWORD).unwrap();
    for path in ["/units", "/units/BVA", "/units/BVA/merge", "/groups", &format!("/submissions/{id}/address")] {
        let (code, _, _) = viewer.post(path, &[("id", "X"), ("name", "X"), ("emails", "x@x.example"), ("into", "BVA"), ("last_day", "2021-06-30")], true);
        assert_eq!(code, 403, "a viewer cannot use {path}");
    }
    let clerk = Login::new(port, "lan", PASSWORD).unwrap();
    for path in ["/units", "/units/TTYT-B/merge", "/groups"] {
        let (code, _, _) = clerk.post(path, &[("id", "benh-vien"), ("name", "X"), ("into", "BVA"), ("last_day", "2021-06-30")], true);
        assert_eq!(code, 403, "a clerk cannot use {path}");
    }
    let (code, hs, _) = clerk.post("/units/BVA", &[("name", "Bệnh viện khác"), ("emails", "bva@test.example"), ("aliases", "BV An Bình")], true);
    assert_eq!(code, 303);
    let (_, page) = clerk.get(common::browser::header(&hs, "location").unwrap());
    assert!(page.contains("Chỉ quản trị viên được đổi tên đơn vị"), "{page}");
    assert!(o.ok(&["directory", "export"]).contains("name = \"Bệnh viện Đa khoa An Bình\""), "the name stays");

    // The clerk registers the new address with one click on the submission's page.
    let b = Browser::start(1280, 900);
    b.login(port, "lan", PASSWORD);
    b.go(&format!("http://127.0.0.1:{port}/submissions/{id}"));
    assert!(b.wait_for("form.learn button", 10), "{}", b.source());
    assert!(b.text("form.learn button").contains("Ghi nhận địa chỉ này cho Bệnh viện Đa khoa An Bình"));
    b.click("form.learn button");
    assert!(b.wait_for(".flash.ok", 10), "{}", b.source());
    assert!(b.text(".flash.ok").contains("Đã ghi nhận địa chỉ khth.bva@test.example cho Bệnh viện Đa khoa An Bình"), "{}", b.source());
    assert_eq!(b.count("form.learn"), 0, "the address is known now");
    assert!(o.ok(&["directory", "export"]).contains("\"khth.bva@test.example\""), "kept in the database");
    // The rule is the office's, not the page's: a second request for a known address is refused.
    let (_, hs, _) = clerk.post(&format!("/submissions/{id}/address"), &[], true);
    let (_, page) = clerk.get(common::browser::header(&hs, "location").unwrap());
    assert!(page.contains("địa chỉ gửi không phải của người"), "{page}");
    // The clerk's form on a unit's page: addresses and other names, not the name.
    b.go(&format!("http://127.0.0.1:{port}/units/BVA"));
    assert!(b.wait_for("#sua", 10));
    assert_eq!(b.count("#sua input[name=name]"), 0, "a clerk is not offered the name");
    assert_eq!(b.count("#sap-nhap"), 0, "nor the merger");
    b.click("#sua summary");
    b.eval("document.querySelector('#sua textarea[name=aliases]').value = 'BV An Bình\\nBVĐK An Bình\\nBệnh viện An Bình';");
    b.click("#sua button");
    assert!(b.wait_for(".flash.ok", 10));
    assert!(b.text(".flash.ok").contains("thêm tên gọi khác «Bệnh viện An Bình»"), "{}", b.source());

    // A bounce of the office's mail to a unit's address is shown on its page.
    let (d, t) = at(2021, 7, 6, 9);
    o.deliver(t, "bounce", &bounce_of("ccds@test.example", &d));
    wait_until(30, "the daemon records the bounce", || o.json(&["submissions", "--json"]).as_array().unwrap().len() >= 4);
    b.go(&format!("http://127.0.0.1:{port}/units/CC-C"));
    assert!(b.wait_for("#thu-loi", 10), "{}", b.source());
    assert!(b.text("#thu-loi").contains("ccds@test.example"));
    let notice = o.ok(&["review", "notice", "--as-of", "2021-07-07T08:00:00+07:00", "--dry-run"]);
    assert!(notice.contains("không đến được đơn vị") && notice.contains("Chi cục Dân số tỉnh: ccds@test.example"), "{notice}");

    // The admin adds a unit in a new group, names a group and merges a unit.
    let a = Browser::start(1280, 900);
    a.login(port, "quantri", PASSWORD);
    a.go(&format!("http://127.0.0.1:{port}/units"));
    assert!(a.wait_for("form[action='/units']", 10));
    a.type_into("form[action='/units'] input[name=id]", "TYT-HB");
    a.type_into("form[action='/units'] input[name=name]", "Trạm Y tế xã Hòa Bình");
    a.click("form[action='/units'] select[name=group] option[value='+']");
    a.type_into("form[action='/units'] input[name=new_group]", "Trạm Y tế xã");
    a.type_into("form[action='/units'] textarea[name=emails]", "tyt.hoabinh@test.example");
    a.click("form[action='/units'] button");
    assert!(a.wait_for_url("/units/TYT-HB", 10), "{}", a.source());
    assert!(a.text(".flash.ok").contains("Đã thêm đơn vị Trạm Y tế xã Hòa Bình"), "{}", a.source());
    assert!(a.text(".kv").contains("Trạm Y tế xã"), "the new group is named as typed");
    let st = o.json(&["status", "--as-of", "2021-12-31", "--json"]);
    assert!(st.as_array().unwrap().iter().any(|s| s["unit"] == "TYT-HB" && s["report"] == "score"), "the new unit owes what its group owes");
    // A mail from its address is the new unit's at once (the running daemon read the directory again).
    let (d, t) = at(2021, 7, 8, 9);
    o.deliver(t, "hb", &text_mail("tyt.hoabinh@test.example", "Hỏi về mẫu báo cáo", "<hb1@test>", &d, "Kính gửi Văn phòng, Trạm xin hỏi mẫu báo cáo năm."));
    wait_until(30, "the daemon records it", || o.json(&["submissions", "--json"]).as_array().unwrap().iter().any(|s| s["message_id"] == "<hb1@test>"));
    a.go(&format!("http://127.0.0.1:{port}/mail"));
    assert!(a.wait_for(".card.mail", 10));
    assert!(a.source().contains("Trạm Y tế xã Hòa Bình"), "Thư khác names the new unit");

    a.go(&format!("http://127.0.0.1:{port}/units#nhom"));
    a.eval("var f = [...document.querySelectorAll(\"form[action='/groups']\")].find(f => f.querySelector('input[name=id]').value == 'benh-vien'); f.querySelector('input[name=name]').value = 'Bệnh viện tuyến tỉnh'; f.submit();");
    assert!(a.wait_for(".flash.ok", 10), "{}", a.source());
    assert!(a.source().contains("Bệnh viện tuyến tỉnh"));

    a.go(&format!("http://127.0.0.1:{port}/units/TTYT-B"));
    assert!(a.wait_for("#sap-nhap", 10));
    a.click("#sap-nhap summary");
    a.click("#sap-nhap select[name=into] option[value='BVA']");
    a.eval("document.querySelector('#sap-nhap input[name=last_day]').value = '2021-06-30';");
    a.click("#sap-nhap button");
    assert!(a.wait_for(".flash.ok", 10), "{}", a.source());
    assert!(a.text(".kv").contains("đã sáp nhập vào Bệnh viện Đa khoa An Bình từ sau ngày 30/06/2021"), "{}", a.source());
    let st = o.json(&["status", "--as-of", "2021-10-30", "--json"]);
    let owes = |u: &str, p: &str| st.as_array().unwrap().iter().any(|s| s["unit"] == u && s["report"] == "q-report" && s["period"] == p);
    assert!(owes("TTYT-B", "2021-Q2") && !owes("TTYT-B", "2021-Q3") && owes("BVA", "2021-Q3"), "the successor owes from the merger on");

    let audit = o.json(&["audit", "--json"]);
    let by = |kind: &str, who: &str| audit.as_array().unwrap().iter().any(|e| e["kind"] == kind && e["actor"] == who);
    assert!(by("unit_changed", "lan") && by("unit_added", "quantri") && by("group_changed", "quantri") && by("unit_merged", "quantri"), "{audit}");
    a.go(&format!("http://127.0.0.1:{port}/audit"));
    assert!(a.wait_for("table", 10));
    let text = a.text("main");
    assert!(text.contains("Sáp nhập đơn vị") && text.contains("thêm địa chỉ khth.bva@test.example; địa chỉ học được từ thư số"), "{text}");
    people_can_read("/audit", &text);
    a.resize(420, 900);
    a.go(&format!("http://127.0.0.1:{port}/units/BVA"));
    a.click("#sua summary");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/visual/console");
    std::fs::create_dir_all(&dir).unwrap();
    a.screenshot(&dir.join("unit-edit-admin-420.png"));
    let overflow = a.eval("return [...document.querySelectorAll('#sua input, #sua textarea, #sua select, #sua button')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).length;");
    assert_eq!(overflow, 0, "the form fits a phone");
    assert!(daemon.stop().success());
}

#[test]
fn a_rejection_is_undone_a_wrong_unit_corrected_and_a_score_tables_rows_shown() {
    let (o, daemon, port) = office_with_console("");
    let id = waiting_id(&o);
    let clerk = Login::new(port, "lan", PASSWORD).unwrap();
    // The guess names the district centre; the clerk gives it to another unit, one not listed.
    let (_, review) = clerk.get("/review");
    assert!(review.contains("Gán cho đơn vị khác") && review.contains("<option value=\"CC-C\">Chi cục Dân số tỉnh</option>"), "every unit can be chosen");
    let (_, hs, _) = clerk.post(&format!("/review/{id}/assign"), &[("unit", "CC-C"), ("report", "q-report"), ("period", "2021-Q1")], true);
    let (_, page) = clerk.get(common::browser::header(&hs, "location").unwrap());
    assert!(page.contains("Chi cục Dân số tỉnh không phải nộp «Báo cáo kết quả công tác quý»"), "only an obligation that exists: {page}");
    clerk.post(&format!("/review/{id}/assign"), &[("unit", "BVA"), ("report", "q-report"), ("period", "2021-Q1")], true);
    let sub = |o: &Office| o.json(&["submissions", "--json"]).as_array().unwrap().iter().find(|s| s["id"] == id.to_string()).cloned().unwrap();
    assert_eq!((sub(&o)["unit"].as_str(), sub(&o)["decision"].as_str()), (Some("BVA"), Some("accepted")));

    // Rejected by mistake, then taken back from the submission's page.
    clerk.post(&format!("/review/{id}/reject"), &[("reason", "nhầm"), ("from", "submission")], true);
    assert_eq!(sub(&o)["decision"], "rejected");
    let (_, page) = clerk.get(&format!("/submissions/{id}"));
    assert!(page.contains("Bỏ từ chối, tiếp nhận cho Bệnh viện Đa khoa An Bình — Báo cáo kết quả công tác quý I năm 2021"), "{page}");
    let (code, hs, _) = clerk.post(&format!("/review/{id}/accept"), &[("from", "submission")], true);
    assert_eq!(code, 303);
    assert_eq!(common::browser::header(&hs, "location"), Some(format!("/submissions/{id}").as_str()));
    assert_eq!(sub(&o)["decision"], "accepted", "the rejection is undone");
    let viewer = Login::new(port, "giamdoc", PASSWORD).unwrap();
    let (_, page) = viewer.get(&format!("/submissions/{id}"));
    assert!(!page.contains("gan-lai") && !page.contains("bo-tu-choi"), "a viewer is not offered the forms");

    // A self-assessment's rows, not only its total, on its page.
    let (d, t) = at(2021, 10, 15, 9);
    let score = score_xlsx("BỆNH VIỆN ĐA KHOA AN BÌNH", "BẢNG TỰ CHẤM ĐIỂM NĂM 2021", &[("1", "Chỉ đạo điều hành", 6.0, 5.0), ("2", "Thể chế", 4.0, 3.0)], (10.0, 8.0));
    o.deliver(t, "score", &mail("bva@test.example", "Bảng tự chấm điểm năm 2021", "<sc@test>", &d, "", &[("Tu cham diem.xlsx", &score)]));
    wait_until(30, "the daemon records it", || o.json(&["submissions", "--json"]).as_array().unwrap().iter().any(|s| s["message_id"] == "<sc@test>"));
    let sid = o.json(&["submissions", "--json"]).as_array().unwrap().iter().find(|s| s["message_id"] == "<sc@test>").unwrap()["id"].as_str().unwrap().to_string();
    let (_, page) = clerk.get(&format!("/submissions/{sid}"));
    assert!(page.contains("<td>Thể chế</td>") && page.contains("<td>Chỉ đạo điều hành</td>") && page.contains("Tổng điểm"), "{page}");
    assert!(daemon.stop().success());
}

/// A letter that sets a monthly report besides its one-off request.
const PERIODIC_LETTER: &str = "SỞ Y TẾ\nSố: 91/SYT-VP\nV/v thực hiện chế độ báo cáo định kỳ về dược\nKiểm Thử, ngày 02 tháng 11 năm 2021\nKính gửi:\n- Thủ trưởng các đơn vị y tế trong ngành.\nThời gian báo cáo định kỳ:\n- Báo cáo tháng: gửi trước ngày 20 hằng tháng.\nNơi nhận:\n";

#[test]
fn a_report_kinds_deadline_and_reminders_are_set_by_an_admin_and_a_letters_rule_becomes_a_kind_with_one_click() {
    let (o, daemon, port) = office_with_console("");
    // Everyone reads the kinds; a clerk and a viewer cannot change them.
    for (name, role) in [("giamdoc", "viewer"), ("lan", "clerk")] {
        let l = Login::new(port, name, PASSWORD).unwrap();
        let (code, page) = l.get("/reports/q-report");
        assert_eq!(code, 200, "a {role} reads a kind");
        assert!(page.contains("trước ngày 10 của tháng đầu kỳ sau") && page.contains("trước hạn 3 ngày; sau hạn 1 và 5 ngày; báo lãnh đạo khi quá hạn 5 ngày"), "{page}");
        assert!(!page.contains("action=\"/reports/q-report\""), "no form for a {role}");
        for path in ["/reports/q-report", "/reports", "/requests/1/periodic/0"] {
            let (code, _, _) = l.post(path, &[("name", "X"), ("keywords", "x"), ("period", "month"), ("due_day", "5"), ("due_month", "next")], true);
            assert_eq!(code, 403, "a {role} cannot use {path}");
        }
    }
    let toml = o.ok(&["directory", "export"]);
    assert!(toml.contains("id = \"q-report\"") && toml.contains("day = 10") && toml.contains("exclusive = true"), "the kinds are exported as the file has them: {toml}");

    // The admin moves the quarter's deadline and changes its reminders, on the page.
    let b = Browser::start(1280, 900);
    b.login(port, "quantri", PASSWORD);
    b.click("nav a[href='/reports']");
    assert!(b.wait_for_url("/reports", 10), "{}", b.url());
    let list = b.text("#loai");
    assert!(list.contains("Báo cáo kết quả công tác quý") && list.contains("Bệnh viện Đa khoa An Bình, Trung tâm Y tế huyện Bắc Sơn"), "{list}");
    b.click("#loai a[href='/reports/q-report']");
    assert!(b.wait_for("#sua", 10), "{}", b.source());
    b.eval("document.querySelector('#sua select[name=due_cue]').value = 'cham'; document.querySelector('#sua input[name=due_day]').value = '20'; document.querySelector('#sua input[name=remind_after]').value = '2'; document.querySelector('#sua input[name=escalate_after]').value = ''; return 1");
    b.click("#sua button[type=submit]");
    assert!(b.wait_for(".flash.ok", 10), "{}", b.source());
    let said = b.text(".flash.ok");
    assert!(said.contains("hạn nộp chậm nhất ngày 20 của tháng đầu kỳ sau (trước: trước ngày 10 của tháng đầu kỳ sau)") && said.contains("nhắc trước hạn 3 ngày; sau hạn 2 ngày"), "{said}");
    assert!(b.source().contains("quý III năm 2021: 20/10/2021") || b.source().contains("20/10/"), "the coming deadlines follow: {}", b.source());
    // The database is the rules: a command beside the daemon reads the new deadline.
    let st = o.json(&["status", "--as-of", "2021-07-15", "--json"]);
    let q2 = st.as_array().unwrap().iter().find(|s| s["unit"] == "BVA" && s["report"] == "q-report" && s["period"] == "2021-Q2").cloned().unwrap();
    assert_eq!(q2["due"], "2021-07-20", "{q2}");
    let audit = o.json(&["audit", "--json"]);
    let ev = audit.as_array().unwrap().iter().find(|e| e["kind"] == "report_changed").expect("the change is audited");
    assert_eq!((ev["actor"].as_str(), ev["subject"].as_str()), (Some("quantri"), Some("report:q-report")), "{ev}");
    let toml = o.ok(&["directory", "export"]);
    assert!(toml.contains("[[report]]") && toml.contains("day = 20") && toml.contains("remind_after_days = [2]"), "{toml}");

    // A letter's monthly rule becomes a kind with one click.
    let letter = o.path().join("Công văn 91.txt");
    std::fs::write(&letter, PERIODIC_LETTER).unwrap();
    b.go(&format!("http://127.0.0.1:{port}/requests"));
    b.type_into("#upload input[type=file]", letter.to_str().unwrap());
    b.click("#upload button");
    assert!(b.wait_for(".flash.ok", 20), "{}", b.source());
    assert!(b.text("ul.periodic").contains("theo tháng, hạn trước ngày 20 của tháng báo cáo"), "{}", b.source());
    b.click("ul.periodic form button");
    // The upload's message is still on the page until the browser has followed the click.
    assert!(b.wait_for_url("/reports/bao-cao-thang", 10), "{}", b.url());
    assert!(b.wait_for(".flash.ok", 10), "{}", b.source());
    assert!(b.text(".flash.ok").contains("Đã thêm loại báo cáo Báo cáo tháng theo công văn 91/SYT-VP"), "{}", b.source());
    let st = o.json(&["status", "--as-of", "2021-12-25", "--json"]);
    let owed: Vec<&serde_json::Value> = st.as_array().unwrap().iter().filter(|s| s["report"].as_str().is_some_and(|r| r.starts_with("bao-cao-thang")) && s["period"] == "2021-11").collect();
    assert_eq!(owed.len(), 3, "every unit owes the month: {st}");
    assert_eq!(owed[0]["due"], "2021-11-19", "trước ngày 20: by the 19th");
    b.go(&format!("http://127.0.0.1:{port}/requests"));
    assert!(b.text("ul.periodic").contains("đã là loại báo cáo"), "the rule is not offered twice: {}", b.source());
    assert!(o.json(&["audit", "--json"]).as_array().unwrap().iter().any(|e| e["kind"] == "report_added" && e["actor"] == "quantri"));

    for path in ["/reports", "/reports/q-report"] {
        b.go(&format!("http://127.0.0.1:{port}{path}"));
        let text = b.eval("return document.body.innerText").as_str().unwrap_or("").to_string();
        people_can_read(path, &text);
    }
    assert!(daemon.stop().success());
}

/// Every form of the console, tried by each role that may not use it: refused (403), and
/// nothing written — not a decision, not an audit event.
#[test]
fn every_form_refuses_a_role_that_may_not_use_it_and_changes_nothing() {
    let (o, daemon, port) = office_with_console("");
    let id = waiting_id(&o);
    let clerk_forms = [
        format!("/review/{id}/accept"),
        format!("/review/{id}/assign"),
        format!("/review/{id}/reject"),
        format!("/figures/{id}/confirm"),
        format!("/mail/{id}/answer"),
        format!("/mail/{id}/handled"),
        "/units/BVA".to_string(),
        format!("/submissions/{id}/address"),
        "/exemptions".to_string(),
        "/exemptions/withdraw".to_string(),
        "/extensions".to_string(),
        "/extensions/withdraw".to_string(),
        "/requests/upload".to_string(),
        "/requests/1/confirm".to_string(),
        "/requests/1/cancel".to_string(),
        "/outbox/retry".to_string(),
    ];
    let admin_forms = ["/units", "/units/TTYT-B/merge", "/groups", "/reports", "/reports/q-report", "/requests/1/periodic/0", "/accounts", "/accounts/lan/disable", "/accounts/lan/enable"];
    let fields = [
        ("obligation", "BVA|q-report|2021-Q1"), ("reason", "x"), ("unit", "BVA"), ("report", "q-report"), ("period", "2021-Q2"), ("until", "2021-12-31"),
        ("id", "X1"), ("name", "X"), ("emails", "x@x.example"), ("into", "BVA"), ("last_day", "2021-06-30"), ("keywords", "x"), ("due_day", "5"),
        ("due_month", "next"), ("role", "admin"), ("password", PASSWORD), ("text", "x"), ("ids", "1"),
    ];
    let viewer = Login::new(port, "giamdoc", PASSWORD).unwrap();
    let clerk = Login::new(port, "lan", PASSWORD).unwrap();
    for path in clerk_forms.iter().map(String::as_str).chain(admin_forms) {
        let (code, _, page) = viewer.post(path, &fields, true);
        assert_eq!(code, 403, "a viewer cannot use {path}: {page}");
    }
    for path in admin_forms {
        let (code, _, page) = clerk.post(path, &fields, true);
        assert_eq!(code, 403, "a clerk cannot use {path}: {page}");
    }
    let after = o.json(&["audit", "--json"]);
    let theirs: Vec<&serde_json::Value> = after.as_array().unwrap().iter().filter(|e| e["actor"] == "giamdoc" || e["actor"] == "lan").collect();
    assert!(theirs.is_empty(), "nothing was written in their names: {theirs:?}");
    assert_eq!(o.json(&["submissions", "--json", "--decision", "needs_review"]).as_array().unwrap().len(), 1, "nothing was decided");
    assert!(daemon.stop().success());
}
