//! Figures as offices write them in a form's cells: `1.234` and `1 234` (thousands), `12,5` and
//! `12.5` (decimals), `1.234,5`, `25,1%`, `(12)` for a negative, `-` or `–` for none, and the
//! cell left blank. A text that is none of these is kept as text: it is a finding where a
//! number belongs.

/// What one cell holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Blank,
    Num(f64),
    Text(String),
}

/// Reads a cell's text. A dot followed by exactly three digits groups thousands (`1.234` is
/// one thousand two hundred and thirty-four, as Vietnamese offices write it), unless the part
/// before it is a lone 0 (`0.125`); a single comma is a decimal comma. Where a workbook stored
/// a number, the caller passes its exact value instead.
pub fn read(text: &str) -> Cell {
    let t = text.trim();
    if t.is_empty() {
        return Cell::Blank;
    }
    // Dashes and dots alone: "nothing to report" written in the cell.
    if t.chars().all(|c| matches!(c, '-' | '–' | '—' | '.' | '…' | '_' | '/' | 'x' | 'X')) {
        return if t.chars().any(|c| matches!(c, '-' | '–' | '—')) && t.chars().count() <= 3 { Cell::Num(0.0) } else { Cell::Blank };
    }
    match number(t) {
        Some(v) => Cell::Num(v),
        None => Cell::Text(t.to_string()),
    }
}

fn number(t: &str) -> Option<f64> {
    // Spaces (plain, no-break, thin) group thousands; a trailing % is a percentage as written.
    let mut s: String = t.chars().filter(|c| !c.is_whitespace() && *c != '\u{a0}' && *c != '\u{202f}' && *c != '\'').collect();
    if s.ends_with('%') {
        s.pop();
    }
    let (neg, s) = if let Some(inner) = s.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
        (true, inner.to_string())
    } else if let Some(r) = s.strip_prefix('-').or_else(|| s.strip_prefix('–')).or_else(|| s.strip_prefix('−')) {
        (true, r.to_string())
    } else {
        (false, s.strip_prefix('+').unwrap_or(&s).to_string())
    };
    if s.is_empty() || s.len() > 32 || !s.starts_with(|c: char| c.is_ascii_digit()) || !s.chars().all(|c| c.is_ascii_digit() || c == ',' || c == '.') {
        return None;
    }
    if s.ends_with(['.', ',']) {
        return None;
    }
    let commas = s.matches(',').count();
    let dots = s.matches('.').count();
    let groups_of_three = |x: &str, sep: char| -> bool {
        let mut parts = x.split(sep);
        let first = parts.next().unwrap_or("");
        !first.is_empty() && first.len() <= 3 && first != "0" && parts.all(|p| p.len() == 3)
    };
    let normal = match (commas, dots) {
        (0, 0) => s.clone(),
        (0, 1) => {
            if groups_of_three(&s, '.') {
                s.replace('.', "")
            } else {
                s.clone()
            }
        }
        (0, _) => {
            if !groups_of_three(&s, '.') {
                return None;
            }
            s.replace('.', "")
        }
        (1, 0) => s.replace(',', "."),
        (_, 0) => {
            // 1,234,567: English thousands.
            if !groups_of_three(&s, ',') {
                return None;
            }
            s.replace(',', "")
        }
        _ => {
            // Both: whichever comes last is the decimal mark.
            let (last_comma, last_dot) = (s.rfind(',')?, s.rfind('.')?);
            if last_comma > last_dot {
                let (int, frac) = s.split_at(last_comma);
                if int.contains(',') || !groups_of_three(int, '.') {
                    return None;
                }
                format!("{}.{}", int.replace('.', ""), &frac[1..])
            } else {
                let (int, frac) = s.split_at(last_dot);
                if int.contains('.') || !groups_of_three(int, ',') {
                    return None;
                }
                format!("{}.{}", int.replace(',', ""), &frac[1..])
            }
        }
    };
    let v: f64 = normal.parse().ok()?;
    v.is_finite().then_some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_read_in_every_way_offices_write_them() {
        let n = |s: &str| match read(s) {
            Cell::Num(v) => Some(v),
            _ => None,
        };
        assert_eq!(n("1.234"), Some(1234.0));
        assert_eq!(n("12.345.678"), Some(12_345_678.0));
        assert_eq!(n("1 234"), Some(1234.0));
        assert_eq!(n("1\u{a0}234"), Some(1234.0));
        assert_eq!(n("12,5"), Some(12.5));
        assert_eq!(n("12.5"), Some(12.5));
        assert_eq!(n("0.125"), Some(0.125));
        assert_eq!(n("1.234,5"), Some(1234.5));
        assert_eq!(n("1,234.5"), Some(1234.5));
        assert_eq!(n("1,234,567"), Some(1_234_567.0));
        assert_eq!(n("25,1%"), Some(25.1));
        assert_eq!(n("(12)"), Some(-12.0));
        assert_eq!(n("-"), Some(0.0));
        assert_eq!(n("0"), Some(0.0));
        assert_eq!(read(""), Cell::Blank);
        assert_eq!(read("  "), Cell::Blank);
        assert_eq!(read("..."), Cell::Blank);
        assert_eq!(read("chưa có số liệu"), Cell::Text("chưa có số liệu".into()));
        assert_eq!(read("12,3,4"), Cell::Text("12,3,4".into()));
        assert_eq!(read("1.23.4"), Cell::Text("1.23.4".into()));
    }
}
