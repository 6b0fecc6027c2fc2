//! The programs that read what Rust crates here cannot: LibreOffice for Word 97 (`.doc`), RTF and
//! OpenDocument (converted to .docx/.xlsx and read by the same readers), poppler's `pdftotext`
//! for a PDF's text layer, Tesseract with its Vietnamese data for scans and photos, and The
//! Unarchiver (`lsar`, `unar`) for RAR and 7z archives.
//!
//! The one place under `parse/` that reaches outside the process: it runs inside the parse
//! worker ([`super::worker`]), so a converter that hangs or eats memory costs one document. Each
//! program gets a private temporary folder (and LibreOffice its own profile, so two workers never
//! share one), a memory limit, a time limit after which its whole process group is killed, and
//! dies with the worker (PR_SET_PDEATHSIG). A program not installed is a reason recorded on the
//! document and told to the sender, never a silent skip.

use super::ParseError;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Limits for one external program run.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub seconds: u64,
    pub memory_mb: u64,
}

/// Finds a program on PATH (what the operator's service environment gives is what is used).
fn find(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

fn missing(what: &str, package: &str) -> ParseError {
    ParseError::Missing(format!("{what} is not installed (Debian: apt-get install {package})"))
}

/// Runs `cmd` under `budget`; returns its standard output.
fn run(cmd: Command, budget: Budget, what: &str) -> Result<Vec<u8>, ParseError> {
    run_capped(cmd, budget, what, 64 * 1024 * 1024)
}

/// [`run`], keeping at most `cap` + 1 bytes of its output: a program writing more is stopped
/// (its pipe closed), and the caller sees more than `cap`.
fn run_capped(mut cmd: Command, budget: Budget, what: &str, cap: u64) -> Result<Vec<u8>, ParseError> {
    let mem = budget.memory_mb.saturating_mul(1024 * 1024);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    #[cfg(target_os = "linux")]
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(move || {
            // Its own process group, so a timeout kills what it spawned too (soffice forks).
            libc::setpgid(0, 0);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            let lim = libc::rlimit { rlim_cur: mem as libc::rlim_t, rlim_max: mem as libc::rlim_t };
            libc::setrlimit(libc::RLIMIT_AS, &lim);
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| ParseError::Corrupt(format!("{what}: cannot start: {e}")))?;
    // Read the pipes in threads: a program filling a pipe nobody reads would never finish.
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::Read::take(&mut out, cap.saturating_add(1)), &mut v);
        // Closing the pipe here stops a program that writes on (SIGPIPE), instead of
        // letting it wait for its time limit.
        drop(out);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::Read::take(&mut err, 64 * 1024), &mut v);
        v
    });
    let status = wait_within(&mut child, Duration::from_secs(budget.seconds)).map_err(|e| ParseError::Corrupt(format!("{what}: {e}")))?;
    let Some(status) = status else {
        // The pipe readers are left to end with the pipes: something outside the group
        // could still hold them, and this document has waited long enough.
        return Err(ParseError::Limit(format!("đọc tệp quá {} giây nên đã dừng", budget.seconds)));
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    if !status.success() {
        let e = String::from_utf8_lossy(&stderr);
        return Err(ParseError::Corrupt(format!("{what} failed ({status}): {}", e.trim().chars().take(300).collect::<String>())));
    }
    Ok(stdout)
}

/// Waits for `child` to end, killing its process group once `limit` has passed (None then).
///
/// Why not a polling loop: a converter such as pdftotext often ends in a few milliseconds, and
/// a 20 ms poll made every PDF cost at least that. Here the waiting thread is woken the instant
/// the child ends. The child is not reaped until the watchdog can no longer kill: `waitid` with
/// `WNOWAIT` sees the end while the process (and so its pid and group id) still exists, so the
/// watchdog never signals a group whose id the system has handed to someone else.
#[cfg(target_os = "linux")]
fn wait_within(child: &mut std::process::Child, limit: Duration) -> std::io::Result<Option<std::process::ExitStatus>> {
    use std::sync::{Arc, Condvar, Mutex};
    let pid = child.id() as libc::pid_t;
    // (ended, killed): set under the lock, so the kill and the reaping never cross.
    let state = Arc::new((Mutex::new((false, false)), Condvar::new()));
    let watch = {
        let state = state.clone();
        std::thread::spawn(move || {
            let (lock, cv) = &*state;
            let t0 = Instant::now();
            let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
            while !s.0 {
                let Some(left) = limit.checked_sub(t0.elapsed()).filter(|d| !d.is_zero()) else {
                    // SAFETY: kill(2) on the process group made for this child, which is not
                    // reaped while `ended` is false.
                    unsafe { libc::kill(-pid, libc::SIGKILL) };
                    s.1 = true;
                    return;
                };
                s = cv.wait_timeout(s, left).unwrap_or_else(|e| e.into_inner()).0;
            }
        })
    };
    loop {
        // SAFETY: a zeroed siginfo_t is a valid out-parameter for waitid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if r == 0 {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            // Cannot watch it this way: end it rather than leave it running unwatched.
            let (lock, cv) = &*state;
            lock.lock().unwrap_or_else(|e| e.into_inner()).0 = true;
            cv.notify_all();
            let _ = watch.join();
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    }
    let killed = {
        let (lock, cv) = &*state;
        let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
        s.0 = true;
        cv.notify_all();
        s.1
    };
    let _ = watch.join();
    let status = child.wait()?;
    if killed {
        // What the group left behind (soffice's forks) goes with it.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        return Ok(None);
    }
    Ok(Some(status))
}

#[cfg(not(target_os = "linux"))]
fn wait_within(child: &mut std::process::Child, limit: Duration) -> std::io::Result<Option<std::process::ExitStatus>> {
    let t0 = Instant::now();
    loop {
        if let Some(s) = child.try_wait()? {
            return Ok(Some(s));
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Writes `data` into a fresh private folder as `name`.
fn staged(data: &[u8], name: &str) -> Result<(tempfile::TempDir, PathBuf), ParseError> {
    let dir = tempfile::Builder::new().prefix("baocao-convert").tempdir().map_err(|e| ParseError::Corrupt(format!("temporary folder: {e}")))?;
    let p = dir.path().join(name);
    std::fs::write(&p, data).map_err(|e| ParseError::Corrupt(format!("temporary file: {e}")))?;
    Ok((dir, p))
}

/// One file of a RAR or 7z archive as `lsar` lists it.
#[derive(Debug, Clone, Default)]
pub struct ArchiveEntry {
    pub index: usize,
    /// Its path inside the archive, decoded by `lsar` (whatever encoding the archiver used).
    pub name: String,
    pub size: u64,
    pub packed: u64,
    pub encrypted: bool,
    /// A folder or a link: nothing to read.
    pub not_a_file: bool,
    pub corrupt: bool,
}

/// Why a RAR or 7z archive cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveTrouble {
    /// Its file list itself is encrypted: nothing is known without the password.
    Locked,
    /// One part of a multi-volume set, without the others.
    MissingVolume,
    Unreadable(String),
}

/// A RAR or 7z archive staged in the worker's private folder and listed by `lsar` (from
/// Debian's `unar`, The Unarchiver: RAR 1.5 to 5, solid or not, 7z, names in any encoding).
/// Files are then read one at a time to memory (`unar -o -`), so nothing the archive names is
/// ever written anywhere: a traversal or a link in it goes nowhere.
pub struct Archive {
    dir: tempfile::TempDir,
    path: PathBuf,
    pub entries: Vec<ArchiveEntry>,
}

/// Lists a RAR (`ext = "rar"`) or 7z archive.
pub fn archive(data: &[u8], ext: &str, budget: Budget) -> Result<Result<Archive, ArchiveTrouble>, ParseError> {
    let exe = find(&["lsar"]).ok_or_else(|| missing("lsar", "unar"))?;
    let (dir, path) = staged(data, &format!("in.{ext}"))?;
    let mut cmd = Command::new(exe);
    cmd.arg("-j").arg(&path).current_dir(dir.path());
    let out = match run(cmd, budget, "lsar") {
        Ok(o) => o,
        Err(ParseError::Corrupt(e)) if e.contains("password") => return Ok(Err(ArchiveTrouble::Locked)),
        Err(ParseError::Corrupt(e)) => return Ok(Err(ArchiveTrouble::Unreadable(e))),
        Err(e) => return Err(e),
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out) else {
        let text = String::from_utf8_lossy(&out);
        if text.contains("password") {
            return Ok(Err(ArchiveTrouble::Locked));
        }
        return Ok(Err(ArchiveTrouble::Unreadable("lsar gave no list".into())));
    };
    if v.get("lsarError").is_some() {
        return Ok(Err(ArchiveTrouble::Unreadable(format!("lsar error {}", v["lsarError"]))));
    }
    let props = &v["lsarProperties"];
    let flag = |x: &serde_json::Value, k: &str| x[k].as_i64().unwrap_or(0) != 0 || x[k].as_bool().unwrap_or(false);
    let entries: Vec<ArchiveEntry> = v["lsarContents"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, e)| ArchiveEntry {
            index: e["XADIndex"].as_u64().map(|x| x as usize).unwrap_or(i),
            name: e["XADFileName"].as_str().unwrap_or("").to_string(),
            size: e["XADFileSize"].as_u64().unwrap_or(0),
            packed: e["XADCompressedSize"].as_u64().unwrap_or(0),
            encrypted: flag(e, "XADIsEncrypted"),
            not_a_file: flag(e, "XADIsDirectory") || flag(e, "XADIsLink") || e.get("XADLinkDestination").is_some() || flag(e, "XADIsHardLink"),
            corrupt: flag(e, "XADIsCorrupted"),
        })
        .collect();
    // A volume whose set is not all here: listed empty, or its split file marked corrupt.
    // (The archive is staged alone as `in.rar`, so no neighbour is taken for another volume.)
    let damaged = flag(props, "XADIsCorrupted") || entries.is_empty() || entries.iter().any(|e| e.corrupt);
    if damaged && is_volume(data) {
        return Ok(Err(ArchiveTrouble::MissingVolume));
    }
    Ok(Ok(Archive { dir, path, entries }))
}

/// Whether a RAR file says it is one volume of a set (RAR 1.5–4: the archive header's
/// MHD_VOLUME flag; RAR 5: the main header's volume flag).
fn is_volume(data: &[u8]) -> bool {
    if data.starts_with(b"Rar!\x1a\x07\x00") {
        // Marker (7 bytes), then the main header: CRC(2) type(1) flags(2).
        return data.get(9) == Some(&0x73) && data.get(10).is_some_and(|f| f & 0x01 != 0);
    }
    if data.starts_with(b"Rar!\x1a\x07\x01\x00") {
        // Marker (8), CRC32 (4), size (vint), type (vint = 1: main), flags (vint), archive flags (vint; 1 = volume).
        let mut at = 12;
        let mut vint = |d: &[u8]| -> Option<u64> {
            let mut v = 0u64;
            for shift in (0..63).step_by(7) {
                let b = *d.get(at)?;
                at += 1;
                v |= ((b & 0x7f) as u64) << shift;
                if b & 0x80 == 0 {
                    return Some(v);
                }
            }
            None
        };
        let (_size, ty, flags) = (vint(data), vint(data), vint(data));
        if ty != Some(1) {
            return false;
        }
        if flags.is_some_and(|f| f & 0x01 != 0) {
            let _ = vint(data);
        }
        if flags.is_some_and(|f| f & 0x02 != 0) {
            let _ = vint(data);
        }
        return vint(data).is_some_and(|a| a & 0x01 != 0);
    }
    false
}

impl Archive {
    /// The bytes of file `e`, at most `cap` of them (more is refused, whatever the list said).
    pub fn read(&self, e: &ArchiveEntry, cap: u64, budget: Budget) -> Result<Vec<u8>, ParseError> {
        let exe = find(&["unar"]).ok_or_else(|| missing("unar", "unar"))?;
        let mut cmd = Command::new(exe);
        cmd.arg("-q").arg("-o").arg("-").arg("-i").arg(&self.path).arg(e.index.to_string()).current_dir(self.dir.path());
        let out = run_capped(cmd, budget, "unar", cap)?;
        if out.len() as u64 > cap {
            return Err(ParseError::Limit(format!("tệp `{}` trong tệp nén khi giải nén vượt {} MB", e.name, cap / (1024 * 1024))));
        }
        if out.len() as u64 != e.size {
            return Err(ParseError::Corrupt(format!("`{}`: {} bytes out of {} (a damaged archive, or a volume missing)", e.name, out.len(), e.size)));
        }
        Ok(out)
    }
}

/// Converts a Word 97, RTF or OpenDocument file to .docx (`to = "docx"`) or .xlsx with a
/// headless LibreOffice.
pub fn libreoffice(data: &[u8], ext: &str, to: &str, budget: Budget) -> Result<Vec<u8>, ParseError> {
    let exe = find(&["soffice", "libreoffice"]).ok_or_else(|| missing("LibreOffice", "libreoffice-writer-nogui libreoffice-calc-nogui"))?;
    let (dir, input) = staged(data, &format!("in.{ext}"))?;
    let profile = dir.path().join("profile");
    let outdir = dir.path().join("out");
    let mut cmd = Command::new(exe);
    cmd.arg("--headless")
        .arg("--norestore")
        .arg("--nolockcheck")
        .arg("--nodefault")
        .arg(format!("-env:UserInstallation=file://{}", profile.display()))
        .arg("--convert-to")
        .arg(to)
        .arg("--outdir")
        .arg(&outdir)
        .arg(&input)
        .env("HOME", dir.path())
        .current_dir(dir.path());
    run(cmd, budget, "LibreOffice")?;
    let out = outdir.join(format!("in.{to}"));
    std::fs::read(&out).map_err(|_| ParseError::Corrupt(format!("LibreOffice wrote no .{to} (the file may be damaged or protected)")))
}

/// The text layer of a PDF, laid out as on the page (`pdftotext -layout`); pages separated by
/// form feeds.
pub fn pdf_text(data: &[u8], budget: Budget) -> Result<String, ParseError> {
    let exe = find(&["pdftotext"]).ok_or_else(|| missing("pdftotext", "poppler-utils"))?;
    let (_dir, input) = staged(data, "in.pdf")?;
    let mut cmd = Command::new(exe);
    cmd.args(["-layout", "-enc", "UTF-8", "-l", "200"]).arg(&input).arg("-");
    let out = run(cmd, budget, "pdftotext")?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// What OCR read of a page: its text line by line as Tesseract segments it, and the same words
/// laid out at their places on the page (one line per visual row, columns by spaces), which
/// tables are read from.
#[derive(Debug, Default)]
pub struct Ocr {
    pub text: String,
    pub layout: String,
}

/// One word of Tesseract's TSV output.
struct Word {
    block: (u32, u32, u32),
    left: i64,
    top: i64,
    width: i64,
    height: i64,
    text: String,
}

/// Reads Tesseract's TSV (level, page, block, paragraph, line, word, left, top, width,
/// height, confidence, text) into text and layout.
pub fn ocr_from_tsv(tsv: &str) -> Ocr {
    let mut words: Vec<Word> = Vec::new();
    for line in tsv.lines().skip(1) {
        let f: Vec<&str> = line.splitn(12, '\t').collect();
        if f.len() < 12 || f[0] != "5" || f[11].trim().is_empty() {
            continue;
        }
        let n = |i: usize| f[i].parse::<i64>().unwrap_or(0);
        words.push(Word { block: (n(2) as u32, n(3) as u32, n(4) as u32), left: n(6), top: n(7), width: n(8), height: n(9), text: f[11].trim().to_string() });
    }
    // The text as Tesseract segmented it: lines, and a blank line between paragraphs.
    let mut text = String::new();
    let mut prev: Option<(u32, u32, u32)> = None;
    for w in &words {
        match prev {
            Some(p) if p == w.block => text.push(' '),
            Some(p) if (p.0, p.1) == (w.block.0, w.block.1) => text.push('\n'),
            Some(_) => text.push_str("\n\n"),
            None => {}
        }
        text.push_str(&w.text);
        prev = Some(w.block);
    }
    text.push('\n');
    // The layout: words in visual rows (a table's columns may be separate blocks to Tesseract),
    // each at the column its left edge falls in, counted in characters of the page's median width.
    let mut layout = String::new();
    if !words.is_empty() {
        let mut per_char: Vec<f64> = words.iter().filter(|w| w.text.chars().count() >= 2).map(|w| w.width as f64 / w.text.chars().count() as f64).collect();
        per_char.sort_by(|a, b| a.total_cmp(b));
        let cw = per_char.get(per_char.len() / 2).copied().unwrap_or(10.0).max(1.0);
        let mut heights: Vec<i64> = words.iter().map(|w| w.height).collect();
        heights.sort_unstable();
        let h = heights[heights.len() / 2].max(1) as f64;
        // A table's ruling read as words (`|`, `[`, `—`) is not text.
        let mut order: Vec<&Word> = words.iter().filter(|w| !w.text.chars().all(|c| matches!(c, '|' | '[' | ']' | '{' | '}' | '—' | '_' | '!' | '¦'))).collect();
        order.sort_by_key(|w| w.top + w.height / 2);
        let mut rows: Vec<Vec<&Word>> = Vec::new();
        // A row's words are those whose middles lie near the row's own (not a chain of
        // neighbours, which would run down a slightly tilted page).
        let (mut sum, mut n) = (0.0f64, 0usize);
        for w in order {
            let mid = (w.top + w.height / 2) as f64;
            if rows.is_empty() || mid - sum / n as f64 > h * 0.5 {
                rows.push(Vec::new());
                (sum, n) = (0.0, 0);
            }
            sum += mid;
            n += 1;
            rows.last_mut().expect("pushed").push(w);
        }
        let mut last_mid: Option<f64> = None;
        for mut r in rows {
            r.sort_by_key(|w| w.left);
            let mid = r.iter().map(|w| (w.top + w.height / 2) as f64).sum::<f64>() / r.len() as f64;
            // A wide vertical gap is a blank line (tables are read in blocks between them).
            if last_mid.is_some_and(|m| mid - m > h * 2.6) {
                layout.push('\n');
            }
            last_mid = Some(mid);
            let mut line = String::new();
            let mut end_px = i64::MIN;
            for w in r {
                let col = (w.left as f64 / cw).round() as usize;
                let len = line.chars().count();
                // Words apart by more than a space's width are apart by two spaces at least.
                let gap = if end_px == i64::MIN { 0 } else if (w.left - end_px) as f64 > cw * 1.6 { col.saturating_sub(len).max(2) } else { 1 };
                line.extend(std::iter::repeat_n(' ', if end_px == i64::MIN { col } else { gap }));
                line.push_str(&w.text);
                end_px = w.left + w.width;
            }
            layout.push_str(&line);
            layout.push('\n');
        }
    }
    Ocr { text, layout }
}

/// OCR of an image file with Tesseract's Vietnamese data.
fn tesseract(image: &Path, budget: Budget) -> Result<Ocr, ParseError> {
    let exe = find(&["tesseract"]).ok_or_else(|| missing("Tesseract", "tesseract-ocr tesseract-ocr-vie"))?;
    let mut cmd = Command::new(exe);
    // One thread: the workers already use the cores, and OpenMP's threads would fight them.
    cmd.arg(image).arg("stdout").args(["-l", "vie", "--psm", "3", "tsv"]).env("OMP_THREAD_LIMIT", "1");
    let out = run(cmd, budget, "Tesseract")?;
    Ok(ocr_from_tsv(&String::from_utf8_lossy(&out)))
}

/// OCR of a scan or photo.
pub fn ocr_image(data: &[u8], budget: Budget) -> Result<Ocr, ParseError> {
    let (_dir, input) = staged(data, "in.img")?;
    tesseract(&input, budget)
}

/// OCR of a PDF without text: its first `pages` pages rendered at 200 dpi, then read. The
/// budget's time is shared by all pages.
pub fn ocr_pdf(data: &[u8], pages: usize, budget: Budget) -> Result<Ocr, ParseError> {
    let exe = find(&["pdftoppm"]).ok_or_else(|| missing("pdftoppm", "poppler-utils"))?;
    let t0 = Instant::now();
    let (dir, input) = staged(data, "in.pdf")?;
    let prefix = dir.path().join("page");
    let mut cmd = Command::new(exe);
    cmd.args(["-r", "200", "-gray", "-png", "-f", "1", "-l"]).arg(pages.max(1).to_string()).arg(&input).arg(&prefix);
    run(cmd, budget, "pdftoppm")?;
    let mut images: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .map_err(|e| ParseError::Corrupt(format!("pdftoppm: {e}")))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    images.sort();
    let mut all = Ocr::default();
    for img in images {
        let left = budget.seconds.saturating_sub(t0.elapsed().as_secs());
        if left == 0 {
            break;
        }
        let page = tesseract(&img, Budget { seconds: left, ..budget })?;
        all.text.push_str(&page.text);
        all.text.push('\u{c}');
        all.layout.push_str(&page.layout);
        all.layout.push('\u{c}');
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(script);
        c
    }

    const BUDGET: Budget = Budget { seconds: 1, memory_mb: 512 };

    fn rar(name: &str) -> Vec<u8> {
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rarfile").join(name)).unwrap()
    }

    #[test]
    fn a_rar_volume_is_known_by_its_header_in_both_formats() {
        assert!(is_volume(&rar("rar5-vols.part1.rar")), "RAR 5");
        assert!(!is_volume(&rar("unicode.rar")) && !is_volume(&rar("rar5-solid.rar")) && !is_volume(&rar("rar3-solid.rar")));
        // RAR 1.5–4: the main header's volume flag.
        let mut v4 = rar("rar3-solid.rar");
        v4[10] |= 0x01;
        assert!(is_volume(&v4));
    }

    #[test]
    fn a_program_writing_past_its_cap_is_stopped_at_once() {
        let t0 = Instant::now();
        let out = run_capped(sh("yes"), Budget { seconds: 20, memory_mb: 512 }, "yes", 1000).unwrap_or_default();
        assert!(out.len() <= 1001, "{}", out.len());
        assert!(t0.elapsed() < Duration::from_secs(10), "not left to its time limit: {:?}", t0.elapsed());
    }

    #[test]
    fn a_program_that_ends_gives_its_output_and_a_failing_one_its_words() {
        assert_eq!(run(sh("printf 'xin chào'"), BUDGET, "sh").unwrap(), "xin chào".as_bytes());
        let e = format!("{:?}", run(sh("echo 'tệp hỏng' >&2; exit 3"), BUDGET, "sh").unwrap_err());
        assert!(e.contains("tệp hỏng") && e.contains("exit status: 3"), "{e}");
    }

    #[test]
    fn a_program_past_its_time_is_killed_with_everything_it_started() {
        // The child starts a grandchild in its group and writes its pid, then waits for ever.
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script = format!("sleep 300 & echo $! > {}; wait", pidfile.display());
        let e = run(sh(&script), BUDGET, "sh").unwrap_err();
        assert!(matches!(e, ParseError::Limit(_)), "{e}");
        let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        // The grandchild was killed; once its parent (init) reaps it, it is gone.
        let gone = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            stat.is_empty() || stat.split(") ").nth(1).is_some_and(|s| s.starts_with('Z'))
        });
        assert!(gone, "the grandchild {pid} still runs");
    }
}
