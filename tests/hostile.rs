//! Hostile and poison mail through the real binary: nothing blocks intake, exhausts memory, or is
//! trusted on the sender's word. Each test rebuilds one attack; the figures (memory, time) are
//! printed, never asserted against a clock.

mod common;
use common::*;
use serde_json::Value;

/// A raw message with a raw (already encoded) subject and extra headers, no attachment.
fn raw_mail(from: &str, subject_header: &str, mid: &str, extra: &str, body: &str) -> Vec<u8> {
    let (d, _) = at(2021, 4, 5, 9);
    format!("From: {from}\r\nTo: vanphong@so.test\r\nSubject: {subject_header}\r\nDate: {d}\r\nMessage-ID: {mid}\r\n{extra}\r\n{body}\r\n").into_bytes()
}

#[test]
fn a_nul_in_a_subject_is_stored_and_never_stops_the_messages_after_it() {
    for db in databases() {
        let o = Office::new(db);
        // "Báo cáo\0 quý I năm 2021" as an RFC 2047 word.
        let subject = format!("=?UTF-8?B?{}?=", b64("Báo cáo\0 quý I năm 2021".as_bytes()));
        let (_, t) = at(2021, 4, 5, 9);
        let mut poison = raw_mail("bva@test.example", &subject, "<nul@test>", "", "x");
        poison.splice(0..0, b"X-Note: \0\r\n".iter().copied());
        o.deliver(t, "1", &poison);
        o.deliver(t + 60, "2", &mail("bva@test.example", "Báo cáo quý I năm 2021", "<after@test>", &at(2021, 4, 5, 10).0, "", &[("BC quý I.docx", &bva_q1("12/BC-BVA", 5))]));
        let out = o.ok(&["ingest", "inbox"]);
        assert!(out.contains("ingested 2 new message(s)"), "{out}");
        let s = subs(&o);
        assert!(!by_mid(&s, "<nul@test>")["subject"].as_str().unwrap().contains('\0'));
        assert_eq!(by_mid(&s, "<after@test>")["decision"], "accepted", "the message after the poison one is recorded");
    }
}

#[test]
fn a_message_the_database_refuses_is_recorded_rejected_or_set_aside_and_the_next_goes_on() {
    let Some(db) = databases().into_iter().find(|d| matches!(d, Db::Postgres(_))) else {
        eprintln!("PostgreSQL not reachable: this test needs a database that can be made to refuse a value");
        return;
    };
    let o = Office::new(db);
    o.ok(&["audit", "verify"]); // migrates
    let url = o.db.url();
    // Make the database refuse two kinds of value, as it would refuse data it cannot take.
    let psql = |sql: &str| {
        let out = std::process::Command::new("psql").args([url.as_str(), "-v", "ON_ERROR_STOP=1", "-c", sql]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    psql("ALTER TABLE messages ADD CONSTRAINT no_poison_docs CHECK (documents NOT LIKE '%POISONDOC%')");
    psql("ALTER TABLE messages ADD CONSTRAINT no_poison_subject CHECK (subject NOT LIKE '%POISONSUBJ%')");
    let (d, t) = at(2021, 4, 5, 9);
    let poison_doc = report_docx("BỆNH VIỆN ĐA KHOA AN BÌNH", "1/BC-BVA", "ngày 5 tháng 4 năm 2021", "BÁO CÁO", "Kết quả công tác quý I năm 2021", &["POISONDOC"], None);
    o.deliver(t, "1", &mail("bva@test.example", "Báo cáo quý I năm 2021", "<pd@test>", &d, "", &[("BC.docx", &poison_doc)]));
    o.deliver(t + 60, "2", &mail("bva@test.example", "POISONSUBJ", "<ps@test>", &d, "", &[]));
    o.deliver(t + 120, "3", &mail("bva@test.example", "Báo cáo quý I năm 2021 (sửa)", "<ok@test>", &d, "", &[("BC.docx", &bva_q1("2/BC-BVA", 5))]));
    let out = o.run(&["ingest", "inbox"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ingested 2 new message(s)") && stdout.contains("1 unreadable"), "{stdout}");
    assert_eq!(out.status.code(), Some(1), "a set-aside message is the operator's to look at");
    let s = subs(&o);
    let pd = by_mid(&s, "<pd@test>");
    assert_eq!(pd["decision"], "rejected", "recorded as rejected from its head: {pd}");
    assert!(pd["reasons"][0].as_str().unwrap().contains("không lưu được thư này nguyên trạng"), "{pd}");
    assert_eq!(by_mid(&s, "<ok@test>")["decision"], "accepted", "the messages after it go on");
    assert!(!s.iter().any(|x| x["message_id"] == "<ps@test>"));
    let audit = o.json(&["audit", "--json"]);
    let aside: Vec<&Value> = audit.as_array().unwrap().iter().filter(|e| e["kind"] == "message_set_aside").collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert!(o.outbox().iter().any(|p| std::fs::read_to_string(p).unwrap().contains("<pd@test>")), "the sender of the refused message is told");
    // Handed over again, the set-aside message is not retried.
    let again = o.run(&["ingest", "inbox"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("3 already known"), "{}", String::from_utf8_lossy(&again.stdout));
}

/// Runs baocao and returns its exit code and its own peak resident memory in MB (VmHWM of the
/// main process, polled while it runs; the parse workers are capped separately).
fn run_measured(o: &Office, args: &[&str]) -> (i32, u64) {
    let mut child = bin().current_dir(o.path()).arg("--config").arg("config.toml").args(args).stdout(std::process::Stdio::null()).spawn().unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_file) {
            if let Some(kb) = s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()) {
                peak_kb = peak_kb.max(kb);
            }
        }
        if let Some(st) = child.try_wait().unwrap() {
            return (st.code().unwrap_or(-1), peak_kb / 1024);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A zip built by hand (deflated), for fixtures the document libraries would not write.
fn zipped(files: &[(&str, &str)]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut buf);
    let opt = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, text) in files {
        z.start_file(*name, opt).unwrap();
        std::io::Write::write_all(&mut z, text.as_bytes()).unwrap();
    }
    z.finish().unwrap();
    buf.into_inner()
}

const DOCX_TYPES: &str = "<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>";

fn docx_of(document_xml: &str) -> Vec<u8> {
    zipped(&[("[Content_Types].xml", DOCX_TYPES), ("word/document.xml", document_xml)])
}

#[test]
fn two_thousand_small_documents_in_one_mail_keep_the_process_small() {
    let o = Office::new(Db::Sqlite);
    // 256 KB of text that deflates to a couple of KB, as in the attack.
    let para = format!("<w:p><w:r><w:t>{}</w:t></w:r></w:p>", "Nội dung báo cáo lặp lại. ".repeat(40));
    let doc = docx_of(&format!("<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{}</w:body></w:document>", para.repeat(256)));
    let names: Vec<String> = (0..2000).map(|i| format!("bc-{i}.docx")).collect();
    let atts: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), doc.as_slice())).collect();
    let (d, t) = at(2021, 4, 5, 9);
    let m = mail("bva@test.example", "Báo cáo quý I năm 2021", "<many@test>", &d, "", &atts);
    eprintln!("one document: {} KB zipped; the mail: {} MB", doc.len() / 1024, m.len() / (1024 * 1024));
    o.deliver(t, "1", &m);
    let (code, peak_mb) = run_measured(&o, &["ingest", "inbox"]);
    eprintln!("peak RSS of baocao ingest (and its parse workers): {peak_mb} MB");
    assert_eq!(code, 0);
    assert!(peak_mb <= 256, "peak {peak_mb} MB");
    let s = subs(&o);
    let one = by_mid(&s, "<many@test>");
    assert_eq!(one["documents"].as_array().unwrap().len(), 2000, "every file is listed");
    let read = one["documents"].as_array().unwrap().iter().filter(|d| d["parse"] == "ok").count();
    assert_eq!(read, 50, "the first 50 are read");
    let findings = one["findings"].to_string();
    assert!(findings.contains("1950 tệp sau không được đọc"), "{findings}");
}

#[test]
fn an_oversized_file_in_the_maildir_is_recorded_rejected_from_its_head_without_reading_it() {
    let cfg = CONFIG.replace("source = \"maildir:inbox\"", "source = \"maildir:inbox\"\nmax_message_mb = 1");
    let o = Office::with_config(Db::Sqlite, &cfg);
    let (d, t) = at(2021, 4, 5, 9);
    let path = o.deliver(t, "1", &mail("bva@test.example", "Báo cáo quý I năm 2021", "<huge@test>", &d, "", &[]));
    // A sparse tail makes it 1.1 GB on paper without writing 1.1 GB.
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(1_100 * 1024 * 1024).unwrap();
    o.deliver(t + 60, "2", &mail("bva@test.example", "Báo cáo quý I năm 2021", "<next@test>", &d, "", &[("BC.docx", &bva_q1("3/BC-BVA", 5))]));
    let (code, peak_mb) = run_measured(&o, &["ingest", "inbox"]);
    eprintln!("peak RSS with a 1.1 GB message in new/: {peak_mb} MB");
    assert_eq!(code, 0);
    assert!(peak_mb < 256, "the file was not read whole: {peak_mb} MB");
    let s = subs(&o);
    let h = by_mid(&s, "<huge@test>");
    assert_eq!(h["decision"], "rejected");
    assert!(h["reasons"][0].as_str().unwrap().contains("vượt giới hạn 1 MB"), "{h}");
    assert_eq!(by_mid(&s, "<next@test>")["decision"], "accepted");
}

#[test]
fn a_workbook_merging_whole_sheets_is_read_quickly_and_its_merges_are_bounded() {
    // 1,000 merges of 1,000 rows by every column each, written as Excel stores them.
    let merges: String = (0..1000u32).map(|i| format!("<mergeCell ref=\"A{}:XFD{}\"/>", 2 + i * 1000, 1 + (i + 1) * 1000)).collect();
    let sheet = format!(
        "<?xml version=\"1.0\"?><worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData><row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>STT</t></is></c></row><row r=\"2\"><c r=\"A2\" t=\"inlineStr\"><is><t>x</t></is></c></row></sheetData><mergeCells count=\"1000\">{merges}</mergeCells></worksheet>"
    );
    let book = zipped(&[
        ("[Content_Types].xml", "<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/><Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/><Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/></Types>"),
        ("_rels/.rels", "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>"),
        ("xl/workbook.xml", "<?xml version=\"1.0\"?><workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets><sheet name=\"Sheet1\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>"),
        ("xl/_rels/workbook.xml.rels", "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet1.xml\"/></Relationships>"),
        ("xl/worksheets/sheet1.xml", &sheet),
    ]);
    let o = Office::new(Db::Sqlite);
    let (d, t) = at(2021, 4, 5, 9);
    let atts: Vec<(&str, &[u8])> = (0..6).map(|_| ("bang.xlsx", book.as_slice())).collect();
    o.deliver(t, "1", &mail("bva@test.example", "Bảng tự chấm điểm", "<merges@test>", &d, "", &atts));
    let t0 = std::time::Instant::now();
    let (code, _) = run_measured(&o, &["ingest", "inbox"]);
    eprintln!("six workbooks of 1,000 whole-sheet merges each ({} KB): {:.1} s", book.len() / 1024, t0.elapsed().as_secs_f64());
    assert_eq!(code, 0);
    let s = subs(&o);
    let docs = by_mid(&s, "<merges@test>")["documents"].as_array().unwrap().clone();
    assert_eq!(docs.len(), 6);
    for d in &docs {
        let ok = d["parse"] == "ok" || d["error"].as_str().unwrap_or("").contains("gộp ô");
        assert!(ok, "read, or refused by the merge limit with a reason: {d}");
    }
}

#[test]
fn authentication_results_are_trusted_only_from_the_offices_own_server() {
    let cfg = CONFIG.replace("source = \"maildir:inbox\"", "source = \"maildir:inbox\"\nauthserv_id = \"mx.so.test\"");
    for (config, trusted) in [(CONFIG.to_string(), false), (cfg, true)] {
        let o = Office::with_config(Db::Sqlite, &config);
        let (d, t) = at(2021, 4, 5, 9);
        let doc = bva_q1("12/BC-BVA", 5);
        let cases = [
            ("<spaces@test>", "Authentication-Results: mx.so.test; dkim = fail (bad signature) header.d=test.example; spf = softfail\r\n"),
            ("<dmarc@test>", "Authentication-Results: mx.so.test; dkim=none; spf=fail; dmarc=fail header.from=test.example\r\n"),
            ("<senders-word@test>", "Authentication-Results: evil.example; dmarc=fail\r\nAuthentication-Results: mx.so.test; dkim=pass; spf=pass; dmarc=pass\r\n"),
            ("<clean@test>", "Authentication-Results: mx.so.test; dkim=pass header.d=test.example; spf=pass; dmarc=pass\r\n"),
        ];
        for (i, (mid, header)) in cases.iter().enumerate() {
            o.deliver(t + i as i64 * 60, &i.to_string(), &mail("bva@test.example", "Báo cáo quý I năm 2021", mid, &d, header, &[("BC quý I.docx", &doc)]));
        }
        o.ok(&["ingest", "inbox"]);
        let s = subs(&o);
        assert_eq!(by_mid(&s, "<spaces@test>")["decision"], "needs_review", "dkim = fail with spaces is a failure");
        assert_eq!(by_mid(&s, "<dmarc@test>")["decision"], "needs_review", "DMARC fail is never auto-accepted");
        let want = if trusted { "accepted" } else { "needs_review" };
        assert_eq!(by_mid(&s, "<senders-word@test>")["decision"], want, "another server's word counts only when no authserv_id is named");
        assert_eq!(by_mid(&s, "<clean@test>")["decision"], "accepted");
    }
}

#[test]
fn read_receipts_and_null_senders_are_not_submissions_and_never_answered() {
    let o = Office::new(Db::Sqlite);
    let (d, t) = at(2021, 4, 5, 9);
    let report = b64(&bva_q1("12/BC-BVA", 5));
    let mdn = format!(
        "From: bva@test.example\r\nTo: vanphong@so.test\r\nSubject: Read: Báo cáo quý I\r\nDate: {d}\r\nMessage-ID: <mdn@test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=disposition-notification; boundary=R\r\n\r\n--R\r\nContent-Type: text/plain\r\n\r\nYour message was read.\r\n\
         --R\r\nContent-Type: message/disposition-notification\r\n\r\nDisposition: manual-action/MDN-sent-manually; displayed\r\n\r\n\
         --R\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"BC.docx\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{report}\r\n--R--\r\n"
    );
    o.deliver(t, "1", mdn.as_bytes());
    let mut null = mail("bva@test.example", "Báo cáo quý I năm 2021", "<null@test>", &d, "", &[("BC.docx", &bva_q1("12/BC-BVA", 5))]);
    null.splice(0..0, b"Return-Path: <>\r\n".iter().copied());
    o.deliver(t + 60, "2", &null);
    o.ok(&["ingest", "inbox"]);
    let s = subs(&o);
    assert_eq!(by_mid(&s, "<mdn@test>")["decision"], "not_submission");
    assert_eq!(by_mid(&s, "<null@test>")["decision"], "not_submission");
    assert!(o.outbox().is_empty(), "neither is answered");
}

#[test]
fn a_thirty_megabyte_subject_is_cut_where_it_is_stored_and_echoed() {
    let cfg = CONFIG.replace("source = \"maildir:inbox\"", "source = \"maildir:inbox\"\nmax_message_mb = 64");
    let o = Office::with_config(Db::Sqlite, &cfg);
    let (_, t) = at(2021, 4, 5, 9);
    let subject = format!("Báo cáo quý I năm 2021 {}", "x".repeat(30 * 1024 * 1024));
    let m = raw_mail("bva@test.example", &subject, "<big@test>", "", "Gửi báo cáo");
    o.deliver(t, "1", &m);
    let before = std::fs::metadata(o.path().join("var")).map(|_| ()).ok();
    let _ = before;
    o.ok(&["ingest", "inbox"]);
    let s = subs(&o);
    let stored = by_mid(&s, "<big@test>")["subject"].as_str().unwrap().len();
    assert!(stored <= 998, "stored subject: {stored} bytes");
    for p in o.outbox() {
        let text = std::fs::read(&p).unwrap();
        let longest = text.split(|b| *b == b'\n').map(|l| l.len()).max().unwrap_or(0);
        assert!(longest <= 998, "{}: a line of {longest} bytes", p.display());
        assert!(text.len() < 64 * 1024, "the answer echoes a cut subject: {} bytes", text.len());
    }
    let db = std::fs::metadata(o.path().join("var/baocao.db")).unwrap().len();
    eprintln!("database after a 30 MB subject: {} MB", db / (1024 * 1024));
}

#[test]
fn markup_in_names_and_subjects_is_escaped_and_formulas_stay_text() {
    let port = free_port();
    let cfg = format!("{CONFIG}\n[http]\nlisten = \"127.0.0.1:{port}\"\n");
    let o = Office::with_config(Db::Sqlite, &cfg);
    let evil = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";
    let (d, t) = at(2021, 4, 5, 9);
    o.deliver(t, "1", &mail("bva@test.example", &format!("Báo cáo quý I năm 2021 {evil}"), "<xss@test>", &d, "", &[(&format!("{evil}.docx"), &bva_q1("=HYPERLINK(\"http://evil.example\",\"x\")", 5))]));
    o.ok(&["ingest", "inbox"]);
    for p in o.outbox() {
        let raw = std::fs::read(&p).unwrap();
        let m = mail_parser::MessageParser::default().parse(&raw[..]).unwrap();
        let html = m.body_html(0).unwrap().into_owned();
        assert!(!html.contains("<script>") && !html.contains("<img src=x"), "the acknowledgement escapes markup: {html}");
        assert!(html.contains("&lt;script&gt;") || html.contains("&lt;img"), "{html}");
    }
    o.ok(&["export", "out.xlsx", "--as-of", "2021-04-20"]);
    let x = std::fs::read(o.path().join("out.xlsx")).unwrap();
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(x)).unwrap();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        if f.name().starts_with("xl/worksheets/") {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut f, &mut s).unwrap();
            assert!(!s.contains("<f>"), "no formula cells in {}: a document number is text", f.name());
        }
    }
    let d = Daemon::start(&o, &[]);
    wait_until(20, "the status page", || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    o.add_user("lan", "clerk", "mat-khau-du-dai");
    let console = common::browser::Login::new(port, "lan", "mat-khau-du-dai").expect("the clerk logs in");
    for path in ["/", "/review", "/submissions", "/submissions/1", "/audit", "/units/BVA", "/submissions?q=script"] {
        let (code, page) = console.get(path);
        assert_eq!(code, 200, "{path}");
        assert!(!page.contains("<script>alert") && !page.contains("<img src=x"), "{path}: {page}");
    }
    assert!(d.stop().success());
}

#[test]
fn deep_multipart_deep_xml_entity_bombs_and_traversing_names_are_refused_or_read_safely() {
    let o = Office::new(Db::Sqlite);
    let (d, t) = at(2021, 4, 5, 9);
    // 100,000 nested multiparts.
    let mut deep = format!("From: bva@test.example\r\nSubject: deep\r\nDate: {d}\r\nMessage-ID: <deep@test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n");
    for i in 0..100_000 {
        deep.push_str(&format!("--b{i}\r\nContent-Type: multipart/mixed; boundary=b{}\r\n\r\n", i + 1));
    }
    o.deliver(t, "1", deep.as_bytes());
    // A billion laughs and 70,000-deep XML inside a .docx.
    let laughs = "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\"><!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\"><!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\"><!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\"><!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\"><!ENTITY i \"&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;\">]><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body><w:p><w:r><w:t>&i;</w:t></w:r></w:p></w:body></w:document>".to_string();
    let nested = format!("<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{}{}</w:body></w:document>", "<w:p>".repeat(70_000), "</w:p>".repeat(70_000));
    let docx = docx_of;
    // A zip whose entries try to climb out of any folder.
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opt = zip::write::SimpleFileOptions::default();
        z.start_file("../../../../etc/cron.d/baocao", opt).unwrap();
        std::io::Write::write_all(&mut z, b"* * * * * root rm -rf /").unwrap();
        z.start_file("/abs/BC.docx", opt).unwrap();
        std::io::Write::write_all(&mut z, &bva_q1("9/BC-BVA", 5)).unwrap();
        z.finish().unwrap();
    }
    let traversing = buf.into_inner();
    o.deliver(
        t + 60,
        "2",
        &mail("bva@test.example", "Báo cáo quý I năm 2021", "<bombs@test>", &d, "", &[("laughs.docx", &docx(&laughs)), ("deep.docx", &docx(&nested)), ("../../evil.zip", &traversing)]),
    );
    let out = o.ok(&["ingest", "inbox"]);
    assert!(out.contains("ingested 2 new message(s)"), "{out}");
    let s = subs(&o);
    assert!(!by_mid(&s, "<deep@test>")["decision"].is_null());
    let docs = by_mid(&s, "<bombs@test>")["documents"].as_array().unwrap().clone();
    let laughs_doc = docs.iter().find(|d| d["filename"] == "laughs.docx").unwrap();
    assert_eq!(laughs_doc["parse"], "error", "{laughs_doc}");
    assert!(laughs_doc["error"].as_str().unwrap().contains("DTD"), "{laughs_doc}");
    let deep_doc = docs.iter().find(|d| d["filename"] == "deep.docx").unwrap();
    assert!(deep_doc["error"].as_str().unwrap_or("").contains("lồng nhau"), "{deep_doc}");
    assert!(!std::path::Path::new("/etc/cron.d/baocao").exists());
    assert!(!o.path().join("../evil.zip").exists() && !o.path().join("var/evil.zip").exists());
    // An entry's path is never used as a path: only its last name is kept, and it is read.
    assert!(docs.iter().any(|d| d["filename"] == "BC.docx" && d["parse"] == "ok"), "{docs:?}");
    assert!(docs.iter().all(|d| !d["filename"].as_str().unwrap().contains("/etc/")), "{docs:?}");
}

#[test]
fn secrets_never_reach_the_logs_or_the_database() {
    let secret = "S3cret-Passw0rd-never-written";
    let cfg = CONFIG
        .replace("source = \"maildir:inbox\"", "source = \"imap://vanphong@127.0.0.1:1/INBOX\"\npassword_env = \"TEST_SECRET_IMAP\"")
        .replace("transport = \"file:var/outbox\"", "transport = \"smtp+plain://127.0.0.1:1\"\nuser_env = \"TEST_SECRET_USER\"\npassword_env = \"TEST_SECRET_SMTP\"");
    let o = Office::with_config(Db::Sqlite, &cfg);
    let run = |args: &[&str]| {
        bin()
            .current_dir(o.path())
            .env("BAOCAO_LOG", "trace")
            .env("TEST_SECRET_IMAP", secret)
            .env("TEST_SECRET_USER", "vanphong")
            .env("TEST_SECRET_SMTP", secret)
            .arg("--config")
            .arg("config.toml")
            .args(args)
            .output()
            .unwrap()
    };
    let mut said = Vec::new();
    for args in [&["check-config", "--connect"][..], &["run", "--once"], &["audit", "--json"]] {
        let out = run(args);
        said.extend(out.stdout);
        said.extend(out.stderr);
    }
    let said = String::from_utf8_lossy(&said);
    assert!(said.contains("127.0.0.1:1"), "the commands did try to connect: {said}");
    assert!(!said.contains(secret), "a secret in the output or logs");
    for f in std::fs::read_dir(o.path().join("var")).unwrap().flatten() {
        let bytes = std::fs::read(f.path()).unwrap_or_default();
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "a secret in {}", f.path().display());
    }
}
