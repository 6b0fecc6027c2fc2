//! Format by content, and zip packages read within limits.
//!
//! A part's format is decided by its bytes (magic numbers, and for a zip the OOXML package's
//! entries), never by its name or MIME type. Every inflation is bounded: entry count, declared
//! sizes and compression ratio are checked before inflating, and the inflater itself is capped
//! because a zip's declared sizes can lie.

use super::ParseError;
use crate::domain::rules::Limits;
use crate::domain::Format;
use std::io::{Cursor, Read};

const OLE_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Decides the format of `data` by its content.
pub fn sniff(data: &[u8]) -> Format {
    if data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06") {
        return match zip::ZipArchive::new(Cursor::new(data)) {
            Ok(z) => {
                let names: Vec<&str> = z.file_names().collect();
                if names.iter().any(|n| *n == "word/document.xml") || names.iter().any(|n| n.starts_with("word/")) {
                    Format::Docx
                } else if names.iter().any(|n| n.starts_with("xl/")) {
                    Format::Xlsx
                } else if names.contains(&"mimetype") && names.contains(&"content.xml") {
                    // OpenDocument: its first entry, stored, names the kind.
                    let head = &data[..data.len().min(200)];
                    if memfind(head, b"opendocument.text").is_some() {
                        Format::Odt
                    } else if memfind(head, b"opendocument.spreadsheet").is_some() {
                        Format::Ods
                    } else {
                        Format::Zip
                    }
                } else {
                    Format::Zip
                }
            }
            // A truncated package: guess from the local headers so the error names the right reader.
            Err(_) => {
                let head = &data[..data.len().min(64 * 1024)];
                if memfind(head, b"word/").is_some() {
                    Format::Docx
                } else if memfind(head, b"xl/").is_some() {
                    Format::Xlsx
                } else {
                    Format::Zip
                }
            }
        };
    }
    if data.starts_with(b"Rar!\x1a\x07") {
        return Format::Rar;
    }
    if data.starts_with(&[b'7', b'z', 0xBC, 0xAF, 0x27, 0x1C]) {
        return Format::SevenZ;
    }
    if data.starts_with(&OLE_MAGIC) {
        // An OLE2 compound file: told apart by its streams, not by words found anywhere in it
        // (a Word file may well say "Book"): Word 97 has "WordDocument", Excel "Workbook" (BIFF8)
        // or "Book" (BIFF5), in any case.
        let streams = ole_streams(data);
        let has = |n: &str| streams.iter().any(|s| s.eq_ignore_ascii_case(n));
        if has("WordDocument") {
            return Format::Doc;
        }
        if has("Workbook") || has("Book") {
            return Format::Xls;
        }
        return Format::Other;
    }
    // A PDF may have a few bytes of junk before its header (readers accept up to 1024).
    if memfind(&data[..data.len().min(1024)], b"%PDF-").is_some() {
        return Format::Pdf;
    }
    if data.starts_with(b"{\\rtf") {
        return Format::Rtf;
    }
    let image_magic: [&[u8]; 6] = [b"\xFF\xD8\xFF", b"\x89PNG\r\n\x1a\n", b"II*\0", b"MM\0*", b"GIF87a", b"GIF89a"];
    if image_magic.iter().any(|m| data.starts_with(m)) && data.len() > 32 {
        return Format::Image;
    }
    Format::Other
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The stream names in an OLE2 compound file's directory. Directory entries are 128 bytes and
/// sectors 512 or 4096, so every entry starts at a multiple of 128 after the 512-byte header: each
/// such slot holding a plausible stream entry (type 2, a name length that fits, UTF-16 text ending
/// in NUL) is read, without following the allocation tables a damaged file may have wrong.
/// An Office file saved with a password: OOXML encrypted into an OLE2 wrapper
/// ("EncryptedPackage", MS-OFFCRYPTO), which no reader opens without the password.
pub fn password_protected(data: &[u8]) -> bool {
    data.starts_with(&OLE_MAGIC) && ole_streams(data).iter().any(|s| s.eq_ignore_ascii_case("EncryptedPackage"))
}

/// A Word 97 file saved with a password: its File Information Block (the start of the
/// `WordDocument` stream) has `fEncrypted` set (MS-DOC 2.5.2).
pub fn word97_encrypted(data: &[u8]) -> bool {
    let Ok(mut cf) = cfb::CompoundFile::open(Cursor::new(data)) else { return false };
    let Ok(mut s) = cf.open_stream("/WordDocument") else { return false };
    let mut fib = [0u8; 12];
    if s.read_exact(&mut fib).is_err() {
        return false;
    }
    u16::from_le_bytes([fib[10], fib[11]]) & 0x0100 != 0
}

fn ole_streams(data: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 512;
    while at + 128 <= data.len() {
        let e = &data[at..at + 128];
        let len = u16::from_le_bytes([e[64], e[65]]) as usize;
        if e[66] == 2 && (4..=64).contains(&len) && len % 2 == 0 && e[len - 2] == 0 && e[len - 1] == 0 {
            let units: Vec<u16> = e[..len - 2].chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
            if let Ok(name) = String::from_utf16(&units) {
                if !name.is_empty() && !name.contains('\0') {
                    out.push(name);
                }
            }
        }
        at += 128;
    }
    out
}

/// Checks an archive's list — (name, unpacked size, packed size) of each entry, as the archive
/// declares them — against the limits before anything is unpacked: entry count, total size,
/// and the ratio of a large entry (a zip bomb). Zip, RAR and 7z alike.
pub fn check_entries<'a>(entries: impl ExactSizeIterator<Item = (&'a str, u64, u64)>, limits: &Limits) -> Result<(), ParseError> {
    if entries.len() > limits.zip_entries {
        return Err(ParseError::Limit(format!("tệp nén chứa {} tệp, vượt giới hạn {}", entries.len(), limits.zip_entries)));
    }
    let cap = limits.inflated_mb * 1024 * 1024;
    let mut total: u64 = 0;
    for (name, size, packed) in entries {
        let comp = packed.max(1);
        total = total.saturating_add(size);
        if total > cap {
            return Err(ParseError::Limit(format!("tệp nén khi giải nén vượt {} MB (có thể là zip bomb)", limits.inflated_mb)));
        }
        if size > 1024 * 1024 && size / comp > limits.compression_ratio {
            return Err(ParseError::Limit(format!(
                "tệp `{name}` trong tệp nén giải nén ra {} MB từ {} KB (tỉ lệ {}:1, vượt giới hạn {}:1; có thể là zip bomb)",
                size / (1024 * 1024),
                comp / 1024,
                size / comp,
                limits.compression_ratio
            )));
        }
    }
    Ok(())
}

/// Checks a zip's central directory against the limits before anything is inflated.
pub fn check_zip(data: &[u8], limits: &Limits) -> Result<(), ParseError> {
    let mut z = zip::ZipArchive::new(Cursor::new(data)).map_err(|e| ParseError::Corrupt(format!("not a readable zip package ({e})")))?;
    let mut list = Vec::with_capacity(z.len().min(limits.zip_entries + 1));
    for i in 0..z.len() {
        if list.len() > limits.zip_entries {
            break;
        }
        let f = z.by_index_raw(i).map_err(|e| ParseError::Corrupt(format!("entry {i} is unreadable ({e})")))?;
        list.push((f.name().to_string(), f.size(), f.compressed_size()));
    }
    if z.len() > limits.zip_entries {
        return Err(ParseError::Limit(format!("tệp nén chứa {} tệp, vượt giới hạn {}", z.len(), limits.zip_entries)));
    }
    check_entries(list.iter().map(|(n, s, p)| (n.as_str(), *s, *p)), limits)
}

/// Reads one entry, inflating at most `cap` bytes whatever the header claims.
pub fn read_entry(data: &[u8], name: &str, cap: u64) -> Result<Option<Vec<u8>>, ParseError> {
    let mut z = zip::ZipArchive::new(Cursor::new(data)).map_err(|e| ParseError::Corrupt(format!("not a readable zip package ({e})")))?;
    let f = match z.by_name(name) {
        Ok(f) => f,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(ParseError::Corrupt(format!("`{name}` is unreadable ({e})"))),
    };
    let mut buf = Vec::with_capacity(f.size().min(cap) as usize);
    let n = f
        .take(cap + 1)
        .read_to_end(&mut buf)
        .map_err(|e| ParseError::Corrupt(format!("`{name}` cannot be inflated ({e})")))?;
    if n as u64 > cap {
        return Err(ParseError::Limit(format!("tệp `{name}` khi giải nén vượt {} MB", cap / (1024 * 1024))));
    }
    Ok(Some(buf))
}

/// Unpacks every file of a zip attachment (within limits), names decoded as UTF-8 or CP437.
pub fn unzip_all(data: &[u8], limits: &Limits) -> Result<Vec<(String, Vec<u8>)>, ParseError> {
    check_zip(data, limits)?;
    let mut z = zip::ZipArchive::new(Cursor::new(data)).map_err(|e| ParseError::Corrupt(e.to_string()))?;
    let cap = limits.inflated_mb * 1024 * 1024;
    let per_file = limits.attachment_mb * 1024 * 1024;
    let mut total = 0u64;
    let mut out = Vec::new();
    for i in 0..z.len() {
        let f = z.by_index(i).map_err(|e| ParseError::Corrupt(format!("entry {i} is unreadable ({e})")))?;
        if f.is_dir() {
            continue;
        }
        let name = crate::text::nfc(f.name().rsplit('/').next().unwrap_or(f.name()));
        if name.starts_with("._") || f.name().starts_with("__MACOSX/") {
            continue;
        }
        let mut buf = Vec::new();
        let n = f
            .take(per_file + 1)
            .read_to_end(&mut buf)
            .map_err(|e| ParseError::Corrupt(format!("`{name}` cannot be inflated ({e})")))? as u64;
        if n > per_file {
            return Err(ParseError::Limit(format!("tệp `{name}` khi giải nén vượt {} MB", limits.attachment_mb)));
        }
        total += n;
        if total > cap {
            return Err(ParseError::Limit(format!("tệp nén khi giải nén vượt {} MB", limits.inflated_mb)));
        }
        out.push((name, buf));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (n, d) in entries {
            w.start_file(*n, zip::write::SimpleFileOptions::default()).unwrap();
            w.write_all(d).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn a_docx_is_known_by_its_package_not_its_name() {
        let z = zip_of(&[("word/document.xml", b"<w:document/>")]);
        assert_eq!(sniff(&z), Format::Docx);
        let x = zip_of(&[("xl/workbook.xml", b"<workbook/>")]);
        assert_eq!(sniff(&x), Format::Xlsx);
        let plain = zip_of(&[("a.txt", b"hi")]);
        assert_eq!(sniff(&plain), Format::Zip);
        assert_eq!(sniff(b"%PDF-1.4"), Format::Pdf);
        assert_eq!(sniff(b"hello"), Format::Other);
        assert_eq!(sniff(b"Rar!\x1a\x07\x01\x00rest"), Format::Rar, "RAR 5");
        assert_eq!(sniff(b"Rar!\x1a\x07\x00rest"), Format::Rar, "RAR 1.5 to 4");
        assert_eq!(sniff(b"7z\xbc\xaf\x27\x1c\x00\x04"), Format::SevenZ);
    }

    /// An OLE2 file with a directory sector holding the given streams, and `body` in a data sector.
    fn ole_with(streams: &[&str], body: &[u8]) -> Vec<u8> {
        let mut f = OLE_MAGIC.to_vec();
        f.resize(512, 0);
        let mut dir = vec![0u8; 512];
        for (i, name) in std::iter::once("Root Entry").chain(streams.iter().copied()).enumerate() {
            let e = &mut dir[i * 128..(i + 1) * 128];
            let units: Vec<u8> = name.encode_utf16().chain([0]).flat_map(|u| u.to_le_bytes()).collect();
            e[..units.len()].copy_from_slice(&units);
            e[64..66].copy_from_slice(&(units.len() as u16).to_le_bytes());
            e[66] = if i == 0 { 5 } else { 2 };
        }
        f.extend(dir);
        let mut data = body.to_vec();
        data.resize(data.len().div_ceil(512) * 512, 0);
        f.extend(data);
        f
    }

    #[test]
    fn word_97_is_told_from_excel_97_by_its_streams_whatever_its_text_says() {
        let book: Vec<u8> = "Workbook Book".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        assert_eq!(sniff(&ole_with(&["WordDocument", "1Table", "\u{5}SummaryInformation"], &book)), Format::Doc, "a Word file whose text says Workbook");
        assert_eq!(sniff(&ole_with(&["Workbook"], b"")), Format::Xls);
        assert_eq!(sniff(&ole_with(&["WORKBOOK"], b"")), Format::Xls, "stream names are case-insensitive");
        assert_eq!(sniff(&ole_with(&["Book"], b"")), Format::Xls, "Excel 5 (BIFF5)");
        assert_eq!(sniff(&ole_with(&["PowerPoint Document"], b"")), Format::Other, "neither Word nor Excel");
        assert_eq!(sniff(&OLE_MAGIC), Format::Other, "a bare header");
    }

    #[test]
    fn a_word_97_file_saved_with_a_password_is_known_by_its_fib() {
        let word = |flags: u16| {
            let mut cf = cfb::CompoundFile::create(Cursor::new(Vec::new())).unwrap();
            let mut fib = vec![0xEC, 0xA5, 0xC1, 0x00, 0, 0, 0, 0, 0, 0];
            fib.extend(flags.to_le_bytes());
            fib.resize(1024, 0);
            cf.create_stream("/WordDocument").unwrap().write_all(&fib).unwrap();
            cf.flush().unwrap();
            cf.into_inner().into_inner()
        };
        assert!(word97_encrypted(&word(0x0100 | 0x0200)));
        assert!(!word97_encrypted(&word(0x0200)));
        assert_eq!(sniff(&word(0x0100)), Format::Doc);
        assert!(!word97_encrypted(b"not ole"));
    }

    #[test]
    fn a_highly_compressed_entry_is_refused_before_inflating() {
        let big = vec![b'a'; 50 * 1024 * 1024];
        let z = zip_of(&[("word/document.xml", &big)]);
        let limits = Limits::default();
        let e = check_zip(&z, &limits).unwrap_err().to_string();
        assert!(e.contains("zip bomb"), "{e}");
    }

    #[test]
    fn reading_an_entry_stops_at_the_cap() {
        let z = zip_of(&[("a.xml", &vec![b'x'; 5000])]);
        assert!(read_entry(&z, "a.xml", 1000).is_err());
        assert_eq!(read_entry(&z, "a.xml", 10_000).unwrap().unwrap().len(), 5000);
        assert!(read_entry(&z, "missing.xml", 10).unwrap().is_none());
    }
}
