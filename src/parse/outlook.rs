//! What Outlook wraps a mail's files in: TNEF (`winmail.dat`, `application/ms-tnef`), whose
//! attachments are the mail's own, and an attached Outlook message (`.msg`, an OLE2 compound
//! file of MAPI properties), which is a forwarded mail with its own sender, subject, text and
//! files (SPEC §6). Both are unwrapped at the MIME stage, so every reader after it sees plain
//! attachments.
//!
//! Both formats are read here from their published layouts (MS-OXTNEF, MS-OXMSG) rather than
//! by a crate: TNEF is a flat list of attributes; a `.msg`'s streams are read with `cfb`. Every
//! length is checked against what is left, so a damaged file gives what could be read (a bad
//! checksum or garbage after the end loses nothing before it), never a panic.

use std::io::{Cursor, Read};

/// The first four bytes of every TNEF stream.
pub const TNEF_SIGNATURE: [u8; 4] = [0x78, 0x9F, 0x3E, 0x22];

/// What an Outlook wrapper held.
#[derive(Debug, Default, Clone)]
pub struct Unwrapped {
    pub subject: Option<String>,
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub message_id: Option<String>,
    /// The transport headers of a received `.msg` (its `From:`, `Date:`, `Message-ID:` as sent).
    pub headers: Option<String>,
    pub body: Option<String>,
    /// The HTML text, when Outlook kept no plain one.
    pub html: Option<String>,
    /// Files as (name, bytes), names as Outlook kept them (the long ones when there are).
    pub attachments: Vec<(String, Vec<u8>)>,
    /// How many TNEF attributes were read (none: not readable at all).
    pub attributes: usize,
}

/// Whether `data` is a TNEF stream (whatever its name).
pub fn is_tnef(data: &[u8]) -> bool {
    data.len() >= 6 && data[..4] == TNEF_SIGNATURE
}

/// Whether `data` is an Outlook message: an OLE2 file holding MAPI property streams.
pub fn is_msg(data: &[u8]) -> bool {
    const OLE: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    if !data.starts_with(&OLE) {
        return false;
    }
    // The property stream's name in UTF-16, as the directory holds it.
    let needle: Vec<u8> = "__properties_version1.0".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    data.windows(needle.len()).any(|w| w == needle.as_slice())
}

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    d.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    d.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// 8-bit text as Outlook wrote it: UTF-8 when it is, else Windows-1252; up to the first NUL.
fn ansi(b: &[u8]) -> String {
    let b = &b[..b.iter().position(|c| *c == 0).unwrap_or(b.len())];
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::WINDOWS_1252.decode(b).0.into_owned(),
    }
}

/// UTF-16LE text up to the first NUL.
fn utf16(b: &[u8]) -> String {
    let units: Vec<u16> = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).take_while(|u| *u != 0).collect();
    String::from_utf16_lossy(&units)
}

// MAPI property types and the properties read here.
const PT_STRING8: u16 = 0x001E;
const PT_UNICODE: u16 = 0x001F;
const PT_BINARY: u16 = 0x0102;
const PT_OBJECT: u16 = 0x000D;
const PR_SUBJECT: u16 = 0x0037;
const PR_BODY: u16 = 0x1000;
const PR_BODY_HTML: u16 = 0x1013;
const PR_ATTACH_DATA: u16 = 0x3701;
const PR_ATTACH_FILENAME: u16 = 0x3704;
const PR_ATTACH_LONG_FILENAME: u16 = 0x3707;
const PR_DISPLAY_NAME: u16 = 0x3001;

/// One MAPI property of a TNEF property list: its id, type and first value's bytes.
struct Prop<'a> {
    id: u16,
    ty: u16,
    value: &'a [u8],
}

impl Prop<'_> {
    fn text(&self) -> Option<String> {
        match self.ty {
            PT_STRING8 => Some(ansi(self.value)),
            PT_UNICODE => Some(utf16(self.value)),
            _ => None,
        }
    }
}

/// The properties of a TNEF MAPI property list (MS-OXTNEF 2.1.3.4); what is past a damaged
/// length is left out.
fn mapi_props(d: &[u8]) -> Vec<Prop<'_>> {
    let mut out = Vec::new();
    let Some(count) = u32_at(d, 0) else { return out };
    let mut at = 4usize;
    for _ in 0..count.min(10_000) {
        let (Some(ty), Some(id)) = (u16_at(d, at), u16_at(d, at + 2)) else { break };
        at += 4;
        if id >= 0x8000 {
            // A named property: its GUID, then a number or a name.
            let Some(kind) = u32_at(d, at + 16) else { break };
            at += 20;
            if kind == 0 {
                at += 4;
            } else {
                let Some(len) = u32_at(d, at) else { break };
                at = at.saturating_add(4).saturating_add((len as usize).div_ceil(4) * 4);
            }
        }
        let multi = ty & 0x1000 != 0;
        let base = ty & !0x1000;
        let variable = matches!(base, PT_STRING8 | PT_UNICODE | PT_BINARY | PT_OBJECT);
        let fixed = match base {
            0x0002 | 0x0003 | 0x0004 | 0x000A | 0x000B => 4,
            0x0005 | 0x0006 | 0x0007 | 0x0014 | 0x0040 => 8,
            0x0048 => 16,
            0x0001 => 0,
            _ if variable => 0,
            // A type this reader does not know: nothing after it can be placed.
            _ => return out,
        };
        let n = if multi || variable {
            let Some(n) = u32_at(d, at) else { break };
            at += 4;
            n as usize
        } else {
            1
        };
        let mut first: Option<&[u8]> = None;
        for _ in 0..n.min(100_000) {
            if variable {
                let Some(len) = u32_at(d, at) else { return out };
                let start = at + 4;
                let Some(end) = start.checked_add(len as usize).filter(|e| *e <= d.len()) else { return out };
                first.get_or_insert(&d[start..end]);
                at = start + (len as usize).div_ceil(4) * 4;
            } else {
                let Some(v) = d.get(at..at + fixed) else { return out };
                first.get_or_insert(v);
                at += fixed;
            }
        }
        if let Some(v) = first {
            // An object's value starts with the interface it is (16 bytes).
            let value = if base == PT_OBJECT { v.get(16..).unwrap_or(&[]) } else { v };
            out.push(Prop { id, ty: base, value });
        }
    }
    out
}

/// Reads a TNEF stream: its attachments (long names where Outlook kept them) and body.
/// `depth` bounds TNEF nested in an attachment.
pub fn read_tnef(data: &[u8]) -> Unwrapped {
    let mut out = Unwrapped::default();
    tnef_into(data, 0, &mut out);
    out
}

fn tnef_into(data: &[u8], depth: usize, out: &mut Unwrapped) {
    if !is_tnef(data) || depth > 2 {
        return;
    }
    /// An attachment being read: its names by preference and its bytes.
    #[derive(Default)]
    struct Att {
        title: Option<String>,
        long: Option<String>,
        data: Option<Vec<u8>>,
    }
    let mut atts: Vec<Att> = Vec::new();
    let mut at = 6usize;
    while let (Some(level), Some(attr), Some(len)) = (data.get(at).copied(), u32_at(data, at + 1), u32_at(data, at + 5)) {
        let start = at + 9;
        let Some(end) = start.checked_add(len as usize).filter(|e| *e <= data.len()) else { break };
        if !matches!(level, 1 | 2) {
            break;
        }
        let v = &data[start..end];
        // The checksum after the value is not checked: a wrong one loses nothing we can read.
        at = end + 2;
        out.attributes += 1;
        match (level, attr & 0xFFFF) {
            (1, 0x8004) => out.subject = Some(ansi(v)).filter(|s| !s.trim().is_empty()),
            (1, 0x800C) => {
                if out.body.is_none() {
                    out.body = Some(ansi(v)).filter(|s| !s.trim().is_empty());
                }
            }
            (1, 0x9003) => {
                for p in mapi_props(v) {
                    match p.id {
                        PR_BODY if out.body.is_none() => out.body = p.text().filter(|s| !s.trim().is_empty()),
                        PR_SUBJECT if out.subject.is_none() => out.subject = p.text().filter(|s| !s.trim().is_empty()),
                        PR_BODY_HTML if out.html.is_none() => out.html = p.text().or_else(|| (p.ty == PT_BINARY).then(|| ansi(p.value))).filter(|s| !s.trim().is_empty()),
                        _ => {}
                    }
                }
            }
            // attAttachRendData opens an attachment.
            (2, 0x9002) => atts.push(Att::default()),
            (2, id) => {
                if atts.is_empty() {
                    atts.push(Att::default());
                }
                let a = atts.last_mut().expect("one at least");
                match id {
                    0x8010 => a.title = Some(ansi(v)).filter(|s| !s.trim().is_empty()),
                    0x800F => a.data = Some(v.to_vec()),
                    0x9005 => {
                        for p in mapi_props(v) {
                            match p.id {
                                PR_ATTACH_LONG_FILENAME => a.long = p.text().filter(|s| !s.trim().is_empty()).or(a.long.take()),
                                PR_ATTACH_FILENAME | PR_DISPLAY_NAME if a.title.is_none() => a.title = p.text().filter(|s| !s.trim().is_empty()),
                                PR_ATTACH_DATA if a.data.is_none() && matches!(p.ty, PT_BINARY | PT_OBJECT) => a.data = Some(p.value.to_vec()),
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    for (i, a) in atts.into_iter().enumerate() {
        let Some(bytes) = a.data else { continue };
        // An attached Outlook item is itself TNEF: its files are the mail's too.
        if is_tnef(&bytes) {
            tnef_into(&bytes, depth + 1, out);
            continue;
        }
        let name = a.long.or(a.title).map(|n| n.trim().to_string()).unwrap_or_else(|| format!("winmail-{}", i + 1));
        out.attachments.push((name, bytes));
    }
}

/// Reads an Outlook message (`.msg`): sender, subject, text, transport headers and files
/// (an attached message's files included, one level down).
pub fn read_msg(data: &[u8]) -> Option<Unwrapped> {
    let mut cf = cfb::CompoundFile::open(Cursor::new(data)).ok()?;
    let mut out = Unwrapped::default();
    msg_into(&mut cf, "/", 0, &mut out);
    Some(out)
}

/// The bytes of one stream, capped at what the file itself holds.
fn stream(cf: &mut cfb::CompoundFile<Cursor<&[u8]>>, path: &str, cap: u64) -> Option<Vec<u8>> {
    let mut s = cf.open_stream(path).ok()?;
    let mut v = Vec::new();
    (&mut s).take(cap).read_to_end(&mut v).ok()?;
    Some(v)
}

/// A string property of the storage at `dir`: its Unicode stream, else its 8-bit one.
fn msg_text(cf: &mut cfb::CompoundFile<Cursor<&[u8]>>, dir: &str, id: u16, cap: u64) -> Option<String> {
    let base = dir.trim_end_matches('/');
    if let Some(b) = stream(cf, &format!("{base}/__substg1.0_{id:04X}001F"), cap) {
        return Some(utf16(&b)).filter(|s| !s.trim().is_empty());
    }
    stream(cf, &format!("{base}/__substg1.0_{id:04X}001E"), cap).map(|b| ansi(&b)).filter(|s| !s.trim().is_empty())
}

fn msg_into(cf: &mut cfb::CompoundFile<Cursor<&[u8]>>, dir: &str, depth: usize, out: &mut Unwrapped) {
    const TEXT_CAP: u64 = 1024 * 1024;
    let data_cap = 64 * 1024 * 1024;
    if depth == 0 {
        out.subject = msg_text(cf, dir, PR_SUBJECT, TEXT_CAP);
        out.body = msg_text(cf, dir, PR_BODY, TEXT_CAP);
        if out.body.is_none() {
            out.html = stream(cf, &format!("{}/__substg1.0_10130102", dir.trim_end_matches('/')), TEXT_CAP).map(|b| ansi(&b)).filter(|s| !s.trim().is_empty());
        }
        out.headers = msg_text(cf, dir, 0x007D, TEXT_CAP);
        out.message_id = msg_text(cf, dir, 0x1035, TEXT_CAP);
        // The sender's SMTP address where Outlook kept one (an Exchange address is not one).
        out.from = [0x5D01, 0x0C1F, 0x0065].iter().find_map(|id| msg_text(cf, dir, *id, TEXT_CAP).filter(|a| a.contains('@')));
        out.from_name = msg_text(cf, dir, 0x0C1A, TEXT_CAP).or_else(|| msg_text(cf, dir, 0x0042, TEXT_CAP));
    }
    let base = dir.trim_end_matches('/').to_string();
    let storages: Vec<String> = match cf.read_storage(if base.is_empty() { "/" } else { &base }) {
        Ok(entries) => entries.filter(|e| e.is_storage() && e.name().starts_with("__attach_version1.0_")).map(|e| e.path().to_string_lossy().into_owned()).take(1000).collect(),
        Err(_) => return,
    };
    for (i, att) in storages.iter().enumerate() {
        let name = [PR_ATTACH_LONG_FILENAME, PR_ATTACH_FILENAME, PR_DISPLAY_NAME].iter().find_map(|id| msg_text(cf, att, *id, TEXT_CAP));
        match stream(cf, &format!("{att}/__substg1.0_37010102"), data_cap) {
            Some(bytes) => out.attachments.push((name.map(|n| n.trim().to_string()).unwrap_or_else(|| format!("outlook-{}", i + 1)), bytes)),
            None => {
                // An attached message is a storage of its own: its files are read one level down.
                let inner = format!("{att}/__substg1.0_3701000D");
                if depth < 1 && cf.is_storage(&inner) {
                    msg_into(cf, &inner, depth + 1, out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TNEF attribute: level, id (with its type), value, checksum.
    fn attr(level: u8, id: u32, v: &[u8]) -> Vec<u8> {
        let mut a = vec![level];
        a.extend(id.to_le_bytes());
        a.extend((v.len() as u32).to_le_bytes());
        a.extend(v);
        let sum: u32 = v.iter().map(|b| *b as u32).sum();
        a.extend(((sum & 0xFFFF) as u16).to_le_bytes());
        a
    }

    fn unicode_prop(id: u16, s: &str) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend(PT_UNICODE.to_le_bytes());
        p.extend(id.to_le_bytes());
        p.extend(1u32.to_le_bytes());
        let text: Vec<u8> = s.encode_utf16().chain([0]).flat_map(|u| u.to_le_bytes()).collect();
        p.extend((text.len() as u32).to_le_bytes());
        let padded = text.len().div_ceil(4) * 4;
        p.extend(&text);
        p.resize(p.len() + padded - text.len(), 0);
        p
    }

    fn tnef_of(files: &[(&str, &str, &[u8])], body: &str) -> Vec<u8> {
        let mut t = TNEF_SIGNATURE.to_vec();
        t.extend([0x01, 0x00]);
        t.extend(attr(1, 0x0007_800C, body.as_bytes()));
        for (short, long, data) in files {
            t.extend(attr(2, 0x0006_9002, &[0; 14]));
            t.extend(attr(2, 0x0001_8010, format!("{short}\0").as_bytes()));
            t.extend(attr(2, 0x0006_800F, data));
            let mut props = 1u32.to_le_bytes().to_vec();
            props.extend(unicode_prop(PR_ATTACH_LONG_FILENAME, long));
            t.extend(attr(2, 0x0006_9005, &props));
        }
        t
    }

    #[test]
    fn a_winmail_dat_gives_its_files_with_their_long_vietnamese_names_and_its_body() {
        let t = tnef_of(&[("BAOCA~1.DOC", "Báo cáo quý I năm 2021.docx", b"PK\x03\x04 word"), ("BIEUMA~1.XLS", "Biểu mẫu số liệu.xlsx", b"PK\x03\x04 xl")], "Kính gửi Văn phòng");
        assert!(is_tnef(&t));
        let u = read_tnef(&t);
        let names: Vec<&str> = u.attachments.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Báo cáo quý I năm 2021.docx", "Biểu mẫu số liệu.xlsx"]);
        assert_eq!(u.attachments[0].1, b"PK\x03\x04 word");
        assert_eq!(u.body.as_deref(), Some("Kính gửi Văn phòng"));
    }

    #[test]
    fn a_damaged_winmail_dat_gives_what_comes_before_the_damage_and_never_panics() {
        let mut t = tnef_of(&[("A.DOC", "a.docx", b"first")], "");
        t.extend([2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]);
        assert_eq!(read_tnef(&t).attachments.len(), 1, "garbage at the end");
        for cut in 0..t.len() {
            let _ = read_tnef(&t[..cut]);
        }
        assert!(read_tnef(b"x").attachments.is_empty());
    }
}

#[cfg(test)]
mod fixtures {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tnefparse").join(name)).unwrap()
    }

    fn names(u: &Unwrapped) -> Vec<&str> {
        u.attachments.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn outlooks_own_test_files_give_their_files_under_their_long_names() {
        assert_eq!(names(&read_tnef(&fixture("one-file.tnef"))), ["AUTHORS"]);
        assert_eq!(names(&read_tnef(&fixture("two-files.tnef"))), ["AUTHORS", "README"]);
        assert_eq!(names(&read_tnef(&fixture("long-filename.tnef"))), ["allproductsmar2000.dat"], "the long name, not the 8.3 one");
        assert_eq!(names(&read_tnef(&fixture("umlaut.tnef")))[2], "UmlautAnhang-äüö.txt", "a Unicode name");
        assert_eq!(names(&read_tnef(&fixture("data-before-name.tnef"))), ["AUTOEXEC.BAT", "CONFIG.SYS", "boot.ini"], "the data before the name");
        let u = read_tnef(&fixture("missing-filenames.tnef"));
        assert_eq!(u.attachments.len(), 4, "{:?}", names(&u));
        let u = read_tnef(&fixture("MAPI_ATTACH_DATA_OBJ.tnef"));
        assert_eq!(names(&u), ["VIA_Nytt_1402.doc", "VIA_Nytt_1402.pdf", "VIA_Nytt_14021.htm"]);
        assert!(u.attachments[1].1.starts_with(b"%PDF"), "the file's own bytes");
        assert_eq!(u.subject.as_deref(), Some("Bodø-damer på vei!"));
    }

    #[test]
    fn a_winmail_dat_without_files_gives_its_text() {
        let u = read_tnef(&fixture("body.tnef"));
        assert!(u.attachments.is_empty());
        assert!(u.html.as_deref().is_some_and(|h| h.contains("<html") || h.contains("<HTML")), "{:?}", u.html);
        let u = read_tnef(&fixture("triples.tnef"));
        assert_eq!(u.body.as_deref(), Some("Sample description\r\n"));
        // Garbage after the last attribute, or a value running past the end: what came before stays.
        let mut t = fixture("one-file.tnef");
        t.extend(&fixture("garbage-at-end.tnef")[6..]);
        t.extend(b"\x02\xff\xff\xff\xff\xff\xff\xff\x7f trailing garbage");
        assert_eq!(names(&read_tnef(&t)), ["AUTHORS"]);
    }
}
