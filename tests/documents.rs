//! Documents offices really send, through the real binary and the real converters (Debian
//! libreoffice-writer-nogui, libreoffice-calc-nogui, poppler-utils, tesseract-ocr-vie): Word 97,
//! RTF and OpenDocument read like .docx; a signed PDF read from its text layer, and beside its
//! .docx one submission; a scan read by OCR, the evidence saying so; a server without a
//! converter records and tells the reason. The fixtures are made here from the project's own
//! .docx/.xlsx by LibreOffice and poppler, so a fresh clone needs nothing else.

mod common;
use common::*;
use serde_json::Value;
use std::process::Command;

/// The first page of a PDF as a JPEG photo at `dpi` (poppler's pdftoppm).
fn page_jpeg(pdf: &[u8], dpi: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.pdf"), pdf).unwrap();
    let st = Command::new("pdftoppm").args(["-r", &dpi.to_string(), "-jpeg", "-singlefile", "-f", "1", "-l", "1"]).arg(dir.path().join("in.pdf")).arg(dir.path().join("page")).status().expect("pdftoppm (apt-get install poppler-utils)");
    assert!(st.success());
    std::fs::read(dir.path().join("page.jpg")).unwrap()
}

/// A scanner's PDF: one page holding only a JPEG image, no text layer.
fn image_only_pdf(jpeg: &[u8], w: u32, h: u32) -> Vec<u8> {
    let content = format!("q {w} 0 0 {h} 0 0 cm /Im0 Do Q");
    let objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w} {h}] /Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>").into_bytes(),
        [format!("<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode /Length {} >>\nstream\n", jpeg.len()).as_bytes(), jpeg, b"\nendstream"].concat(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()).into_bytes(),
    ];
    pdf_of(&objects)
}

/// Width and height of a JPEG (its SOF marker).
fn jpeg_size(j: &[u8]) -> (u32, u32) {
    let mut i = 2;
    while i + 9 < j.len() {
        let marker = j[i + 1];
        let len = u16::from_be_bytes([j[i + 2], j[i + 3]]) as usize;
        if (0xC0..=0xC2).contains(&marker) {
            return (u16::from_be_bytes([j[i + 7], j[i + 8]]) as u32, u16::from_be_bytes([j[i + 5], j[i + 6]]) as u32);
        }
        i += 2 + len;
    }
    panic!("no SOF in the JPEG")
}

fn parse_json(o: &Office, name: &str, data: &[u8]) -> Value {
    let p = o.path().join(name);
    std::fs::write(&p, data).unwrap();
    let out = o.ok(&["parse", p.to_str().unwrap(), "--json"]);
    serde_json::from_str::<Value>(&out).unwrap()[0]["documents"][0].clone()
}

#[test]
fn word_97_rtf_and_opendocument_reports_are_read_like_docx() {
    let o = Office::new(Db::Sqlite);
    let docx = bva_q1("21/BC-BVA", 5);
    let rows = [("1", "Công tác chỉ đạo", 2.0, 2.0), ("2", "Cải cách thể chế", 3.0, 2.5)];
    let xlsx = score_xlsx("CHI CỤC DÂN SỐ TỈNH", "BẢNG TỰ CHẤM ĐIỂM CẢI CÁCH HÀNH CHÍNH NĂM 2021", &rows, (5.0, 4.5));
    let cases: [(&str, Vec<u8>, &str); 3] = [("doc", soffice(&docx, "docx", "doc:MS Word 97"), "BC quý I.doc"), ("rtf", soffice(&docx, "docx", "rtf"), "BC quý I.rtf"), ("odt", soffice(&docx, "docx", "odt"), "BC quý I.odt")];
    for (i, (fmt, data, name)) in cases.iter().enumerate() {
        let (d, t) = at(2021, 4, 5, 9 + i as u32);
        o.deliver(t, fmt, &mail("bva@test.example", "Báo cáo quý I năm 2021", &format!("<{fmt}@test>"), &d, "", &[(name, data)]));
    }
    let ods = soffice(&xlsx, "xlsx", "ods");
    let (d, t) = at(2021, 10, 10, 9);
    o.deliver(t, "ods", &mail("ccds@test.example", "Bảng tự chấm điểm năm 2021", "<ods@test>", &d, "", &[("Tự chấm điểm.ods", &ods)]));
    o.ok(&["ingest", "--no-deliver", "inbox"]);
    let s = subs(&o);
    for (fmt, _, _) in &cases {
        let m = by_mid(&s, &format!("<{fmt}@test>"));
        let doc = &m["documents"][0];
        assert_eq!(doc["format"], *fmt, "{m}");
        assert_eq!(doc["parse"], "ok", "{m}");
        assert_eq!(doc["number"], "21/BC-BVA", "the header is read from the {fmt}: {m}");
        assert_eq!(doc["doc_type"], "BÁO CÁO");
        assert_eq!(doc["summary"], "Kết quả công tác quý I năm 2021");
        // (The signer is not compared: the fixture's signature table, written by docx-rs without
        // a column grid, does not survive LibreOffice's round trip to Word 97 and back.)
        assert_eq!((m["decision"].as_str(), m["unit"].as_str(), m["period"].as_str()), (Some("accepted"), Some("BVA"), Some("2021-Q1")), "{m}");
    }
    let m = by_mid(&s, "<ods@test>");
    assert_eq!(m["documents"][0]["format"], "ods");
    assert_eq!(m["documents"][0]["score"]["self_total"], 4.5, "the score table is read from the .ods: {m}");
    assert_eq!(m["report"], "score");
}

#[test]
fn a_signed_pdf_is_read_from_its_text_and_beside_its_docx_is_one_submission() {
    let o = Office::new(Db::Sqlite);
    let docx = bva_q1("22/BC-BVA", 6);
    let pdf = soffice(&docx, "docx", "pdf");
    let doc = parse_json(&o, "ban ky.pdf", &pdf);
    assert_eq!(doc["format"], "pdf");
    assert_eq!(doc["parse"], "ok", "{doc}");
    assert_eq!(doc["ocr"], false);
    assert_eq!(doc["header"]["number"], "22/BC-BVA", "{doc}");
    assert_eq!(doc["header"]["doc_type"], "BÁO CÁO");
    assert_eq!(doc["header"]["summary"], "Kết quả công tác quý I năm 2021");
    assert_eq!(doc["header"]["date"], "2021-04-06");

    let (d, t) = at(2021, 4, 6, 9);
    o.deliver(t, "a", &mail("bva@test.example", "Báo cáo quý I năm 2021 (bản ký số)", "<pdf-only@test>", &d, "", &[("BC quý I - ký số.pdf", &pdf)]));
    let (d, t) = at(2021, 4, 7, 9);
    o.deliver(t, "b", &mail("bva@test.example", "Báo cáo quý I năm 2021", "<pair@test>", &d, "", &[("BC quý I - ký số.pdf", &pdf), ("BC quý I.docx", &docx)]));
    o.ok(&["ingest", "--no-deliver", "inbox"]);
    let s = subs(&o);
    let alone = by_mid(&s, "<pdf-only@test>");
    assert_eq!((alone["decision"].as_str(), alone["unit"].as_str(), alone["period"].as_str()), (Some("accepted"), Some("BVA"), Some("2021-Q1")), "{alone}");
    let pair = by_mid(&s, "<pair@test>");
    assert_eq!(pair["decision"], "accepted", "{pair}");
    assert_eq!(pair["also"].as_array().map(|a| a.len()).unwrap_or(0), 0, "the PDF and its .docx are one submission: {pair}");
    assert_eq!(pair["version"], 2);
    assert_eq!(pair["documents"].as_array().unwrap().len(), 2);
}

#[test]
fn a_scan_and_a_photo_are_read_by_ocr_and_the_evidence_says_so() {
    let o = Office::new(Db::Sqlite);
    let docx = report_docx(
        "BỆNH VIỆN ĐA KHOA AN BÌNH",
        "23/BC-BVA",
        "Kiểm Thử, ngày 7 tháng 4 năm 2021",
        "BÁO CÁO",
        "Kết quả công tác quý I năm 2021",
        &["Bệnh viện Đa khoa An Bình báo cáo như sau:", "1. Khám chữa bệnh."],
        None,
    );
    let pdf = soffice(&docx, "docx", "pdf");
    let jpeg = page_jpeg(&pdf, 200);
    let (w, h) = jpeg_size(&jpeg);
    let scan = image_only_pdf(&jpeg, w, h);

    for (name, data, format) in [("scan.pdf", &scan, "pdf"), ("anh chup.jpg", &jpeg, "image")] {
        let doc = parse_json(&o, name, data);
        assert_eq!(doc["format"], format);
        assert_eq!(doc["parse"], "ok", "{doc}");
        assert_eq!(doc["ocr"], true, "{name}: the text came from OCR");
        let text = doc["text"].as_str().unwrap().to_lowercase();
        assert!(text.contains("báo cáo") || text.contains("bao cao"), "{name}: Vietnamese read back: {text}");
        assert!(text.contains("quý i năm 2021") || text.contains("2021"), "{name}: {text}");
    }
    let (d, t) = at(2021, 4, 7, 9);
    o.deliver(t, "s", &mail("bva@test.example", "Báo cáo quý I năm 2021", "<scan@test>", &d, "", &[("BC quy I (ban quet).pdf", &scan)]));
    o.ok(&["ingest", "--no-deliver", "inbox"]);
    let s = subs(&o);
    let m = by_mid(&s, "<scan@test>");
    assert_eq!(m["documents"][0]["ocr"], true);
    let evidence = m["evidence"].as_array().unwrap();
    assert!(evidence.iter().any(|e| e.as_str().unwrap().contains("OCR")), "the evidence says the text came from OCR: {evidence:?}");
}

#[test]
fn a_server_without_a_converter_records_the_reason_and_tells_the_sender() {
    let o = Office::new(Db::Sqlite);
    let doc97 = soffice(&bva_q1("24/BC-BVA", 5), "docx", "doc:MS Word 97");
    let (d, t) = at(2021, 4, 5, 9);
    o.deliver(t, "a", &mail("bva@test.example", "Báo cáo quý I năm 2021", "<noconv@test>", &d, "", &[("BC quý I.doc", &doc97)]));
    // A PATH without LibreOffice (nor anything else).
    let empty = tempfile::tempdir().unwrap();
    let out = bin().current_dir(o.path()).args(["--config", "config.toml", "ingest", "inbox"]).env("PATH", empty.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s = subs(&o);
    let m = by_mid(&s, "<noconv@test>");
    let doc = &m["documents"][0];
    assert_eq!(doc["format"], "doc");
    assert_eq!(doc["parse"], "error");
    assert!(doc["error"].as_str().unwrap().contains("chưa có công cụ đọc"), "the sender's words: {doc}");
    assert!(doc["detail"].as_str().unwrap().contains("libreoffice"), "the operator's: which package: {doc}");
    let acks = mail_texts(&o);
    assert!(acks.iter().any(|t| t.contains("BC quý I.doc") && t.contains("chưa có công cụ đọc")), "the acknowledgement names the file and why: {acks:?}");
}

/// A report typed the old way: every run in `.VnTime` (TCVN3 bytes), the document type in
/// `.VnTimeH` (lowercase codes drawn as capitals). With `fonts` false the runs name no font
/// (the default style's), so only the text's statistics can tell.
fn tcvn3_report(number: &str, fonts: bool) -> Vec<u8> {
    use baocao::text::legacy::encode_tcvn3;
    use docx_rs::*;
    let run = |text: &str, font: &str| {
        let r = Run::new().add_text(encode_tcvn3(text));
        if fonts {
            r.fonts(RunFonts::new().ascii(font).hi_ansi(font))
        } else {
            r
        }
    };
    let cell = |lines: &[&str]| {
        let mut c = TableCell::new();
        for l in lines {
            c = c.add_paragraph(Paragraph::new().add_run(run(l, ".VnTime")));
        }
        c
    };
    let number_line = format!("Số: {number}");
    let header = Table::new(vec![TableRow::new(vec![
        cell(&["SỞ Y TẾ TỈNH KIỂM THỬ", "BỆNH VIỆN ĐA KHOA AN BÌNH", &number_line]),
        cell(&["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "Kiểm Thử, ngày 6 tháng 4 năm 2021"]),
    ])]);
    // The .VnTimeH way: capitals typed as the lowercase codes.
    let doc_type = if fonts { run("báo cáo", ".VnTimeH") } else { run("BÁO CÁO", ".VnTime") };
    let mut buf = std::io::Cursor::new(Vec::new());
    Docx::new()
        .add_table(header)
        .add_paragraph(Paragraph::new().add_run(doc_type.bold()))
        .add_paragraph(Paragraph::new().add_run(run("Kết quả công tác quý I năm 2021", ".VnTime")))
        .add_paragraph(Paragraph::new().add_run(run("Bệnh viện Đa khoa An Bình báo cáo như sau: người bệnh được phục vụ tốt.", ".VnTime")))
        .build()
        .pack(&mut buf)
        .unwrap();
    buf.into_inner()
}

#[test]
fn reports_typed_in_tcvn3_and_vni_fonts_are_decoded_before_they_are_read() {
    use baocao::text::legacy::encode_vni;
    let o = Office::new(Db::Sqlite);
    let (d, t) = at(2021, 4, 6, 9);
    o.deliver(t, "a", &mail("bva@test.example", "Bao cao quy I nam 2021", "<vntime@test>", &d, "", &[("BC quy I.docx", &tcvn3_report("25/BC-BVA", true))]));
    o.deliver(t + 60, "b", &mail("bva@test.example", "Bao cao quy I nam 2021", "<nofont@test>", &d, "", &[("BC quy I.docx", &tcvn3_report("26/BC-BVA", false))]));
    // A VNI workbook whose cells name no font (an .xls saved long ago).
    let rows = [("1", "Công tác chỉ đạo, điều hành", 2.0, 2.0), ("2", "Cải cách thủ tục hành chính", 3.0, 2.5)];
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, encode_vni("CHI CỤC DÂN SỐ TỈNH")).unwrap();
    ws.write_string(1, 0, encode_vni("BẢNG TỰ CHẤM ĐIỂM CẢI CÁCH HÀNH CHÍNH NĂM 2021")).unwrap();
    for (c, h) in ["STT", "Tiêu chí", "Điểm tối đa", "Điểm tự chấm"].iter().enumerate() {
        ws.write_string(3, c as u16, encode_vni(h)).unwrap();
    }
    for (i, (stt, name, max, got)) in rows.iter().enumerate() {
        ws.write_string(4 + i as u32, 0, *stt).unwrap();
        ws.write_string(4 + i as u32, 1, encode_vni(name)).unwrap();
        ws.write_number(4 + i as u32, 2, *max).unwrap();
        ws.write_number(4 + i as u32, 3, *got).unwrap();
    }
    ws.write_string(6, 1, encode_vni("Tổng cộng")).unwrap();
    ws.write_number(6, 2, 5.0).unwrap();
    ws.write_number(6, 3, 4.5).unwrap();
    let xlsx = wb.save_to_buffer().unwrap();
    let (d, t) = at(2021, 10, 10, 9);
    o.deliver(t, "c", &mail("ccds@test.example", "Bang tu cham diem nam 2021", "<vni@test>", &d, "", &[("Tu cham diem.xlsx", &xlsx)]));
    o.ok(&["ingest", "--no-deliver", "inbox"]);
    let s = subs(&o);
    for (mid, number) in [("<vntime@test>", "25/BC-BVA"), ("<nofont@test>", "26/BC-BVA")] {
        let m = by_mid(&s, mid);
        let doc = &m["documents"][0];
        assert_eq!(doc["legacy_encoding"], "tcvn3", "{m}");
        assert_eq!(doc["number"], number, "{m}");
        assert_eq!(doc["doc_type"], "BÁO CÁO", "the .VnTimeH capitals: {m}");
        assert_eq!(doc["summary"], "Kết quả công tác quý I năm 2021", "{m}");
        assert_eq!(doc["issuer"], "BỆNH VIỆN ĐA KHOA AN BÌNH", "{m}");
        assert_eq!((m["decision"].as_str(), m["unit"].as_str(), m["period"].as_str()), (Some("accepted"), Some("BVA"), Some("2021-Q1")), "{m}");
    }
    let m = by_mid(&s, "<vni@test>");
    let doc = &m["documents"][0];
    assert_eq!(doc["legacy_encoding"], "vni", "{m}");
    assert_eq!(doc["score"]["self_total"], 4.5, "{m}");
    assert_eq!(doc["score"]["rows"], 2, "{m}");
    assert_eq!(m["report"], "score");
}

#[test]
fn a_mail_carrying_a_quarterly_report_and_its_score_table_is_two_submissions_and_one_acknowledgement() {
    for db in databases() {
        let o = Office::new(db);
        let report = report_docx(
            "BỆNH VIỆN ĐA KHOA AN BÌNH",
            "31/BC-BVA",
            "Kiểm Thử, ngày 5 tháng 10 năm 2021",
            "BÁO CÁO",
            "Kết quả công tác quý III năm 2021",
            &["Bệnh viện Đa khoa An Bình báo cáo như sau:"],
            None,
        );
        let rows = [("1", "Công tác chỉ đạo", 2.0, 2.0), ("2", "Cải cách thể chế", 3.0, 2.5)];
        let score = score_xlsx("BỆNH VIỆN ĐA KHOA AN BÌNH", "BẢNG TỰ CHẤM ĐIỂM CẢI CÁCH HÀNH CHÍNH NĂM 2021", &rows, (5.0, 4.5));
        let pdf = soffice(&report, "docx", "pdf");
        let (d, t) = at(2021, 10, 5, 9);
        let attachments: [(&str, &[u8]); 3] = [("BC quý III.docx", &report), ("BC quý III - ký số.pdf", &pdf), ("Tự chấm điểm 2021.xlsx", &score)];
        o.deliver(t, "a", &mail("bva@test.example", "Báo cáo quý III và bảng tự chấm điểm năm 2021", "<two@test>", &d, "", &attachments));
        o.ok(&["ingest", "inbox"]);
        let s = o.json(&["submissions", "--json"]);
        let list = s.as_array().unwrap();
        assert_eq!(list.len(), 1, "one message: {s}");
        let m = &list[0];
        assert_eq!((m["decision"].as_str(), m["unit"].as_str(), m["report"].as_str(), m["period"].as_str(), m["timeliness"].as_str()), (Some("accepted"), Some("BVA"), Some("q-report"), Some("2021-Q3"), Some("on_time")), "{m}");
        let names: Vec<&str> = m["documents"].as_array().unwrap().iter().map(|d| d["filename"].as_str().unwrap()).collect();
        assert_eq!(names, vec!["BC quý III.docx", "BC quý III - ký số.pdf"], "the report and its signed copy");
        let also = m["also"].as_array().unwrap();
        assert_eq!(also.len(), 1, "{m}");
        assert_eq!((also[0]["unit"].as_str(), also[0]["report"].as_str(), also[0]["period"].as_str(), also[0]["timeliness"].as_str()), (Some("BVA"), Some("score"), Some("2021"), Some("on_time")), "{m}");
        assert_eq!(also[0]["version"], 1);
        assert_eq!(also[0]["documents"], serde_json::json!(["Tự chấm điểm 2021.xlsx"]));
        // Each obligation is met.
        let st = o.json(&["status", "--as-of", "2021-10-06", "--unit", "BVA", "--json"]);
        let state = |r: &str, p: &str| st.as_array().unwrap().iter().find(|x| x["report"] == r && x["period"] == p).map(|x| x["state"].as_str().unwrap().to_string());
        assert_eq!(state("q-report", "2021-Q3").as_deref(), Some("submitted_on_time"), "{st}");
        assert_eq!(state("score", "2021").as_deref(), Some("submitted_on_time"), "{st}");
        // One acknowledgement, naming both.
        let acks = mail_texts(&o);
        assert_eq!(acks.len(), 1, "{acks:?}");
        assert!(acks[0].contains("Thư còn mang 1 báo cáo khác") && acks[0].contains("Tự chấm điểm 2021.xlsx"), "{}", acks[0]);
    }
}

/// A white page as a photo: nothing for OCR to read.
fn blank_photo(dpi: u32) -> Vec<u8> {
    let page = pdf_of(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 400] >>".to_vec(),
    ]);
    page_jpeg(&page, dpi)
}

#[test]
fn a_whole_file_unreadable_here_is_placed_by_the_mails_own_words_and_a_broken_one_is_sent_back() {
    let o = Office::new(Db::Sqlite);
    let photo = blank_photo(72);
    let (d, t) = at(2021, 4, 5, 9);
    // A registered sender naming kind and period in the subject: accepted, asked for a readable file.
    o.deliver(t, "a", &mail("bva@test.example", "Báo cáo quý I năm 2021", "<blank@test>", &d, "", &[("scan.jpg", &photo)]));
    // The same words with a broken .docx (cut short in transit): sent back, the file is at fault.
    let docx = bva_q1("24/BC-BVA", 5);
    o.deliver(t + 60, "b", &mail("bva@test.example", "Báo cáo quý I năm 2021", "<cut@test>", &d, "", &[("BC.docx", &docx[..docx.len() / 2])]));
    // An unregistered sender with a vague subject: the words do not place it, a person decides.
    o.deliver(t + 120, "c", &mail("someone@elsewhere.example", "Gửi báo cáo", "<vague@test>", &d, "", &[("scan.jpg", &photo)]));
    // The subject says nothing, the mail's text names the report and the quarter.
    let plain = String::from_utf8(mail("bva@test.example", "Gửi Văn phòng Sở", "<body@test>", &d, "", &[("scan.jpg", &blank_photo(60))])).unwrap();
    let plain = plain.replace(&b64("Kính gửi Văn phòng Sở.".as_bytes()), &b64("Bệnh viện gửi báo cáo quý I năm 2021, bản chụp kèm theo.".as_bytes()));
    o.deliver(t + 180, "d", plain.as_bytes());
    o.ok(&["ingest", "inbox"]);
    let s = subs(&o);

    let m = by_mid(&s, "<blank@test>");
    assert_eq!(m["decision"], "accepted", "{m}");
    assert_eq!((m["unit"].as_str(), m["report"].as_str(), m["period"].as_str()), (Some("BVA"), Some("q-report"), Some("2021-Q1")), "{m}");
    let findings = m["findings"].to_string();
    assert!(findings.contains("đề nghị gửi lại bản đọc được"), "the finding asks for a readable file: {findings}");
    assert!(m["evidence"].to_string().contains("xét theo người gửi, tiêu đề"), "{m}");

    let cut = by_mid(&s, "<cut@test>");
    assert_eq!(cut["decision"], "rejected", "{cut}");

    let vague = by_mid(&s, "<vague@test>");
    assert_eq!(vague["decision"], "needs_review", "{vague}");
    assert!(vague["evidence"].to_string().contains("không đọc được nội dung tệp"), "{vague}");

    let body = by_mid(&s, "<body@test>");
    assert_eq!(body["decision"], "accepted", "{body}");
    assert_eq!(body["period"], "2021-Q1", "{body}");

    let acks = mail_texts(&o);
    assert!(acks.iter().any(|t| t.contains("scan.jpg") && t.contains("đề nghị gửi lại bản đọc được")), "the acknowledgement asks for a readable file: {acks:?}");
}

#[test]
fn a_clerk_assigns_one_file_of_a_waiting_message_and_then_the_rest() {
    for db in databases() {
        let o = Office::new(db);
        let letter = |n: &str| report_docx("BỆNH VIỆN ĐA KHOA AN BÌNH", n, "Kiểm Thử, ngày 5 tháng 10 năm 2021", "CÔNG VĂN", "Về việc gửi tài liệu", &["Bệnh viện gửi kèm tài liệu."], None);
        let (d, t) = at(2021, 10, 5, 9);
        let attachments: [(&str, &[u8]); 2] = [("Tài liệu 1.docx", &letter("40/BV")), ("Tài liệu 2.docx", &letter("41/BV"))];
        o.deliver(t, "a", &mail("bva@test.example", "Gửi Văn phòng Sở", "<mixed@test>", &d, "", &attachments));
        o.ok(&["ingest", "inbox"]);
        let s = subs(&o);
        let m = by_mid(&s, "<mixed@test>");
        assert_eq!(m["decision"], "needs_review", "no kind named anywhere: {m}");
        let id = m["id"].as_str().unwrap().to_string();

        // The second file is the score table of 2021 …
        let part: Value = serde_json::from_str(&o.ok(&["review", "assign", &id, "--document", "2", "--unit", "BVA", "--report", "score", "--period", "2021", "--json"])).unwrap();
        assert_eq!((part["decision"].as_str(), part["report"].as_str(), part["period"].as_str(), part["version"].as_i64()), (Some("accepted"), Some("score"), Some("2021"), Some(1)), "{part}");
        let s = subs(&o);
        let m = by_mid(&s, "<mixed@test>");
        assert_eq!(m["decision"], "needs_review", "the rest still waits: {m}");
        let names: Vec<&str> = m["documents"].as_array().unwrap().iter().map(|d| d["filename"].as_str().unwrap()).collect();
        assert_eq!(names, vec!["Tài liệu 1.docx"], "{m}");
        let also = m["also"].as_array().unwrap();
        assert_eq!((also.len(), also[0]["documents"].clone()), (1, serde_json::json!(["Tài liệu 2.docx"])), "{m}");
        // … which cannot be taken twice, nor past the end.
        let again = o.run(&["review", "assign", &id, "--document", "2", "--unit", "BVA", "--report", "score", "--period", "2021"]);
        assert!(!again.status.success(), "a message left with one file is assigned whole");
        // … and the rest is the quarterly report.
        o.ok(&["review", "assign", &id, "--unit", "BVA", "--report", "q-report", "--period", "2021-Q3"]);
        let st = o.json(&["status", "--as-of", "2021-10-06", "--unit", "BVA", "--json"]);
        let state = |r: &str, p: &str| st.as_array().unwrap().iter().find(|x| x["report"] == r && x["period"] == p).map(|x| x["state"].as_str().unwrap().to_string());
        assert_eq!(state("q-report", "2021-Q3").as_deref(), Some("submitted_on_time"), "{st}");
        assert_eq!(state("score", "2021").as_deref(), Some("submitted_on_time"), "{st}");
        // Reprocessing leaves what the clerk split as it is.
        o.ok(&["reprocess"]);
        let s = subs(&o);
        let m = by_mid(&s, "<mixed@test>");
        assert_eq!((m["report"].as_str(), m["documents"].as_array().unwrap().len(), m["also"].as_array().unwrap().len()), (Some("q-report"), 1, 1), "{m}");
        // The trail has the split, and every message its events.
        o.ok(&["audit", "verify"]);
    }
}
