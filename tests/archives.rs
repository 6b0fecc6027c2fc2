//! Archives and Outlook's wrappers (issue 32, SPEC §5–6), through the real binary: a 7z built
//! here with Debian's `7zz` and the real RAR test archives of markokr/rarfile (ISC, under
//! tests/fixtures/rarfile with their licence) are read like a zip, within its limits, by
//! Debian's `unar`; a locked or split archive is told to the sender in Vietnamese; a
//! `winmail.dat` (TNEF, real ones from koodaamo/tnefparse, LGPL-3.0, under
//! tests/fixtures/tnefparse) and an attached Outlook `.msg` give their files; macro-enabled and
//! template Office files are read, an encrypted one is told.

mod common;
use common::*;
use std::io::Write;
use std::path::Path;
use std::process::Command;

fn fixture(dir: &str, name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(dir).join(name)).unwrap()
}

/// A 7z of `files`, with a password (and its file list encrypted) when one is given.
fn seven_zip(dir: &Path, files: &[(&str, &[u8])], password: Option<&str>) -> Vec<u8> {
    let work = tempfile::tempdir_in(dir).unwrap();
    for (n, d) in files {
        std::fs::write(work.path().join(n), d).unwrap();
    }
    let mut cmd = Command::new("7zz");
    cmd.current_dir(work.path()).args(["a", "-t7z", "-bd", "-y", "out.7z"]);
    if let Some(p) = password {
        cmd.arg(format!("-p{p}")).arg("-mhe=on");
    }
    cmd.args(files.iter().map(|(n, _)| *n));
    let out = cmd.output().expect("7zz (Debian's 7zip) is installed");
    assert!(out.status.success(), "7zz: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::read(work.path().join("out.7z")).unwrap()
}

#[test]
fn a_7z_and_a_rar_are_read_like_a_zip_and_a_locked_or_split_one_is_told_to_the_sender() {
    let o = Office::new(Db::Sqlite);
    let report = bva_q1("31/BC-BVA", 5);
    let (d, t) = at(2021, 4, 5, 9);
    let archive = seven_zip(o.path(), &[("BC quý I.docx", &report)], None);
    o.deliver(t, "7z", &mail("bva@test.example", "Báo cáo quý I năm 2021", "<7z@test>", &d, "", &[("Báo cáo.7z", &archive)]));
    let locked = seven_zip(o.path(), &[("BC quý I.docx", &report)], Some("matkhau"));
    o.deliver(t + 60, "7zp", &mail("ttyt.bacson@test.example", "Báo cáo quý I năm 2021", "<7zp@test>", &d, "", &[("Báo cáo.7z", &locked)]));
    let rars: [(&str, &str); 5] = [("psw", "rar5-psw.rar"), ("hpsw", "rar5-hpsw.rar"), ("vol", "rar5-vols.part1.rar"), ("uni", "unicode.rar"), ("evil", "rar5-evil-symlink-traversal.rar")];
    for (i, (k, name)) in rars.iter().enumerate() {
        o.deliver(t + 120 + i as i64, k, &mail("ccds@test.example", "Gửi tệp", &format!("<{k}@test>"), &d, "", &[(name, &fixture("rarfile", name))]));
    }
    o.ok(&["ingest", "inbox"]);
    let s = subs(&o);

    let m = by_mid(&s, "<7z@test>");
    assert_eq!((m["decision"].as_str(), m["unit"].as_str(), m["report"].as_str(), m["period"].as_str()), (Some("accepted"), Some("BVA"), Some("q-report"), Some("2021-Q1")), "{m}");
    let docs = m["documents"].as_array().unwrap();
    assert_eq!((docs[0]["format"].as_str(), docs[0]["parse"].as_str()), (Some("7z"), Some("ok")), "{m}");
    assert_eq!((docs[1]["filename"].as_str(), docs[1]["format"].as_str(), docs[1]["number"].as_str()), (Some("BC quý I.docx"), Some("docx"), Some("31/BC-BVA")), "the report inside is read: {m}");

    let locked = by_mid(&s, "<7zp@test>");
    assert!(locked["documents"][0]["error"].as_str().unwrap_or("").contains("tệp nén có mật khẩu"), "{locked}");
    for k in ["psw", "hpsw"] {
        let m = by_mid(&s, &format!("<{k}@test>"));
        assert!(m["documents"].to_string().contains("có mật khẩu nên không mở được"), "a password, of the files or of the list: {m}");
    }
    let vol = by_mid(&s, "<vol@test>");
    assert!(vol["documents"][0]["error"].as_str().unwrap_or("").contains("thiếu các phần còn lại"), "{vol}");
    let uni = by_mid(&s, "<uni@test>");
    assert!(uni["documents"].as_array().unwrap().iter().any(|d| d["filename"] == "уииоотивл.txt"), "a name in another alphabet: {uni}");
    let evil = by_mid(&s, "<evil@test>");
    assert_eq!(evil["documents"][0]["parse"], "ok", "{evil}");
    assert!(!evil["documents"].to_string().contains("\"up\""), "a link is no file: {evil}");
    for dir in [o.path().to_path_buf(), o.path().parent().unwrap().to_path_buf(), std::env::temp_dir()] {
        assert!(!dir.join("pwned.txt").exists(), "nothing is written where the archive points ({})", dir.display());
    }

    // The units are told why, in their words.
    let acks = mail_texts(&o);
    assert!(acks.iter().any(|t| t.contains("tệp nén có mật khẩu nên không mở được")), "{acks:?}");
    assert!(acks.iter().any(|t| t.contains("tệp nén nhiều phần")), "{acks:?}");
}

/// A TNEF attribute: level, id with its type, value, checksum.
fn tnef_attr(level: u8, id: u32, v: &[u8]) -> Vec<u8> {
    let mut a = vec![level];
    a.extend(id.to_le_bytes());
    a.extend((v.len() as u32).to_le_bytes());
    a.extend(v);
    a.extend(((v.iter().map(|b| *b as u32).sum::<u32>() & 0xFFFF) as u16).to_le_bytes());
    a
}

/// A `winmail.dat` as Outlook writes it: each file with its 8.3 title, its bytes and its long
/// name among its MAPI properties.
fn winmail(files: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut t = vec![0x78, 0x9F, 0x3E, 0x22, 0x01, 0x00];
    t.extend(tnef_attr(1, 0x0009_9006, &[0; 4]));
    for (short, long, data) in files {
        t.extend(tnef_attr(2, 0x0006_9002, &[0; 14]));
        t.extend(tnef_attr(2, 0x0001_8010, format!("{short}\0").as_bytes()));
        t.extend(tnef_attr(2, 0x0006_800F, data));
        let name: Vec<u8> = long.encode_utf16().chain([0]).flat_map(|u| u.to_le_bytes()).collect();
        let mut props = 1u32.to_le_bytes().to_vec();
        props.extend(0x001Fu16.to_le_bytes());
        props.extend(0x3707u16.to_le_bytes());
        props.extend(1u32.to_le_bytes());
        props.extend((name.len() as u32).to_le_bytes());
        props.extend(&name);
        props.resize(props.len() + name.len().div_ceil(4) * 4 - name.len(), 0);
        t.extend(tnef_attr(2, 0x0006_9005, &props));
    }
    t
}

/// An Outlook message (`.msg`) saved from a received mail: its sender, subject, text and files.
fn outlook_msg(from: &str, subject: &str, body: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut cf = cfb::CompoundFile::create(std::io::Cursor::new(Vec::new())).unwrap();
    let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect() };
    let put = |cf: &mut cfb::CompoundFile<std::io::Cursor<Vec<u8>>>, path: &str, data: &[u8]| {
        cf.create_stream(path).unwrap().write_all(data).unwrap();
    };
    put(&mut cf, "/__properties_version1.0", &[0; 32]);
    put(&mut cf, "/__substg1.0_0037001F", &utf16(subject));
    put(&mut cf, "/__substg1.0_0C1F001F", &utf16(from));
    put(&mut cf, "/__substg1.0_1000001F", &utf16(body));
    for (i, (name, data)) in files.iter().enumerate() {
        let dir = format!("/__attach_version1.0_#{i:08X}");
        cf.create_storage(&dir).unwrap();
        put(&mut cf, &format!("{dir}/__properties_version1.0"), &[0; 8]);
        put(&mut cf, &format!("{dir}/__substg1.0_3707001F"), &utf16(name));
        put(&mut cf, &format!("{dir}/__substg1.0_37010102"), data);
    }
    cf.flush().unwrap();
    cf.into_inner().into_inner()
}

/// A mail with one attachment of the given content type.
fn mail_with(from: &str, subject: &str, mid: &str, date: &str, name: &str, ctype: &str, data: &[u8]) -> Vec<u8> {
    String::from_utf8(mail(from, subject, mid, date, "", &[(name, data)])).unwrap().replacen("Content-Type: application/octet-stream", &format!("Content-Type: {ctype}"), 1).into_bytes()
}

#[test]
fn outlooks_winmail_dat_and_an_attached_msg_give_their_reports() {
    let o = Office::new(Db::Sqlite);
    let report = bva_q1("41/BC-BVA", 5);
    let (d, t) = at(2021, 4, 5, 9);
    let tnef = winmail(&[("BAOCAO~1.DOC", "Báo cáo quý I năm 2021 - BV An Bình.docx", &report)]);
    o.deliver(t, "tnef", &mail_with("bva@test.example", "Báo cáo quý I năm 2021", "<tnef@test>", &d, "winmail.dat", "application/ms-tnef", &tnef));
    // Found by its signature whatever it is called; Outlook's own test file with two files.
    o.deliver(t + 60, "real", &mail_with("ccds@test.example", "Gửi tệp", "<real-tnef@test>", &d, "tep.bin", "application/octet-stream", &fixture("tnefparse", "two-files.tnef")));
    // The office's staff forwards, from Outlook, a unit's mail saved as .msg.
    let ttyt = report_docx("TRUNG TÂM Y TẾ HUYỆN BẮC SƠN", "7/BC-TTYT", "Bắc Sơn, ngày 06 tháng 4 năm 2021", "BÁO CÁO", "Kết quả công tác quý I năm 2021", &["Nội dung."], None);
    let msg = outlook_msg("ttyt.bacson@test.example", "Báo cáo quý I năm 2021 - TTYT Bắc Sơn", "Kính gửi Văn phòng Sở, đơn vị gửi báo cáo quý I.", &[("BC quý I - TTYT Bắc Sơn.docx", &ttyt)]);
    o.deliver(t + 120, "msg", &mail_with("chanhvanphong@so.test", "FW: Báo cáo quý I năm 2021 - TTYT Bắc Sơn", "<msg@test>", &d, "Báo cáo quý I.msg", "application/vnd.ms-outlook", &msg));
    o.ok(&["ingest", "inbox"]);
    let s = subs(&o);

    let m = by_mid(&s, "<tnef@test>");
    assert_eq!((m["decision"].as_str(), m["unit"].as_str(), m["period"].as_str()), (Some("accepted"), Some("BVA"), Some("2021-Q1")), "{m}");
    let names: Vec<&str> = m["documents"].as_array().unwrap().iter().filter_map(|d| d["filename"].as_str()).collect();
    assert_eq!(names, ["Báo cáo quý I năm 2021 - BV An Bình.docx"], "winmail.dat gives way to the file it holds, under its long name: {m}");
    assert_eq!(m["documents"][0]["number"], "41/BC-BVA");

    let real = by_mid(&s, "<real-tnef@test>");
    let names: Vec<&str> = real["documents"].as_array().unwrap().iter().filter_map(|d| d["filename"].as_str()).collect();
    assert_eq!(names, ["AUTHORS", "README"], "{real}");

    let m = by_mid(&s, "<msg@test>");
    assert_eq!((m["decision"].as_str(), m["unit"].as_str(), m["period"].as_str()), (Some("accepted"), Some("TTYT-B"), Some("2021-Q1")), "the forward is judged on the unit's mail inside the .msg: {m}");
    assert_eq!(m["documents"][0]["filename"], "BC quý I - TTYT Bắc Sơn.docx", "{m}");
    assert_eq!(m["documents"][0]["number"], "7/BC-TTYT");
}

#[test]
fn macro_enabled_and_template_office_files_are_read_and_an_encrypted_one_is_told() {
    let o = Office::new(Db::Sqlite);
    let (d, t) = at(2021, 4, 5, 9);
    o.deliver(t, "docm", &mail("bva@test.example", "Báo cáo quý I năm 2021", "<docm@test>", &d, "", &[("BC quý I.docm", &bva_q1("51/BC-BVA", 5))]));
    let rows = [("1", "Công tác chỉ đạo", 2.0, 2.0), ("2", "Cải cách thể chế", 3.0, 2.5)];
    let xlsx = score_xlsx("CHI CỤC DÂN SỐ TỈNH", "BẢNG TỰ CHẤM ĐIỂM CẢI CÁCH HÀNH CHÍNH NĂM 2021", &rows, (5.0, 4.5));
    let (d2, t2) = at(2021, 10, 10, 9);
    o.deliver(t2, "xlsm", &mail("ccds@test.example", "Bảng tự chấm điểm năm 2021", "<xlsm@test>", &d2, "", &[("Tự chấm điểm.xlsm", &xlsx)]));
    // Saved with a password: Office wraps the encrypted package in an OLE2 file.
    let mut cf = cfb::CompoundFile::create(std::io::Cursor::new(Vec::new())).unwrap();
    cf.create_stream("/EncryptionInfo").unwrap().write_all(&[4, 0, 4, 0, 0x40, 0, 0, 0]).unwrap();
    cf.create_stream("/EncryptedPackage").unwrap().write_all(&[0x55; 4096]).unwrap();
    cf.flush().unwrap();
    let encrypted = cf.into_inner().into_inner();
    o.deliver(t + 60, "enc", &mail("ttyt.bacson@test.example", "Báo cáo quý I năm 2021", "<enc@test>", &d, "", &[("BC quý I.docx", &encrypted)]));
    o.ok(&["ingest", "inbox"]);
    let s = subs(&o);
    let m = by_mid(&s, "<docm@test>");
    assert_eq!((m["decision"].as_str(), m["documents"][0]["format"].as_str(), m["documents"][0]["number"].as_str()), (Some("accepted"), Some("docx"), Some("51/BC-BVA")), "{m}");
    let m = by_mid(&s, "<xlsm@test>");
    assert_eq!((m["documents"][0]["format"].as_str(), m["documents"][0]["score"]["self_total"].as_f64()), (Some("xlsx"), Some(4.5)), "{m}");
    let m = by_mid(&s, "<enc@test>");
    let e = m["documents"][0]["error"].as_str().unwrap_or("");
    assert!(e.contains("đặt mật khẩu") && !e.contains("không phải văn bản"), "an encrypted file is told as one, not as an unknown format: {m}");
    assert!(mail_texts(&o).iter().any(|t| t.contains("đặt mật khẩu")), "and the unit is told");
}

#[test]
fn a_report_sent_as_a_link_waits_for_a_person_and_the_unit_is_asked_for_the_file() {
    let o = Office::new(Db::Sqlite);
    let (d, t) = at(2021, 4, 5, 9);
    let link = "https://drive.google.com/file/d/1Xy-AbCdEf/view?usp=sharing";
    o.deliver(t, "link", &text_mail("bva@test.example", "Báo cáo quý I năm 2021", "<link@test>", &d, &format!("Kính gửi Văn phòng,\nBệnh viện gửi báo cáo quý I tại đường dẫn: {link}\nTrân trọng.")));
    // A question with a web page's address is still a question.
    o.deliver(t + 60, "hoi", &text_mail("bva@test.example", "Hỏi về biểu mẫu", "<hoi@test>", &d, "Xin hỏi mẫu trên trang https://syt.tinh.example/tin-tuc có dùng được không?"));
    o.ok(&["ingest", "inbox"]);
    let s = subs(&o);
    let m = by_mid(&s, "<link@test>");
    assert_eq!((m["decision"].as_str(), m["unit"].as_str()), (Some("needs_review"), Some("BVA")), "{m}");
    assert!(m["reasons"].to_string().contains(link), "the link is shown as written: {m}");
    assert_eq!(by_mid(&s, "<hoi@test>")["decision"], "not_submission");
    let acks = mail_texts(&o);
    assert!(acks.iter().any(|t| t.contains("đề nghị gửi lại thư có đính kèm tệp báo cáo") && t.contains(link)), "{acks:?}");
}
