//! `multipart/form-data` as browsers send a file (RFC 7578): the parts of a body whose size the
//! route already bounded. Only what the console's one upload needs — named text fields and one
//! file — without another crate.

/// One part of the form: its field name, the file's name when it is a file, its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub data: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}

/// A parameter of `Content-Disposition` (`name="csrf"`), quoted or not; `%22` and `\"` are a
/// quote inside it, as browsers write one.
fn param(header: &str, key: &str) -> Option<String> {
    let lower = header.to_ascii_lowercase();
    let mut at = 0;
    while let Some(i) = lower[at..].find(&format!("{key}=")) {
        let start = at + i;
        // `name=` must not be the end of `filename=`.
        let before = lower[..start].chars().last();
        at = start + key.len() + 1;
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '*') {
            continue;
        }
        let rest = &header[at..];
        let value = if let Some(q) = rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = q.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => out.extend(chars.next()),
                    '"' => break,
                    c => out.push(c),
                }
            }
            out
        } else {
            rest.split(';').next().unwrap_or("").trim().to_string()
        };
        return Some(value.replace("%22", "\""));
    }
    None
}

/// The parts of `body`, or None when it is not a well-formed form of `content_type`.
pub fn parse(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let ct = content_type.trim();
    if !ct.to_ascii_lowercase().starts_with("multipart/form-data") {
        return None;
    }
    let boundary = param(ct, "boundary").filter(|b| !b.is_empty() && b.len() <= 200)?;
    let delim = format!("--{boundary}").into_bytes();
    let next = format!("\r\n--{boundary}").into_bytes();
    let mut at = find(body, &delim, 0)? + delim.len();
    let mut parts = Vec::new();
    loop {
        if body.get(at..at + 2) == Some(b"--") {
            return Some(parts);
        }
        if body.get(at..at + 2) != Some(b"\r\n") {
            return None;
        }
        at += 2;
        let head_end = find(body, b"\r\n\r\n", at)?;
        let head = String::from_utf8_lossy(&body[at..head_end]).into_owned();
        let data_start = head_end + 4;
        let data_end = find(body, &next, data_start)?;
        let disposition = head.lines().find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))?;
        let name = param(disposition, "name")?;
        let filename = param(disposition, "filename").filter(|f| !f.is_empty());
        parts.push(Part { name, filename, data: body[data_start..data_end].to_vec() });
        if parts.len() > 32 {
            return None;
        }
        at = data_end + next.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browsers_form_with_a_vietnamese_file_name_is_read_into_its_parts() {
        let body = "------WebKitFormBoundaryX\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n------WebKitFormBoundaryX\r\nContent-Disposition: form-data; name=\"letter\"; filename=\"Công văn 45.docx\"\r\nContent-Type: application/octet-stream\r\n\r\nPK\u{3}\u{4}\r\n--data\r\n------WebKitFormBoundaryX--\r\n";
        let parts = parse("multipart/form-data; boundary=----WebKitFormBoundaryX", body.as_bytes()).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!((parts[0].name.as_str(), parts[0].data.as_slice()), ("csrf", b"abc".as_slice()));
        assert_eq!(parts[1].filename.as_deref(), Some("Công văn 45.docx"));
        assert_eq!(parts[1].data, "PK\u{3}\u{4}\r\n--data".as_bytes(), "a line beginning with -- inside the file is the file's");
    }

    #[test]
    fn a_body_that_is_not_a_form_or_is_cut_short_is_refused() {
        assert!(parse("application/x-www-form-urlencoded", b"a=b").is_none());
        assert!(parse("multipart/form-data; boundary=X", b"--X\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end").is_none());
        assert!(parse("multipart/form-data", b"--X--").is_none(), "no boundary");
    }
}
