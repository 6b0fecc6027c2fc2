//! The programs that read what Rust crates here cannot: LibreOffice for Word 97 (`.doc`), RTF and
//! OpenDocument (converted to .docx/.xlsx and read by the same readers), poppler's `pdftotext`
//! for a PDF's text layer, and Tesseract with its Vietnamese data for scans and photos.
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
fn run(mut cmd: Command, budget: Budget, what: &str) -> Result<Vec<u8>, ParseError> {
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
        let _ = std::io::Read::read_to_end(&mut std::io::Read::take(&mut out, 64 * 1024 * 1024), &mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::Read::take(&mut err, 64 * 1024), &mut v);
        v
    });
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| ParseError::Corrupt(format!("{what}: {e}")))? {
            break s;
        }
        if t0.elapsed() > Duration::from_secs(budget.seconds) {
            // SAFETY: kill(2) on the process group this function created.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            return Err(ParseError::Limit(format!("đọc tệp quá {} giây nên đã dừng", budget.seconds)));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    if !status.success() {
        let e = String::from_utf8_lossy(&stderr);
        return Err(ParseError::Corrupt(format!("{what} failed ({status}): {}", e.trim().chars().take(300).collect::<String>())));
    }
    Ok(stdout)
}

/// Writes `data` into a fresh private folder as `name`.
fn staged(data: &[u8], name: &str) -> Result<(tempfile::TempDir, PathBuf), ParseError> {
    let dir = tempfile::Builder::new().prefix("baocao-convert").tempdir().map_err(|e| ParseError::Corrupt(format!("temporary folder: {e}")))?;
    let p = dir.path().join(name);
    std::fs::write(&p, data).map_err(|e| ParseError::Corrupt(format!("temporary file: {e}")))?;
    Ok((dir, p))
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

/// OCR of an image file with Tesseract's Vietnamese data.
fn tesseract(image: &Path, budget: Budget) -> Result<String, ParseError> {
    let exe = find(&["tesseract"]).ok_or_else(|| missing("Tesseract", "tesseract-ocr tesseract-ocr-vie"))?;
    let mut cmd = Command::new(exe);
    // One thread: the workers already use the cores, and OpenMP's threads would fight them.
    cmd.arg(image).arg("stdout").args(["-l", "vie", "--psm", "3"]).env("OMP_THREAD_LIMIT", "1");
    let out = run(cmd, budget, "Tesseract")?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// OCR of a scan or photo.
pub fn ocr_image(data: &[u8], budget: Budget) -> Result<String, ParseError> {
    let (_dir, input) = staged(data, "in.img")?;
    tesseract(&input, budget)
}

/// OCR of a PDF without text: its first `pages` pages rendered at 200 dpi, then read. The
/// budget's time is shared by all pages.
pub fn ocr_pdf(data: &[u8], pages: usize, budget: Budget) -> Result<String, ParseError> {
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
    let mut text = String::new();
    for img in images {
        let left = budget.seconds.saturating_sub(t0.elapsed().as_secs());
        if left == 0 {
            break;
        }
        text.push_str(&tesseract(&img, Budget { seconds: left, ..budget })?);
        text.push('\u{c}');
    }
    Ok(text)
}
