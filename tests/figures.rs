//! SPEC §16 through the real binary: a district office's monthly form, its stations' copies
//! filled every way real units fill them (see `common::forms`), read when recorded, checked at
//! the source, compiled by `figures` (JSON, the filled form as .xlsx), on SQLite and PostgreSQL.

mod common;
use common::forms::{self, Figures, Habits};
use common::*;
use serde_json::Value;

fn office(db: Db) -> Office {
    let o = Office::with_config(db, forms::CONFIG);
    std::fs::create_dir_all(o.path().join("forms")).unwrap();
    std::fs::write(o.path().join("forms/bieu-thang.xlsx"), forms::office_form()).unwrap();
    o
}

/// The value of `unit` in the row numbered `number` (the total row: None), column `col`.
fn value(j: &Value, number: Option<&str>, unit: &str, col: usize) -> Value {
    let row = j["rows"].as_array().unwrap().iter().find(|r| r["number"].as_str() == number).unwrap_or_else(|| panic!("no row {number:?}: {j}"));
    row["values"][unit][col].clone()
}

fn total(j: &Value, number: Option<&str>, col: usize) -> Value {
    let row = j["rows"].as_array().unwrap().iter().find(|r| r["number"].as_str() == number).unwrap_or_else(|| panic!("no row {number:?}"));
    row["total"][col].clone()
}

fn findings(j: &Value, unit: &str) -> Vec<String> {
    j["units"][unit]["findings"].as_array().unwrap_or_else(|| panic!("{unit} has no figures: {}", j["units"])).iter().map(|f| f.as_str().unwrap().to_string()).collect()
}

const MONTH: usize = 1;
const CUM: usize = 2;
const RATIO: usize = 3;

#[test]
fn monthly_forms_filled_every_way_are_read_checked_and_compiled() {
    for db in databases() {
        let o = office(db);
        let (an, binh, cau, dong) = (forms::figures(100.0, 1), forms::figures(250.0, 1), forms::figures(40.0, 1), forms::figures(1000.0, 1));
        // Clean, with a sheet per village after the form.
        let (d, t) = at(2023, 2, 2, 9);
        let x = forms::station_xlsx("Trạm Y tế xã An Phú", 1, &an, &Habits { villages: true, ..Default::default() });
        o.deliver(t, "an1", &mail("tyt.anphu@test.example", "Báo cáo hoạt động trạm y tế tháng 1 năm 2023", "<an1@test>", &d, "", &[("BC thang 1.xlsx", &x)]));
        // Numbers typed as text (1.234, 12,5), a label reworded, a row inserted, a word for a number.
        let (d, t) = at(2023, 2, 3, 9);
        let h = Habits {
            as_text: true,
            reworded: vec![("1", "Lượt khám bệnh tại trạm y tế")],
            inserted: Some(("3", "3.1", "Số lượt khám tại trường học", 17.0)),
            word_in: Some(("6", "chưa tổng hợp")),
            ..Default::default()
        };
        let x = forms::station_xlsx("Trạm Y tế xã Bình Minh", 1, &binh, &h);
        o.deliver(t, "binh1", &mail("tyt.binhminh@test.example", "Báo cáo hoạt động trạm y tế tháng 1/2023", "<binh1@test>", &d, "", &[("TYT Binh Minh T1.xlsx", &x)]));
        // Typed in TCVN3 behind a cover sheet, its total wrong; subject and file name name nothing.
        let (d, t) = at(2023, 2, 4, 9);
        let wrong = cau["Tổng"].1 + 10.0;
        let x = forms::station_xlsx("Trạm Y tế xã Cầu Đá", 1, &cau, &Habits { tcvn3: true, cover: true, total_month: Some(wrong), ..Default::default() });
        o.deliver(t, "cau1", &mail("tyt.cauda@test.example", "Gui bao cao", "<cau1@test>", &d, "", &[("bc.xlsx", &x)]));
        // Two months in one mail: January as Excel 97, February as a Word 97 table; March as .docx.
        let (dong2, dong3) = (forms::figures(1000.0, 2), forms::figures(1000.0, 3));
        let xls = soffice(&forms::station_xlsx("Trạm Y tế xã Đông Hải", 1, &dong, &Habits::default()), "xlsx", "xls:MS Excel 97");
        let doc = soffice(&forms::station_docx("Trạm Y tế xã Đông Hải", 2, &dong2), "docx", "doc:MS Word 97");
        let (d, t) = at(2023, 3, 3, 9);
        o.deliver(t, "dong12", &mail("tyt.donghai@test.example", "Báo cáo hoạt động trạm y tế tháng 1 và tháng 2", "<dong12@test>", &d, "", &[("T1.xls", &xls), ("T2.doc", &doc)]));
        let (d, t) = at(2023, 4, 3, 9);
        let docx = forms::station_docx("Trạm Y tế xã Đông Hải", 3, &dong3);
        o.deliver(t, "dong3", &mail("tyt.donghai@test.example", "Báo cáo hoạt động trạm y tế tháng 3 năm 2023", "<dong3@test>", &d, "", &[("T3.docx", &docx)]));
        // An Phú's February, then March with February's figures unchanged under a new title.
        let an2 = forms::figures(100.0, 2);
        let (d, t) = at(2023, 3, 1, 9);
        o.deliver(t, "an2", &mail("tyt.anphu@test.example", "Báo cáo hoạt động trạm y tế tháng 2 năm 2023", "<an2@test>", &d, "", &[("BC thang 2.xlsx", &forms::station_xlsx("Trạm Y tế xã An Phú", 2, &an2, &Habits::default()))]));
        let (d, t) = at(2023, 4, 1, 9);
        o.deliver(t, "an3", &mail("tyt.anphu@test.example", "Báo cáo hoạt động trạm y tế tháng 3 năm 2023", "<an3@test>", &d, "", &[("BC thang 3.xlsx", &forms::station_xlsx("Trạm Y tế xã An Phú", 3, &an2, &Habits::default()))]));
        o.ok(&["ingest", "inbox"]);

        let subs = o.json(&["submissions", "--json"]);
        let by = |mid: &str| subs.as_array().unwrap().iter().find(|s| s["message_id"] == mid).unwrap().clone();
        let cau_sub = by("<cau1@test>");
        assert_eq!((cau_sub["decision"].as_str(), cau_sub["report"].as_str(), cau_sub["period"].as_str()), (Some("accepted"), Some("tyt-thang"), Some("2023-01")), "the form names its report: {cau_sub}");
        assert_eq!(cau_sub["documents"][0]["legacy_encoding"], "tcvn3");
        let dong_sub = by("<dong12@test>");
        assert_eq!(dong_sub["period"], "2023-01", "{dong_sub}");
        assert_eq!(dong_sub["also"][0]["period"], "2023-02", "each month's file is its own report: {dong_sub}");

        let j = o.json(&["figures", "--report", "tyt-thang", "--period", "2023-01", "--json"]);
        let cols: Vec<&str> = j["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
        assert_eq!(cols, ["Kế hoạch năm 2023", "Kết quả thực hiện / Trong tháng", "Kết quả thực hiện / Lũy kế từ đầu năm", "Tỷ lệ % so với kế hoạch", "Ghi chú"]);
        let stations: [(&str, &Figures); 4] = [("TYT-AN", &an), ("TYT-BINH", &binh), ("TYT-CAU", &cau), ("TYT-DONG", &dong)];
        for (unit, f) in &stations {
            for n in ["1", "2", "3", "4", "5", "7", "7.1"] {
                assert_eq!(value(&j, Some(n), unit, 0).as_f64(), Some(f[n].0), "{unit} row {n} plan");
                assert_eq!(value(&j, Some(n), unit, MONTH).as_f64(), Some(f[n].1), "{unit} row {n} this month");
                assert_eq!(value(&j, Some(n), unit, CUM).as_f64(), Some(f[n].2), "{unit} row {n} cumulative");
            }
            let ratio = (f["1"].2 / f["1"].0 * 1000.0).round() / 10.0;
            assert_eq!(value(&j, Some("1"), unit, RATIO).as_f64(), Some(ratio), "{unit}: a ratio written with a decimal comma or as a number");
        }
        assert!(binh["1"].0 >= 1000.0, "the fixture writes a thousands dot: {}", binh["1"].0);
        assert_eq!(value(&j, Some("6"), "TYT-BINH", MONTH), Value::Null, "a word is no number");
        let sum = |n: &str, i: usize| stations.iter().map(|(_, f)| [f[n].0, f[n].1, f[n].2][i]).sum::<f64>();
        for n in ["1", "2", "5", "7.1"] {
            assert_eq!(total(&j, Some(n), MONTH).as_f64(), Some(sum(n, 1)), "total of row {n}");
            assert_eq!(total(&j, Some(n), CUM).as_f64(), Some(sum(n, 2)));
        }
        // The ratio column recomputed by the form's own formula over the totals, never summed.
        let want = sum("1", 2) / sum("1", 0) * 100.0;
        assert!((total(&j, Some("1"), RATIO).as_f64().unwrap() - want).abs() < 1e-6, "{} vs {want}", total(&j, Some("1"), RATIO));
        assert_eq!(total(&j, Some("8"), MONTH), Value::Null, "a ratio row is never summed");
        assert_eq!(j["missing"], serde_json::json!(["TYT-EA"]));

        assert_eq!(findings(&j, "TYT-AN"), Vec::<String>::new(), "a clean form has no finding");
        assert_eq!(findings(&j, "TYT-DONG"), Vec::<String>::new());
        let b = findings(&j, "TYT-BINH").join("\n");
        assert!(b.contains("3.1 «Số lượt khám tại trường học» không có trong biểu mẫu"), "{b}");
        assert!(b.contains("«chưa tổng hợp» không phải là số"), "{b}");
        let c = findings(&j, "TYT-CAU").join("\n");
        let written = baocao::text::num_vi(wrong);
        let added = baocao::text::num_vi(cau["Tổng"].1);
        assert!(c.contains(&format!("ghi {written}, tổng các dòng 1–3 là {added}")), "the total's finding names both numbers: {c}");

        // The acknowledgement tells the unit what to correct.
        let acks: Vec<String> = o.outbox().iter().map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned()).collect();
        assert!(acks.iter().any(|a| a.contains("<cau1@test>")), "Cầu Đá was answered");

        // February: both stations' cumulative carried from January; March: February sent again.
        let feb = o.json(&["figures", "--report", "tyt-thang", "--period", "2023-02", "--json"]);
        assert_eq!(value(&feb, Some("1"), "TYT-DONG", MONTH).as_f64(), Some(dong2["1"].1), "read from the Word 97 table");
        assert_eq!(findings(&feb, "TYT-AN"), Vec::<String>::new());
        assert_eq!(findings(&feb, "TYT-DONG"), Vec::<String>::new(), "{}", feb["units"]);
        let mar = o.json(&["figures", "--report", "tyt-thang", "--period", "2023-03", "--json"]);
        assert_eq!(value(&mar, Some("7.1"), "TYT-DONG", CUM).as_f64(), Some(dong3["7.1"].2), "read from the .docx table");
        assert_eq!(findings(&mar, "TYT-DONG"), Vec::<String>::new(), "its cumulative follows February's");
        let f = findings(&mar, "TYT-AN").join("\n");
        assert!(f.contains("giống hệt tháng 2 năm 2023"), "a file reused unchanged: {f}");

        // One indicator over the year.
        let s = o.json(&["figures", "--report", "tyt-thang", "--year", "2023", "--row", "1", "--json"]);
        assert_eq!(s["values"]["TYT-AN"][0].as_f64(), Some(an["1"].1));
        assert_eq!(s["values"]["TYT-AN"][1].as_f64(), Some(an2["1"].1));
        assert_eq!(s["values"]["TYT-AN"][2].as_f64(), Some(an2["1"].1));
        assert_eq!(s["values"]["TYT-AN"][3], Value::Null);

        // The office's form filled with the totals, and a sheet of every unit.
        o.ok(&["figures", "--report", "tyt-thang", "--period", "2023-01", "--xlsx", "tong-hop.xlsx"]);
        use calamine::{Data, Reader};
        let mut wb: calamine::Xlsx<_> = calamine::open_workbook(o.path().join("tong-hop.xlsx")).unwrap();
        let names = wb.sheet_names().to_vec();
        assert_eq!(names, ["Biểu 01", "Các đơn vị"]);
        let ws = wb.worksheet_range("Biểu 01").unwrap();
        let at = |r: u32, c: u32| ws.get_value((r, c)).cloned().unwrap_or(Data::Empty);
        let r1 = forms::FIRST_ROW + 1;
        assert_eq!(at(r1, 4), Data::Float(sum("1", 1)), "row 1's total in its cell");
        match at(r1, 6) {
            Data::Float(v) => assert!((v - want).abs() < 1e-6, "the formula's value over the totals: {v}"),
            other => panic!("the ratio cell holds {other:?}"),
        }
        assert_eq!(at(1, 0), Data::String("TÊN ĐƠN VỊ: VĂN PHÒNG TRUNG TÂM Y TẾ HUYỆN KIỂM THỬ".into()));
        assert_eq!(at(4, 0), Data::String("Tháng 1 năm 2023".into()));
        let formulas = wb.worksheet_formula("Biểu 01").unwrap();
        assert!(formulas.get_value((r1, 6)).is_some_and(|f| f.contains("F10/D10")), "the form's formulas stay: {:?}", formulas.get_value((r1, 6)));
        let side = wb.worksheet_range("Các đơn vị").unwrap();
        let text: Vec<String> = side.rows().flat_map(|r| r.iter().map(|c| c.to_string())).collect();
        assert!(text.iter().any(|t| t == "Trạm Y tế xã An Phú"), "units named, not coded: {text:?}");
        assert!(text.iter().any(|t| t.contains("chưa tổng hợp")), "the findings are listed under the table");

        // The compiled status workbook has the figures' sheet; the digest lists notable figures.
        let out = o.ok(&["export", "wb.xlsx", "--period", "2023-01"]);
        assert!(out.contains("Số liệu"), "{out}");
        let mut wb: calamine::Xlsx<_> = calamine::open_workbook(o.path().join("wb.xlsx")).unwrap();
        let sheet = wb.worksheet_range("Số liệu").unwrap();
        let cells: Vec<String> = sheet.rows().flat_map(|r| r.iter().map(|c| c.to_string())).collect();
        assert!(cells.iter().any(|c| c == &sum("1", 1).to_string()), "row 1's January total in the workbook");
        let digest = o.ok(&["digest", "--as-of", "2023-04-03", "--dry-run"]);
        assert!(digest.contains("Số liệu: Báo cáo kết quả hoạt động của trạm y tế tháng 3 năm 2023"), "{digest}");
        assert!(digest.contains("giống hệt tháng 2 năm 2023"), "the figures that failed a check: {digest}");
    }
}

#[test]
fn a_form_waiting_in_review_gets_its_figures_when_a_person_assigns_it_and_loses_them_when_rejected() {
    let o = office(Db::Sqlite);
    let f = forms::figures(60.0, 1);
    // From a personal address, and its heading names no registered unit.
    let x = forms::station_xlsx("Trạm Y tế xã Không Rõ", 1, &f, &Habits::default());
    let (d, t) = at(2023, 2, 2, 9);
    o.deliver(t, "x", &mail("someone@gmail.example", "Báo cáo hoạt động trạm y tế tháng 1 năm 2023", "<x@test>", &d, "", &[("bc.xlsx", &x)]));
    o.ok(&["ingest", "inbox"]);
    let subs = o.json(&["submissions", "--json"]);
    let s = &subs[0];
    assert_eq!(s["decision"], "needs_review", "{s}");
    let id = s["id"].as_str().unwrap().to_string();
    let j = o.json(&["figures", "--report", "tyt-thang", "--period", "2023-01", "--json"]);
    assert!(j["units"].as_object().unwrap().is_empty(), "nothing counts before a decision");

    o.ok(&["review", "assign", &id, "--unit", "TYT-EA", "--report", "tyt-thang", "--period", "2023-01"]);
    let j = o.json(&["figures", "--report", "tyt-thang", "--period", "2023-01", "--json"]);
    assert_eq!(value(&j, Some("1"), "TYT-EA", MONTH).as_f64(), Some(f["1"].1), "read when assigned: {j}");
    assert!(!j["missing"].as_array().unwrap().iter().any(|u| u == "TYT-EA"));

    o.ok(&["review", "reject", &id, "--reason", "không phải của trạm"]);
    let j = o.json(&["figures", "--report", "tyt-thang", "--period", "2023-01", "--json"]);
    assert!(j["units"].as_object().unwrap().is_empty(), "a rejected report's figures no longer count: {}", j["units"]);
}

#[test]
fn check_config_says_what_the_form_holds_or_why_it_cannot_be_read() {
    let o = office(Db::Sqlite);
    let out = o.ok(&["check-config"]);
    assert!(out.contains("report tyt-thang: form forms/bieu-thang.xlsx"), "{out}");
    assert!(out.contains("«Kết quả thực hiện / Trong tháng»") && out.contains("dòng tổng"), "{out}");
    std::fs::write(o.path().join("forms/bieu-thang.xlsx"), b"not a workbook").unwrap();
    let e = o.run(&["check-config"]);
    assert!(!e.status.success());
    let err = String::from_utf8_lossy(&e.stderr);
    assert!(err.contains("key `form`") && err.contains("bieu-thang.xlsx"), "the error names the key and the file: {err}");
    let bad_rule = forms::CONFIG.replace(r#"form_rules = ["{7.1} <= {7}"]"#, r#"form_rules = ["{9.9} <= {7}"]"#).replace("DBURL", "sqlite://var/b.db");
    std::fs::write(o.path().join("forms/bieu-thang.xlsx"), forms::office_form()).unwrap();
    std::fs::write(o.path().join("c2.toml"), bad_rule).unwrap();
    let e = bin().current_dir(o.path()).args(["--config", "c2.toml", "check-config"]).output().unwrap();
    let err = String::from_utf8_lossy(&e.stderr);
    assert!(!e.status.success() && err.contains("key `form_rules`") && err.contains("9.9"), "{err}");
}

/// The page *Số liệu* in a real browser: a clerk picks the report and period, reads the matrix
/// with its totals and the cells that failed a check, follows a unit and an indicator over the
/// year, downloads the filled form; a viewer sees the same; the page fits a phone. Screenshots
/// at 1280 and 420 px go to target/visual/console (tests/visual/reference with
/// BAOCAO_UPDATE_SCREENSHOTS=1).
#[test]
fn the_figures_page_shows_the_matrix_a_unit_and_an_indicator_over_the_year_and_the_filled_form() {
    use common::browser::{Browser, Login};
    const PASSWORD: &str = "mat-khau-du-dai-2023";
    let port = free_port();
    let cfg = format!("{}\n[http]\nlisten = \"127.0.0.1:{port}\"\n", forms::CONFIG);
    let o = Office::with_config(Db::Sqlite, &cfg);
    std::fs::create_dir_all(o.path().join("forms")).unwrap();
    std::fs::write(o.path().join("forms/bieu-thang.xlsx"), forms::office_form()).unwrap();
    let stations = [("tyt.anphu@test.example", "Trạm Y tế xã An Phú", 100.0), ("tyt.binhminh@test.example", "Trạm Y tế xã Bình Minh", 250.0), ("tyt.cauda@test.example", "Trạm Y tế xã Cầu Đá", 40.0)];
    for month in 1..=2u32 {
        for (i, (from, name, base)) in stations.iter().enumerate() {
            let f = forms::figures(*base, month);
            let h = if i == 2 && month == 2 { Habits { total_month: Some(f["Tổng"].1 + 7.0), ..Default::default() } } else { Habits::default() };
            let (d, t) = at(2023, month + 1, 2 + i as u32, 9);
            let x = forms::station_xlsx(name, month, &f, &h);
            o.deliver(t, &format!("{i}-{month}"), &mail(from, &format!("Báo cáo hoạt động trạm y tế tháng {month} năm 2023"), &format!("<{i}-{month}@test>"), &d, "", &[("bc.xlsx", &x)]));
        }
    }
    o.ok(&["ingest", "--no-deliver", "inbox"]);
    o.add_user("lan", "clerk", PASSWORD);
    o.add_user("giamdoc", "viewer", PASSWORD);
    let daemon = Daemon::start(&o, &[]);
    wait_until(20, "the console", || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());

    let b = Browser::start(1280, 900);
    b.login(port, "lan", PASSWORD);
    b.click("nav a[href='/figures']");
    b.click("select[name=period] option[value='2023-02']");
    b.click("form.filters button");
    assert!(b.wait_for_url("period=2023-02", 10), "{}", b.url());
    let page = b.source();
    assert!(page.contains("Báo cáo kết quả hoạt động của trạm y tế tháng — tháng 2 năm 2023") || page.contains("tháng 2 năm 2023"), "the period as an office writes it");
    let sum: f64 = stations.iter().map(|(_, _, base)| forms::figures(*base, 2)["1"].1).sum();
    assert!(page.contains(&baocao::text::num_vi(sum)), "row 1's total {sum} is shown: {page}");
    assert!(page.contains("Trạm Y tế xã Ea Kênh") && page.contains("Chưa gửi"), "the station that sent nothing is named");
    assert_eq!(b.count("td.bad"), 1, "Cầu Đá's wrong total is marked in its cell");
    assert!(page.contains("tổng các dòng 1–3"), "and its finding is listed");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = if std::env::var_os("BAOCAO_UPDATE_SCREENSHOTS").is_some() { root.join("tests/visual/reference/console") } else { root.join("target/visual/console") };
    b.screenshot(&out.join("so-lieu-1280.png"));

    // A unit over the year, then an indicator over the year.
    b.click("table.figs thead a[href*='unit=TYT-AN']");
    assert!(b.wait_for_url("unit=TYT-AN", 10));
    let unit_page = b.source();
    let (jan, feb) = (forms::figures(100.0, 1)["1"].1, forms::figures(100.0, 2)["1"].1);
    assert!(unit_page.contains("tháng 1 năm 2023") && unit_page.contains(&baocao::text::num_vi(jan)) && unit_page.contains(&baocao::text::num_vi(feb)), "{unit_page}");
    b.screenshot(&out.join("so-lieu-don-vi-1280.png"));
    b.go(&format!("http://127.0.0.1:{port}/figures?report=tyt-thang&period=2023-02&col=1&row=1"));
    let row_page = b.source();
    assert!(row_page.contains("Số lượt khám tại trạm") && row_page.contains("Tổng cộng"), "{row_page}");

    // The filled form, downloaded as the office would.
    let viewer = Login::new(port, "giamdoc", PASSWORD).unwrap();
    let (code, body) = viewer.get("/figures?report=tyt-thang&period=2023-02");
    assert_eq!(code, 200);
    assert!(body.contains("Tải biểu mẫu đã điền"), "a viewer reads the page and the download");
    let (code, hs, xlsx) = common::browser::http(port, "GET", "/figures/xlsx?report=tyt-thang&period=2023-02", &[("Cookie", &viewer.cookie)], b"");
    assert_eq!(code, 200);
    assert!(common::browser::header(&hs, "content-disposition").is_some_and(|d| d.contains("tong-hop-tyt-thang-2023-02.xlsx")));
    assert_eq!(&xlsx[..2], b"PK", "an .xlsx package");

    // A phone: nothing wider than the screen but the table, which scrolls in its frame.
    b.resize(420, 900);
    b.go(&format!("http://127.0.0.1:{port}/figures?report=tyt-thang&period=2023-02"));
    let body_width = b.eval("return document.documentElement.scrollWidth").as_u64().unwrap_or(0);
    let inner = b.eval("return window.innerWidth").as_u64().unwrap_or(420);
    assert!(body_width <= inner, "the page is {body_width} px wide in a {inner} px window");
    b.screenshot(&out.join("so-lieu-420.png"));
    drop(b);
    assert!(daemon.stop().success());
}

/// A form sent as a PDF (its text layer) and as a photo of the printed page (OCR): both read
/// against the office's form; the photo's figures are kept but counted in no total until a clerk
/// confirms them.
#[test]
fn a_form_sent_as_pdf_is_read_from_its_text_and_one_sent_as_a_photo_counts_once_confirmed() {
    let o = office(Db::Sqlite);
    let (an, binh) = (forms::figures(100.0, 1), forms::figures(250.0, 1));
    let pdf = soffice(&forms::station_docx("Trạm Y tế xã An Phú", 1, &an), "docx", "pdf");
    let scan_pdf = soffice(&forms::station_docx("Trạm Y tế xã Bình Minh", 1, &binh), "docx", "pdf");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.pdf"), &scan_pdf).unwrap();
    let st = std::process::Command::new("pdftoppm").args(["-r", "200", "-jpeg", "-singlefile", "-f", "1", "-l", "1"]).arg(dir.path().join("in.pdf")).arg(dir.path().join("page")).status().unwrap();
    assert!(st.success());
    let photo = std::fs::read(dir.path().join("page.jpg")).unwrap();
    let (d, t) = at(2023, 2, 2, 9);
    o.deliver(t, "pdf", &mail("tyt.anphu@test.example", "Báo cáo hoạt động trạm y tế tháng 1 năm 2023", "<pdf@test>", &d, "", &[("BC thang 1.pdf", &pdf)]));
    let (d, t) = at(2023, 2, 3, 9);
    o.deliver(t, "jpg", &mail("tyt.binhminh@test.example", "Báo cáo hoạt động trạm y tế tháng 1 năm 2023", "<jpg@test>", &d, "", &[("anh chup bao cao.jpg", &photo)]));
    o.ok(&["ingest", "--no-deliver", "inbox"]);
    let j = o.json(&["figures", "--report", "tyt-thang", "--period", "2023-01", "--json"]);
    for n in ["1", "2", "5", "7.1"] {
        assert_eq!(value(&j, Some(n), "TYT-AN", MONTH).as_f64(), Some(an[n].1), "row {n} from the PDF's text: {}", j["units"]);
        assert_eq!(value(&j, Some(n), "TYT-AN", CUM).as_f64(), Some(an[n].2));
    }
    assert_eq!(j["units"]["TYT-AN"]["ocr"], false);
    let photo_units = &j["units"]["TYT-BINH"];
    assert_eq!((photo_units["ocr"].as_bool(), photo_units["counted"].as_bool()), (Some(true), Some(false)), "{photo_units}");
    assert_eq!(value(&j, Some("1"), "TYT-BINH", MONTH).as_f64(), Some(binh["1"].1), "the photo's figures are read and kept");
    assert_eq!(total(&j, Some("1"), MONTH).as_f64(), Some(an["1"].1), "but counted in no total before a clerk confirms them");

    let id = photo_units["submission"].as_str().unwrap().to_string();
    o.ok(&["--by", "lan", "figures", "--confirm", &id]);
    let j = o.json(&["figures", "--report", "tyt-thang", "--period", "2023-01", "--json"]);
    assert_eq!(j["units"]["TYT-BINH"]["counted"], true);
    assert_eq!(j["units"]["TYT-BINH"]["confirmed_by"], "lan");
    assert_eq!(total(&j, Some("1"), MONTH).as_f64(), Some(an["1"].1 + binh["1"].1), "counted once confirmed");
    let audit = o.json(&["audit", "--json"]);
    assert!(audit.as_array().unwrap().iter().any(|e| e["kind"] == "figures_confirmed" && e["actor"] == "lan"), "the confirmation is an audit event naming the clerk");
    assert!(!o.run(&["figures", "--confirm", &id]).status.success(), "figures confirmed once cannot be confirmed again");
}

/// The office's form kept as a Word table, or as an OpenDocument spreadsheet: read the same,
/// and the filled form still written (laid out again from a Word table).
#[test]
fn an_office_form_kept_in_word_or_opendocument_is_read_and_filled() {
    let blank = forms::Figures::new();
    for (name, data) in [("bieu-thang.docx", forms::station_docx("TÊN ĐƠN VỊ: ..........", 1, &blank)), ("bieu-thang.ods", soffice(&forms::office_form(), "xlsx", "ods"))] {
        let cfg = forms::CONFIG.replace("forms/bieu-thang.xlsx", &format!("forms/{name}"));
        let o = Office::with_config(Db::Sqlite, &cfg);
        std::fs::create_dir_all(o.path().join("forms")).unwrap();
        std::fs::write(o.path().join("forms").join(name), &data).unwrap();
        let out = o.ok(&["check-config"]);
        assert!(out.contains("«Kết quả thực hiện / Trong tháng»") && out.contains("Số phụ nữ đẻ"), "{name}: {out}");
        let f = forms::figures(80.0, 1);
        let (d, t) = at(2023, 2, 2, 9);
        o.deliver(t, "a", &mail("tyt.anphu@test.example", "Báo cáo hoạt động trạm y tế tháng 1 năm 2023", "<a@test>", &d, "", &[("bc.xlsx", &forms::station_xlsx("Trạm Y tế xã An Phú", 1, &f, &Habits::default()))]));
        o.ok(&["ingest", "--no-deliver", "inbox"]);
        let j = o.json(&["figures", "--report", "tyt-thang", "--period", "2023-01", "--json"]);
        assert_eq!(value(&j, Some("1"), "TYT-AN", MONTH).as_f64(), Some(f["1"].1), "{name}");
        o.ok(&["figures", "--report", "tyt-thang", "--period", "2023-01", "--xlsx", "out.xlsx"]);
        use calamine::Reader;
        let mut wb: calamine::Xlsx<_> = calamine::open_workbook(o.path().join("out.xlsx")).unwrap();
        let first = wb.sheet_names()[0].clone();
        let ws = wb.worksheet_range(&first).unwrap();
        let cells: Vec<String> = ws.rows().flat_map(|r| r.iter().map(|c| c.to_string())).collect();
        assert!(cells.iter().any(|c| c == &f["1"].1.to_string()), "{name}: the total in the filled form: {cells:?}");
        assert!(cells.iter().any(|c| c.contains("Số lượt khám tại trạm")), "{name}: the form's rows");
    }
}
