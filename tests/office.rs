//! The office's actions through the real binary, against SQLite and PostgreSQL: what a person
//! decides (accept, assign, reject, exempt and withdraw) is validated against the obligations
//! that exist, changes status and versions, names the person in the audit trail and, when asked,
//! tells the unit in its thread; acknowledgements say which version a submission is.

mod common;
use common::*;
use serde_json::Value;
use std::path::PathBuf;


fn bva_first_and_correction(o: &Office) {
    let (d1, t1) = at(2021, 4, 5, 9);
    o.deliver(t1, "1", &mail("bva@test.example", "Báo cáo quý I năm 2021 - BV An Bình", "<a1@test>", &d1, "", &[("BC quý I.docx", &bva_q1("12/BC-BVA", 5))]));
    let (d2, t2) = at(2021, 4, 12, 10);
    o.deliver(t2, "2", &mail("bva@test.example", "V/v điều chỉnh báo cáo quý I năm 2021", "<a2@test>", &d2, "", &[("BC quý I (sửa).docx", &bva_q1("14/BC-BVA", 12))]));
}

/// The outbox mails that answer `message_id`, oldest key first, as (file, parsed text).
fn answers(o: &Office, message_id: &str) -> Vec<(PathBuf, String)> {
    o.outbox()
        .into_iter()
        .filter_map(|p| {
            let raw = std::fs::read(&p).unwrap();
            let m = mail_parser::MessageParser::default().parse(&raw[..])?;
            let irt = m.in_reply_to().as_text().map(|s| format!("<{}>", s.trim_matches(|c| c == '<' || c == '>')));
            (irt.as_deref() == Some(message_id)).then(|| (p.clone(), m.body_text(0).map(|t| t.into_owned()).unwrap_or_default()))
        })
        .collect()
}

fn status_of(o: &Office, as_of: &str, unit: &str, period: &str) -> Value {
    let st = o.json(&["status", "--as-of", as_of, "--json"]);
    st.as_array()
        .unwrap()
        .iter()
        .find(|s| s["unit"] == unit && s["report"] == "q-report" && s["period"] == period)
        .cloned()
        .unwrap_or(Value::Null)
}

fn submission(o: &Office, message_id: &str) -> Value {
    let subs = o.json(&["submissions", "--json"]);
    subs.as_array().unwrap().iter().find(|s| s["message_id"] == message_id).cloned().unwrap()
}

fn refused(o: &Office, args: &[&str]) -> String {
    let out = o.run(args);
    assert_eq!(out.status.code(), Some(1), "baocao {args:?} should be refused: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_acknowledgement_of_a_correction_says_it_is_the_second_version() {
    for db in databases() {
        let o = Office::new(db);
        bva_first_and_correction(&o);
        o.ok(&["ingest", "inbox"]);
        let first = answers(&o, "<a1@test>");
        let second = answers(&o, "<a2@test>");
        assert_eq!((first.len(), second.len()), (1, 1), "one acknowledgement each");
        assert!(!first[0].1.contains("lần gửi thứ"), "a first version says no version: {}", first[0].1);
        assert!(second[0].1.contains("lần gửi thứ 2"), "the correction's acknowledgement names its version: {}", second[0].1);
        assert_eq!(submission(&o, "<a2@test>")["version"], 2);
    }
}

#[test]
fn a_message_waiting_in_review_keeps_its_obligation_from_reminders_until_a_person_accepts_it() {
    for db in databases() {
        let o = Office::new(db);
        ttyt_b_disputed(&o);
        o.ok(&["ingest", "inbox"]);
        let s = submission(&o, "<r1@test>");
        assert_eq!(s["decision"], "needs_review", "{s}");
        assert_eq!((s["unit"].as_str(), s["period"].as_str()), (Some("TTYT-B"), Some("2021-Q1")), "best guess: {s}");
        let id = s["id"].as_str().unwrap().to_string();

        assert_eq!(status_of(&o, "2021-04-14", "TTYT-B", "2021-Q1")["state"], "in_review");
        assert_eq!(status_of(&o, "2021-04-14", "BVA", "2021-Q1")["state"], "overdue");
        let reminded = o.ok(&["remind", "--as-of", "2021-04-14T08:00:00+07:00"]);
        assert!(reminded.contains("remind:BVA:q-report:2021-Q1:after-5"), "the control unit is reminded: {reminded}");
        assert!(!reminded.contains("TTYT-B"), "a unit whose report waits in review is not reminded: {reminded}");

        let out = o.ok(&["--by", "thu.ky", "review", "accept", &id, "--tell"]);
        assert!(out.contains("accepted as TTYT-B q-report 2021-Q1 (late, version 1)"), "{out}");
        assert_eq!(status_of(&o, "2021-04-20", "TTYT-B", "2021-Q1")["state"], "submitted_late");
        let told = answers(&o, "<r1@test>");
        assert_eq!(told.len(), 2, "the acknowledgement, then the notice of the decision, both in the unit's thread");
        assert!(told.iter().any(|(_, t)| t.contains("Đã tiếp nhận") && t.contains("quý I năm 2021")), "{told:?}");

        let audit = o.json(&["audit", "--json"]);
        let ev = audit.as_array().unwrap().iter().find(|e| e["kind"] == "review_assign").expect("an audit event for the decision");
        assert_eq!(ev["actor"], "thu.ky");
        assert_eq!(ev["subject"], format!("submission:{id}"));
        assert!(o.ok(&["audit", "verify"]).contains("intact"));
    }
}

#[test]
fn assigning_to_an_obligation_that_does_not_exist_is_refused_with_the_reason() {
    for db in databases() {
        let o = Office::new(db);
        ttyt_b_disputed(&o);
        o.ok(&["ingest", "inbox"]);
        let id = submission(&o, "<r1@test>")["id"].as_str().unwrap().to_string();
        let e = refused(&o, &["review", "assign", &id, "--unit", "CC-C", "--report", "q-report", "--period", "2021-Q1"]);
        assert!(e.contains("chỉ các nhóm benh-vien, ttyt phải nộp") && e.contains("chi-cuc"), "{e}");
        let e = refused(&o, &["review", "assign", &id, "--unit", "TTYT-B", "--report", "q-report", "--period", "2021"]);
        assert!(e.contains("nộp theo quý, không có kỳ 2021"), "{e}");
        let e = refused(&o, &["review", "assign", &id, "--unit", "TTYT-B", "--report", "q-report", "--period", "2020-Q3"]);
        assert!(e.contains("trước ngày bắt đầu theo dõi"), "{e}");
        let e = refused(&o, &["review", "assign", &id, "--unit", "NOPE", "--report", "q-report", "--period", "2021-Q1"]);
        assert!(e.contains("không có đơn vị `NOPE`"), "{e}");
        // A period that exists, but due years after the message arrived: typed wrong, or forged.
        let e = refused(&o, &["review", "assign", &id, "--unit", "TTYT-B", "--report", "q-report", "--period", "2031-Q1"]);
        assert!(e.contains("không thể là báo cáo") && e.contains("quý I năm 2031"), "{e}");
        assert_eq!(submission(&o, "<r1@test>")["decision"], "needs_review", "a refused action changes nothing");
        assert!(!o.json(&["audit", "--json"]).as_array().unwrap().iter().any(|e| e["kind"] == "review_assign"));
    }
}

#[test]
fn rejecting_a_version_renumbers_the_others_and_clears_its_timeliness() {
    for db in databases() {
        let o = Office::new(db);
        bva_first_and_correction(&o);
        o.ok(&["ingest", "inbox"]);
        let first = submission(&o, "<a1@test>")["id"].as_str().unwrap().to_string();
        o.ok(&["review", "reject", &first, "--reason", "gửi nhầm tệp"]);
        let a1 = submission(&o, "<a1@test>");
        assert_eq!(a1["decision"], "rejected");
        assert_eq!(a1["timeliness"], Value::Null);
        assert_eq!(a1["version"], Value::Null);
        assert_eq!(a1["reasons"][0], "gửi nhầm tệp");
        assert_eq!(submission(&o, "<a2@test>")["version"], 1, "the correction is now the only version");
        // The obligation's timeliness is now the correction's: it arrived after the deadline.
        assert_eq!(status_of(&o, "2021-04-20", "BVA", "2021-Q1")["state"], "submitted_late");
        assert_eq!(answers(&o, "<a1@test>").len(), 1, "without --tell the unit hears nothing more");
    }
}

#[test]
fn an_exemption_can_be_withdrawn_and_only_an_owed_obligation_can_be_exempt() {
    for db in databases() {
        let o = Office::new(db);
        o.ok(&["exempt", "--unit", "TTYT-B", "--report", "q-report", "--period", "2021-Q1", "--reason", "sáp nhập"]);
        assert_eq!(status_of(&o, "2021-04-20", "TTYT-B", "2021-Q1")["state"], "exempt");
        let out = o.ok(&["exempt", "--unit", "TTYT-B", "--report", "q-report", "--period", "2021-Q1", "--withdraw"]);
        assert!(out.contains("exemption withdrawn"), "{out}");
        assert_eq!(status_of(&o, "2021-04-20", "TTYT-B", "2021-Q1")["state"], "overdue");
        let out = o.ok(&["exempt", "--unit", "TTYT-B", "--report", "q-report", "--period", "2021-Q1", "--withdraw"]);
        assert!(out.contains("was not exempt"), "{out}");
        let e = refused(&o, &["exempt", "--unit", "CC-C", "--report", "q-report", "--period", "2021-Q1", "--reason", "x"]);
        assert!(e.contains("phải nộp"), "{e}");
        let kinds: Vec<String> = o.json(&["audit", "--json"]).as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect();
        assert_eq!(kinds.iter().filter(|k| *k == "exempt").count(), 1);
        assert_eq!(kinds.iter().filter(|k| *k == "exempt_withdrawn").count(), 1, "withdrawing what was not exempt writes nothing");
    }
}

#[test]
fn assigning_a_message_without_a_readable_document_warns_but_is_done() {
    let o = Office::new(Db::Sqlite);
    let (d, t) = at(2021, 4, 8, 9);
    o.deliver(t, "q", &mail("ttyt.bacson@test.example", "Hỏi về báo cáo quý I", "<q1@test>", &d, "", &[]));
    o.ok(&["ingest", "inbox"]);
    let id = submission(&o, "<q1@test>")["id"].as_str().unwrap().to_string();
    let out = o.run(&["review", "assign", &id, "--unit", "TTYT-B", "--report", "q-report", "--period", "2021-Q1"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning") && err.contains("no readable document"), "{err}");
    assert_eq!(status_of(&o, "2021-04-20", "TTYT-B", "2021-Q1")["state"], "submitted_on_time");
}

/// The text of every mail in the outbox whose subject contains `part`.
fn mails_about(o: &Office, part: &str) -> Vec<String> {
    o.outbox()
        .into_iter()
        .filter_map(|p| {
            let raw = std::fs::read(&p).unwrap();
            let m = mail_parser::MessageParser::default().parse(&raw[..])?;
            m.subject().is_some_and(|s| s.contains(part)).then(|| format!("{}\n{}", m.subject().unwrap_or(""), m.body_text(0).map(|t| t.into_owned()).unwrap_or_default()))
        })
        .collect()
}

#[test]
fn a_unit_given_more_time_is_on_time_until_its_new_deadline_and_reminded_from_it() {
    for db in databases() {
        let o = Office::new(db);
        assert_eq!(status_of(&o, "2021-04-14", "BVA", "2021-Q1")["state"], "overdue", "due 09/04/2021 by the rules");
        let why = refused(&o, &["extend", "--unit", "BVA", "--report", "q-report", "--period", "2021-Q1", "--until", "2021-04-05"]);
        assert!(why.contains("không sau hạn nộp 09/04/2021"), "a new deadline must be later than the rules': {why}");
        let why = refused(&o, &["extend", "--unit", "BVA", "--report", "q-report", "--period", "2031-Q1", "--until", "2031-05-05"]);
        assert!(why.contains("2031"), "only an obligation that exists: {why}");

        let said = o.ok(&["extend", "--unit", "BVA", "--report", "q-report", "--period", "2021-Q1", "--until", "20/04/2021", "--reason", "Đơn vị đề nghị do thay đổi nhân sự"]);
        assert!(said.contains("gia hạn đến hết ngày 20/04/2021") && said.contains("đã xếp thư báo"), "{said}");
        let st = status_of(&o, "2021-04-14", "BVA", "2021-Q1");
        assert_eq!((st["state"].as_str(), st["due"].as_str(), st["extended_from"].as_str()), (Some("upcoming"), Some("2021-04-20"), Some("2021-04-09")), "{st}");
        assert_eq!(status_of(&o, "2021-04-18", "BVA", "2021-Q1")["state"], "due_soon", "the reminder window counts from the new date");
        assert_eq!(status_of(&o, "2021-04-14", "TTYT-B", "2021-Q1")["state"], "overdue", "another unit keeps the rules' deadline");

        let reminded = o.ok(&["remind", "--as-of", "2021-04-14T08:00:00+07:00"]);
        assert!(!reminded.contains("BVA:q-report:2021-Q1"), "no overdue reminder before the new deadline: {reminded}");
        let reminded = o.ok(&["remind", "--as-of", "2021-04-17T08:00:00+07:00"]);
        assert!(reminded.contains("BVA:q-report:2021-Q1:before-3"), "the stages count from the new date: {reminded}");

        let told = mails_about(&o, "[Gia hạn]");
        assert_eq!(told.len(), 1, "the unit is told once");
        assert!(told[0].contains("đến hết ngày 20/04/2021") && told[0].contains("hạn nộp trước đây: ngày 09/04/2021") && told[0].contains("thay đổi nhân sự"), "{}", told[0]);

        // A report arriving after the rules' deadline and before the new one is on time.
        let (d, t) = at(2021, 4, 15, 9);
        o.deliver(t, "ext1", &mail("bva@test.example", "Báo cáo quý I năm 2021 - BV An Bình", "<ext1@test>", &d, "", &[("BC quý I.docx", &bva_q1("12/BC-BVA", 5))]));
        o.ok(&["ingest", "inbox"]);
        assert_eq!(submission(&o, "<ext1@test>")["timeliness"], "on_time");
        assert_eq!(status_of(&o, "2021-04-30", "BVA", "2021-Q1")["state"], "submitted_on_time");

        // Withdrawn: the rules' deadline again, and what was received is judged against it.
        let said = o.ok(&["extend", "--unit", "BVA", "--report", "q-report", "--period", "2021-Q1", "--withdraw"]);
        assert!(said.contains("thôi gia hạn"), "{said}");
        assert_eq!(submission(&o, "<ext1@test>")["timeliness"], "late");
        assert_eq!(status_of(&o, "2021-04-30", "BVA", "2021-Q1")["state"], "submitted_late");
        let why = refused(&o, &["extend", "--unit", "BVA", "--report", "q-report", "--period", "2021-Q1", "--withdraw"]);
        assert!(why.contains("không được gia hạn"), "{why}");

        let audit = o.json(&["audit", "--json"]);
        let kinds: Vec<&str> = audit.as_array().unwrap().iter().filter(|e| e["subject"] == "obligation:BVA:q-report:2021-Q1").filter_map(|e| e["kind"].as_str()).collect();
        assert_eq!(kinds, ["extension_granted", "extension_withdrawn"], "{audit}");
    }
}

#[test]
fn a_merged_unit_keeps_its_history_and_its_successor_owes_from_the_merger() {
    for db in databases() {
        let o = Office::new(db);
        // The district centre reports its first quarter, then is merged into the hospital.
        let (d, t) = at(2021, 4, 5, 9);
        o.deliver(t, "m1", &mail("ttyt.bacson@test.example", "Báo cáo quý I năm 2021 - TTYT Bắc Sơn", "<m1@test>", &d, "", &[("BC quý I.docx", &report_docx("TRUNG TÂM Y TẾ HUYỆN BẮC SƠN", "5/BC-TTYT", "Bắc Sơn, ngày 05 tháng 4 năm 2021", "BÁO CÁO", "Kết quả công tác quý I năm 2021", &["Nội dung."], None))]));
        o.ok(&["ingest", "inbox"]);
        assert_eq!(submission(&o, "<m1@test>")["unit"], "TTYT-B");

        let why = refused(&o, &["directory", "merge", "--unit", "TTYT-B", "--into", "TTYT-B", "--last-day", "2021-06-30"]);
        assert!(why.contains("đơn vị tiếp nhận phải là một đơn vị khác"), "{why}");
        let said = o.ok(&["--by", "lan", "directory", "merge", "--unit", "TTYT-B", "--into", "BVA", "--last-day", "30/06/2021"]);
        assert!(said.contains("đã sáp nhập Trung tâm Y tế huyện Bắc Sơn vào Bệnh viện Đa khoa An Bình từ sau ngày 30/06/2021"), "{said}");

        // History stays; the merged unit owes the quarters begun by its last day, not after.
        assert_eq!(submission(&o, "<m1@test>")["unit"], "TTYT-B", "a submission stays under the unit that sent it");
        assert_eq!(status_of(&o, "2021-04-30", "TTYT-B", "2021-Q1")["state"], "submitted_on_time");
        assert_eq!(status_of(&o, "2021-07-30", "TTYT-B", "2021-Q2")["state"], "overdue", "Q2 began before the merger");
        assert!(status_of(&o, "2021-10-30", "TTYT-B", "2021-Q3").is_null(), "Q3 began after it");
        assert!(!status_of(&o, "2021-10-30", "BVA", "2021-Q3").is_null(), "the successor owes from then on");
        let reminded = o.ok(&["remind", "--as-of", "2021-10-12T08:00:00+07:00", "--dry-run"]);
        assert!(!reminded.contains("TTYT-B:q-report:2021-Q3"), "no reminder for a unit that no longer exists: {reminded}");

        // The old address now belongs to the successor: its Q3 report is the hospital's.
        let (d, t) = at(2021, 10, 5, 9);
        o.deliver(t, "m2", &mail("ttyt.bacson@test.example", "Báo cáo quý III năm 2021", "<m2@test>", &d, "", &[("BC quý III.docx", &report_docx("TRUNG TÂM Y TẾ HUYỆN BẮC SƠN", "9/BC-TTYT", "Bắc Sơn, ngày 05 tháng 10 năm 2021", "BÁO CÁO", "Kết quả công tác quý III năm 2021", &["Nội dung."], None))]));
        o.ok(&["ingest", "inbox"]);
        let m2 = submission(&o, "<m2@test>");
        assert_eq!((m2["unit"].as_str(), m2["period"].as_str(), m2["decision"].as_str()), (Some("BVA"), Some("2021-Q3"), Some("accepted")), "{m2}");

        // The directory as TOML, read back by a config file; the change is audited by name.
        let toml = o.ok(&["directory", "export"]);
        assert!(toml.contains("id = \"TTYT-B\"") && toml.contains("active_until = \"2021-06-30\"") && toml.contains("merged_into = \"BVA\""), "{toml}");
        assert!(toml.contains("\"ttyt.bacson@test.example\""), "the address moved with the merger: {toml}");
        let audit = o.json(&["audit", "--json"]);
        let merged = audit.as_array().unwrap().iter().find(|e| e["kind"] == "unit_merged").expect("a merger is audited");
        assert_eq!((merged["actor"].as_str(), merged["subject"].as_str()), (Some("lan"), Some("unit:TTYT-B")), "{merged}");

        // An entry the operator changed in the file is applied on the next start; one the
        // office changed and the file did not stays as the office set it.
        let cfg = std::fs::read_to_string(o.path().join("config.toml")).unwrap();
        std::fs::write(o.path().join("config.toml"), cfg.replace("name = \"Chi cục Dân số tỉnh\"", "name = \"Chi cục Dân số và Kế hoạch hóa gia đình tỉnh\"")).unwrap();
        let toml = o.ok(&["directory", "export"]);
        assert!(toml.contains("Chi cục Dân số và Kế hoạch hóa gia đình tỉnh"), "{toml}");
        assert!(toml.contains("merged_into = \"BVA\""), "the merger made on the office's side stays: {toml}");
        // `directory import` applies every file entry, over the office's changes.
        let done = o.json(&["directory", "import", "--json"]);
        assert_eq!(done["changed"], 2, "the two units the merger changed come back as the file has them: {done}");
        assert!(!o.ok(&["directory", "export"]).contains("merged_into"), "the file has no merger");
    }
}

#[test]
fn a_report_kinds_deadline_changed_in_the_file_is_applied_on_the_next_start_and_exported() {
    for db in databases() {
        let o = Office::new(db);
        let due = |o: &Office| status_of(o, "2021-07-15", "BVA", "2021-Q2")["due"].as_str().map(str::to_string);
        assert_eq!(due(&o).as_deref(), Some("2021-07-09"), "trước ngày 10 of the month after the quarter");
        let toml = o.ok(&["directory", "export"]);
        assert!(toml.contains("[[report]]") && toml.contains("id = \"q-report\"") && toml.contains("remind_after_days = [1, 5]"), "{toml}");
        // The kinds are in the database now; the file's changed entry is applied again.
        let cfg = std::fs::read_to_string(o.path().join("config.toml")).unwrap();
        std::fs::write(o.path().join("config.toml"), cfg.replace("due = { month = \"next\", day = 10, exclusive = true }", "due = { month = \"next\", day = 15 }")).unwrap();
        assert_eq!(due(&o).as_deref(), Some("2021-07-15"), "the operator's change of the file is followed");
        let audit = o.json(&["audit", "--json"]);
        assert!(audit.as_array().unwrap().iter().any(|e| e["kind"] == "directory_imported"), "{audit}");
        // What the export prints is a config the product reads back.
        let exported = o.ok(&["directory", "export"]);
        let head = cfg.split("[[unit]]").next().unwrap().to_string();
        let again = o.path().join("again.toml");
        std::fs::write(&again, format!("{head}\n{exported}")).unwrap();
        let out = bin().current_dir(o.path()).arg("--config").arg(&again).arg("check-config").output().unwrap();
        assert!(out.status.success(), "the export reads back: {}\n{exported}", String::from_utf8_lossy(&out.stderr));
    }
}
