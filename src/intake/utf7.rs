//! IMAP's modified UTF-7 for mailbox names (RFC 3501 §5.1.3): how a folder called `Đã xử lý`
//! — as the province's Zimbra or a clerk's Thunderbird names it — goes over the wire
//! (`&ARAA4w- x&Hu0- l&AP0-`). Servers without `UTF8=ACCEPT` (Dovecot 2.3, Zimbra, Exchange)
//! refuse raw UTF-8 there.

use base64::Engine;

/// RFC 3501's base64: `,` instead of `/`, no padding.
const B64: base64::engine::GeneralPurpose =
    base64::engine::GeneralPurpose::new(&base64::alphabet::IMAP_MUTF7, base64::engine::general_purpose::NO_PAD);

/// A mailbox name in modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run: Vec<u8> = Vec::new();
    let flush = |run: &mut Vec<u8>, out: &mut String| {
        if !run.is_empty() {
            out.push('&');
            out.push_str(&B64.encode(&run[..]));
            out.push('-');
            run.clear();
        }
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut run, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                run.extend_from_slice(&u.to_be_bytes());
            }
        }
    }
    flush(&mut run, &mut out);
    out
}

/// A mailbox name read from the server (LIST); a name that is not valid modified UTF-7 is
/// returned as it came.
pub fn decode(wire: &str) -> String {
    fn inner(wire: &str) -> Option<String> {
        let mut out = String::with_capacity(wire.len());
        let mut rest = wire;
        while let Some(i) = rest.find('&') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let end = after.find('-')?;
            if end == 0 {
                out.push('&');
            } else {
                let bytes = B64.decode(&after[..end]).ok()?;
                if bytes.len() % 2 != 0 {
                    return None;
                }
                let units: Vec<u16> = bytes.chunks(2).map(|p| u16::from_be_bytes([p[0], p[1]])).collect();
                out.push_str(&String::from_utf16(&units).ok()?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Some(out)
    }
    inner(wire).unwrap_or_else(|| wire.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_folder_names_go_over_the_wire_in_modified_utf7_and_come_back() {
        for (name, wire) in [
            ("Đã xử lý", "&ARAA4w- x&Hu0- l&AP0-"),
            ("INBOX", "INBOX"),
            ("Báo cáo/Quý I", "B&AOE-o c&AOE-o/Qu&AP0- I"),
            ("A&B", "A&-B"),
            ("日本語", "&ZeVnLIqe-"),
            ("😀 thư", "&2D3eAA- th&AbA-"),
        ] {
            assert_eq!(encode(name), wire, "{name}");
            assert_eq!(decode(wire), name, "{wire}");
        }
    }

    #[test]
    fn a_name_that_is_not_modified_utf7_is_kept_as_it_came() {
        assert_eq!(decode("&ZeVnLIqe"), "&ZeVnLIqe");
        assert_eq!(decode("a&!!-"), "a&!!-");
    }
}
