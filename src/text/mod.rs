//! Vietnamese text normalisation and folding.
//!
//! Everything that compares text (matching units, kinds, periods; finding header words in tables)
//! goes through [`fold`], so `Báo cáo CCHC quý I`, `bao cao cchc quy 1` typed without diacritics
//! and a decomposed (NFD) subject all compare equal. Display text is kept in NFC via [`nfc`].

pub mod legacy;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Unicode NFC, the form every stored and displayed string is kept in.
pub fn nfc(s: &str) -> String {
    // Almost all text arrives composed already; the quick check skips the full normalisation.
    if s.is_ascii() || unicode_normalization::is_nfc_quick(s.chars()) == unicode_normalization::IsNormalized::Yes {
        return s.to_string();
    }
    s.nfc().collect()
}

/// Folds text for comparison: tones and vowel marks removed (as NFD would), `đ`→`d`, lower
/// case, every run of non-alphanumeric characters collapsed to one space, trimmed.
pub fn fold(s: &str) -> String {
    fold_with(s, |_| false)
}

/// Folds like [`fold`] but keeps `/`, `.`, `-`, `,` and `:` as tokens of their own, which the
/// period and number readers need (`quý I/2020`, `1.1.2`, `15,5`).
pub fn fold_keep_punct(s: &str) -> String {
    fold_with(s, |c| matches!(c, '/' | '.' | '-' | ',' | ':'))
}

/// The letter under a precomposed character's marks (`ế`→`e`, `Ư`→`U`), the character itself
/// when it has none, None for a lone combining mark (input that was already NFD).
fn base_char(c: char) -> Option<char> {
    if c.is_ascii() {
        return Some(c);
    }
    if is_combining_mark(c) {
        return None;
    }
    let mut first = None;
    unicode_normalization::char::decompose_canonical(c, |d| {
        if first.is_none() {
            first = Some(d);
        }
    });
    first
}

// Folding runs over every cell and paragraph of every document, so it works a character at a
// time (ASCII directly, others by their canonical decomposition) instead of normalising whole
// strings: measured here, whole-string NFD took a third of the time of reading a workbook.
fn fold_with(s: &str, keep: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        let Some(c) = base_char(c) else { continue };
        let c = match c {
            'đ' | 'Đ' => 'd',
            // Vietnamese legacy keyboards sometimes emit these look-alikes.
            'ð' | 'Ð' => 'd',
            c => c,
        };
        if c.is_alphanumeric() || keep(c) {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            if c.is_ascii() {
                out.push(c.to_ascii_lowercase());
            } else {
                out.extend(c.to_lowercase());
            }
        } else {
            pending_space = true;
        }
    }
    out
}

/// True when `needle` (already folded) occurs in `hay` (already folded) on word boundaries.
pub fn contains_words(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    let hb = hay.as_bytes();
    let mut start = 0;
    while let Some(pos) = hay[start..].find(needle) {
        let i = start + pos;
        let j = i + needle.len();
        let left_ok = i == 0 || !hb[i - 1].is_ascii_alphanumeric();
        let right_ok = j == hb.len() || !hb[j].is_ascii_alphanumeric();
        if left_ok && right_ok {
            return true;
        }
        start = i + 1;
        while start < hay.len() && !hay.is_char_boundary(start) {
            start += 1;
        }
        if start >= hay.len() {
            break;
        }
    }
    false
}

/// Collapses whitespace runs (including newlines and tabs) to one space and trims.
pub fn squash_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads a number written the Vietnamese way (`15,5`, `1.245`, `0,25`) or the English way (`15.5`).
/// A single comma is a decimal comma; dots followed by exactly three digits are thousands separators
/// when there is more than one of them or a comma is present too.
pub fn parse_number(s: &str) -> Option<f64> {
    let t: String = s.trim().chars().filter(|c| !c.is_whitespace()).collect();
    let t = t.trim_end_matches('%');
    if t.is_empty() || t.len() > 40 {
        return None;
    }
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t),
    };
    if !t.chars().all(|c| c.is_ascii_digit() || c == ',' || c == '.') || !t.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let commas = t.matches(',').count();
    let dots = t.matches('.').count();
    let normal = if commas == 1 && dots == 0 {
        t.replace(',', ".")
    } else if commas == 0 && dots <= 1 {
        t.to_string()
    } else if commas == 1 && dots >= 1 {
        // 1.245,5 — dots group thousands
        let (int, frac) = t.split_once(',')?;
        format!("{}.{}", int.replace('.', ""), frac)
    } else if commas == 0 && dots > 1 {
        t.replace('.', "")
    } else if dots == 1 && commas >= 1 {
        t.replace(',', "")
    } else {
        return None;
    };
    let v: f64 = normal.parse().ok()?;
    Some(if neg { -v } else { v })
}

/// Roman numerals I..XX (the numbering of sections and quarters), upper or lower case.
pub fn roman_value(s: &str) -> Option<u32> {
    let u = s.to_ascii_uppercase();
    const R: [&str; 20] = [
        "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "XIV", "XV", "XVI",
        "XVII", "XVIII", "XIX", "XX",
    ];
    R.iter().position(|r| *r == u).map(|i| i as u32 + 1)
}

/// Text safe inside HTML elements and quoted attributes.
pub fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// A number as Vietnamese offices write it: a decimal comma and dots between thousands
/// (`1.234,5`), at most three decimals, none when whole.
pub fn num_vi(v: f64) -> String {
    let r = (v * 1000.0).round() / 1000.0;
    let neg = r < 0.0;
    let text = format!("{:.3}", r.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let frac = frac.trim_end_matches('0');
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    format!("{}{grouped}{}{frac}", if neg { "-" } else { "" }, if frac.is_empty() { "" } else { "," })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_with_a_decimal_comma_and_thousands_dots() {
        assert_eq!(num_vi(1.5), "1,5");
        assert_eq!(num_vi(51.58), "51,58");
        assert_eq!(num_vi(70.0), "70");
        assert_eq!(num_vi(12345.25), "12.345,25");
        assert_eq!(num_vi(-0.125), "-0,125");
        assert_eq!(num_vi(0.1 + 0.2), "0,3");
    }

    #[test]
    fn folding_removes_tones_marks_and_d_stroke() {
        assert_eq!(fold("Báo cáo CCHC quý I"), "bao cao cchc quy i");
        assert_eq!(fold("ĐẢNG ỦY"), "dang uy");
        assert_eq!(fold("Bệnh viện ĐK tỉnh"), "benh vien dk tinh");
    }

    #[test]
    fn old_tone_placement_and_text_without_diacritics_fold_like_modern_spelling() {
        assert_eq!(fold("Thanh Hoá"), fold("Thanh Hóa"));
        assert_eq!(fold("Báo cáo qúy I"), fold("Báo cáo quý I"));
        assert_eq!(fold("Bệnh viện Thuỷ Nguyên"), fold("Bệnh viện Thủy Nguyên"));
        assert_eq!(fold("bao cao quy 1 nam 2021 - TTYT Bac Son"), fold("Báo cáo quý 1 năm 2021 - TTYT Bắc Sơn"));
        assert_eq!(fold("Hoà Bình, hòa bình, HOÀ BÌNH"), "hoa binh hoa binh hoa binh");
    }

    #[test]
    fn a_decomposed_subject_folds_like_a_composed_one() {
        let nfd: String = "Báo cáo kết quả".nfd().collect();
        assert_eq!(fold(&nfd), fold("Báo cáo kết quả"));
        assert_eq!(nfc(&nfd), "Báo cáo kết quả");
    }

    #[test]
    fn word_containment_respects_boundaries() {
        assert!(contains_words("bao cao cchc quy i nam 2020", "cchc quy"));
        assert!(!contains_words("bao cao cchc quy ii", "quy i "));
        assert!(!contains_words("abcchc quy", "cchc quy"));
        assert!(contains_words("bv nhi thanh hoa", "bv nhi"));
    }

    #[test]
    fn numbers_with_a_decimal_comma_are_read() {
        assert_eq!(parse_number("15,5"), Some(15.5));
        assert_eq!(parse_number("0,25"), Some(0.25));
        assert_eq!(parse_number("70.5"), Some(70.5));
        assert_eq!(parse_number("1.245.000"), Some(1245000.0));
        assert_eq!(parse_number("1.245,5"), Some(1245.5));
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number(""), None);
    }

    #[test]
    fn roman_numerals_up_to_twenty_are_known() {
        assert_eq!(roman_value("iv"), Some(4));
        assert_eq!(roman_value("III"), Some(3));
        assert_eq!(roman_value("IIII"), None);
    }
}
