//! The public sample office of forms under `config/sample-forms` (README: `figures` in one
//! command) is made by this code (`cargo test --test sample_forms -- --ignored` writes it again)
//! and checked against what the product concludes about it: a district office's monthly station
//! form, four stations' January and February, each filled its own way, one station silent.

mod common;
use common::forms::{self, Habits};
use common::*;
use std::path::Path;

fn sample_config() -> String {
    forms::CONFIG
        .replace("url = \"DBURL\"", "url = \"sqlite://var/baocao.db\"")
        .replace("acknowledge_within_days = 36500\n", "")
        .replacen("\n[office]", "# A public sample office of forms (SPEC §16): five commune stations owe the monthly form\n# tyt-thang; see README (\"Figures\").\n\n[office]", 1)
}

fn messages() -> Vec<(i64, String, Vec<u8>)> {
    let mut v = Vec::new();
    let stations: [(&str, &str, &str, f64, Habits); 4] = [
        ("tyt.anphu@test.example", "Trạm Y tế xã An Phú", "an", 120.0, Habits { villages: true, ..Default::default() }),
        ("tyt.binhminh@test.example", "Trạm Y tế xã Bình Minh", "binh", 310.0, Habits { as_text: true, reworded: vec![("1", "Lượt khám bệnh tại trạm y tế")], inserted: Some(("3", "3.1", "Số lượt khám tại trường học", 21.0)), ..Default::default() }),
        ("tyt.cauda@test.example", "Trạm Y tế xã Cầu Đá", "cau", 45.0, Habits { tcvn3: true, cover: true, ..Default::default() }),
        ("tyt.donghai@test.example", "Trạm Y tế xã Đông Hải", "dong", 800.0, Habits::default()),
    ];
    for month in 1..=2u32 {
        for (i, (from, name, tag, base, habits)) in stations.iter().enumerate() {
            let mut h = habits.clone();
            // Cầu Đá adds its January total wrong.
            let f = forms::figures(*base, month);
            if *tag == "cau" && month == 1 {
                h.total_month = Some(f["Tổng"].1 + 10.0);
            }
            let (d, t) = at(2023, month + 1, 2 + i as u32, 9);
            let subject = format!("Báo cáo hoạt động trạm y tế tháng {month} năm 2023");
            let x = forms::station_xlsx(name, month, &f, &h);
            let mid = format!("<{tag}{month}@sample>");
            v.push((t, format!("{tag}{month}"), mail(from, &subject, &mid, &d, "", &[(&format!("BC thang {month}.xlsx"), &x)])));
        }
    }
    v
}

#[test]
#[ignore]
fn write_the_sample_office_of_forms() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/sample-forms");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("inbox/new")).unwrap();
    std::fs::create_dir_all(root.join("forms")).unwrap();
    std::fs::write(root.join("config.toml"), sample_config()).unwrap();
    std::fs::write(root.join("forms/bieu-thang.xlsx"), forms::office_form()).unwrap();
    for (t, tag, bytes) in messages() {
        std::fs::write(root.join(format!("inbox/new/{t}.M{tag}P1.sample")), bytes).unwrap();
    }
}

#[test]
fn the_committed_sample_office_of_forms_is_compiled() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/sample-forms");
    let o = Office::with_config(Db::Sqlite, &std::fs::read_to_string(root.join("config.toml")).unwrap());
    std::fs::create_dir_all(o.path().join("forms")).unwrap();
    std::fs::copy(root.join("forms/bieu-thang.xlsx"), o.path().join("forms/bieu-thang.xlsx")).unwrap();
    for e in std::fs::read_dir(root.join("inbox/new")).unwrap().flatten() {
        std::fs::copy(e.path(), o.path().join("inbox/new").join(e.file_name())).unwrap();
    }
    o.ok(&["ingest", "inbox"]);
    let j = o.json(&["figures", "--report", "tyt-thang", "--period", "2023-01", "--json"]);
    assert_eq!(j["missing"], serde_json::json!(["TYT-EA"]));
    let units = j["units"].as_object().unwrap();
    assert_eq!(units.len(), 4, "{units:?}");
    assert!(units["TYT-AN"]["findings"].as_array().unwrap().is_empty());
    assert!(units["TYT-CAU"]["findings"].to_string().contains("tổng các dòng 1–3"), "{}", units["TYT-CAU"]);
    let row1 = j["rows"].as_array().unwrap().iter().find(|r| r["number"] == "1").unwrap();
    let want: f64 = [120.0, 310.0, 45.0, 800.0].iter().map(|b| forms::figures(*b, 1)["1"].1).sum();
    assert_eq!(row1["total"][1].as_f64(), Some(want));
    let feb = o.json(&["figures", "--report", "tyt-thang", "--period", "2023-02", "--json"]);
    assert!(feb["units"]["TYT-DONG"]["findings"].as_array().unwrap().is_empty(), "February's cumulative follows January's: {}", feb["units"]);
}
