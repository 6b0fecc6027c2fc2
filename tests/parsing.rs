//! Parsing through the public library API: golden fields of generated documents, the zip bomb,
//! and arbitrary bytes that must never panic a reader.

mod common;
use baocao::config::Limits;
use baocao::domain::{Format, ParseStatus};
use baocao::parse::read_attachment;
use common::*;
use proptest::prelude::*;
use std::io::Write;

#[test]
fn a_generated_report_reads_into_its_header_fields() {
    let docs = read_attachment("x.docx", &bva_q1("12/BC-BVA", 5), &Limits::default());
    assert_eq!(docs.len(), 1);
    let d = &docs[0];
    assert_eq!(d.format, Format::Docx);
    assert_eq!(d.parse, ParseStatus::Ok);
    assert_eq!(d.header.issuer.as_deref(), Some("BỆNH VIỆN ĐA KHOA AN BÌNH"));
    assert_eq!(d.header.number.as_deref(), Some("12/BC-BVA"));
    assert_eq!(d.header.date.as_deref(), Some("2021-04-05"));
    assert_eq!(d.header.summary.as_deref(), Some("Kết quả công tác quý I năm 2021"));
    assert!(!d.text.contains("cắt giảm"), "a tracked deletion is not text");
    assert!(d.text.contains("Không."), "a tracked insertion is text");
}

#[test]
fn a_docx_named_otherwise_is_still_a_docx() {
    let docs = read_attachment("baocao", &bva_q1("1/BC-BVA", 5), &Limits::default());
    assert_eq!(docs[0].format, Format::Docx);
    assert_eq!(docs[0].parse, ParseStatus::Ok);
}

#[test]
fn a_zip_bomb_is_refused_quickly_with_a_reason() {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("[Content_Types].xml", zip::write::SimpleFileOptions::default()).unwrap();
    w.write_all(b"<Types/>").unwrap();
    w.start_file("word/document.xml", zip::write::SimpleFileOptions::default()).unwrap();
    let chunk = vec![b' '; 1024 * 1024];
    for _ in 0..300 {
        w.write_all(&chunk).unwrap();
    }
    let bomb = w.finish().unwrap().into_inner();
    assert!(bomb.len() < 2 * 1024 * 1024);
    let t = std::time::Instant::now();
    let docs = read_attachment("baocao.docx", &bomb, &Limits::default());
    let _elapsed = t.elapsed();
    assert_eq!(docs[0].parse, ParseStatus::Error);
    assert!(docs[0].error.as_deref().unwrap().contains("zip bomb"), "{:?}", docs[0].error);
}

#[test]
fn a_zip_of_documents_gives_one_document_per_entry() {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("Kế hoạch.docx", zip::write::SimpleFileOptions::default()).unwrap();
    w.write_all(&bva_q1("3/KH-BVA", 5)).unwrap();
    w.start_file("ban ky.pdf", zip::write::SimpleFileOptions::default()).unwrap();
    w.write_all(b"%PDF-1.4 ...").unwrap();
    let z = w.finish().unwrap().into_inner();
    let docs = read_attachment("KH.zip", &z, &Limits::default());
    let formats: Vec<Format> = docs.iter().map(|d| d.format).collect();
    assert_eq!(formats, vec![Format::Zip, Format::Docx, Format::Pdf]);
    assert_eq!(docs[1].container.as_deref(), Some("KH.zip"));
    assert_eq!(docs[1].header.number.as_deref(), Some("3/KH-BVA"));
    assert!(docs[2].error.is_some(), "a skipped file says why");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]
    #[test]
    fn arbitrary_bytes_never_panic_a_reader(data in proptest::collection::vec(any::<u8>(), 0..4096), prefix in 0usize..4) {
        let mut bytes = match prefix {
            0 => b"PK\x03\x04".to_vec(),
            1 => vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1],
            2 => b"From: a@b\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n".to_vec(),
            _ => vec![],
        };
        bytes.extend(data);
        let _ = read_attachment("f", &bytes, &Limits::default());
        let _ = baocao::parse::mime::parse(&bytes);
    }

    #[test]
    fn a_truncated_document_is_an_error_not_a_panic(cut in 10usize..30000) {
        let d = bva_q1("1/BC-BVA", 5);
        let cut = cut.min(d.len() - 1);
        let docs = read_attachment("x.docx", &d[..cut], &Limits::default());
        prop_assert!(docs[0].parse != ParseStatus::Ok || docs[0].header.number.is_some());
    }
}
