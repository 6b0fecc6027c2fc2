//! The office's own letters (SPEC §15) read by `request add --dry-run`: a letter written here as
//! .docx (and saved by LibreOffice as Word 97 and PDF), every phrasing of a deadline, addressees
//! resolved to the config's units, the office's own deadline told apart, the outline and annexes,
//! and the periodic rules proposed as `[[report]]` entries the config accepts.

mod common;
use common::*;
use serde_json::Value;

fn letter_docx() -> Vec<u8> {
    use docx_rs::*;
    let cell = |lines: &[&str]| {
        let mut c = TableCell::new();
        for l in lines {
            c = c.add_paragraph(Paragraph::new().add_run(Run::new().add_text(*l)));
        }
        c
    };
    let header = Table::new(vec![TableRow::new(vec![
        cell(&["UBND TỈNH KIỂM THỬ", "SỞ Y TẾ", "Số: 417/SYT-VP", "V/v báo cáo kết quả công tác phòng chống dịch năm 2021"]),
        cell(&["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "Kiểm Thử, ngày 04 tháng 11 năm 2021"]),
    ])]);
    let p = |t: &str| Paragraph::new().add_run(Run::new().add_text(t));
    let mut buf = std::io::Cursor::new(Vec::new());
    Docx::new()
        .add_table(header)
        .add_paragraph(p("Kính gửi:"))
        .add_paragraph(p("- Thủ trưởng các đơn vị y tế trong ngành;"))
        .add_paragraph(p("- Giám đốc các Trung tâm Y tế huyện."))
        .add_paragraph(p("Để tổng hợp báo cáo UBND tỉnh, Sở Y tế đề nghị các đơn vị thực hiện như sau:"))
        .add_paragraph(p("1. Trước ngày 15/11/2021 các đơn vị gửi báo cáo kết quả công tác phòng chống dịch năm 2021 về Văn phòng Sở (theo đề cương và phụ lục 01, 02 đính kèm)."))
        .add_paragraph(p("2. Các đơn vị đăng ký nhiệm vụ năm 2022, gửi về Văn phòng Sở chậm nhất vào ngày 25 tháng 11 năm 2021."))
        .add_paragraph(p("3. Văn phòng Sở tổng hợp kết quả, báo cáo Giám đốc Sở trước ngày 30/11/2021."))
        .add_paragraph(p("Thời gian báo cáo định kỳ:"))
        .add_paragraph(p("+ Báo cáo quý: Gửi Sở Y tế trước ngày 05 tháng cuối quý."))
        .add_paragraph(p("+ Báo cáo năm: Gửi Sở Y tế trước ngày 25 tháng 11."))
        .add_paragraph(p("ĐỀ CƯƠNG BÁO CÁO"))
        .add_paragraph(p("I. Đặc điểm tình hình"))
        .add_paragraph(p("II. Kết quả thực hiện"))
        .add_paragraph(p("III. Đề xuất, kiến nghị"))
        .add_paragraph(p("Nơi nhận:"))
        .add_paragraph(p("- Như trên;"))
        .add_paragraph(p("- Lưu: VT, VP."))
        .build()
        .pack(&mut buf)
        .unwrap();
    buf.into_inner()
}

#[test]
fn a_letter_as_docx_word_97_and_pdf_reads_into_its_request() {
    let o = Office::new(Db::Sqlite);
    let docx = letter_docx();
    for (name, data) in [("cv417.docx", docx.clone()), ("cv417.doc", soffice(&docx, "docx", "doc:MS Word 97")), ("cv417.pdf", soffice(&docx, "docx", "pdf"))] {
        let p = o.path().join(name);
        std::fs::write(&p, &data).unwrap();
        let v: Value = o.json(&["request", "add", p.to_str().unwrap(), "--dry-run", "--json"]);
        assert_eq!(v["number"], "417/SYT-VP", "{name}: {v}");
        assert_eq!(v["date"], "2021-11-04", "{name}");
        assert!(v["subject"].as_str().unwrap().starts_with("V/v báo cáo kết quả công tác phòng chống dịch"), "{name}: {v}");
        let a = v["addressees"].as_array().unwrap();
        assert_eq!(a.len(), 2, "{name}: {v}");
        assert_eq!(a[0]["units"], serde_json::json!(["BVA", "CC-C", "TTYT-B"]), "trong ngành = every unit ({name})");
        assert_eq!(a[1]["units"], serde_json::json!(["TTYT-B"]), "{name}");
        let d: Vec<(String, bool)> = v["deadlines"].as_array().unwrap().iter().map(|d| (d["date"].as_str().unwrap().to_string(), d["for_units"].as_bool().unwrap())).collect();
        assert_eq!(d, vec![("2021-11-15".to_string(), true), ("2021-11-25".to_string(), true), ("2021-11-30".to_string(), false)], "{name}: {v}");
        assert_eq!(v["deadlines"][0]["report"], "báo cáo kết quả công tác phòng chống dịch năm 2021", "{name}");
        assert_eq!(v["outline"], serde_json::json!(["I. Đặc điểm tình hình", "II. Kết quả thực hiện", "III. Đề xuất, kiến nghị"]), "{name}");
        assert_eq!(v["annexes"], serde_json::json!(["Phụ lục 01", "Phụ lục 02"]), "{name}");
        assert_eq!(v["proposed_reports"].as_array().unwrap().len(), 2, "{name}");
    }
    // The proposed entries are valid config.
    let p = o.path().join("cv417.docx");
    let proposed = o.ok(&["request", "add", p.to_str().unwrap(), "--dry-run", "--propose-config"]);
    let cfg = std::fs::read_to_string(o.path().join("config.toml")).unwrap();
    std::fs::write(o.path().join("config.toml"), format!("{cfg}\n{proposed}")).unwrap();
    let out = o.ok(&["check-config"]);
    assert!(!out.is_empty());
}

/// A report answering the letter: its number in the subject, two of the outline's three
/// sections, no annex.
fn answer_docx() -> Vec<u8> {
    report_docx(
        "BỆNH VIỆN ĐA KHOA AN BÌNH",
        "88/BC-BVA",
        "Kiểm Thử, ngày 10 tháng 11 năm 2021",
        "BÁO CÁO",
        "Kết quả công tác phòng chống dịch năm 2021",
        &["I. ĐẶC ĐIỂM TÌNH HÌNH", "Bệnh viện có 300 giường.", "II. KẾT QUẢ THỰC HIỆN", "Khám 12.000 lượt."],
        None,
    )
}

fn rows_of<'a>(st: &'a Value, report: &str) -> Vec<(&'a str, &'a str)> {
    st.as_array().unwrap().iter().filter(|r| r["report"] == report).map(|r| (r["unit"].as_str().unwrap(), r["state"].as_str().unwrap())).collect()
}

#[test]
fn a_confirmed_request_is_owed_by_the_units_it_addresses_and_a_report_citing_it_is_checked_against_its_outline() {
    for db in databases() {
        let o = Office::new(db);
        let p = o.path().join("cv417.docx");
        std::fs::write(&p, letter_docx()).unwrap();
        let added: Value = o.json(&["request", "add", p.to_str().unwrap(), "--json"]);
        assert_eq!((added["state"].as_str(), added["report"].as_str(), added["number"].as_str()), (Some("pending"), Some("cv-417-syt-vp"), Some("417/SYT-VP")), "{added}");
        let id = added["id"].as_str().unwrap().to_string();
        // The same letter again is refused; a waiting request owes nothing yet.
        assert!(!o.run(&["request", "add", p.to_str().unwrap()]).status.success(), "a letter is stored once");
        let st = o.json(&["status", "--as-of", "2021-11-20", "--json"]);
        assert!(rows_of(&st, "cv-417-syt-vp").is_empty(), "pending: no obligation yet");

        let confirmed: Value = o.json(&["request", "confirm", &id, "--json"]);
        assert_eq!(confirmed["state"], "confirmed", "{confirmed}");
        let reports: Vec<(&str, &str)> = confirmed["reports"].as_array().unwrap().iter().map(|r| (r["id"].as_str().unwrap(), r["due"].as_str().unwrap())).collect();
        // "Trước ngày 15/11" is met by the 14th; "chậm nhất vào ngày 25" by the 25th; the office's own 30/11 is no one's obligation.
        assert_eq!(reports, vec![("cv-417-syt-vp", "2021-11-14"), ("cv-417-syt-vp-2", "2021-11-25")], "{confirmed}");
        assert!(!o.run(&["request", "confirm", &id]).status.success(), "confirmed once");

        // A unit answers on the 10th, citing the letter's number.
        let (d, t) = at(2021, 11, 10, 9);
        o.deliver(t, "a", &mail("bva@test.example", "Báo cáo theo Công văn số 417/SYT-VP", "<cv417@test>", &d, "", &[("BC phòng chống dịch.docx", &answer_docx())]));
        o.ok(&["ingest", "inbox"]);
        let s = o.json(&["submissions", "--json"]);
        let m = &s.as_array().unwrap()[0];
        assert_eq!((m["decision"].as_str(), m["unit"].as_str(), m["report"].as_str(), m["timeliness"].as_str()), (Some("accepted"), Some("BVA"), Some("cv-417-syt-vp"), Some("on_time")), "{m}");
        let findings = m["findings"].to_string();
        assert!(findings.contains("III. Đề xuất, kiến nghị"), "the missing section is named: {findings}");
        assert!(!findings.contains("II. Kết quả thực hiện"), "a section there is not: {findings}");
        assert!(findings.contains("Phụ lục 01") && findings.contains("Phụ lục 02"), "the missing annexes: {findings}");
        let acks: Vec<String> = o.outbox().iter().map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned()).collect();
        assert_eq!(acks.len(), 1);

        // Status: every addressed unit owes it; BVA met it, the others are late on the 20th.
        let st = o.json(&["status", "--as-of", "2021-11-20", "--json"]);
        let mut rows = rows_of(&st, "cv-417-syt-vp");
        rows.sort();
        assert_eq!(rows, vec![("BVA", "submitted_on_time"), ("CC-C", "overdue"), ("TTYT-B", "overdue")], "{st}");
        assert_eq!(rows_of(&st, "cv-417-syt-vp-2").len(), 3, "the second deadline is owed too");

        // Called off: its obligations end, what was received stays.
        let cancelled: Value = o.json(&["request", "cancel", &id, "--reason", "Sở đã có văn bản thay thế", "--json"]);
        assert_eq!(cancelled["state"], "cancelled");
        let st = o.json(&["status", "--as-of", "2021-11-20", "--json"]);
        assert!(rows_of(&st, "cv-417-syt-vp").is_empty(), "{st}");
        assert_eq!(o.json(&["submissions", "--json"]).as_array().unwrap().len(), 1);
        let list = o.json(&["request", "list", "--json"]);
        assert_eq!(list[0]["state"], "cancelled", "{list}");
        o.ok(&["audit", "verify"]);
        let trail = o.ok(&["audit"]);
        for kind in ["request_added", "request_confirmed", "request_cancelled"] {
            assert!(trail.contains(kind), "{kind} in the trail");
        }
    }
}

#[test]
fn a_letter_mailed_by_the_offices_staff_waits_as_a_request_and_a_reply_to_it_answers_it() {
    let o = Office::new(Db::Sqlite);
    let (d, t) = at(2021, 11, 4, 15);
    o.deliver(t, "l", &mail("chanhvanphong@so.test", "Công văn 417/SYT-VP", "<cv417-out@so.test>", &d, "", &[("417-SYT-VP.docx", &letter_docx())]));
    o.ok(&["ingest", "inbox"]);
    let s = o.json(&["submissions", "--json"]);
    let m = &s.as_array().unwrap()[0];
    assert_eq!(m["decision"], "not_submission", "{m}");
    assert!(m["reasons"].to_string().contains("yêu cầu báo cáo"), "{m}");
    assert!(o.outbox().is_empty(), "the office is not acknowledged its own letter");
    let list = o.json(&["request", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!((list[0]["state"].as_str(), list[0]["report"].as_str(), list[0]["message_id"].as_str()), (Some("pending"), Some("cv-417-syt-vp"), Some("<cv417-out@so.test>")), "the mail that carried it is kept: {list}");
    let id = list[0]["id"].as_str().unwrap().to_string();
    o.ok(&["request", "confirm", &id, "--unit", "BVA", "--unit", "TTYT-B"]);

    // BVA answers the mail that carried the letter; its subject and file name say nothing, its
    // title says which of the letter's two asks it answers.
    let (d2, t2) = at(2021, 11, 12, 9);
    let plain = report_docx("BỆNH VIỆN ĐA KHOA AN BÌNH", "90/BC-BVA", "Kiểm Thử, ngày 12 tháng 11 năm 2021", "BÁO CÁO", "Kết quả công tác phòng chống dịch năm 2021", &["Bệnh viện báo cáo."], None);
    o.deliver(t2, "r", &mail("bva@test.example", "Re: Công văn", "<reply417@test>", &d2, "In-Reply-To: <cv417-out@so.test>\r\nReferences: <cv417-out@so.test>\r\n", &[("bao cao.docx", &plain)]));
    o.ok(&["ingest", "inbox"]);
    let s = o.json(&["submissions", "--json"]);
    let r = s.as_array().unwrap().iter().find(|x| x["message_id"] == "<reply417@test>").unwrap();
    assert_eq!((r["decision"].as_str(), r["report"].as_str(), r["unit"].as_str()), (Some("accepted"), Some("cv-417-syt-vp"), Some("BVA")), "{r}");
    assert!(r["evidence"].to_string().contains("trả lời thư gửi công văn"), "{r}");
    // Only the units confirmed owe it.
    let st = o.json(&["status", "--as-of", "2021-11-20", "--json"]);
    let mut rows = rows_of(&st, "cv-417-syt-vp");
    rows.sort();
    assert_eq!(rows, vec![("BVA", "submitted_on_time"), ("TTYT-B", "overdue")], "{st}");
    o.ok(&["audit", "verify"]);
}

#[test]
fn a_confirmed_letter_is_owed_even_when_its_deadlines_fall_before_the_calendars_start_and_a_past_deadline_is_said() {
    let o = Office::with_config(Db::Sqlite, &CONFIG.replace("start = \"2021-01-01\"", "start = \"2022-01-01\""));
    let p = o.path().join("cv417.docx");
    std::fs::write(&p, letter_docx()).unwrap();
    let added: Value = o.json(&["request", "add", p.to_str().unwrap(), "--json"]);
    let id = added["id"].as_str().unwrap().to_string();
    let said = o.ok(&["request", "confirm", &id]);
    assert!(said.contains("hạn nộp 14/11/2021, 25/11/2021 đã qua"), "the clerk is told the deadlines have passed: {said}");
    let st = o.json(&["status", "--as-of", "2021-11-20", "--json"]);
    let mut rows = rows_of(&st, "cv-417-syt-vp");
    rows.sort();
    assert_eq!(rows, vec![("BVA", "overdue"), ("CC-C", "overdue"), ("TTYT-B", "overdue")], "a clerk confirmed them: they exist ({st})");
}
