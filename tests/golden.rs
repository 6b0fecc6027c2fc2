//! Golden tests for parsing: every file under `tests/fixtures/golden/` is read with the same
//! function the pipeline uses, and what was understood (format, header, title, extractor
//! results, errors) must equal the `<file>.expected.json` beside it.
//!
//! The fixtures are written by `write_golden_fixtures` (ignored; run it with `--ignored` after
//! changing the generators) and the expected files by running this test with
//! `BAOCAO_BLESS=1` — then read the diff: a golden file is only as right as its review.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden")
}

/// The fields a golden file pins down; body text and raw tables are left out (they are long
/// and checked through what the extractors make of them).
fn understood(filename: &str, data: &[u8]) -> Value {
    let docs = baocao::parse::read_attachment(filename, data, &baocao::config::Limits::default());
    Value::Array(
        docs.iter()
            .map(|d| {
                json!({
                    "filename": d.filename, "container": d.container, "format": d.format, "parse": d.parse, "error": d.error,
                    "header": d.header, "title": d.title,
                    "score": d.score, "commitments": d.commitments, "tasks": d.tasks,
                })
            })
            .collect(),
    )
}

#[test]
fn every_golden_fixture_reads_as_its_expected_json() {
    let bless = std::env::var("BAOCAO_BLESS").is_ok();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir()).unwrap().flatten().map(|e| e.path()).filter(|p| !p.to_string_lossy().ends_with(".expected.json")).collect();
    files.sort();
    assert!(files.len() >= 5, "the golden fixtures are missing: {files:?}");
    let mut failures = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let got = understood(&name, &std::fs::read(f).unwrap());
        let exp_path = dir().join(format!("{name}.expected.json"));
        if bless {
            std::fs::write(&exp_path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
            continue;
        }
        let expected: Value = serde_json::from_str(&std::fs::read_to_string(&exp_path).unwrap_or_else(|_| panic!("{} has no expected JSON", name))).unwrap();
        if got != expected {
            failures.push(format!("{name}:\n got      {got}\n expected {expected}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn docx_tables(title: &[&str], tables: &[Vec<Vec<&str>>]) -> Vec<u8> {
    use docx_rs::*;
    let mut d = Docx::new();
    for t in title {
        d = d.add_paragraph(Paragraph::new().add_run(Run::new().add_text(*t)));
    }
    for t in tables {
        let rows = t
            .iter()
            .map(|r| TableRow::new(r.iter().map(|c| TableCell::new().add_paragraph(Paragraph::new().add_run(Run::new().add_text(*c)))).collect()))
            .collect();
        d = d.add_table(Table::new(rows));
    }
    let mut buf = std::io::Cursor::new(Vec::new());
    d.build().pack(&mut buf).unwrap();
    buf.into_inner()
}

#[test]
#[ignore = "writes tests/fixtures/golden; run with --ignored after changing a generator"]
fn write_golden_fixtures() {
    let d = dir();
    std::fs::create_dir_all(&d).unwrap();
    // A report: header table, tracked insertion kept, deletion dropped.
    std::fs::write(d.join("report-header-table.docx"), bva_q1("12/BC-BVA", 5)).unwrap();
    // A score table whose total does not add up.
    std::fs::write(
        d.join("score-wrong-total.xlsx"),
        score_xlsx(
            "BỆNH VIỆN ĐA KHOA AN BÌNH",
            "BẢNG TỰ CHẤM ĐIỂM CẢI CÁCH HÀNH CHÍNH NĂM 2021",
            &[("1", "Công tác chỉ đạo điều hành", 6.0, 5.0), ("1.1", "Kế hoạch CCHC", 3.0, 2.5), ("1.2", "Báo cáo CCHC", 3.0, 2.5), ("2", "Cải cách thể chế", 4.0, 3.0)],
            (10.0, 9.0),
        ),
    )
    .unwrap();
    // A header written as tab-separated paragraphs, not a table.
    {
        use docx_rs::*;
        let p = |t: &str| Paragraph::new().add_run(Run::new().add_text(t));
        let doc = Docx::new()
            .add_paragraph(p("SỞ Y TẾ TỈNH KIỂM THỬ\tCỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"))
            .add_paragraph(p("TRUNG TÂM Y TẾ HUYỆN BẮC SƠN\tĐộc lập - Tự do - Hạnh phúc"))
            .add_paragraph(p("Số:  27 /BC-TTYT\tBắc Sơn, ngày 07 tháng 4 năm 2021"))
            .add_paragraph(p("BÁO CÁO"))
            .add_paragraph(p("Kết quả công tác quý I năm 2021"))
            .add_paragraph(p("Trung tâm Y tế huyện Bắc Sơn báo cáo như sau."))
            .add_paragraph(p("GIÁM ĐỐC"))
            .add_paragraph(p("Lê Văn Bình"));
        let mut buf = std::io::Cursor::new(Vec::new());
        doc.build().pack(&mut buf).unwrap();
        std::fs::write(d.join("report-header-paragraphs.docx"), buf.into_inner()).unwrap();
    }
    // Results of this year's commitments and the registration for the next.
    std::fs::write(
        d.join("commitments.docx"),
        docx_tables(
            &["BỆNH VIỆN ĐA KHOA AN BÌNH", "BÁO CÁO", "Kết quả thực hiện 10 cam kết năm 2021 và đăng ký cam kết năm 2022"],
            &[vec![
                vec!["STT", "Nội dung", "Kết quả"],
                vec!["I", "KẾT QUẢ THỰC HIỆN CAM KẾT NĂM 2021", ""],
                vec!["Cam kết 1", "Giải quyết thủ tục hành chính đúng hạn", "Đã thực hiện"],
                vec!["Cam kết 2", "Công khai giá dịch vụ", "Hoàn thành"],
                vec!["II", "ĐĂNG KÝ CAM KẾT NĂM 2022", ""],
                vec!["Cam kết 1", "Giải quyết thủ tục hành chính đúng hạn", ""],
                vec!["Cam kết 2", "Tiếp nhận hồ sơ trực tuyến", ""],
                vec!["Cam kết 3", "Khảo sát sự hài lòng của người bệnh", ""],
            ]],
        ),
    )
    .unwrap();
    // A plan workbook: group rows, tasks with quarters and months.
    {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        ws.set_name("Kế hoạch").unwrap();
        let rows: Vec<Vec<&str>> = vec![
            vec!["TRUNG TÂM Y TẾ HUYỆN BẮC SƠN"],
            vec!["KẾ HOẠCH CẢI CÁCH HÀNH CHÍNH NĂM 2021"],
            vec![],
            vec!["TT", "Nhiệm vụ", "Sản phẩm", "Chủ trì", "Phối hợp", "Thời gian"],
            vec!["(1)", "(2)", "(3)", "(4)", "(5)", "(6)"],
            vec!["I", "CÔNG TÁC CHỈ ĐẠO ĐIỀU HÀNH"],
            vec!["1", "Xây dựng kế hoạch CCHC năm 2021", "Kế hoạch", "Phòng TCHC", "Các khoa", "Tháng 1/2021"],
            vec!["2", "Kiểm tra công tác CCHC", "Báo cáo", "Phòng TCHC", "", "Quý II, III/2021"],
            vec!["II", "CẢI CÁCH THỦ TỤC HÀNH CHÍNH"],
            vec!["3", "Rà soát thủ tục hành chính", "Danh mục", "Phòng KHNV", "Phòng TCHC", "Tháng 11, 12/2021"],
        ];
        for (r, row) in rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                ws.write_string(r as u32, c as u16, *v).unwrap();
            }
        }
        std::fs::write(d.join("task-plan.xlsx"), wb.save_to_buffer().unwrap()).unwrap();
    }
    // Not an Office file at all, named as one.
    std::fs::write(d.join("not-really.docx"), b"%PDF-1.4\n% a PDF named .docx\n").unwrap();
}
