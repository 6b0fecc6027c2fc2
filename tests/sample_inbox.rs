//! The sample Maildir under `config/sample-inbox` that README's first command reads is made by
//! this code (run `cargo test --test sample_inbox -- --ignored` to write it again), and checked
//! against what the product concludes about it.

mod common;
use common::*;
use std::path::Path;

fn messages() -> Vec<(i64, &'static str, Vec<u8>)> {
    let mut v = Vec::new();
    let (d, t) = at(2021, 4, 5, 9);
    v.push((t, "1", mail("bva@test.example", "Báo cáo quý I năm 2021 - BV An Bình", "<sample1@test>", &d, "", &[("BC quý I.docx", &bva_q1("12/BC-BVA", 5))])));
    let (d, t) = at(2021, 4, 12, 10);
    let ttyt = report_docx(
        "TRUNG TÂM Y TẾ HUYỆN BẮC SƠN",
        "31/BC-TTYT",
        "Bắc Sơn, ngày 12 tháng 4 năm 2021",
        "BÁO CÁO",
        "Kết quả công tác quý I năm 2021",
        &["Trung tâm Y tế huyện Bắc Sơn báo cáo như sau:"],
        None,
    );
    v.push((t, "2", mail("nhanvien.bacson@gmail.example", "Gui bao cao quy 1", "<sample2@test>", &d, "", &[("baocao.docx", &ttyt)])));
    let (d, t) = at(2021, 10, 15, 9);
    let rows = [("1", "Chỉ đạo điều hành", 3.0, 2.5), ("1.1", "Kế hoạch", 1.0, 1.0), ("1.2", "Kiểm tra", 2.0, 1.5), ("2", "Hiện đại hóa", 2.0, 2.0)];
    let x = score_xlsx("CHI CỤC DÂN SỐ TỈNH", "BẢNG TỰ CHẤM ĐIỂM CẢI CÁCH HÀNH CHÍNH NĂM 2021", &rows, (5.0, 4.0));
    v.push((t, "3", mail("ccds@test.example", "Bảng tự chấm điểm năm 2021 - Chi cục DS", "<sample3@test>", &d, "", &[("tu cham diem 2021.xlsx", &x)])));
    let (d, t) = at(2021, 4, 14, 8);
    v.push((t, "4", mail("ttyt.bacson@test.example", "Trả lời tự động: Báo cáo", "<sample4@test>", &d, "Auto-Submitted: auto-replied\r\n", &[])));
    v
}

#[test]
#[ignore]
fn write_the_sample_inbox() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/sample-inbox/new");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (t, tag, bytes) in messages() {
        std::fs::write(dir.join(format!("{t}.M{tag}P1.sample")), bytes).unwrap();
    }
}

#[test]
fn the_committed_sample_inbox_is_understood() {
    let o = Office::new(Db::Sqlite);
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/sample-inbox/new");
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        std::fs::copy(e.path(), o.path().join("inbox/new").join(e.file_name())).unwrap();
    }
    o.ok(&["ingest", "inbox"]);
    let subs = o.json(&["submissions", "--json"]);
    let by = |mid: &str| subs.as_array().unwrap().iter().find(|s| s["message_id"] == mid).unwrap().clone();
    assert_eq!(by("<sample1@test>")["decision"], "accepted");
    let s2 = by("<sample2@test>");
    assert_eq!(s2["decision"], "accepted", "{s2}");
    assert_eq!(s2["unit"], "TTYT-B");
    assert_eq!(s2["timeliness"], "late");
    assert!(s2["findings"].to_string().contains("chưa đăng ký"));
    let s3 = by("<sample3@test>");
    assert_eq!(s3["report"], "score");
    assert!(s3["documents"][0]["score"]["findings"].to_string().contains("dòng tổng"));
    assert_eq!(by("<sample4@test>")["decision"], "not_submission");
}
