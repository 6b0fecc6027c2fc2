//! End-to-end tests of the foundation through the real binary, against SQLite and PostgreSQL:
//! exactly-once intake, duplicates, versions, status as of an instant, reminders to the file
//! outbox, the audit chain, and what happens with bad input.

mod common;
use common::*;
use serde_json::Value;

fn find<'a>(subs: &'a Value, mid: &str) -> Vec<&'a Value> {
    subs.as_array().unwrap().iter().filter(|s| s["message_id"] == mid).collect()
}

fn seed(o: &Office) {
    let (d1, t1) = at(2021, 4, 5, 9);
    let first = mail("bva@test.example", "Báo cáo quý I năm 2021 - BV An Bình", "<a1@test>", &d1, "", &[("BC quý I.docx", &bva_q1("12/BC-BVA", 5))]);
    o.deliver(t1, "1", &first);
    let (d2, t2) = at(2021, 4, 6, 9);
    // The same message again through another relay: one more Received header, same body.
    let mut again = format!("Received: from relay2.test by mx.so.test; {d2}\r\n").into_bytes();
    again.extend(&first);
    o.deliver(t2, "2", &again);
    let (d3, t3) = at(2021, 4, 12, 10);
    o.deliver(t3, "3", &mail("bva@test.example", "V/v điều chỉnh báo cáo quý I năm 2021", "<a2@test>", &d3, "", &[("BC quý I (sửa).docx", &bva_q1("14/BC-BVA", 12))]));
    let (d4, t4) = at(2021, 4, 13, 8);
    o.deliver(t4, "4", b"this is not an e-mail at all, just some bytes\n");
    let (d5, t5) = at(2021, 4, 14, 8);
    o.deliver(t5, "5", &mail("ttyt.bacson@test.example", "Tra loi tu dong", "<a5@test>", &d5, "Auto-Submitted: auto-replied\r\n", &[]));
    let _ = d4;
}

#[test]
fn ingesting_a_maildir_twice_adds_nothing_and_keeps_the_files() {
    for db in databases() {
        let o = Office::new(db);
        seed(&o);
        let before: Vec<_> = std::fs::read_dir(o.path().join("inbox/new")).unwrap().flatten().map(|e| e.path()).collect();
        let out = o.ok(&["ingest", "inbox"]);
        assert!(out.contains("ingested 5 new message(s)"), "{out}");
        let out2 = o.ok(&["ingest", "inbox"]);
        assert!(out2.contains("ingested 0 new message(s)") && out2.contains("5 already known"), "{out2}");
        let subs = o.json(&["submissions", "--json"]);
        assert_eq!(subs.as_array().unwrap().len(), 5);
        let after: Vec<_> = std::fs::read_dir(o.path().join("inbox/new")).unwrap().flatten().map(|e| e.path()).collect();
        assert_eq!(before.len(), after.len(), "ingest must not move or change the files it reads");
    }
}

#[test]
fn a_redelivery_is_a_duplicate_and_a_correction_is_version_two() {
    for db in databases() {
        let o = Office::new(db);
        seed(&o);
        o.ok(&["ingest", "inbox"]);
        let subs = o.json(&["submissions", "--json"]);
        let a1 = find(&subs, "<a1@test>");
        assert_eq!(a1.len(), 2);
        assert_eq!(a1[0]["decision"], "accepted", "{}", a1[0]);
        assert_eq!(a1[0]["unit"], "BVA");
        assert_eq!(a1[0]["report"], "q-report");
        assert_eq!(a1[0]["period"], "2021-Q1");
        assert_eq!(a1[0]["due"], "2021-04-09");
        assert_eq!(a1[0]["timeliness"], "on_time");
        assert_eq!(a1[0]["version"], 1);
        assert_eq!(a1[0]["documents"][0]["number"], "12/BC-BVA");
        assert_eq!(a1[0]["documents"][0]["date"], "2021-04-05");
        assert_eq!(a1[0]["documents"][0]["doc_type"], "BÁO CÁO");
        assert_eq!(a1[0]["documents"][0]["signer"], "Trần Thị Thu");
        assert_eq!(a1[1]["decision"], "duplicate");
        let a2 = find(&subs, "<a2@test>");
        assert_eq!(a2[0]["decision"], "accepted");
        assert_eq!(a2[0]["version"], 2);
        assert_eq!(a2[0]["timeliness"], "late");
        // The tracked deletion is never read as text.
        assert!(!subs.to_string().contains("cắt giảm toàn bộ"));
        let junk: Vec<&Value> = subs.as_array().unwrap().iter().filter(|s| s["message_id"].is_null()).collect();
        assert_eq!(junk.len(), 1);
        assert_eq!(junk[0]["decision"], "rejected");
        assert_eq!(find(&subs, "<a5@test>")[0]["decision"], "not_submission");
    }
}

#[test]
fn status_as_of_an_instant_considers_only_what_had_arrived() {
    for db in databases() {
        let o = Office::new(db);
        seed(&o);
        o.ok(&["ingest", "inbox"]);
        let st = |t: &str| -> std::collections::HashMap<String, String> {
            o.json(&["status", "--as-of", t, "--json"])
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["report"] == "q-report" && r["period"] == "2021-Q1")
                .map(|r| (r["unit"].as_str().unwrap().to_string(), r["state"].as_str().unwrap().to_string()))
                .collect()
        };
        let early = st("2021-04-01T08:00:00+07:00");
        assert_eq!(early.get("BVA").map(String::as_str), Some("upcoming"));
        assert!(!early.contains_key("CC-C"), "CC-C's group does not owe q-report");
        let soon = st("2021-04-07T08:00:00+07:00");
        assert_eq!(soon["BVA"], "submitted_on_time");
        assert_eq!(soon["TTYT-B"], "due_soon");
        let after = st("2021-04-10T08:00:00+07:00");
        assert_eq!(after["TTYT-B"], "overdue");
        // The late correction does not make an on-time unit late.
        assert_eq!(st("2021-05-01")["BVA"], "submitted_on_time");
    }
}

#[test]
fn reminders_go_to_late_units_once() {
    for db in databases() {
        let o = Office::new(db);
        seed(&o);
        o.ok(&["ingest", "inbox"]);
        let before = o.outbox().len();
        o.ok(&["remind", "--as-of", "2021-04-10T08:00:00+07:00"]);
        let new: Vec<_> = o.outbox().into_iter().skip(before).collect();
        let reminders: Vec<String> = o
            .outbox()
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .filter(|m| m.contains("X-Baocao-Kind: reminder"))
            .collect();
        assert_eq!(reminders.len(), 1, "{new:?}");
        assert!(reminders[0].contains("To: ttyt.bacson@test.example"));
        assert!(reminders[0].contains("X-Baocao-Key: remind:TTYT-B:q-report:2021-Q1:after-1"));
        let n = o.outbox().len();
        o.ok(&["remind", "--as-of", "2021-04-10T08:00:00+07:00"]);
        assert_eq!(o.outbox().len(), n, "a second run as of the same instant sends nothing new");
    }
}

#[test]
fn acknowledgements_reply_in_thread_and_never_to_auto_replies() {
    let o = Office::new(Db::Sqlite);
    seed(&o);
    o.ok(&["ingest", "inbox"]);
    let acks: Vec<String> = o.outbox().iter().map(|p| std::fs::read_to_string(p).unwrap()).filter(|m| m.contains("X-Baocao-Kind: ack")).collect();
    // Two accepted submissions; no ack to the duplicate, the auto-reply or the non-mail.
    assert_eq!(acks.len(), 2, "{acks:?}");
    assert!(acks.iter().any(|a| a.contains("In-Reply-To: <a1@test>")));
    assert!(acks.iter().all(|a| !a.contains("To: ttyt.bacson@test.example")));
}

#[test]
fn an_altered_audit_row_is_named_by_verify() {
    for db in databases() {
        let o = Office::new(db);
        seed(&o);
        o.ok(&["ingest", "inbox"]);
        let ok = o.run(&["audit", "verify"]);
        assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
        let events: Value = o.json(&["audit", "--json"]);
        let victim = events.as_array().unwrap().iter().find(|e| e["kind"] == "decision").unwrap()["seq"].as_i64().unwrap();
        tamper(&o, &format!("UPDATE audit SET data = '{{\"decision\":\"rejected\"}}' WHERE seq = {victim}"));
        let bad = o.run(&["audit", "verify"]);
        assert!(!bad.status.success());
        let text = String::from_utf8_lossy(&bad.stdout);
        assert!(text.contains(&format!("BROKEN at event {victim}")), "{text}");
    }
}

#[test]
fn a_trail_cut_short_or_emptied_is_caught_and_mails_quote_its_head() {
    for db in databases() {
        let o = Office::new(db);
        seed(&o);
        o.ok(&["ingest", "inbox"]);
        o.ok(&["digest", "--as-of", "2021-04-16"]);
        let digest = o.outbox().into_iter().find(|p| p.to_string_lossy().contains("digest")).expect("the digest");
        let raw = std::fs::read(&digest).unwrap();
        let text = mail_parser::MessageParser::default().parse(&raw[..]).unwrap().body_text(0).unwrap().into_owned();
        let anchor = text.lines().find_map(|l| l.strip_prefix("Dấu kiểm nhật ký: ")).and_then(|l| l.split_whitespace().next()).expect("the head is quoted").to_string();
        assert_eq!(anchor.len(), 64);
        let ok = o.run(&["audit", "verify", "--anchor", &anchor]);
        assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));

        // Cut the newest events and re-head the chain so it verifies link by link.
        let events: Value = o.json(&["audit", "--json"]);
        let all = events.as_array().unwrap();
        let keep = all.iter().find(|e| e["kind"] == "decision").unwrap()["seq"].as_i64().unwrap();
        let new_head = all.iter().find(|e| e["seq"] == keep).unwrap()["hash"].as_str().unwrap().to_string();
        tamper(&o, &format!("DELETE FROM audit WHERE seq > {keep}"));
        tamper(&o, &format!("UPDATE audit_head SET last_hash = '{new_head}'"));
        let cut = o.run(&["audit", "verify"]);
        assert_eq!(cut.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&cut.stdout).contains("events were removed"), "{}", String::from_utf8_lossy(&cut.stdout));
        let quoted = o.run(&["audit", "verify", "--anchor", &anchor, "--json"]);
        assert_eq!(quoted.status.code(), Some(1));

        // Empty the trail entirely.
        tamper(&o, "DELETE FROM audit");
        tamper(&o, "DELETE FROM audit_head");
        let empty = o.run(&["audit", "verify"]);
        assert_eq!(empty.status.code(), Some(1), "{}", String::from_utf8_lossy(&empty.stdout));
        assert!(!String::from_utf8_lossy(&empty.stdout).contains("intact"));
    }
}

fn tamper(o: &Office, sql: &str) {
    match &o.db {
        Db::Sqlite => {
            // Straight to the file with sqlx (no sqlite3 binary needed): the tamperer is not the
            // product, and the product has no door for a statement as is.
            let cfg = baocao::config::Config::load(&o.path().join("config.toml")).unwrap();
            let baocao::config::Database::Sqlite(path) = &cfg.database else { panic!("an SQLite office") };
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                use sqlx::Connection;
                let mut c = sqlx::sqlite::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
                assert!(sqlx::query(sql).execute(&mut c).await.unwrap().rows_affected() >= 1, "{sql}");
            });
        }
        Db::Postgres(name) => {
            let out = std::process::Command::new("psql").args(["-h", "127.0.0.1", "-U", "postgres", "-d", name, "-qc", sql]).output().unwrap();
            assert!(out.status.success());
        }
    }
}

#[test]
fn versions_follow_arrival_within_one_batch_and_when_an_older_report_is_ingested_later() {
    for db in databases() {
        let o = Office::new(db);
        let send = |day: u32, mid: &str| {
            let (d, t) = at(2021, 4, day, 9);
            o.deliver(t, mid, &mail("bva@test.example", "Báo cáo quý I năm 2021", &format!("<{mid}@test>"), &d, "", &[("BC quý I.docx", &bva_q1(&format!("{day}/BC-BVA"), day))]));
        };
        // Three versions in one transaction: numbered as they are inserted.
        send(6, "v6");
        send(7, "v7");
        send(8, "v8");
        o.ok(&["ingest", "inbox"]);
        // Then a report that had reached the mailbox before all of them, found in a backfill.
        send(5, "v5");
        o.ok(&["ingest", "inbox"]);
        let subs = o.json(&["submissions", "--json"]);
        let version = |mid: &str| find(&subs, &format!("<{mid}@test>"))[0]["version"].as_i64();
        assert_eq!([version("v5"), version("v6"), version("v7"), version("v8")], [Some(1), Some(2), Some(3), Some(4)], "{subs}");
        // One more, newest: the numbering read ahead sees the renumbered versions.
        send(9, "v9");
        o.ok(&["ingest", "inbox"]);
        let subs = o.json(&["submissions", "--json"]);
        assert_eq!(find(&subs, "<v9@test>")[0]["version"], 5);
        let status = o.json(&["status", "--json", "--unit", "BVA", "--report", "q-report", "--period", "2021-Q1"]);
        assert_eq!(status[0]["version"], 5, "{status}");
        assert!(o.run(&["audit", "verify"]).status.success());
    }
}

#[test]
fn a_killed_ingest_records_every_message_exactly_once() {
    for db in databases() {
        let o = Office::new(db);
        let n = 40;
        for i in 0..n {
            let (d, t) = at(2021, 4, 1 + (i % 20) as u32, 8 + (i / 20) as u32);
            let doc = report_docx(
                "BỆNH VIỆN ĐA KHOA AN BÌNH",
                &format!("{i}/BC-BVA"),
                "Kiểm Thử, ngày 1 tháng 4 năm 2021",
                "BÁO CÁO",
                "Kết quả công tác quý I năm 2021",
                &["Nội dung"],
                None,
            );
            o.deliver(t, &format!("{i}"), &mail("bva@test.example", &format!("Báo cáo quý I năm 2021 lần {i}"), &format!("<k{i}@test>"), &d, "", &[("bc.docx", &doc)]));
        }
        let mut seed_n: u64 = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64;
        for _round in 0..5 {
            seed_n = seed_n.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let delay = 20 + (seed_n >> 33) % 250;
            let mut child = bin()
                .current_dir(o.path())
                .args(["--config", "config.toml", "ingest", "inbox"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(delay));
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        }
        o.ok(&["ingest", "inbox"]);
        let subs = o.json(&["submissions", "--json"]);
        let arr = subs.as_array().unwrap();
        assert_eq!(arr.len(), n, "every message exactly once");
        let mut ids: Vec<&str> = arr.iter().map(|s| s["message_id"].as_str().unwrap()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n);
        let versions: Vec<i64> = arr.iter().filter_map(|s| s["version"].as_i64()).collect();
        assert_eq!(versions.len(), n);
        assert_eq!(*versions.iter().max().unwrap(), n as i64, "versions 1..n without gaps");
        assert!(o.run(&["audit", "verify"]).status.success());
    }
}

#[test]
fn a_malformed_config_is_one_clear_error_naming_file_line_and_key() {
    let bad = CONFIG.replace("applies_to = [\"benh-vien\", \"ttyt\"]", "applies_to = [\"benh-vien\", \"nha-thuoc\"]");
    let o = Office::with_config(Db::Sqlite, &bad);
    let out = o.run(&["check-config"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("config.toml:") && err.contains("applies_to") && err.contains("nha-thuoc"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn an_unreadable_path_is_an_operator_error_but_good_files_are_still_recorded() {
    let o = Office::new(Db::Sqlite);
    seed(&o);
    let out = o.run(&["ingest", "inbox", "no-such-folder"]);
    assert_eq!(out.status.code(), Some(1));
    let o2 = Office::new(Db::Sqlite);
    seed(&o2);
    let p = o2.path().join("inbox/new").read_dir().unwrap().next().unwrap().unwrap().path();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = o2.run(&["ingest", "inbox"]);
    let readable_as_root = std::fs::read(&p).is_ok();
    if !readable_as_root {
        assert_eq!(out.status.code(), Some(1));
    }
    let subs = o2.json(&["submissions", "--json"]);
    assert!(subs.as_array().unwrap().len() >= 4);
}

#[test]
fn a_score_workbook_is_read_and_its_arithmetic_checked() {
    let o = Office::new(Db::Sqlite);
    let rows = [
        ("1", "Chỉ đạo điều hành", 3.0, 2.5),
        ("1.1", "Kế hoạch", 1.0, 1.0),
        ("1.2", "Kiểm tra", 2.0, 1.0),
        ("2", "Hiện đại hóa", 2.0, 2.5),
    ];
    let x = score_xlsx("TRUNG TÂM Y TẾ HUYỆN BẮC SƠN", "BẢNG TỰ CHẤM ĐIỂM CẢI CÁCH HÀNH CHÍNH NĂM 2021", &rows, (5.0, 5.0));
    let (d, t) = at(2021, 10, 1, 9);
    o.deliver(t, "s", &mail("ttyt.bacson@test.example", "Bang tu cham diem 2021", "<s1@test>", &d, "", &[("cham diem.xlsx", &x)]));
    o.ok(&["ingest", "inbox"]);
    let subs = o.json(&["submissions", "--json"]);
    let s = &subs[0];
    assert_eq!(s["decision"], "accepted", "{s}");
    assert_eq!(s["report"], "score");
    assert_eq!(s["period"], "2021");
    let score = &s["documents"][0]["score"];
    assert_eq!(score["max_total"], 5.0);
    assert_eq!(score["self_total"], 5.0);
    let f = score["findings"].to_string();
    assert!(f.contains("dòng 1:") && f.contains("dòng 2:"), "{f}");
}

#[test]
fn a_reply_to_a_reminder_carries_its_obligation_where_the_mail_itself_does_not_say() {
    for db in databases() {
        let o = Office::new(db);
        o.ok(&["remind", "--as-of", "2021-04-10T08:00:00+07:00"]);
        let reminder = o
            .outbox()
            .iter()
            .map(|p| std::fs::read(p).unwrap())
            .find(|m| String::from_utf8_lossy(m).contains("X-Baocao-Key: remind:TTYT-B:q-report:2021-Q1:"))
            .expect("a reminder to TTYT-B");
        let mid = mail_parser::MessageParser::default().parse(&reminder).unwrap().message_id().unwrap().to_string();
        // A staff member's own address, a file that names neither unit, report nor period.
        let doc = report_docx("PHÒNG TỔ CHỨC HÀNH CHÍNH", "5/PTC", "ngày 11 tháng 4 năm 2021", "BÁO CÁO", "Số liệu bổ sung theo yêu cầu", &["Xin gửi số liệu."], None);
        let (d, t) = at(2021, 4, 11, 9);
        let threaded = format!("In-Reply-To: <{mid}>\r\nReferences: <{mid}>\r\n");
        o.deliver(t, "a", &mail("nhanvien.bacson@gmail.example", "Re: Fw: nhắc nộp", "<reply@test>", &d, &threaded, &[("so lieu.docx", &doc)]));
        o.deliver(t + 60, "b", &mail("nhanvien.bacson@gmail.example", "Re: Fw: nhắc nộp", "<noreply@test>", &d, "", &[("so lieu 2.docx", &doc)]));
        o.ok(&["ingest", "--no-deliver", "inbox"]);
        let s = o.json(&["submissions", "--json"]);
        let by = |m: &str| s.as_array().unwrap().iter().find(|x| x["message_id"] == m).unwrap().clone();
        let r = by("<reply@test>");
        assert_eq!((r["decision"].as_str(), r["unit"].as_str(), r["report"].as_str(), r["period"].as_str()), (Some("accepted"), Some("TTYT-B"), Some("q-report"), Some("2021-Q1")), "{r}");
        assert!(r["evidence"].as_array().unwrap().iter().any(|e| e.as_str().unwrap().contains("trả lời thư nhắc")), "{r}");
        let n = by("<noreply@test>");
        assert_eq!(n["decision"], "needs_review", "the same mail outside the thread cannot be placed: {n}");
    }
}
