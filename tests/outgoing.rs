//! Outgoing mail against a real SMTP server (Postfix's smtp-sink): acknowledgements in
//! thread, reminders at several instants with escalation, the weekly digest with its workbook,
//! nothing to auto-replies, lists, bounces or the office itself, and exactly one mail per
//! idempotency key when the sender is killed while delivering.

mod common;
use common::*;
use std::collections::HashMap;

/// The kill test measures a race by killing at random instants; other tests of this binary
/// running beside it on a two-core machine stretch every instant and skew what it measures.
/// Every test here takes this lock, so that one runs alone.
static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ALONE.lock().unwrap_or_else(|e| e.into_inner())
}

fn smtp_office(db: Db, sink: &SmtpSink, extra_outbound: &str) -> Office {
    let cfg = CONFIG.replace("transport = \"file:var/outbox\"", &format!("transport = \"{}\"\n{extra_outbound}", sink.url()));
    Office::with_config(db, &cfg)
}

fn by_key(sunk: &[Sunk]) -> HashMap<String, Vec<&Sunk>> {
    let mut m: HashMap<String, Vec<&Sunk>> = HashMap::new();
    for s in sunk {
        m.entry(s.key()).or_default().push(s);
    }
    m
}

#[test]
fn acks_reminders_and_the_digest_reach_the_smtp_server_once_each_with_kind_key_and_thread() {
    let _alone = alone();
    for db in databases() {
        let sink = SmtpSink::start();
        let o = smtp_office(db, &sink, "");
        let (d, t) = at(2021, 4, 5, 9);
        o.deliver(t, "1", &mail("bva@test.example", "Báo cáo quý I năm 2021 - BV An Bình", "<o1@test>", &d, "References: <earlier@test>\r\n", &[("BC quý I.docx", &bva_q1("12/BC-BVA", 5))]));
        let (d, t) = at(2021, 4, 5, 10);
        o.deliver(t, "2", &mail("ttyt.bacson@test.example", "Tự động trả lời: Báo cáo quý", "<o2@test>", &d, "Auto-Submitted: auto-replied\r\n", &[]));
        let (d, t) = at(2021, 4, 5, 11);
        o.deliver(t, "3", &mail("ccds@test.example", "Bản tin dân số tháng 4", "<o3@test>", &d, "List-Id: <bantin.ccds.test>\r\nPrecedence: list\r\n", &[]));
        let (d, t) = at(2021, 4, 5, 12);
        o.deliver(t, "4", &mail("MAILER-DAEMON@mx.test.example", "Undelivered Mail Returned to Sender", "<o4@test>", &d, "", &[]));
        let (d, t) = at(2021, 4, 5, 13);
        o.deliver(t, "5", &mail("vanphong@so.test", "Báo cáo quý I năm 2021", "<o5@test>", &d, "", &[("BC quý I.docx", &bva_q1("13/BC-BVA", 5))]));
        o.ok(&["ingest", "inbox"]);
        let out = o.ok(&["remind", "--as-of", "2021-04-06T08:00:00+07:00"]);
        assert!(out.contains("remind:TTYT-B:q-report:2021-Q1:before-3"), "{out}");
        o.ok(&["remind", "--as-of", "2021-04-10T08:00:00+07:00"]);
        o.ok(&["remind", "--as-of", "2021-04-14T08:00:00+07:00"]);
        let again = o.ok(&["remind", "--as-of", "2021-04-14T08:00:00+07:00"]);
        assert!(again.contains("0 reminder stage(s)"), "a second run at the same instant queues nothing: {again}");
        let dg = o.ok(&["digest", "--as-of", "2021-04-12T07:30:00+07:00"]);
        assert!(dg.contains("digest:2021-W15: queued"), "{dg}");
        let dg2 = o.ok(&["digest", "--as-of", "2021-04-12T09:00:00+07:00"]);
        assert!(dg2.contains("already queued"), "{dg2}");

        let sunk = sink.messages();
        let keys = by_key(&sunk);
        for (k, v) in &keys {
            assert_eq!(v.len(), 1, "key {k} arrived {} times", v.len());
            assert!(!k.is_empty(), "every mail carries X-Baocao-Key");
        }
        let kinds: Vec<String> = sunk.iter().map(|s| s.kind()).collect();
        assert_eq!(kinds.iter().filter(|k| *k == "ack").count(), 1, "one acknowledgement, to the real submission: {kinds:?}");
        assert_eq!(kinds.iter().filter(|k| *k == "reminder").count(), 3, "{kinds:?}");
        assert_eq!(kinds.iter().filter(|k| *k == "digest").count(), 1, "{kinds:?}");

        let ack = sunk.iter().find(|s| s.kind() == "ack").unwrap();
        assert_eq!(ack.rcpt, vec!["bva@test.example"]);
        assert_eq!(ack.header("In-Reply-To").as_deref(), Some("<o1@test>"));
        let refs = ack.header("References").unwrap();
        assert!(refs.contains("<earlier@test>") && refs.contains("<o1@test>"), "{refs}");
        for s in &sunk {
            for r in &s.rcpt {
                assert!(
                    !["mailer-daemon@mx.test.example", "vanphong@so.test", "ttyt.bacson@test.example", "ccds@test.example"].contains(&r.as_str())
                        || s.kind() == "reminder" && r == "ttyt.bacson@test.example",
                    "{} mail to {r}",
                    s.kind()
                );
            }
        }
        let before = &keys["remind:TTYT-B:q-report:2021-Q1:before-3"][0];
        assert_eq!(before.rcpt, vec!["ttyt.bacson@test.example"], "no copies before escalation");
        let late = &keys["remind:TTYT-B:q-report:2021-Q1:after-5"][0];
        let mut rc = late.rcpt.clone();
        rc.sort();
        assert_eq!(rc, vec!["chanhvanphong@so.test", "giamdoc@so.test", "ttyt.bacson@test.example"], "escalated to staff and leadership");
        assert!(keys.contains_key("remind:TTYT-B:q-report:2021-Q1:after-1"));

        let digest = &keys["digest:2021-W15"][0];
        assert_eq!(digest.rcpt, vec!["giamdoc@so.test"]);
        let names = digest.attachment_names();
        assert_eq!(names, vec!["tong-hop-2021-W15.xlsx"]);
        assert!(digest.attachment(0).starts_with(b"PK"), "the attachment is an xlsx package");
        let html = digest.html();
        assert!(html.contains("Bệnh viện Đa khoa An Bình") || html.contains("Trung tâm Y tế huyện Bắc Sơn"), "{html}");
        assert!(html.contains("1/2"), "one of the two owing units has submitted: {html}");
    }
}

#[test]
fn a_sender_killed_while_delivering_sends_every_mail_exactly_once() {
    let _alone = alone();
    for db in databases() {
        let sink = SmtpSink::start();
        let o = smtp_office(db, &sink, "lease_seconds = 1");
        let n = 40;
        for i in 0..n {
            let (d, t) = at(2021, 4, 1 + (i % 8) as u32, 8 + (i / 8) as u32);
            o.deliver(t, &format!("{i}"), &mail("bva@test.example", &format!("Báo cáo quý I năm 2021 lần {i}"), &format!("<d{i}@test>"), &d, "", &[("bc.docx", &bva_q1(&format!("{i}/BC-BVA"), 5))]));
        }
        let queued = o.ok(&["ingest", "--no-deliver", "inbox"]);
        assert!(queued.contains("0 mail(s) sent"), "{queued}");
        assert!(sink.messages().is_empty());
        let mut seed: u64 = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64;
        let mut killed_with_mail_out = 0;
        for _round in 0..8 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let delay = 5 + (seed >> 33) % 100;
            let before = sink.messages().len();
            let mut child = bin()
                .current_dir(o.path())
                .args(["--config", "config.toml", "deliver"])
                .stdout(std::process::Stdio::null())
                .stderr(std::fs::File::create(o.path().join(format!("deliver-{_round}.log"))).unwrap())
                .spawn()
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(delay));
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
            if sink.messages().len() > before {
                killed_with_mail_out += 1;
            }
            // Let the claims of the killed sender lapse.
            std::thread::sleep(std::time::Duration::from_millis(1100));
        }
        // Claims are kept in whole seconds: wait until the last killed sender's have lapsed.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let flushed = o.ok(&["deliver"]);
        assert!(flushed.contains("0 still queued"), "{flushed}");
        let sunk = sink.messages();
        let keys = by_key(&sunk);
        let twice: Vec<&String> = keys.iter().filter(|(_, v)| v.len() > 1).map(|(k, _)| k).collect();
        if !twice.is_empty() {
            let audit = String::from_utf8_lossy(&o.run(&["audit"]).stdout).to_string();
            for k in &twice {
                for l in audit.lines().filter(|l| l.contains(k.as_str())) {
                    eprintln!("TWICE {l}");
                }
            }
            for r in 0..8 {
                eprintln!("LOG{r} {}", std::fs::read_to_string(o.path().join(format!("deliver-{r}.log"))).unwrap_or_default());
            }
        }
        assert!(twice.is_empty(), "sent twice: {twice:?}");
        if keys.len() != n {
            let audit = String::from_utf8_lossy(&o.run(&["audit"]).stdout).to_string();
            for l in audit.lines().filter(|l| l.contains("mail_sent")) {
                let key = l.split_whitespace().nth(4).unwrap_or("");
                if !keys.contains_key(key) {
                    eprintln!("MISSING {l}");
                }
            }
            for r in 0..8 {
                eprintln!("LOG{r} {}", std::fs::read_to_string(o.path().join(format!("deliver-{r}.log"))).unwrap_or_default());
            }
            for s in &sunk {
                if s.key().is_empty() {
                    eprintln!("UNKEYED file of {} bytes", s.raw.len());
                }
            }
        }
        assert_eq!(keys.len(), n, "one acknowledgement per submission arrived ({} kills landed while mail went out)", killed_with_mail_out);
        assert!(keys.keys().all(|k| k.starts_with("ack:")));
    }
}

#[test]
fn the_office_edits_a_template_and_the_next_mail_uses_it_while_a_broken_one_falls_back() {
    let _alone = alone();
    let o = Office::new(Db::Sqlite);
    std::fs::create_dir_all(o.path().join("templates")).unwrap();
    std::fs::write(o.path().join("templates/ack.subject"), "Văn phòng đã nhận: {{ subject }}").unwrap();
    std::fs::write(o.path().join("templates/ack.txt"), "{% if %}broken").unwrap();
    let check = o.run(&["check-config"]);
    assert_eq!(check.status.code(), Some(1), "a broken template fails check-config");
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(out.contains("ack.txt"), "{out}");
    let (d, t) = at(2021, 4, 5, 9);
    o.deliver(t, "1", &mail("bva@test.example", "Báo cáo quý I năm 2021", "<t1@test>", &d, "", &[("BC quý I.docx", &bva_q1("12/BC-BVA", 5))]));
    o.ok(&["ingest", "inbox"]);
    let files = o.outbox();
    assert_eq!(files.len(), 1);
    let raw = std::fs::read(&files[0]).unwrap();
    let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert_eq!(m.subject(), Some("Văn phòng đã nhận: Báo cáo quý I năm 2021"));
    let text = m.body_text(0).unwrap();
    assert!(text.contains("Đã tiếp nhận") && text.contains("12/BC-BVA"), "the built-in text replaces the broken one: {text}");
}

#[test]
fn old_mail_is_recorded_without_an_acknowledgement_by_default() {
    let _alone = alone();
    // An office going live with years of history keeps the default window (7 days).
    let cfg = CONFIG.replace("acknowledge_within_days = 36500\n", "");
    let o = Office::with_config(Db::Sqlite, &cfg);
    let (d, t) = at(2021, 4, 5, 9);
    o.deliver(t, "1", &mail("bva@test.example", "Báo cáo quý I năm 2021", "<old@test>", &d, "", &[("BC quý I.docx", &bva_q1("12/BC-BVA", 5))]));
    o.ok(&["ingest", "inbox"]);
    assert!(o.outbox().is_empty());
    let subs = o.json(&["submissions", "--json"]);
    assert_eq!(subs[0]["decision"], "accepted");
    assert!(o.ok(&["audit"]).contains("ack_skipped"));
}

#[test]
fn export_writes_the_compiled_workbook_with_the_matrix_submissions_and_extractor_sheets() {
    let _alone = alone();
    use calamine::Reader;
    for db in databases() {
        let o = Office::new(db);
        let (d, t) = at(2021, 4, 5, 9);
        o.deliver(t, "1", &mail("bva@test.example", "Báo cáo quý I năm 2021", "<x1@test>", &d, "", &[("BC quý I.docx", &bva_q1("12/BC-BVA", 5))]));
        let (d, t) = at(2021, 10, 15, 9);
        let score = score_xlsx("BỆNH VIỆN ĐA KHOA AN BÌNH", "BẢNG TỰ CHẤM ĐIỂM NĂM 2021", &[("1", "Chỉ đạo điều hành", 6.0, 5.0), ("2", "Thể chế", 4.0, 3.0)], (10.0, 8.0));
        o.deliver(t, "2", &mail("bva@test.example", "Bảng tự chấm điểm năm 2021", "<x2@test>", &d, "", &[("Tu cham diem.xlsx", &score)]));
        o.ok(&["ingest", "inbox"]);
        let out = o.ok(&["export", "status.xlsx", "--as-of", "2021-10-31"]);
        assert!(out.contains("sheets: Tổng hợp, Bài nộp, Báo cáo, Tự chấm điểm"), "{out}");
        let mut wb = calamine::open_workbook_auto(o.path().join("status.xlsx")).unwrap();
        assert_eq!(wb.sheet_names(), vec!["Tổng hợp", "Bài nộp", "Báo cáo", "Tự chấm điểm"]);
        let cell = |r: &calamine::Range<calamine::Data>, row: usize, col: usize| r.get((row, col)).map(|c| c.to_string()).unwrap_or_default();
        let m = wb.worksheet_range("Tổng hợp").unwrap();
        let bva_row = (0..m.height()).find(|&r| cell(&m, r, 0) == "BVA").expect("a row per unit");
        let q1_col = (0..m.width()).find(|&c| cell(&m, 2, c).contains("quý I năm 2021")).expect("a column per obligation");
        assert!(cell(&m, bva_row, q1_col).starts_with("Đã nộp đúng hạn\n05/04/2021"), "{}", cell(&m, bva_row, q1_col));
        let ttyt_row = (0..m.height()).find(|&r| cell(&m, r, 0) == "TTYT-B").unwrap();
        let overdue = cell(&m, ttyt_row, q1_col);
        assert!(overdue.starts_with("Quá hạn\n") && overdue.ends_with(" ngày"), "overdue, with how many days: {overdue}");
        let s = wb.worksheet_range("Bài nộp").unwrap();
        assert_eq!(s.height(), 3, "a header and two submissions");
        let sc = wb.worksheet_range("Tự chấm điểm").unwrap();
        let total = (0..sc.height()).find(|&r| cell(&sc, r, 3) == "Tổng điểm").unwrap();
        assert_eq!(cell(&sc, 0, 5), "Bệnh viện Đa khoa An Bình", "units by name");
        assert_eq!(cell(&sc, total, 5), "8");
        assert_eq!(cell(&sc, total, 4), "10");
    }
}
