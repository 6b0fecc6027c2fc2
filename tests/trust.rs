//! Decisions an office can trust (issue: trust in every decision): evidence that disagrees
//! goes to a person with both sides named; what is said to a unit is true; documents typed the
//! old way decide as surely as Unicode ones.

mod common;
use common::forms::{self, Habits};
use common::*;
use serde_json::Value;

fn subs(o: &Office) -> Vec<Value> {
    o.json(&["submissions", "--json"]).as_array().unwrap().clone()
}

fn by_mid<'a>(s: &'a [Value], mid: &str) -> &'a Value {
    s.iter().find(|x| x["message_id"] == mid).unwrap_or_else(|| panic!("{mid} was not recorded"))
}

/// The stations' office without the form: kind and period come from the words alone.
fn stations(db: Db) -> Office {
    let cfg = forms::CONFIG.replace("form = \"forms/bieu-thang.xlsx\"\nform_rules = [\"{7.1} <= {7}\"]\n", "");
    assert!(!cfg.contains("form ="), "the config without its form");
    Office::with_config(db, &cfg)
}

#[test]
fn a_workbook_typed_in_tcvn3_decides_kind_and_period_by_its_title_alone() {
    let o = stations(Db::Sqlite);
    let f = forms::figures(100.0, 4);
    let x = forms::station_xlsx("Trạm Y tế xã An Phú", 4, &f, &Habits { tcvn3: true, ..Default::default() });
    let (d, t) = at(2023, 5, 3, 9);
    o.deliver(t, "a", &mail("tyt.anphu@test.example", "Gui file", "<tcvn3@test>", &d, "", &[("file.xlsx", &x)]));
    o.ok(&["ingest", "--no-deliver", "inbox"]);
    let s = subs(&o);
    let m = by_mid(&s, "<tcvn3@test>");
    assert_eq!(m["documents"][0]["legacy_encoding"], "tcvn3");
    assert_eq!((m["decision"].as_str(), m["report"].as_str(), m["period"].as_str()), (Some("accepted"), Some("tyt-thang"), Some("2023-04")), "{m}");
    assert_eq!(m["reasons"], serde_json::json!([]));
}

#[test]
fn a_stations_file_reused_from_last_month_goes_to_review_with_both_months() {
    let o = stations(Db::Sqlite);
    // April's workbook (its title says April) sent again as May's: the subject and the file name say May.
    let x = forms::station_xlsx("Trạm Y tế xã Bình Minh", 4, &forms::figures(90.0, 4), &Habits::default());
    let (d, t) = at(2023, 6, 2, 9);
    o.deliver(t, "b", &mail("tyt.binhminh@test.example", "Báo cáo hoạt động trạm y tế tháng 5 năm 2023", "<reuse@test>", &d, "", &[("BC thang 5-2023.xlsx", &x)]));
    o.ok(&["ingest", "--no-deliver", "inbox"]);
    let s = subs(&o);
    let m = by_mid(&s, "<reuse@test>");
    assert_eq!(m["decision"], "needs_review", "never accepted for either month silently: {m}");
    let reasons = m["reasons"].to_string();
    assert!(reasons.contains("tháng 4 năm 2023") && reasons.contains("tháng 5 năm 2023"), "both months are named: {reasons}");
}

/// The text of every mail in the office's file outbox.
fn outbox_texts(o: &Office) -> Vec<String> {
    o.outbox()
        .into_iter()
        .filter_map(|p| {
            let raw = std::fs::read(p).unwrap();
            let m = mail_parser::MessageParser::default().parse(&raw)?;
            Some(format!("{}\n{}", m.subject().unwrap_or(""), m.body_text(0).map(|b| b.to_string()).unwrap_or_default()))
        })
        .collect()
}

#[test]
fn a_report_sent_again_long_after_is_told_as_a_later_version_of_one_received_on_time() {
    let o = Office::new(Db::Sqlite);
    let (d, t) = at(2021, 4, 5, 9);
    o.deliver(t, "1", &mail("bva@test.example", "Báo cáo quý I năm 2021", "<first@test>", &d, "", &[("BC quý I.docx", &bva_q1("12/BC-BVA", 5))]));
    o.ok(&["ingest", "inbox"]);
    let (d, t) = at(2023, 6, 1, 9);
    o.deliver(t, "2", &mail("bva@test.example", "Gửi lại báo cáo quý I năm 2021", "<again@test>", &d, "", &[("BC quý I.docx", &bva_q1("12/BC-BVA", 5))]));
    o.ok(&["ingest", "inbox"]);
    let s = subs(&o);
    assert_eq!(by_mid(&s, "<again@test>")["version"], 2);
    let st = o.json(&["status", "--json", "--unit", "BVA", "--report", "q-report", "--period", "2021-Q1"]);
    assert_eq!(st[0]["state"], "submitted_on_time", "{st}");
    let acks = outbox_texts(&o);
    let again = acks.iter().find(|a| a.contains("Gửi lại báo cáo")).expect("the second mail was answered");
    assert!(!again.contains("Muộn"), "the obligation stays on time: {again}");
    assert!(again.contains("đã nhận lần đầu ngày 05/04/2021, đúng hạn") && again.contains("lần gửi thứ 2"), "{again}");
}

#[test]
fn an_unregistered_sender_whose_subject_names_another_unit_than_its_document_goes_to_review() {
    let o = Office::new(Db::Sqlite);
    // The subject names BV An Bình (an alias); the document is issued by TTYT Bắc Sơn.
    let doc = report_docx("TRUNG TÂM Y TẾ HUYỆN BẮC SƠN", "8/BC-TTYT", "Bắc Sơn, ngày 6 tháng 4 năm 2021", "BÁO CÁO", "Kết quả công tác quý I năm 2021", &["Báo cáo như sau."], None);
    let (d, t) = at(2021, 4, 6, 9);
    o.deliver(t, "x", &mail("ai.do@gmail.example", "Báo cáo quý I năm 2021 - BV An Bình", "<outsider@test>", &d, "", &[("bao cao.docx", &doc)]));
    o.ok(&["ingest", "--no-deliver", "inbox"]);
    let s = subs(&o);
    let m = by_mid(&s, "<outsider@test>");
    assert_eq!(m["decision"], "needs_review", "{m}");
    let reasons = m["reasons"].to_string();
    assert!(reasons.contains("Trung tâm Y tế huyện Bắc Sơn") && reasons.contains("Bệnh viện Đa khoa An Bình"), "both units are named, by name: {reasons}");
    let st = o.json(&["status", "--json", "--as-of", "2021-04-20", "--unit", "TTYT-B", "--report", "q-report", "--period", "2021-Q1"]);
    assert_ne!(st[0]["state"], "submitted_on_time", "nothing is accepted for either unit silently: {st}");
}

#[test]
fn an_attachment_refused_as_hostile_is_not_handed_out_by_the_console() {
    use common::browser::Login;
    let port = free_port();
    let o = Office::with_config(Db::Sqlite, &format!("{CONFIG}\n[http]\nlisten = \"127.0.0.1:{port}\"\n"));
    // A zip bomb: 64 MB of zeros deflated to a few dozen KB.
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        use std::io::Write;
        let mut z = zip::ZipWriter::new(&mut buf);
        z.start_file("bao cao.docx", zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated)).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            z.write_all(&zeros).unwrap();
        }
        z.finish().unwrap();
    }
    let bomb = buf.into_inner();
    let (d, t) = at(2021, 4, 5, 9);
    o.deliver(t, "b", &mail("bva@test.example", "Báo cáo quý I năm 2021", "<bomb@test>", &d, "", &[("bao cao.zip", &bomb), ("BC quý I.docx", &bva_q1("1/BC", 5))]));
    o.ok(&["ingest", "--no-deliver", "inbox"]);
    let s = subs(&o);
    let m = by_mid(&s, "<bomb@test>");
    assert!(m["documents"][0]["error"].as_str().unwrap_or("").starts_with("từ chối"), "the zip is refused: {m}");
    let id = m["id"].as_str().unwrap().to_string();
    o.add_user("lan", "clerk", "mat-khau-du-dai-2021");
    let daemon = Daemon::start(&o, &[]);
    wait_until(20, "the console", || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    let l = Login::new(port, "lan", "mat-khau-du-dai-2021").unwrap();
    let (code, page) = l.get(&format!("/submissions/{id}"));
    assert_eq!(code, 200);
    assert!(page.contains("bị từ chối vì có thể gây hại"), "the page warns");
    assert!(!page.contains(&format!("/submissions/{id}/files/0\"")), "and offers no link to the refused file");
    assert!(page.contains(&format!("/submissions/{id}/files/1\"")), "the readable report is still offered");
    let (code, body) = l.get(&format!("/submissions/{id}/files/0"));
    assert_eq!(code, 403, "a hand-made request gets nothing: {}", &body[..body.len().min(300)]);
    assert!(body.contains("Tệp bị từ chối"));
    assert!(daemon.stop().success());
}

#[test]
fn a_score_table_carried_beside_another_report_keeps_its_totals_in_the_json() {
    let o = Office::new(Db::Sqlite);
    let rows = [("1", "Chỉ đạo điều hành", 3.0, 2.5), ("2", "Hiện đại hóa", 2.0, 2.0)];
    let score = score_xlsx("BỆNH VIỆN ĐA KHOA AN BÌNH", "BẢNG TỰ CHẤM ĐIỂM CẢI CÁCH HÀNH CHÍNH NĂM 2021", &rows, (5.0, 4.5));
    let (d, t) = at(2021, 10, 15, 9);
    o.deliver(t, "s", &mail("bva@test.example", "Báo cáo quý III và bảng tự chấm điểm năm 2021", "<two@test>", &d, "", &[("BC quý III.docx", &report_docx("BỆNH VIỆN ĐA KHOA AN BÌNH", "30/BC-BVA", "Kiểm Thử, ngày 15 tháng 10 năm 2021", "BÁO CÁO", "Kết quả công tác quý III năm 2021", &["Báo cáo."], None)), ("Tự chấm điểm 2021.xlsx", &score)]));
    o.ok(&["ingest", "--no-deliver", "inbox"]);
    let s = subs(&o);
    let m = by_mid(&s, "<two@test>");
    assert_eq!(m["report"], "q-report", "{m}");
    let part = &m["also"][0];
    assert_eq!(part["report"], "score", "{m}");
    assert_eq!(part["score"]["self_total"], 4.5, "the totals as at top level: {part}");
    assert_eq!(part["document_details"][0]["score"]["max_total"], 5.0);
}
