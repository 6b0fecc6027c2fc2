//! The text of cell formulas (`F10/D10*100`, `SUM($E$11:E13)`, `IF(D10=0,"",F10/D10)`) and of
//! `form_rules` (`{Tổng} = {1} + {2}`, `{1.1} <= {1}`) read into [`Expr`]. One small
//! precedence-climbing parser serves both; a rule's `{…}` names a row, resolved by the caller.

use crate::domain::form::{Cmp, Expr, Func, Op};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    /// A cell or range reference, or a function name.
    Word(String),
    /// `{…}` in a rule.
    Braced(String),
    Sym(&'static str),
}

fn tokens(s: &str) -> Result<Vec<Tok>, String> {
    let cs: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < cs.len() {
        let c = cs[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && cs.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            let start = i;
            while i < cs.len() && (cs[i].is_ascii_digit() || cs[i] == '.') {
                i += 1;
            }
            // A reference like 1:1 (whole rows) is not supported; a plain number is.
            let text: String = cs[start..i].iter().collect();
            out.push(Tok::Num(text.parse().map_err(|_| format!("số không hợp lệ «{text}»"))?));
            continue;
        }
        if c == '"' {
            let mut text = String::new();
            i += 1;
            loop {
                match cs.get(i) {
                    None => return Err("thiếu dấu \" đóng".into()),
                    Some('"') if cs.get(i + 1) == Some(&'"') => {
                        text.push('"');
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        text.push(*ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(text));
            continue;
        }
        if c == '{' {
            let end = cs[i..].iter().position(|x| *x == '}').ok_or("thiếu dấu } đóng")?;
            out.push(Tok::Braced(cs[i + 1..i + end].iter().collect::<String>().trim().to_string()));
            i += end + 1;
            continue;
        }
        if c.is_alphabetic() || c == '$' || c == '_' || c == '\'' {
            let start = i;
            if c == '\'' {
                // 'Sheet name'!A1
                i += 1;
                while i < cs.len() && cs[i] != '\'' {
                    i += 1;
                }
                i += 1;
            }
            while i < cs.len() && (cs[i].is_alphanumeric() || matches!(cs[i], '$' | '_' | '.' | '!' | ':')) {
                i += 1;
            }
            out.push(Tok::Word(cs[start..i].iter().collect()));
            continue;
        }
        let two: String = cs[i..(i + 2).min(cs.len())].iter().collect();
        let sym = match two.as_str() {
            "<=" => Some("<="),
            ">=" => Some(">="),
            "<>" => Some("<>"),
            "!=" => Some("<>"),
            "==" => Some("="),
            _ => None,
        };
        if let Some(s) = sym {
            out.push(Tok::Sym(s));
            i += 2;
            continue;
        }
        let one = match c {
            '+' => "+",
            '-' | '−' | '–' => "-",
            '*' | '×' => "*",
            '/' | ':' => "/",
            '^' => "^",
            '(' => "(",
            ')' => ")",
            ',' | ';' => ",",
            '=' => "=",
            '<' => "<",
            '>' => ">",
            '≤' => "<=",
            '≥' => ">=",
            '≠' => "<>",
            '%' => "%",
            '&' => "&",
            _ => return Err(format!("ký tự lạ «{c}»")),
        };
        out.push(Tok::Sym(one));
        i += 1;
    }
    Ok(out)
}

/// A column's letters (`A`, `AB`) to its 0-based index.
fn col_index(letters: &str) -> Option<usize> {
    if letters.is_empty() || letters.len() > 3 || !letters.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    Some(letters.chars().fold(0usize, |a, c| a * 26 + (c.to_ascii_uppercase() as usize - 'A' as usize + 1)) - 1)
}

/// `A1`, `$B$12` to (row, column), 0-based.
fn cell_ref(s: &str) -> Option<(usize, usize)> {
    let s = s.replace('$', "");
    let letters: String = s.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    let digits = &s[letters.len()..];
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let row: usize = digits.parse().ok()?;
    Some((row.checked_sub(1)?, col_index(&letters)?))
}

fn func(name: &str) -> Option<Func> {
    Some(match name.to_ascii_uppercase().as_str() {
        "SUM" => Func::Sum,
        "AVERAGE" => Func::Average,
        "MIN" => Func::Min,
        "MAX" => Func::Max,
        "ROUND" => Func::Round,
        "ABS" => Func::Abs,
        "IF" => Func::If,
        "IFERROR" => Func::IfError,
        "AND" => Func::And,
        "OR" => Func::Or,
        "NOT" => Func::Not,
        "COUNT" => Func::Count,
        _ => return None,
    })
}

struct Parser<'a> {
    toks: Vec<Tok>,
    at: usize,
    /// How a `{…}` of a rule names a row.
    row: &'a dyn Fn(&str) -> Result<usize, String>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }
    fn sym(&mut self, s: &str) -> bool {
        if self.peek() == Some(&Tok::Sym(match s {
            "(" => "(",
            ")" => ")",
            "," => ",",
            _ => return false,
        })) {
            self.at += 1;
            return true;
        }
        false
    }

    fn binary_op(t: &Tok) -> Option<(Op, u8)> {
        let Tok::Sym(s) = t else { return None };
        Some(match *s {
            "=" => (Op::Cmp(Cmp::Eq), 1),
            "<>" => (Op::Cmp(Cmp::Ne), 1),
            "<=" => (Op::Cmp(Cmp::Le), 1),
            ">=" => (Op::Cmp(Cmp::Ge), 1),
            "<" => (Op::Cmp(Cmp::Lt), 1),
            ">" => (Op::Cmp(Cmp::Gt), 1),
            "&" => (Op::Join, 2),
            "+" => (Op::Add, 3),
            "-" => (Op::Sub, 3),
            "*" => (Op::Mul, 4),
            "/" => (Op::Div, 4),
            "^" => (Op::Pow, 5),
            _ => return None,
        })
    }

    fn expr(&mut self, min: u8) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while let Some((op, prec)) = self.peek().and_then(Self::binary_op) {
            if prec < min {
                break;
            }
            self.at += 1;
            let right = self.expr(prec + 1)?;
            left = Expr::Bin(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        match self.peek() {
            Some(Tok::Sym("-")) => {
                self.at += 1;
                Ok(Expr::Neg(Box::new(self.unary()?)))
            }
            Some(Tok::Sym("+")) => {
                self.at += 1;
                self.unary()
            }
            _ => {
                let mut e = self.atom()?;
                while self.peek() == Some(&Tok::Sym("%")) {
                    self.at += 1;
                    e = Expr::Percent(Box::new(e));
                }
                Ok(e)
            }
        }
    }

    fn atom(&mut self) -> Result<Expr, String> {
        let t = self.toks.get(self.at).cloned().ok_or("công thức bị cụt")?;
        self.at += 1;
        match t {
            Tok::Num(n) => Ok(Expr::Num(n)),
            Tok::Str(s) => Ok(Expr::Text(s)),
            Tok::Braced(name) => Ok(Expr::Row((self.row)(&name)?)),
            Tok::Sym("(") => {
                let e = self.expr(0)?;
                if !self.sym(")") {
                    return Err("thiếu dấu ) đóng".into());
                }
                Ok(e)
            }
            Tok::Word(w) => {
                if self.sym("(") {
                    let f = func(&w).ok_or_else(|| format!("hàm {w} chưa được hỗ trợ"))?;
                    let mut args = Vec::new();
                    if !self.sym(")") {
                        loop {
                            args.push(self.expr(0)?);
                            if self.sym(")") {
                                break;
                            }
                            if !self.sym(",") {
                                return Err(format!("thiếu dấu , hoặc ) trong {w}(…)"));
                            }
                        }
                    }
                    return Ok(Expr::Call(f, args));
                }
                if w.contains('!') {
                    return Err(format!("tham chiếu sang trang khác «{w}» chưa được hỗ trợ"));
                }
                match w.to_ascii_uppercase().as_str() {
                    "TRUE" => return Ok(Expr::Num(1.0)),
                    "FALSE" => return Ok(Expr::Num(0.0)),
                    _ => {}
                }
                if let Some((a, b)) = w.split_once(':') {
                    let (Some(a), Some(b)) = (cell_ref(a), cell_ref(b)) else { return Err(format!("vùng ô không hợp lệ «{w}»")) };
                    return Ok(Expr::Range((a.0.min(b.0), a.1.min(b.1)), (a.0.max(b.0), a.1.max(b.1))));
                }
                cell_ref(&w).map(|(r, c)| Expr::Cell(r, c)).ok_or_else(|| format!("tham chiếu ô không hợp lệ «{w}»"))
            }
            Tok::Sym(s) => Err(format!("ký hiệu «{s}» không đúng chỗ")),
        }
    }
}

/// Reads a cell formula (with or without its leading `=`).
pub fn cell_formula(text: &str) -> Result<Expr, String> {
    let t = text.trim().trim_start_matches('=');
    let no_rows = |name: &str| -> Result<usize, String> { Err(format!("«{{{name}}}» chỉ dùng trong form_rules")) };
    let mut p = Parser { toks: tokens(t)?, at: 0, row: &no_rows };
    let e = p.expr(0)?;
    if p.at != p.toks.len() {
        return Err("còn thừa ký tự sau công thức".into());
    }
    Ok(e)
}

/// Reads a rule of `form_rules`: two sides compared; `row` resolves each `{…}` to a form row.
pub fn rule(text: &str, row: &dyn Fn(&str) -> Result<usize, String>) -> Result<(Expr, Cmp, Expr), String> {
    let mut p = Parser { toks: tokens(text)?, at: 0, row };
    let left = p.expr(2)?;
    let cmp = match p.peek() {
        Some(Tok::Sym(s)) => match *s {
            "=" => Cmp::Eq,
            "<>" => Cmp::Ne,
            "<=" => Cmp::Le,
            ">=" => Cmp::Ge,
            "<" => Cmp::Lt,
            ">" => Cmp::Gt,
            _ => return Err("cần một phép so sánh (=, <=, >=, <, >, <>)".into()),
        },
        _ => return Err("cần một phép so sánh (=, <=, >=, <, >, <>)".into()),
    };
    p.at += 1;
    let right = p.expr(2)?;
    if p.at != p.toks.len() {
        return Err("còn thừa ký tự sau quy tắc".into());
    }
    Ok((left, cmp, right))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_formulas_are_read_with_precedence_ranges_and_functions() {
        assert_eq!(
            cell_formula("=F10/D10*100").unwrap(),
            Expr::Bin(Op::Mul, Box::new(Expr::Bin(Op::Div, Box::new(Expr::Cell(9, 5)), Box::new(Expr::Cell(9, 3)))), Box::new(Expr::Num(100.0)))
        );
        assert_eq!(cell_formula("SUM($E$11:E13)").unwrap(), Expr::Call(Func::Sum, vec![Expr::Range((10, 4), (12, 4))]));
        assert!(matches!(cell_formula(r#"IF(D10=0,"",F10/D10)"#).unwrap(), Expr::Call(Func::If, a) if a.len() == 3));
        assert!(cell_formula("Sheet2!A1").is_err());
        assert!(cell_formula("VLOOKUP(A1,B1:C9,2)").is_err());
    }

    #[test]
    fn a_rule_names_rows_in_braces() {
        let rows = ["Tổng", "1", "2", "3"];
        let find = |n: &str| rows.iter().position(|r| *r == n).ok_or_else(|| format!("không có dòng {n}"));
        let (l, c, r) = rule("{Tổng} = {1} + {2} + {3}", &find).unwrap();
        assert_eq!((l, c), (Expr::Row(0), Cmp::Eq));
        assert!(matches!(r, Expr::Bin(Op::Add, ..)));
        assert_eq!(rule("{2} <= {1}", &find).unwrap().1, Cmp::Le);
        assert!(rule("{9} <= {1}", &find).unwrap_err().contains("không có dòng 9"));
        assert!(rule("{1} + {2}", &find).is_err());
    }
}
