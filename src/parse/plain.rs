//! Text laid out as on a page — a PDF's text layer (`pdftotext -layout`) or OCR of a scan — turned
//! into the blocks the Word reader gives, so the header, period, unit and kind are read the same
//! way.
//!
//! On a page the header's two columns share lines ("SỞ Y TẾ …      CỘNG HÒA XÃ HỘI …"): a wide
//! gap becomes a tab, which the header reader already splits into left and right. A summary
//! centred under the document type and wrapped onto a second line is joined back into one
//! paragraph. Pages are separated by form feeds.

use super::Block;

/// Splits a line at runs of three or more spaces: its columns. Only plain spaces make a gap
/// (pdftotext lays columns out with them); tabs, carriage returns and no-break spaces that
/// some PDFs carry between words are one space.
fn columns(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut spaces, mut other) = (0, false);
    for c in line.chars() {
        if c == ' ' {
            spaces += 1;
            continue;
        }
        if c.is_whitespace() || c.is_control() {
            other = true;
            continue;
        }
        if spaces >= 3 && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        } else if (spaces > 0 || other) && !cur.is_empty() {
            cur.push(' ');
        }
        (spaces, other) = (0, false);
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn indent(line: &str) -> usize {
    line.chars().take_while(|c| *c == ' ').count()
}

fn is_upper(s: &str) -> bool {
    let letters: Vec<char> = s.chars().filter(|c| c.is_alphabetic()).collect();
    !letters.is_empty() && letters.iter().all(|c| !c.is_lowercase())
}

/// Blocks of paragraphs from page text.
pub fn blocks(text: &str) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    // The widest line gives the page's width, to tell centred lines from body lines.
    let width = text.lines().map(|l| l.chars().count()).max().unwrap_or(80).max(40);
    let mut prev_centred: Option<String> = None;
    let flush = |out: &mut Vec<Block>, p: &mut Option<String>| {
        if let Some(t) = p.take() {
            out.push(Block::Para(t));
        }
    };
    for page in text.split('\u{c}') {
        for raw in page.lines() {
            let line = raw.trim_end();
            if line.trim().is_empty() {
                flush(&mut out, &mut prev_centred);
                out.push(Block::Para(String::new()));
                continue;
            }
            let cols = columns(line);
            if cols.len() >= 2 {
                flush(&mut out, &mut prev_centred);
                out.push(Block::Para(cols.join("\t")));
                continue;
            }
            let t = cols.into_iter().next().unwrap_or_default();
            let len = t.chars().count();
            let ind = indent(line);
            let centred = ind >= 8 && ind + len + 8 <= width && (ind as i64 - (width - ind - len) as i64).abs() <= (width as i64 / 4);
            if centred && !is_upper(&t) {
                // A centred line continues the centred line above it (a wrapped summary),
                // unless that one is all capitals (the document type above its summary).
                match prev_centred.as_mut() {
                    Some(p) if !is_upper(p) => {
                        p.push(' ');
                        p.push_str(&t);
                    }
                    _ => {
                        flush(&mut out, &mut prev_centred);
                        prev_centred = Some(t);
                    }
                }
                continue;
            }
            flush(&mut out, &mut prev_centred);
            if centred {
                prev_centred = Some(t);
            } else {
                out.push(Block::Para(t));
            }
        }
        flush(&mut out, &mut prev_centred);
    }
    // Runs of empty paragraphs are one.
    out.dedup_by(|a, b| matches!((a, b), (Block::Para(x), Block::Para(y)) if x.is_empty() && y.is_empty()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::header::from_blocks;

    const PAGE: &str = "      SỞ Y TẾ TỈNH ĐO TẢI                       CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
   BỆNH VIỆN ĐA KHOA AN BÌNH                      Độc lập - Tự do - Hạnh phúc

     Số: 45/BC-BVĐK                            An Bình, ngày 5 tháng 4 năm 2021

                                      BÁO CÁO
                Kết quả thực hiện công tác cải cách hành chính quý I
                                    năm 2021

   Thực hiện Kế hoạch của Sở Y tế, Bệnh viện báo cáo như sau:
   1. Công tác chỉ đạo, điều hành.
                                                                  GIÁM ĐỐC

                                                              Nguyễn Văn An
";

    #[test]
    fn a_pdf_page_gives_the_header_of_a_word_document() {
        let b = blocks(PAGE);
        let h = from_blocks(&b);
        assert_eq!(h.issuer.as_deref(), Some("BỆNH VIỆN ĐA KHOA AN BÌNH"));
        assert_eq!(h.number.as_deref(), Some("45/BC-BVĐK"));
        assert_eq!(h.date.as_deref(), Some("2021-04-05"));
        assert_eq!(h.doc_type.as_deref(), Some("BÁO CÁO"));
        assert_eq!(h.summary.as_deref(), Some("Kết quả thực hiện công tác cải cách hành chính quý I năm 2021"), "the wrapped summary is joined: {b:?}");
    }

    #[test]
    fn columns_split_only_at_wide_gaps() {
        assert_eq!(columns("Số: 45/BC-BVĐK     An Bình, ngày 5"), vec!["Số: 45/BC-BVĐK", "An Bình, ngày 5"]);
        assert_eq!(columns("  một  hai ba"), vec!["một hai ba"]);
        assert_eq!(columns("I\t\r \u{a0}love\t\r \u{a0}word"), vec!["I love word"], "a PDF's odd spacing between words");
    }
}
