//! `.xlsx` and `.xls` with calamine: every sheet as rows of cell text, merged regions filled.
//!
//! Numbers become text the way a person reads them (`15.5`, `70`), so extractors read figures
//! from numeric cells and from text cells with a decimal comma alike. The package is checked
//! against the zip limits before calamine sees it; what calamine does inside is bounded by the
//! parse worker's memory and time limits.

use super::container::check_zip;
use super::{ParseError, Sheet};
use crate::domain::rules::Limits;
use crate::domain::Format;
use calamine::{open_workbook_auto_from_rs, Data, Dimensions, Reader, Sheets};
use std::io::Cursor;

/// Refuses a workbook whose cells span more than `limits.cells` before calamine reads it:
/// calamine sizes a sheet's grid from its cells' coordinates, so one cell at `XFD1048576` would
/// ask for hundreds of GB (found by fuzzing). Each worksheet's `r="…"` references are scanned.
fn check_extent(data: &[u8], limits: &Limits) -> Result<(), ParseError> {
    let z = zip::ZipArchive::new(Cursor::new(data)).map_err(|e| ParseError::Corrupt(format!("not a readable zip package ({e})")))?;
    let names: Vec<String> = z.file_names().filter(|n| n.starts_with("xl/worksheets/") && n.ends_with(".xml")).map(str::to_string).collect();
    drop(z);
    for name in names {
        let Some(xml) = super::container::read_entry(data, &name, limits.inflated_mb * 1024 * 1024)? else { continue };
        let (mut r0, mut r1, mut c0, mut c1) = (u64::MAX, 0u64, u64::MAX, 0u64);
        let mut i = 0;
        while let Some(at) = memchr_r(&xml[i..]) {
            i += at + 4;
            let Some(end) = xml[i..].iter().position(|&b| b == b'"') else { break };
            let r = &xml[i..i + end];
            i += end;
            let letters = r.iter().take_while(|b| b.is_ascii_alphabetic()).count();
            if letters > 3 {
                // Wider than Excel's XFD: calamine would still turn it into a column number.
                return Err(ParseError::Limit(format!("bảng tính có ô với địa chỉ lạ `{}` (trang {name})", String::from_utf8_lossy(&r[..r.len().min(20)]))));
            }
            let digits = &r[letters..];
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                continue;
            }
            // Outside Excel's grid (row 1,048,576, column XFD) is no cell a reader should size for.
            let row = std::str::from_utf8(digits).ok().and_then(|d| d.parse::<u64>().ok()).filter(|r| *r <= 1_048_576);
            let col = r[..letters].iter().fold(0u64, |a, b| a * 26 + (b.to_ascii_uppercase() - b'A' + 1) as u64);
            let Some(row) = row.filter(|_| col <= 16_384) else {
                return Err(ParseError::Limit(format!("bảng tính có ô với địa chỉ lạ `{}` (trang {name})", String::from_utf8_lossy(&r[..r.len().min(24)]))));
            };
            if letters == 0 {
                continue; // a row's own number: checked, not a cell
            }
            (r0, r1, c0, c1) = (r0.min(row), r1.max(row), c0.min(col), c1.max(col));
        }
        if r1 >= r0 && c1 >= c0 && (r1 - r0 + 1).saturating_mul(c1 - c0 + 1) > limits.cells as u64 {
            return Err(ParseError::Limit(format!("bảng tính trải trên hơn {} ô (trang {name})", limits.cells)));
        }
    }
    Ok(())
}

/// The next ` r="` (a cell or row reference attribute) in `xml`.
fn memchr_r(xml: &[u8]) -> Option<usize> {
    xml.windows(4).position(|w| w == b" r=\"")
}

/// Merged regions a sheet may have; real reports have a few dozen.
const MAX_MERGES: usize = 5_000;

pub fn read(data: &[u8], format: Format, limits: &Limits) -> Result<Vec<Sheet>, ParseError> {
    if format == Format::Xlsx {
        check_zip(data, limits)?;
        check_extent(data, limits)?;
    }
    let mut wb: Sheets<Cursor<Vec<u8>>> = open_workbook_auto_from_rs(Cursor::new(data.to_vec()))
        .map_err(|e| {
            // An .xls saved with a password (its FILEPASS record): said as such, not as damage.
            if e.to_string().contains("password protected") {
                ParseError::Protected
            } else {
                ParseError::Corrupt(format!("not a readable workbook ({e})"))
            }
        })?;
    let names = wb.sheet_names().to_vec();
    let mut out = Vec::new();
    let mut cells_total = 0usize;
    for name in names {
        let range = match wb.worksheet_range(&name) {
            Ok(r) => r,
            Err(e) => return Err(ParseError::Corrupt(format!("cannot read sheet \"{name}\" ({e})"))),
        };
        let (h, w) = range.get_size();
        cells_total = cells_total.saturating_add(h.saturating_mul(w));
        if cells_total > limits.cells {
            return Err(ParseError::Limit(format!("bảng tính có hơn {} ô", limits.cells)));
        }
        let merges: Vec<Dimensions> = match &mut wb {
            Sheets::Xlsx(x) => x.worksheet_merge_cells(&name).and_then(|r| r.ok()).unwrap_or_default(),
            Sheets::Xls(x) => x.worksheet_merge_cells(&name).unwrap_or_default(),
            _ => vec![],
        };
        let (r0, c0) = range.start().unwrap_or((0, 0));
        let mut rows: Vec<Vec<String>> = range.rows().map(|r| r.iter().map(cell_text).collect()).collect();
        // A number with a fraction reads back ambiguously from its text (`1.234` is a thousand
        // and more where offices write numbers): its exact value is kept beside it.
        let mut fractions = Vec::new();
        for (ri, r) in range.rows().enumerate() {
            for (ci, d) in r.iter().enumerate() {
                if let Data::Float(f) = d {
                    if f.fract() != 0.0 && fractions.len() < 100_000 {
                        fractions.push(((r0 as usize + ri) as u32, ci as u32, *f));
                    }
                }
            }
        }
        // Fill merged regions with the top-left value so every row reads whole. A hostile book
        // merges whole sheets by the thousand: the regions are counted and clipped to the cells
        // that exist, and the filling stops at the cell limit.
        if merges.len() > MAX_MERGES {
            return Err(ParseError::Limit(format!("bảng tính có {} vùng gộp ô, vượt giới hạn {MAX_MERGES}", merges.len())));
        }
        let mut filled = 0usize;
        for m in merges {
            let (sr, sc) = m.start;
            let (er, ec) = m.end;
            if sr < r0 || sc < c0 {
                continue;
            }
            let (sr, sc, er, ec) = ((sr - r0) as usize, (sc - c0) as usize, (er - r0) as usize, (ec - c0) as usize);
            let Some(v) = rows.get(sr).and_then(|r| r.get(sc)).cloned() else { continue };
            for row in rows.iter_mut().take(er.saturating_add(1)).skip(sr) {
                let end = ec.min(row.len().saturating_sub(1));
                for cell in row.iter_mut().take(end.saturating_add(1)).skip(sc) {
                    if cell.is_empty() {
                        *cell = v.clone();
                        filled += 1;
                    }
                }
                if filled > limits.cells {
                    return Err(ParseError::Limit(format!("bảng tính có vùng gộp ô phủ hơn {} ô", limits.cells)));
                }
            }
        }
        // Rows above the used range keep their place so row numbers in findings match Excel's.
        let mut padded = vec![Vec::new(); r0 as usize];
        padded.append(&mut rows);
        out.push(Sheet { name: crate::text::nfc(&name), rows: padded, fractions });
    }
    Ok(out)
}

fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => crate::text::nfc(s.trim()),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => fmt_float(*f),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(t) => t.format("%Y-%m-%d").to_string(),
            None => dt.as_f64().to_string(),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// Shortest text that reads back as the same float (`6.18`, not `6.1799999`).
pub fn fmt_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        return format!("{}", f as i64);
    }
    let s = format!("{f}");
    // Rounding noise from binary floats (0.1+0.2) is trimmed to 10 decimals.
    if s.len() > 14 {
        let r = format!("{:.10}", f);
        return r.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    s
}

#[cfg(test)]
mod extent_tests {
    use super::*;
    use std::io::Write;

    fn book(sheet_data: &str) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        let mut z = zip::ZipWriter::new(&mut buf);
        let opt = zip::write::SimpleFileOptions::default();
        z.start_file("xl/worksheets/sheet1.xml", opt).unwrap();
        write!(z, "<worksheet><sheetData>{sheet_data}</sheetData></worksheet>").unwrap();
        z.finish().unwrap();
        buf.into_inner()
    }

    #[test]
    fn a_sheet_whose_cells_span_past_the_cell_limit_is_refused_before_reading() {
        let far = book(r#"<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>2</v></c></row>"#);
        let e = check_extent(&far, &Limits::default()).unwrap_err().to_string();
        assert!(e.contains("hơn 2000000 ô"), "{e}");
        let near = book(r#"<row r="1"><c r="A1"><v>1</v></c><c r="D8"><v>2</v></c></row>"#);
        assert!(check_extent(&near, &Limits::default()).is_ok());
        for garbage in [r#"<row r="1"><c r="kkkkA4"><v>1</v></c></row>"#, r#"<row r="9"><c r="B9999999999999999999999"><v>1</v></c></row>"#, r#"<row r="99999999999"><c r="A1"/></row>"#] {
            assert!(check_extent(&book(garbage), &Limits::default()).unwrap_err().to_string().contains("địa chỉ lạ"), "{garbage}");
        }
    }
}
