//! Bytes in, records out: MIME, containers, Word and Excel, the administrative header and the
//! extractors of SPEC §5. Nothing in here does I/O; the intake stage hands raw bytes in and
//! stores what comes out. Document extraction may run inside a parse worker process
//! ([`worker`]) so a parser that aborts or hangs costs one recorded error, never the daemon.

pub mod container;
pub mod docx;
pub mod external;
pub mod extract;
pub mod form;
pub mod header;
pub mod layout_table;
pub mod letter;
pub mod mime;
pub mod outlook;
pub mod plain;
pub mod sheet;
pub mod worker;

use crate::domain::rules::Limits;
use crate::domain::{Format, ParseStatus};
use crate::text::legacy::{self, Legacy};
use serde::{Deserialize, Serialize};

/// One block of a document in reading order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Block {
    Para(String),
    /// Rows of cells, already laid on the table grid (merged cells repeated).
    Table(Vec<Vec<String>>),
}

/// One sheet of a workbook: rows of cell text, merged regions filled with their value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sheet {
    pub name: String,
    pub rows: Vec<Vec<String>>,
    /// (row, column, value) of number cells with a fraction, in `rows`' positions.
    #[serde(default)]
    pub fractions: Vec<(u32, u32, f64)>,
}

/// A workbook sheet kept among a document's `tables` (the figures of a form are read from it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SheetInfo {
    /// Its index in `tables`.
    pub table: usize,
    pub name: String,
    /// (row, column, value) of its number cells with a fraction: their text alone (`1.234`)
    /// would read as thousands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fractions: Vec<(u32, u32, f64)>,
}

/// The administrative header of SPEC §5.1.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The issuing body (*tên cơ quan*), e.g. `BỆNH VIỆN ĐA KHOA TỈNH`.
    pub issuer: Option<String>,
    /// The body above it, e.g. `SỞ Y TẾ THANH HÓA`.
    pub parent: Option<String>,
    pub number: Option<String>,
    pub place: Option<String>,
    pub date: Option<String>,
    pub doc_type: Option<String>,
    pub summary: Option<String>,
    pub signer: Option<String>,
    pub signer_title: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreRow {
    pub stt: String,
    pub level: usize,
    pub name: String,
    pub max: Option<f64>,
    pub achieved: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub max_total: Option<f64>,
    pub self_total: Option<f64>,
    pub rows: usize,
    pub findings: Vec<String>,
    pub items: Vec<ScoreRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Commitments {
    pub count: usize,
    pub items: Vec<String>,
    pub evaluated: usize,
    pub tasks: Vec<String>,
    pub findings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub group: Option<String>,
    pub task: String,
    pub product: Option<String>,
    pub lead: Option<String>,
    pub partners: Option<String>,
    pub time_text: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tasks {
    pub count: usize,
    pub items: Vec<Task>,
}

/// Everything read from one attachment (or one entry of a zip attachment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub filename: String,
    /// The zip it came out of, when it did.
    pub container: Option<String>,
    pub format: Format,
    pub parse: ParseStatus,
    /// Why it could not be read, in Vietnamese, as the sender is told.
    pub error: Option<String>,
    /// The reader's own technical words for the operator (logs, audit, JSON), never mailed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub size: u64,
    pub sha256: String,
    pub header: Header,
    /// The document type and summary, or a sheet's title rows: where a period is read first.
    pub title: String,
    /// Body text (bounded) for matching.
    pub text: String,
    pub tables: Vec<Vec<Vec<String>>>,
    /// Which of `tables` are a workbook's sheets, with their names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sheets: Vec<SheetInfo>,
    pub score: Option<Score>,
    pub commitments: Option<Commitments>,
    pub tasks: Option<Tasks>,
    /// The text came from OCR (a scan or a photo), not from the file's own text.
    #[serde(default)]
    pub ocr: bool,
    /// A legacy Vietnamese encoding decoded (`tcvn3`, `vni`), if any.
    #[serde(default)]
    pub legacy_encoding: Option<String>,
    /// The program that turned the file into something readable (LibreOffice, pdftotext), for
    /// the evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted_by: Option<String>,
    /// The file itself is at fault — broken, or over a limit — so only a new file helps; not
    /// set for a whole file that could not be read here (a scan without legible text, a
    /// password, a format without a reader), which the message's own words may still place.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub broken: bool,
    /// The report kind whose form (SPEC §16) this document's table is, when it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form_of: Option<String>,
}

impl Document {
    pub fn empty(filename: &str, format: Format, data: &[u8]) -> Document {
        Document {
            filename: filename.to_string(),
            container: None,
            format,
            parse: ParseStatus::Skipped,
            error: None,
            detail: None,
            size: data.len() as u64,
            sha256: sha256_hex(data),
            header: Header::default(),
            title: String::new(),
            text: String::new(),
            tables: vec![],
            sheets: vec![],
            score: None,
            commitments: None,
            tasks: None,
            ocr: false,
            legacy_encoding: None,
            converted_by: None,
            broken: false,
            form_of: None,
        }
    }

    pub fn failed(mut self, why: impl Into<String>) -> Document {
        self.parse = ParseStatus::Error;
        self.error = Some(why.into());
        self
    }

    /// Failed, with the reader's technical words kept apart from what people read.
    pub fn failed_with(mut self, why: impl Into<String>, detail: impl Into<String>) -> Document {
        self.detail = Some(detail.into());
        self.failed(why)
    }

    /// Failed because the file is broken or over a limit (see `broken`).
    pub fn refused(mut self, why: impl Into<String>) -> Document {
        self.broken = true;
        self.failed(why)
    }

    fn failed_on(mut self, e: ParseError) -> Document {
        self.broken = matches!(e, ParseError::Corrupt(_) | ParseError::ReaderFailed(_) | ParseError::Limit(_));
        match e.detail() {
            Some(d) => self.failed_with(e.to_string(), d),
            None => self.failed(e.to_string()),
        }
    }
}

pub use crate::digest::sha256_hex;

/// Why a document could not be read. Each is told to the sender as its message says; a
/// corrupt file's technical cause (the library's words) is kept for the operator only.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("tệp bị hỏng hoặc không đầy đủ, không mở được")]
    Corrupt(String),
    /// Refused by a limit; the text says which, in Vietnamese.
    #[error("từ chối: {0}")]
    Limit(String),
    #[error("{0}")]
    Other(String),
    /// The reader itself failed on this file (a panic caught): told plainly, detail kept.
    #[error("tệp bị hỏng hoặc có cấu trúc lạ, hệ thống chưa đọc được")]
    ReaderFailed(String),
    /// Saved with a password: nothing is read without it.
    #[error("tệp Word/Excel được đặt mật khẩu nên không mở được; đề nghị gửi bản không đặt mật khẩu")]
    Protected,
    /// The program that reads this kind of file is not installed on the server.
    #[error("máy chủ của Văn phòng chưa có công cụ đọc loại tệp này: đã lưu tệp, chưa đọc được nội dung")]
    Missing(String),
}

impl ParseError {
    /// The technical cause, for logs and the audit trail.
    pub fn detail(&self) -> Option<String> {
        match self {
            ParseError::Corrupt(d) => Some(d.clone()),
            ParseError::ReaderFailed(d) => Some(format!("reader panicked: {d}")),
            ParseError::Missing(d) => Some(d.clone()),
            _ => None,
        }
    }
}

/// How much body text a document keeps for matching.
pub const MAX_TEXT: usize = 256 * 1024;
/// How many table cells a `report` document keeps as records.
pub const MAX_TABLE_CELLS: usize = 20_000;

/// Reads one attachment: decides its format by content, unpacks a zip within limits, and runs the
/// readers and extractors. A zip gives one document per entry, plus one for itself.
pub fn read_attachment(filename: &str, data: &[u8], limits: &Limits) -> Vec<Document> {
    let mut out = Vec::new();
    read_into(filename, None, data, limits, 0, &mut out);
    bound(&mut out, limits);
    out
}

/// What one attachment sends back is bounded like a whole message (a zip of thousands of
/// documents): past `limits.documents` entries only their names and reasons are kept, and the
/// text and table cells past `limits.message_text_kb` are cut.
fn bound(docs: &mut [Document], limits: &Limits) {
    let mut left = limits.message_text_kb * 1024;
    for (i, d) in docs.iter_mut().enumerate() {
        if i > limits.documents {
            let name = d.filename.clone();
            *d = Document { filename: name, container: d.container.take(), format: d.format, size: d.size, sha256: std::mem::take(&mut d.sha256), ..Document::empty("", d.format, &[]) }
                .refused(format!("từ chối: tệp nén có quá {} tệp, tệp này không được đọc", limits.documents));
            continue;
        }
        d.keep_within(&mut left);
    }
}

impl Document {
    /// Keeps this document's text and table cells within `left` bytes, which it uses up: past
    /// it the tables go and the text is cut. Returns whether anything was cut.
    pub fn keep_within(&mut self, left: &mut usize) -> bool {
        let cells: usize = self.tables.iter().flatten().flatten().map(|c| c.len() + 1).sum();
        if self.text.len() + cells <= *left {
            *left -= self.text.len() + cells;
            return false;
        }
        self.tables.clear();
        self.sheets.clear();
        truncate_at_char(&mut self.text, *left);
        *left -= self.text.len();
        true
    }
}

/// Runs a third-party reader, turning its panic on a malformed file (calamine and zip have
/// them, found by fuzzing) into a reason, so one file never takes the process down.
fn guarded<T>(read: impl FnOnce() -> Result<T, ParseError>) -> Result<T, ParseError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)) {
        Ok(r) => r,
        Err(p) => {
            let why = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_else(|| "unknown".into());
            Err(ParseError::ReaderFailed(why))
        }
    }
}

fn read_into(filename: &str, container: Option<&str>, data: &[u8], limits: &Limits, depth: usize, out: &mut Vec<Document>) {
    let format = container::sniff(data);
    let mut doc = Document::empty(filename, format, data);
    doc.container = container.map(str::to_string);
    if data.len() as u64 > limits.attachment_mb * 1024 * 1024 {
        out.push(doc.refused(format!("từ chối: tệp đính kèm {} MB, vượt giới hạn {} MB", data.len() / (1024 * 1024), limits.attachment_mb)));
        return;
    }
    match format {
        Format::Docx => out.push(match guarded(|| docx::read_decoding(data, limits)) {
            Ok((mut blocks, met)) => {
                doc.parse = ParseStatus::Ok;
                doc.legacy_encoding = met.or_else(|| legacy_blocks(&mut blocks)).map(|l| l.as_str().to_string());
                fill_from_blocks(&mut doc, &blocks);
                doc
            }
            Err(e) => doc.failed_on(e),
        }),
        Format::Xlsx | Format::Xls => out.push(match guarded(|| sheet::read(data, format, limits)) {
            Ok(mut sheets) => {
                doc.parse = ParseStatus::Ok;
                doc.legacy_encoding = legacy_sheets(&mut sheets).map(|l| l.as_str().to_string());
                fill_from_sheets(&mut doc, &sheets);
                doc
            }
            Err(e) => doc.failed_on(e),
        }),
        Format::Zip => {
            if depth >= 2 {
                out.push(doc.refused("từ chối: tệp zip lồng trong zip nhiều lớp"));
                return;
            }
            match guarded(|| container::unzip_all(data, limits)) {
                Ok(entries) => {
                    doc.parse = ParseStatus::Ok;
                    out.push(doc);
                    for (name, bytes) in entries {
                        read_into(&name, Some(filename), &bytes, limits, depth + 1, out);
                    }
                }
                Err(e) => out.push(doc.failed_on(e)),
            }
        }
        Format::Rar | Format::SevenZ => {
            if depth >= 2 {
                out.push(doc.refused("từ chối: tệp nén lồng trong tệp nén nhiều lớp"));
                return;
            }
            read_archive(doc, filename, data, limits, depth, out);
        }
        Format::Doc if container::word97_encrypted(data) => out.push(doc.failed_on(ParseError::Protected)),
        Format::Doc | Format::Rtf | Format::Odt => {
            let ext = match format {
                Format::Doc => "doc",
                Format::Rtf => "rtf",
                _ => "odt",
            };
            let budget = converter_budget(limits);
            out.push(match guarded(|| external::libreoffice(data, ext, "docx", budget).and_then(|x| docx::read_decoding(&x, limits))) {
                Ok((mut blocks, met)) => {
                    doc.parse = ParseStatus::Ok;
                    doc.converted_by = Some("LibreOffice".into());
                    doc.legacy_encoding = met.or_else(|| legacy_blocks(&mut blocks)).map(|l| l.as_str().to_string());
                    fill_from_blocks(&mut doc, &blocks);
                    doc
                }
                Err(e) => doc.failed_on(e),
            })
        }
        Format::Ods => {
            let budget = converter_budget(limits);
            out.push(match guarded(|| external::libreoffice(data, "ods", "xlsx", budget).and_then(|x| sheet::read(&x, Format::Xlsx, limits))) {
                Ok(mut sheets) => {
                    doc.parse = ParseStatus::Ok;
                    doc.legacy_encoding = legacy_sheets(&mut sheets).map(|l| l.as_str().to_string());
                    doc.converted_by = Some("LibreOffice".into());
                    fill_from_sheets(&mut doc, &sheets);
                    doc
                }
                Err(e) => doc.failed_on(e),
            })
        }
        Format::Pdf | Format::Image => out.push(read_page_text(doc, data, limits)),
        Format::Other if outlook::is_tnef(data) => {
            out.push(doc.refused("tệp winmail.dat của Outlook bị hỏng, không lấy được tệp đính kèm bên trong; đề nghị gửi lại bằng định dạng thư thông thường (HTML hoặc văn bản)"));
        }
        Format::Other if outlook::is_msg(data) => {
            out.push(doc.failed("thư Outlook (.msg) nằm trong tệp nén: đề nghị gửi thẳng các tệp báo cáo"));
        }
        Format::Other if container::password_protected(data) => {
            out.push(doc.failed_on(ParseError::Protected));
        }
        Format::Other => {
            // Kept as evidence, not parsed (SPEC §5); the reason says so.
            doc.error = Some("không phải văn bản Word, Excel, PDF hay ảnh chụp: đã lưu, không đọc nội dung".into());
            out.push(doc);
        }
    }
}

/// A RAR or 7z archive: listed, checked against the limits as a zip is (file count, unpacked
/// size and ratio, depth), then each file read to memory and read as a document of its own.
fn read_archive(doc: Document, filename: &str, data: &[u8], limits: &Limits, depth: usize, out: &mut Vec<Document>) {
    use external::ArchiveTrouble;
    let ext = if doc.format == Format::Rar { "rar" } else { "7z" };
    let budget = converter_budget(limits);
    let archive = match guarded(|| external::archive(data, ext, budget)) {
        Ok(Ok(a)) => a,
        Ok(Err(ArchiveTrouble::Locked)) => return out.push(doc.failed("tệp nén có mật khẩu nên không mở được; đề nghị gửi tệp nén không đặt mật khẩu (hoặc gửi thẳng các tệp)")),
        Ok(Err(ArchiveTrouble::MissingVolume)) => {
            return out.push(doc.refused("tệp nén nhiều phần: thiếu các phần còn lại nên không giải nén được; đề nghị nén thành một tệp duy nhất hoặc gửi thẳng các tệp"))
        }
        Ok(Err(ArchiveTrouble::Unreadable(why))) => return out.push(doc.failed_on(ParseError::Corrupt(why))),
        Err(e) => return out.push(doc.failed_on(e)),
    };
    let files: Vec<&external::ArchiveEntry> = archive.entries.iter().filter(|e| !e.not_a_file).collect();
    if let Err(e) = container::check_entries(files.iter().map(|e| (e.name.as_str(), e.size, e.packed)), limits) {
        return out.push(doc.failed_on(e));
    }
    let cap = limits.inflated_mb * 1024 * 1024;
    let per_file = limits.attachment_mb * 1024 * 1024;
    let mut doc = doc;
    doc.parse = ParseStatus::Ok;
    out.push(doc);
    let mut read_total = 0u64;
    for e in files {
        let name = crate::text::nfc(e.name.rsplit(['/', '\\']).next().unwrap_or(&e.name));
        if name.is_empty() || name.starts_with("._") || e.name.starts_with("__MACOSX/") {
            continue;
        }
        let mut inner = Document::empty(&name, Format::Other, &[]);
        inner.container = Some(filename.to_string());
        if e.encrypted {
            out.push(inner.failed(format!("tệp `{name}` trong tệp nén có mật khẩu nên không mở được; đề nghị gửi tệp không đặt mật khẩu")));
            continue;
        }
        if e.size > per_file {
            out.push(inner.refused(format!("từ chối: tệp `{name}` khi giải nén vượt {} MB", limits.attachment_mb)));
            continue;
        }
        match archive.read(e, per_file.min(cap - read_total.min(cap)), budget) {
            Ok(bytes) => {
                read_total += bytes.len() as u64;
                read_into(&name, Some(filename), &bytes, limits, depth + 1, out);
            }
            Err(err) => out.push(inner.failed_on(err)),
        }
    }
}

/// Legacy Vietnamese where no font named it (the default style's font, an .xls cell): the
/// document's text is judged as a whole, then each paragraph or cell that is itself legacy
/// is decoded (a Unicode heading in a legacy document stays as it is).
fn legacy_blocks(blocks: &mut [Block]) -> Option<Legacy> {
    let mut sample = String::new();
    for b in blocks.iter() {
        if sample.len() > 64 * 1024 {
            break;
        }
        match b {
            Block::Para(p) => sample.push_str(p),
            Block::Table(rows) => rows.iter().flatten().for_each(|c| sample.push_str(c)),
        }
        sample.push('\n');
    }
    let l = legacy::detect(&sample)?;
    let fix = |s: &mut String| {
        if let Some(d) = legacy::decode_if_legacy(s, l) {
            *s = d;
        }
    };
    for b in blocks.iter_mut() {
        match b {
            Block::Para(p) => fix(p),
            Block::Table(rows) => rows.iter_mut().flatten().for_each(fix),
        }
    }
    Some(l)
}

/// The legacy encoding of cells of text judged together (the first 64 KB of them), if any.
pub fn legacy_of<'a>(cells: impl Iterator<Item = &'a String>) -> Option<Legacy> {
    let mut sample = String::new();
    for c in cells {
        if sample.len() > 64 * 1024 {
            break;
        }
        sample.push_str(c);
        sample.push('\n');
    }
    legacy::detect(&sample)
}

fn legacy_sheets(sheets: &mut [Sheet]) -> Option<Legacy> {
    let l = legacy_of(sheets.iter().flat_map(|s| s.rows.iter().flatten()))?;
    for s in sheets.iter_mut() {
        s.name = legacy::decode_if_legacy(&s.name, l).unwrap_or_else(|| s.name.clone());
        for c in s.rows.iter_mut().flatten() {
            if let Some(d) = legacy::decode_if_legacy(c, l) {
                *c = d;
            }
        }
    }
    Some(l)
}

/// What an external converter run by a parse worker may use: most of the worker's time for one
/// document, and its own memory allowance.
fn converter_budget(limits: &Limits) -> external::Budget {
    external::Budget { seconds: limits.worker_seconds.saturating_sub(3).max(5), memory_mb: limits.converter_memory_mb }
}

/// Whether page text holds anything to read (a scan's text layer is empty or a few stray marks).
fn has_text(t: &str) -> bool {
    t.chars().filter(|c| c.is_alphanumeric()).count() >= 20
}

/// A PDF's text layer, or OCR when it has none (a scan); an image by OCR.
fn read_page_text(mut doc: Document, data: &[u8], limits: &Limits) -> Document {
    let budget = converter_budget(limits);
    // The text, and the same laid out as on the page (where tables are read from).
    let text = if doc.format == Format::Pdf {
        match guarded(|| external::pdf_text(data, budget)) {
            Ok(t) if has_text(&t) => {
                doc.converted_by = Some("pdftotext".into());
                Ok(external::Ocr { layout: t.clone(), text: t })
            }
            Ok(_) => {
                doc.ocr = true;
                guarded(|| external::ocr_pdf(data, limits.ocr_pages, budget))
            }
            Err(e) => Err(e),
        }
    } else {
        doc.ocr = true;
        guarded(|| external::ocr_image(data, budget))
    };
    match text {
        Ok(external::Ocr { text: t, layout }) if has_text(&t) => {
            doc.parse = ParseStatus::Ok;
            if doc.ocr {
                doc.converted_by = Some("Tesseract OCR".into());
            }
            fill_from_blocks(&mut doc, &plain::blocks(&t));
            // Tables laid out on the page: a form's figures are read from them.
            let mut cells: usize = doc.tables.iter().flatten().map(|r| r.len()).sum();
            for t in layout_table::tables(&layout) {
                let n: usize = t.iter().map(|r| r.len()).sum();
                if cells + n > MAX_TABLE_CELLS {
                    break;
                }
                cells += n;
                doc.tables.push(t);
            }
            doc
        }
        Ok(_) => {
            let what = if doc.format == Format::Pdf { "tệp PDF là bản quét" } else { "ảnh chụp" };
            doc.failed(format!("{what} nhưng không nhận dạng được chữ (ảnh mờ hoặc không có chữ); đề nghị gửi bản .docx hoặc bản quét rõ hơn"))
        }
        Err(e) => doc.failed_on(e),
    }
}

fn fill_from_blocks(doc: &mut Document, blocks: &[Block]) {
    doc.header = header::from_blocks(blocks);
    doc.title = [doc.header.doc_type.as_deref(), doc.header.summary.as_deref()]
        .iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    let mut text = String::new();
    let mut cells = 0usize;
    for b in blocks {
        if text.len() > MAX_TEXT {
            break;
        }
        match b {
            Block::Para(p) => {
                text.push_str(p);
                text.push('\n');
            }
            Block::Table(rows) => {
                for r in rows {
                    text.push_str(&r.join(" | "));
                    text.push('\n');
                }
                if cells < MAX_TABLE_CELLS {
                    cells += rows.iter().map(|r| r.len()).sum::<usize>();
                    doc.tables.push(rows.clone());
                }
            }
        }
    }
    truncate_at_char(&mut text, MAX_TEXT);
    doc.text = text;
    let tables: Vec<&Vec<Vec<String>>> = blocks
        .iter()
        .filter_map(|b| match b {
            Block::Table(t) => Some(t),
            _ => None,
        })
        .collect();
    doc.score = tables.iter().find_map(|t| extract::score_table(t));
    doc.commitments = extract::commitments(&tables).or_else(|| {
        let rows = extract::commitment_paragraphs(blocks);
        extract::commitments(&[&rows])
    });
    let year = title_year(&doc.title);
    doc.tasks = tables.iter().find_map(|t| extract::task_plan(t, year));
}

/// The year a title speaks of (`... năm 2020`), for plan rows that say only "Trong năm".
fn title_year(title: &str) -> Option<i32> {
    static RE: once_cell::sync::Lazy<regex::Regex> = once_cell::sync::Lazy::new(|| regex::Regex::new(r"\b(?:nam|năm)\s+(\d{4})\b").unwrap());
    RE.captures(&crate::text::fold(title)).and_then(|c| c[1].parse().ok())
}

fn fill_from_sheets(doc: &mut Document, sheets: &[Sheet]) {
    doc.header = header::from_sheets(sheets);
    let mut title = Vec::new();
    let mut text = String::new();
    for s in sheets {
        // Title rows: the text rows above the first row that looks like a table header.
        for r in s.rows.iter().take(12) {
            // A merged title repeats its text over its cells: it is one text, not a table row.
            let mut filled: Vec<&String> = Vec::new();
            for c in r.iter().filter(|c| !c.trim().is_empty()) {
                if !filled.contains(&c) {
                    filled.push(c);
                }
            }
            if filled.len() >= 3 {
                break;
            }
            for c in filled {
                if !title.contains(c) {
                    title.push(c.clone());
                }
            }
        }
        for r in &s.rows {
            if text.len() > MAX_TEXT {
                break;
            }
            text.push_str(&r.join(" | "));
            text.push('\n');
        }
    }
    truncate_at_char(&mut text, MAX_TEXT);
    if doc.header.doc_type.is_none() {
        doc.title = title.join(" ");
    } else {
        doc.title = [doc.header.doc_type.clone(), doc.header.summary.clone()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    }
    doc.text = text;
    // Each sheet is kept as a table (trailing blanks trimmed) while the cells allow: a form's
    // figures are read from it against the office's form once the report is known.
    let mut cells = 0usize;
    for s in sheets {
        let mut rows: Vec<Vec<String>> = s.rows.iter().map(|r| {
            let end = r.iter().rposition(|c| !c.trim().is_empty()).map_or(0, |i| i + 1);
            r[..end].to_vec()
        }).collect();
        while rows.last().is_some_and(|r| r.is_empty()) {
            rows.pop();
        }
        let n: usize = rows.iter().map(|r| r.len()).sum();
        if n == 0 || cells + n > MAX_TABLE_CELLS {
            continue;
        }
        cells += n;
        doc.sheets.push(SheetInfo { table: doc.tables.len(), name: s.name.clone(), fractions: s.fractions.clone() });
        doc.tables.push(rows);
    }
    doc.score = sheets.iter().find_map(|s| extract::score_table(&s.rows));
    let tables: Vec<&Vec<Vec<String>>> = sheets.iter().map(|s| &s.rows).collect();
    doc.commitments = extract::commitments(&tables);
    let year = title_year(&doc.title);
    doc.tasks = sheets.iter().find_map(|s| extract::task_plan(&s.rows, year));
}

pub fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let mut i = max;
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        s.truncate(i);
    }
}
