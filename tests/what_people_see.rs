//! What the office and the units see, through the real binary: the review notice, loud intake
//! failures, going live on old mail, what mails and the command line say.

mod common;
use common::*;
use serde_json::Value;


fn mails_of_kind(o: &Office, kind: &str) -> Vec<mail_parser::Message<'static>> {
    o.outbox()
        .into_iter()
        .filter_map(|p| {
            let raw: &'static [u8] = Box::leak(std::fs::read(&p).unwrap().into_boxed_slice());
            let m = mail_parser::MessageParser::default().parse(raw)?;
            (m.header_raw("X-Baocao-Kind").map(str::trim) == Some(kind)).then_some(m)
        })
        .collect()
}

fn text(m: &mail_parser::Message) -> String {
    m.body_text(0).map(|t| t.into_owned()).unwrap_or_default()
}

#[test]
fn a_review_notice_lists_waiting_messages_once_a_working_day_and_stops_when_none_wait() {
    for db in databases() {
        let o = Office::new(db);
        ttyt_b_disputed(&o);
        o.ok(&["ingest", "inbox"]);
        let id = o.json(&["review", "list", "--json"])[0]["id"].as_str().unwrap().to_string();

        let first = o.json(&["review", "notice", "--as-of", "2021-04-13T08:00:00+07:00", "--json"]);
        assert_eq!((first["key"].as_str(), first["queued"].as_bool()), (Some("review:2021-04-13"), Some(true)), "{first}");
        let again = o.json(&["review", "notice", "--as-of", "2021-04-13T16:00:00+07:00", "--json"]);
        assert_eq!(again["queued"], false, "once per day");
        let saturday = o.json(&["review", "notice", "--as-of", "2021-04-17T08:00:00+07:00", "--json"]);
        assert_eq!(saturday["queued"], false, "no notice on a day off: {saturday}");

        let notices = mails_of_kind(&o, "review");
        assert_eq!(notices.len(), 1);
        let n = &notices[0];
        assert_eq!(n.to().and_then(|a| a.first()).and_then(|a| a.address()), Some("chanhvanphong@so.test"), "to office.staff");
        let body = text(n);
        assert!(body.contains(&format!("Thư số {id}")), "{body}");
        assert!(body.contains("Trung tâm Y tế huyện Bắc Sơn, Báo cáo kết quả công tác quý I năm 2021"), "the best guess, as people read it: {body}");
        assert!(body.contains("baocao review list"), "without a console address it says how to decide: {body}");

        o.ok(&["review", "accept", &id]);
        let after = o.json(&["review", "notice", "--as-of", "2021-04-14T08:00:00+07:00", "--json"]);
        assert_eq!(after["queued"], false, "nothing waits any more: {after}");
        assert_eq!(mails_of_kind(&o, "review").len(), 1);
    }
}

#[test]
fn a_missing_or_unreadable_maildir_is_an_error_not_a_quiet_pass() {
    let cfg = CONFIG.replace("source = \"maildir:inbox\"", "source = \"maildir:no-such-dir\"");
    let o = Office::with_config(Db::Sqlite, &cfg);
    let out = o.run(&["run", "--once"]);
    assert_eq!(out.status.code(), Some(1), "run --once must fail");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-dir is not a Maildir"), "{err}");
    let out = o.run(&["check-config", "--connect"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("intake: FAILED"), "{}", String::from_utf8_lossy(&out.stdout));

    // The daemon keeps running, and says why in /healthz.
    let port = free_port();
    let o = Office::with_config(Db::Sqlite, &format!("{cfg}\n[http]\nlisten = \"127.0.0.1:{port}\"\n"));
    let d = Daemon::start(&o, &[]);
    wait_until(20, "the health endpoint", || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    let mut health = (0, String::new());
    wait_until(20, "the failure in /healthz", || {
        health = http_get(port, "/healthz");
        health.0 == 503 && health.1.contains("not a Maildir")
    });
    let v: Value = serde_json::from_str(health.1.trim()).unwrap();
    assert_eq!(v["status"], "failing");
    assert!(v["mailbox"].as_str().unwrap().contains("no-such-dir"), "{v}");
    assert!(d.stop().success());
}

#[test]
fn a_fresh_run_once_sends_no_digest_and_old_mail_is_not_answered_by_default() {
    let cfg = CONFIG.replace("acknowledge_within_days = 36500\n", "").replace("reminders = \"0 0 8 * * Mon-Fri\"", "reminders = \"0 0 8 * * Mon-Fri\"\ndigest = \"0 30 7 * * Mon\"\noffice_status = \"0 0 16 * * Fri\"");
    let o = Office::with_config(Db::Sqlite, &cfg);
    let (d, t) = at(2021, 4, 5, 9);
    o.deliver(t, "1", &mail("bva@test.example", "Báo cáo quý I năm 2021", "<old@test>", &d, "", &[("BC quý I.docx", &bva_q1("12/BC-BVA", 5))]));
    let out = o.ok(&["run", "--once"]);
    assert!(out.contains("1 new message(s), 0 scheduled job(s), 0 mail(s) sent"), "{out}");
    assert!(o.outbox().is_empty(), "no digest, no status, no reminder, and no answer to 2021's mail");
    let audit = o.json(&["audit", "--json"]);
    assert!(audit.as_array().unwrap().iter().any(|e| e["kind"] == "ack_skipped"), "the skipped answer is recorded");
}

#[test]
fn an_unreadable_file_is_told_once_in_vietnamese_naming_it() {
    let o = Office::new(Db::Sqlite);
    let (d, t) = at(2021, 4, 5, 9);
    let mut broken = b"PK\x03\x04".to_vec();
    broken.extend(std::iter::repeat_n(b'x', 500));
    o.deliver(t, "1", &mail("bva@test.example", "Báo cáo quý I năm 2021", "<bad@test>", &d, "", &[("Báo cáo quý I.docx", &broken)]));
    o.ok(&["ingest", "inbox"]);
    let acks = mails_of_kind(&o, "ack");
    assert_eq!(acks.len(), 1);
    let body = text(&acks[0]);
    assert!(body.starts_with("Kính gửi Bệnh viện Đa khoa An Bình,"), "greeted by the sender's unit: {body}");
    assert_eq!(body.matches("tệp bị hỏng").count(), 1, "the reason is said once: {body}");
    assert!(body.contains("Báo cáo quý I.docx — không đọc được: tệp bị hỏng hoặc không đầy đủ"), "{body}");
    for english in ["zip", "EOCD", "archive", "invalid"] {
        assert!(!body.to_lowercase().contains(&english.to_lowercase()), "no library words ({english}) in: {body}");
    }
    assert!(!body.contains("không trả lời"), "a mail from the office's own mailbox does not ask not to be answered: {body}");
    assert!(body.contains("xin liên hệ Văn phòng Sở Y tế Kiểm Thử"), "it says whom to contact: {body}");
    let s = &o.json(&["submissions", "--json"])[0];
    assert_eq!(s["decision"], "rejected");
    assert!(s["documents"][0]["detail"].as_str().unwrap_or("").contains("zip"), "the technical cause is kept for the operator: {s}");
}

#[test]
fn reminders_name_the_report_and_period_once_and_say_how_late() {
    let o = Office::new(Db::Sqlite);
    let out = o.ok(&["remind", "--as-of", "10/04/2021 08:00"]);
    assert!(out.contains("remind:BVA:q-report:2021-Q1:after-1"), "dd/mm/yyyy is read as clerks type it: {out}");
    let r = mails_of_kind(&o, "reminder");
    let body = text(&r[0]);
    assert!(body.contains("Báo cáo kết quả công tác quý I năm 2021 — quá hạn 1 ngày (hạn nộp 09/04/2021)"), "{body}");
    assert!(!body.contains("quý quý") && !body.contains("2021-Q1"), "{body}");
    assert!(r[0].subject().unwrap().contains("Quá hạn: Báo cáo kết quả công tác quý I năm 2021"), "{:?}", r[0].subject());
}

#[test]
fn the_command_line_speaks_to_people_and_to_scripts() {
    let o = Office::new(Db::Sqlite);
    ttyt_b_disputed(&o);
    let (d, t) = at(2021, 4, 5, 9);
    o.deliver(t, "1", &mail("bva@test.example", "Báo cáo quý I năm 2021", "<a1@test>", &d, "", &[("BC quý I.docx", &bva_q1("12/BC-BVA", 5))]));
    o.ok(&["ingest", "inbox"]);

    // Usage errors exit 2, as the README says.
    for args in [
        vec!["--log-format", "xml", "status"],
        vec!["status", "--as-of", "yesterday"],
        vec!["exempt", "--unit", "BVA", "--report", "q-report", "--period", "2021-Q5", "--reason", "x"],
        vec!["submissions", "--decision", "maybe"],
    ] {
        assert_eq!(o.run(&args).status.code(), Some(2), "{args:?}");
    }
    // Every option says what it is for.
    let help = String::from_utf8(o.run(&["status", "--help"]).stdout).unwrap();
    assert!(help.contains("10/04/2021"), "--as-of names its formats: {help}");

    // People read Vietnamese labels and unit names, aligned; scripts keep the codes.
    let human = o.ok(&["status", "--as-of", "13/04/2021", "--period", "2021-Q1", "--report", "q-report"]);
    assert!(human.contains("Báo cáo kết quả công tác quý I năm 2021 — hạn 09/04/2021"), "{human}");
    let lines: Vec<&str> = human.lines().filter(|l| l.contains("Bệnh viện") || l.contains("Trung tâm")).collect();
    assert_eq!(lines.len(), 2, "{human}");
    assert!(lines.iter().any(|l| l.contains("Đã nộp đúng hạn")) && lines.iter().any(|l| l.contains("Chờ xem xét")), "{human}");
    let col = |l: &str, w: &str| l.find(w).map(|i| l[..i].chars().count());
    assert_eq!(col(lines[0], "Đã"), col(lines[1], "Chờ"), "the state column is aligned:\n{human}");
    let json = o.json(&["status", "--as-of", "2021-04-13", "--period", "2021-Q1", "--json"]);
    assert!(json.as_array().unwrap().iter().any(|s| s["state"] == "in_review"), "{json}");

    // Submissions show reasons and filter.
    let only = o.json(&["submissions", "--decision", "needs_review", "--json"]);
    assert_eq!(only.as_array().unwrap().len(), 1);
    let since = o.json(&["submissions", "--since", "10/04/2021", "--json"]);
    assert_eq!(since.as_array().unwrap().len(), 1, "only the one that arrived on 12/04");
    let listed = o.ok(&["submissions", "--unit", "TTYT-B"]);
    assert!(listed.contains("Chờ xem xét") && listed.contains("lý do:"), "{listed}");

    // --json on the commands that print.
    for args in [
        vec!["remind", "--as-of", "2021-04-10T08:00:00+07:00", "--dry-run", "--json"],
        vec!["digest", "--as-of", "2021-04-12", "--dry-run", "--json"],
        vec!["office-status", "--as-of", "2021-04-12", "--dry-run", "--json"],
        vec!["check-config", "--json"],
        vec!["audit", "verify", "--json"],
        vec!["export", "out.xlsx", "--json"],
        vec!["exempt", "--unit", "BVA", "--report", "q-report", "--period", "2021-Q2", "--reason", "sáp nhập", "--json"],
    ] {
        let v = o.json(&args);
        assert!(v.is_object(), "{args:?}: {v}");
    }
    assert_eq!(o.json(&["audit", "verify", "--json"])["intact"], true);

    // A closed pipe ends the command quietly.
    let mut child = bin()
        .current_dir(o.path())
        .args(["--config", "config.toml", "audit"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "exit {:?}", out.status);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{}", String::from_utf8_lossy(&out.stderr));

    // An error is said once, naming what could not be opened.
    let bad = CONFIG.replace("DBURL", "sqlite://var/adir.db");
    let b = Office::with_config(Db::Sqlite, &bad);
    std::fs::create_dir_all(b.path().join("var/adir.db")).unwrap();
    std::fs::write(b.path().join("config.toml"), &bad).unwrap();
    let out = b.run(&["status"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("var/adir.db") && err.matches("unable to open database file").count() == 1, "{err}");
}

#[test]
fn the_audit_names_the_os_account_when_user_is_unset() {
    let o = Office::new(Db::Sqlite);
    let out = bin()
        .current_dir(o.path())
        .env_remove("USER")
        .env_remove("LOGNAME")
        .args(["--config", "config.toml", "exempt", "--unit", "BVA", "--report", "q-report", "--period", "2021-Q1", "--reason", "x"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let me = String::from_utf8(std::process::Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
    let audit = o.json(&["audit", "--json"]);
    let ev = audit.as_array().unwrap().iter().find(|e| e["kind"] == "exempt").unwrap();
    assert_eq!(ev["actor"], me.trim());
}

#[test]
fn the_workbook_shows_review_states_totals_and_decisions_in_vietnamese() {
    use calamine::{Reader, Xlsx};
    let o = Office::new(Db::Sqlite);
    ttyt_b_disputed(&o);
    let (d, t) = at(2021, 4, 12, 9);
    o.deliver(t, "1", &mail("bva@test.example", "Báo cáo quý I năm 2021", "<a1@test>", &d, "", &[("BC quý I.docx", &bva_q1("12/BC-BVA", 12))]));
    o.ok(&["ingest", "inbox"]);
    o.ok(&["export", "out.xlsx", "--as-of", "20/04/2021"]);
    let mut wb: Xlsx<_> = calamine::open_workbook(o.path().join("out.xlsx")).unwrap();
    let all = |wb: &mut Xlsx<_>, sheet: &str| -> Vec<String> {
        let r = wb.worksheet_range(sheet).unwrap();
        r.rows().flat_map(|row| row.iter().map(|c| c.to_string()).collect::<Vec<_>>()).collect()
    };
    let matrix = all(&mut wb, "Tổng hợp");
    assert!(matrix.iter().any(|c| c == "Chờ xem xét"), "an obligation in review is shown as such: {matrix:?}");
    assert!(matrix.iter().any(|c| c.starts_with("Đã nộp muộn\n12/04/2021, muộn 3 ngày")), "{matrix:?}");
    assert!(matrix.iter().any(|c| c == "Tổng cộng"), "{matrix:?}");
    assert!(matrix.iter().any(|c| c.starts_with("Đã nộp 1/2\nđúng hạn 0, muộn 1")), "per-column totals: {matrix:?}");
    let subs = all(&mut wb, "Bài nộp");
    assert!(subs.iter().any(|c| c == "Chờ xem xét") && subs.iter().any(|c| c == "Đã tiếp nhận"), "{subs:?}");
    assert!(!subs.iter().any(|c| c == "needs_review" || c == "accepted"), "no codes for people: {subs:?}");
}
