//! A district office's monthly form for its commune stations (*trạm y tế*), and the stations'
//! copies filled the ways real units fill them: clean, numbers typed as text with thousands
//! dots and decimal commas, a label reworded, a row inserted, a word where a number belongs, a
//! cover sheet first, a sheet per village after, typed in TCVN3, a wrong total, Excel 97, a
//! Word table. Built here with rust_xlsxwriter and docx-rs (LibreOffice for .xls and .doc).

use std::collections::BTreeMap;

/// The rows of the office's form: numbering, label, unit of measure ("" for a section).
pub const ROWS: &[(&str, &str, &str)] = &[
    ("I", "KHÁM, CHỮA BỆNH", ""),
    ("1", "Số lượt khám tại trạm", "lượt"),
    ("2", "Số lượt khám lưu động", "lượt"),
    ("3", "Số lượt khám tại nhà", "lượt"),
    ("", "Tổng", "lượt"),
    ("4", "Số người bệnh chuyển tuyến", "người"),
    ("II", "TIÊM CHỦNG MỞ RỘNG", ""),
    ("5", "Trẻ dưới 1 tuổi tiêm chủng đầy đủ", "trẻ"),
    ("6", "Phụ nữ có thai tiêm phòng uốn ván", "người"),
    ("III", "CHĂM SÓC SỨC KHỎE SINH SẢN", ""),
    ("7", "Số phụ nữ đẻ", "người"),
    ("7.1", "Trong đó: đẻ tại trạm", "người"),
    ("8", "Tỷ lệ phụ nữ đẻ được khám thai từ 4 lần trở lên", "%"),
];

/// Where the table starts in the office's form (0-based): the two header rows, then the rows.
pub const HEADER_ROW: u32 = 6;
pub const FIRST_ROW: u32 = 8;

pub const CONFIG: &str = r#"
[office]
name = "Văn phòng Trung tâm Y tế huyện Kiểm Thử"
address = "vanphong@ttyt.test"
timezone = "Asia/Ho_Chi_Minh"
leadership = ["giamdoc@ttyt.test"]
staff = ["vanphong.kh@ttyt.test"]

[database]
url = "DBURL"

[intake]
source = "maildir:inbox"
acknowledge_within_days = 36500

[outbound]
transport = "file:var/outbox"
acks_per_sender_hour = 1000

[calendar]
start = "2023-01-01"
shift_to_workday = true

[[unit]]
id = "TYT-AN"
name = "Trạm Y tế xã An Phú"
emails = ["tyt.anphu@test.example"]
group = "tram-y-te"

[[unit]]
id = "TYT-BINH"
name = "Trạm Y tế xã Bình Minh"
emails = ["tyt.binhminh@test.example"]
group = "tram-y-te"

[[unit]]
id = "TYT-CAU"
name = "Trạm Y tế xã Cầu Đá"
emails = ["tyt.cauda@test.example"]
group = "tram-y-te"

[[unit]]
id = "TYT-DONG"
name = "Trạm Y tế xã Đông Hải"
emails = ["tyt.donghai@test.example"]
group = "tram-y-te"

[[unit]]
id = "TYT-EA"
name = "Trạm Y tế xã Ea Kênh"
emails = ["tyt.eakenh@test.example"]
group = "tram-y-te"

[[report]]
id = "tyt-thang"
name = "Báo cáo kết quả hoạt động của trạm y tế tháng"
keywords = ["hoạt động của trạm y tế", "hoạt động trạm y tế", "báo cáo tháng TYT"]
period = "month"
due = { month = "next", day = 5 }
applies_to = ["tram-y-te"]
form = "forms/bieu-thang.xlsx"
form_rules = ["{7.1} <= {7}"]
remind_after_days = [1]
"#;

/// The office's blank form: headings, two merged header rows, sections, a total row, the
/// ratio column computed by a formula.
pub fn office_form() -> Vec<u8> {
    use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Formula, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Biểu 01").unwrap();
    let bold = Format::new().set_bold().set_align(FormatAlign::Center).set_text_wrap();
    let head = bold.clone().set_border(FormatBorder::Thin).set_align(FormatAlign::VerticalCenter);
    let cell = Format::new().set_border(FormatBorder::Thin);
    ws.merge_range(0, 0, 0, 2, "TRUNG TÂM Y TẾ HUYỆN KIỂM THỬ", &bold).unwrap();
    ws.merge_range(0, 4, 0, 7, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", &bold).unwrap();
    ws.merge_range(1, 0, 1, 2, "TÊN ĐƠN VỊ: ....................", &bold).unwrap();
    ws.merge_range(1, 4, 1, 7, "Độc lập - Tự do - Hạnh phúc", &bold).unwrap();
    ws.merge_range(3, 0, 3, 7, "BÁO CÁO KẾT QUẢ HOẠT ĐỘNG CỦA TRẠM Y TẾ", &bold).unwrap();
    ws.merge_range(4, 0, 4, 7, "Tháng ..... năm 2023", &bold).unwrap();
    let h = HEADER_ROW;
    for (c, t) in [(0u16, "STT"), (1, "Nội dung"), (2, "Đơn vị tính"), (3, "Kế hoạch năm 2023"), (6, "Tỷ lệ % so với kế hoạch"), (7, "Ghi chú")] {
        ws.merge_range(h, c, h + 1, c, t, &head).unwrap();
    }
    ws.merge_range(h, 4, h, 5, "Kết quả thực hiện", &head).unwrap();
    ws.write_string_with_format(h + 1, 4, "Trong tháng", &head).unwrap();
    ws.write_string_with_format(h + 1, 5, "Lũy kế từ đầu năm", &head).unwrap();
    for (i, (n, label, unit)) in ROWS.iter().enumerate() {
        let r = FIRST_ROW + i as u32;
        ws.write_string_with_format(r, 0, *n, &cell).unwrap();
        ws.write_string_with_format(r, 1, *label, &cell).unwrap();
        ws.write_string_with_format(r, 2, *unit, &cell).unwrap();
        for c in 3..=7u16 {
            ws.write_blank(r, c, &cell).unwrap();
        }
        if !unit.is_empty() && *unit != "%" {
            let x = r + 1;
            ws.write_formula_with_format(r, 6, Formula::new(format!("=IF(D{x}=0,\"\",F{x}/D{x}*100)")), &cell).unwrap();
        }
    }
    let end = FIRST_ROW + ROWS.len() as u32 + 1;
    ws.write_string(end, 1, "NGƯỜI LẬP BIỂU").unwrap();
    ws.write_string(end, 5, "TRƯỞNG TRẠM").unwrap();
    ws.set_column_width(1, 42).unwrap();
    wb.save_to_buffer().unwrap()
}

/// One station's figures: by numbering (the total row by "Tổng"), (plan, this month, since
/// January); a ratio row's figures are percentages.
pub type Figures = BTreeMap<&'static str, (f64, f64, f64)>;

/// A station's figures for `month` of 2023 that add up: `base` scales them.
pub fn figures(base: f64, month: u32) -> Figures {
    let m = month as f64;
    let per = |k: f64| (base * k).round();
    let mut f = Figures::new();
    let rows = [("1", 3.0), ("2", 1.0), ("3", 0.5), ("4", 0.2), ("5", 0.1), ("6", 0.08), ("7", 0.06), ("7.1", 0.04)];
    for (n, k) in rows {
        let month_value = per(k) + m;
        let cum: f64 = (1..=month).map(|x| per(k) + x as f64).sum();
        f.insert(n, (per(k) * 12.0, month_value, cum));
    }
    let sum = |i: usize| ["1", "2", "3"].iter().map(|n| [f[n].0, f[n].1, f[n].2][i]).sum::<f64>();
    f.insert("Tổng", (sum(0), sum(1), sum(2)));
    f.insert("8", (95.0, 87.5, 88.0));
    f
}

/// How a station fills the form.
#[derive(Debug, Clone, Default)]
pub struct Habits {
    /// Numbers typed as text, thousands grouped by dots and decimals by a comma.
    pub as_text: bool,
    /// Labels typed differently, by numbering.
    pub reworded: Vec<(&'static str, &'static str)>,
    /// A row the form does not have, after the row numbered `.0`: (after, number, label, this month).
    pub inserted: Option<(&'static str, &'static str, &'static str, f64)>,
    /// A word in the month column of the row numbered `.0`.
    pub word_in: Option<(&'static str, &'static str)>,
    /// The total row's month figure, when it is written wrong.
    pub total_month: Option<f64>,
    /// A row left out.
    pub left_out: Option<&'static str>,
    /// A cover sheet before the form.
    pub cover: bool,
    /// A sheet per village after the form.
    pub villages: bool,
    /// Every text in TCVN3 (`.VnTime`).
    pub tcvn3: bool,
}

fn text_number(v: f64) -> String {
    baocao::text::num_vi(v)
}

/// A station's copy of the form for `month`, as .xlsx.
pub fn station_xlsx(station: &str, month: u32, f: &Figures, h: &Habits) -> Vec<u8> {
    use rust_xlsxwriter::{Format, FormatBorder, Workbook};
    let enc = |s: &str| if h.tcvn3 { baocao::text::legacy::encode_tcvn3(s) } else { s.to_string() };
    let mut wb = Workbook::new();
    if h.cover {
        let c = wb.add_worksheet();
        c.set_name("Bia").unwrap();
        c.write_string(2, 1, enc(&station.to_uppercase())).unwrap();
        c.write_string(4, 1, enc(&format!("HỒ SƠ BÁO CÁO THÁNG {month} NĂM 2023"))).unwrap();
    }
    let ws = wb.add_worksheet();
    ws.set_name("Bieu 01").unwrap();
    let border = Format::new().set_border(FormatBorder::Thin);
    ws.merge_range(0, 0, 0, 2, &enc("TRUNG TÂM Y TẾ HUYỆN KIỂM THỬ"), &border).unwrap();
    ws.merge_range(1, 0, 1, 2, &enc(&station.to_uppercase()), &border).unwrap();
    ws.write_string(3, 0, enc("BÁO CÁO KẾT QUẢ HOẠT ĐỘNG CỦA TRẠM Y TẾ")).unwrap();
    ws.write_string(4, 0, enc(&format!("Tháng {month} năm 2023"))).unwrap();
    let hr = HEADER_ROW;
    for (c, t) in [(0u16, "STT"), (1, "Nội dung"), (2, "Đơn vị tính"), (3, "Kế hoạch năm 2023"), (6, "Tỷ lệ % so với kế hoạch"), (7, "Ghi chú")] {
        ws.merge_range(hr, c, hr + 1, c, &enc(t), &border).unwrap();
    }
    ws.merge_range(hr, 4, hr, 5, &enc("Kết quả thực hiện"), &border).unwrap();
    ws.write_string(hr + 1, 4, enc("Trong tháng")).unwrap();
    ws.write_string(hr + 1, 5, enc("Lũy kế từ đầu năm")).unwrap();
    let mut r = FIRST_ROW;
    let write_num = |ws: &mut rust_xlsxwriter::Worksheet, r: u32, c: u16, v: f64| {
        if h.as_text {
            ws.write_string(r, c, text_number(v)).unwrap();
        } else {
            ws.write_number(r, c, v).unwrap();
        }
    };
    for (n, label, unit) in ROWS {
        if h.left_out == Some(*n) {
            continue;
        }
        let label = h.reworded.iter().find(|(x, _)| x == n).map(|(_, l)| *l).unwrap_or(label);
        ws.write_string(r, 0, *n).unwrap();
        ws.write_string(r, 1, enc(label)).unwrap();
        ws.write_string(r, 2, enc(unit)).unwrap();
        let key = if n.is_empty() { "Tổng" } else { n };
        if let Some((plan, month_v, cum)) = f.get(key) {
            let month_v = if key == "Tổng" { h.total_month.unwrap_or(*month_v) } else { *month_v };
            if *unit == "%" {
                write_num(ws, r, 4, month_v);
                write_num(ws, r, 5, *cum);
            } else {
                write_num(ws, r, 3, *plan);
                match h.word_in {
                    Some((x, word)) if x == key => {
                        ws.write_string(r, 4, enc(word)).unwrap();
                    }
                    _ => write_num(ws, r, 4, month_v),
                }
                write_num(ws, r, 5, *cum);
                write_num(ws, r, 6, (cum / plan * 1000.0).round() / 10.0);
            }
        }
        r += 1;
        if let Some((after, num, lab, v)) = h.inserted {
            if after == *n {
                ws.write_string(r, 0, num).unwrap();
                ws.write_string(r, 1, enc(lab)).unwrap();
                ws.write_string(r, 2, enc("lượt")).unwrap();
                write_num(ws, r, 4, v);
                write_num(ws, r, 5, v * month as f64);
                r += 1;
            }
        }
    }
    ws.write_string(r + 1, 5, enc(&format!("Kiểm Thử, ngày 02 tháng {} năm 2023", month + 1))).unwrap();
    ws.write_string(r + 2, 1, enc("NGƯỜI LẬP BIỂU")).unwrap();
    ws.write_string(r + 2, 5, enc("TRƯỞNG TRẠM")).unwrap();
    if h.villages {
        let v = wb.add_worksheet();
        v.set_name("Theo thon").unwrap();
        v.write_string(0, 0, enc("SỐ LIỆU THEO THÔN")).unwrap();
        for (c, t) in ["TT", "Thôn", "Số lượt khám", "Số trẻ tiêm chủng đầy đủ"].iter().enumerate() {
            v.write_string(2, c as u16, enc(t)).unwrap();
        }
        for (i, name) in ["Thôn Đông", "Thôn Tây", "Thôn Nam"].iter().enumerate() {
            let r = 3 + i as u32;
            v.write_string(r, 0, (i + 1).to_string()).unwrap();
            v.write_string(r, 1, enc(name)).unwrap();
            v.write_number(r, 2, 100.0 + i as f64).unwrap();
            v.write_number(r, 3, 2.0 + i as f64).unwrap();
        }
    }
    wb.save_to_buffer().unwrap()
}

/// A station's copy of the form as a Word table (merged header cells, decimal commas).
pub fn station_docx(station: &str, month: u32, f: &Figures) -> Vec<u8> {
    use docx_rs::*;
    let p = |t: &str| Paragraph::new().add_run(Run::new().add_text(t));
    let c = |t: &str| TableCell::new().add_paragraph(p(t));
    let mut rows = vec![
        TableRow::new(vec![
            c("STT").vertical_merge(VMergeType::Restart),
            c("Nội dung").vertical_merge(VMergeType::Restart),
            c("Đơn vị tính").vertical_merge(VMergeType::Restart),
            c("Kế hoạch năm 2023").vertical_merge(VMergeType::Restart),
            c("Kết quả thực hiện").grid_span(2),
            c("Tỷ lệ % so với kế hoạch").vertical_merge(VMergeType::Restart),
            c("Ghi chú").vertical_merge(VMergeType::Restart),
        ]),
        TableRow::new(vec![
            c("").vertical_merge(VMergeType::Continue),
            c("").vertical_merge(VMergeType::Continue),
            c("").vertical_merge(VMergeType::Continue),
            c("").vertical_merge(VMergeType::Continue),
            c("Trong tháng"),
            c("Lũy kế từ đầu năm"),
            c("").vertical_merge(VMergeType::Continue),
            c("").vertical_merge(VMergeType::Continue),
        ]),
    ];
    for (n, label, unit) in ROWS {
        let key = if n.is_empty() { "Tổng" } else { n };
        let (a, b, d, e) = match f.get(key) {
            Some((plan, m, cum)) if *unit == "%" => (String::new(), text_number(*m), text_number(*cum), String::new()),
            Some((plan, m, cum)) => (text_number(*plan), text_number(*m), text_number(*cum), text_number((cum / plan * 1000.0).round() / 10.0)),
            None => Default::default(),
        };
        rows.push(TableRow::new(vec![c(n), c(label), c(unit), c(&a), c(&b), c(&d), c(&e), c("")]));
    }
    let table = Table::new(rows).set_grid(vec![600, 3800, 900, 1200, 1200, 1200, 1200, 900]);
    let d = Docx::new()
        .add_paragraph(p("TRUNG TÂM Y TẾ HUYỆN KIỂM THỬ"))
        .add_paragraph(p(&station.to_uppercase()))
        .add_paragraph(p("BÁO CÁO KẾT QUẢ HOẠT ĐỘNG CỦA TRẠM Y TẾ"))
        .add_paragraph(p(&format!("Tháng {month} năm 2023")))
        .add_table(table)
        .add_paragraph(p("TRƯỞNG TRẠM"));
    let mut buf = std::io::Cursor::new(Vec::new());
    d.build().pack(&mut buf).unwrap();
    buf.into_inner()
}
