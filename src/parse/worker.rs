//! Isolation for document readers: a small pool of long-lived `baocao parse-worker` processes,
//! fed attachments over pipes, each under a memory limit (setrlimit) and a time limit per document.
//!
//! Why: some inputs of a few KB make calamine allocate hundreds of GB and abort the process
//! (calamine #693, #684; `catch_unwind` cannot catch an abort), and docx-rs hangs on an .xlsx
//! handed to its .docx reader (docx-rs #852). A worker that dies or overruns is killed and
//! respawned; the document gets one recorded `parse: error` with the reason and the daemon goes on.
//! Workers live across documents, so isolation costs two pipe copies, not a process start.

use super::{read_attachment, Document};
use crate::domain::rules::Limits;
use crate::domain::Format;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// How documents get read: in this process (tests, tools) or in worker processes (the daemon).
/// Cloning shares the pool: the intake pipeline reads several messages at once from it.
#[derive(Clone)]
pub enum Parser {
    InProcess(Limits),
    Pool(std::sync::Arc<WorkerPool>),
}

impl Parser {
    pub fn read(&self, filename: &str, data: &[u8]) -> Vec<Document> {
        match self {
            Parser::InProcess(l) => read_attachment(filename, data, l),
            Parser::Pool(p) => p.read(filename, data),
        }
    }

    /// How many messages are worth reading at once: one per worker, and one more being
    /// unpacked (MIME, hashes) while the workers read.
    pub fn width(&self) -> usize {
        match self {
            Parser::InProcess(_) => std::thread::available_parallelism().map_or(2, |n| n.get()),
            Parser::Pool(p) => p.limits.workers.max(1) + 1,
        }
    }
}

struct Worker {
    child: Child,
    stdin: BufWriter<ChildStdin>,
    rx: Receiver<std::io::Result<Vec<u8>>>,
}

pub struct WorkerPool {
    exe: PathBuf,
    limits: Limits,
    idle: Mutex<Vec<Worker>>,
    spawned: Mutex<usize>,
    cv: Condvar,
    read: Mutex<Recent>,
}

/// What the workers read lately, by content: the same file arriving again — a unit sending it
/// once more after a reminder, the office's staff forwarding a unit's mail, a copy to a second
/// address of the office — is not read again (a Word 97 file costs LibreOffice a second or
/// more, a PDF a process). Only answers a worker gave are kept; a worker that died or ran out
/// of time is asked again next time. Bounded by entries and by the size of what is kept.
///
/// The lookup key is the file's name, length and CRC-32 (cheap, so a file never seen costs
/// next to nothing); a hit is confirmed by the SHA-256 the worker reported for the file.
#[derive(Default)]
struct Recent {
    /// By key: the file's SHA-256, its documents, and the size they count for.
    entries: std::collections::HashMap<Key, (String, Vec<Document>, usize)>,
    order: std::collections::VecDeque<Key>,
    bytes: usize,
}

/// A file's name, length and CRC-32.
type Key = (String, usize, u32);

/// The documents of a candidate, when `data` is the very file it was read from.
fn confirmed(candidate: Option<(String, Vec<Document>)>, data: &[u8]) -> Option<Vec<Document>> {
    let (sha, docs) = candidate?;
    (super::sha256_hex(data) == sha).then_some(docs)
}

impl Recent {
    const ENTRIES: usize = 512;
    const BYTES: usize = 32 * 1024 * 1024;

    /// What was read of a file with this key: the SHA-256 it had, and its documents.
    fn candidate(&self, key: &Key) -> Option<(String, Vec<Document>)> {
        self.entries.get(key).map(|(sha, docs, _)| (sha.clone(), docs.clone()))
    }

    fn put(&mut self, key: Key, docs: &[Document], size: usize) {
        let Some(sha) = docs.first().map(|d| d.sha256.clone()) else { return };
        if size > Self::BYTES / 8 || self.entries.contains_key(&key) {
            return;
        }
        while self.entries.len() >= Self::ENTRIES || self.bytes + size > Self::BYTES {
            let Some(old) = self.order.pop_front() else { break };
            if let Some((_, _, n)) = self.entries.remove(&old) {
                self.bytes -= n;
            }
        }
        self.bytes += size;
        self.order.push_back(key.clone());
        self.entries.insert(key, (sha, docs.to_vec(), size));
    }
}

impl WorkerPool {
    pub fn new(exe: PathBuf, limits: Limits) -> WorkerPool {
        WorkerPool { exe, limits, idle: Mutex::new(Vec::new()), spawned: Mutex::new(0), cv: Condvar::new(), read: Mutex::new(Recent::default()) }
    }

    fn spawn(&self) -> std::io::Result<Worker> {
        let mut cmd = Command::new(&self.exe);
        cmd.arg("parse-worker")
            .arg("--limits")
            .arg(serde_json::to_string(&LimitsWire::from(&self.limits)).unwrap_or_default())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mem = self.limits.worker_memory_mb * 1024 * 1024;
        // The hard limit leaves room for the converters a worker starts (LibreOffice,
        // Tesseract), which set their own soft limit up to it; the worker's own stays `mem`.
        let hard = self.limits.converter_memory_mb.max(self.limits.worker_memory_mb) * 1024 * 1024;
        #[cfg(unix)]
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(move || {
                let lim = libc::rlimit { rlim_cur: mem as libc::rlim_t, rlim_max: hard as libc::rlim_t };
                libc::setrlimit(libc::RLIMIT_AS, &lim);
                let core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
                libc::setrlimit(libc::RLIMIT_CORE, &core);
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        let stdin = BufWriter::new(child.stdin.take().expect("piped stdin"));
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || loop {
            let mut len = [0u8; 8];
            if let Err(e) = stdout.read_exact(&mut len) {
                let _ = tx.send(Err(e));
                return;
            }
            let n = u64::from_le_bytes(len) as usize;
            let mut buf = vec![0u8; n.min(512 * 1024 * 1024)];
            if let Err(e) = stdout.read_exact(&mut buf) {
                let _ = tx.send(Err(e));
                return;
            }
            if tx.send(Ok(buf)).is_err() {
                return;
            }
        });
        Ok(Worker { child, stdin, rx })
    }

    fn checkout(&self) -> std::io::Result<Worker> {
        let mut idle = self.idle.lock().unwrap();
        loop {
            if let Some(w) = idle.pop() {
                return Ok(w);
            }
            let mut spawned = self.spawned.lock().unwrap();
            if *spawned < self.limits.workers.max(1) {
                *spawned += 1;
                drop(spawned);
                drop(idle);
                return self.spawn().inspect_err(|_| {
                    *self.spawned.lock().unwrap() -= 1;
                });
            }
            drop(spawned);
            idle = self.cv.wait(idle).unwrap();
        }
    }

    /// The largest peak resident memory (kB) of the workers alive now, from /proc (Linux).
    /// For the benchmark and the logs: what isolation costs in memory.
    pub fn peak_rss_kb(&self) -> u64 {
        let idle = self.idle.lock().unwrap();
        idle.iter()
            .filter_map(|w| std::fs::read_to_string(format!("/proc/{}/status", w.child.id())).ok())
            .filter_map(|st| st.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()))
            .max()
            .unwrap_or(0)
    }

    fn retire(&self, mut w: Worker) {
        let _ = w.child.kill();
        let _ = w.child.wait();
        *self.spawned.lock().unwrap() -= 1;
        self.cv.notify_one();
    }

    pub fn read(&self, filename: &str, data: &[u8]) -> Vec<Document> {
        let key = (filename.to_string(), data.len(), crc32fast::hash(data));
        let candidate = self.read.lock().unwrap_or_else(|e| e.into_inner()).candidate(&key);
        // Confirmed outside the lock: hashing a large file must not hold up the others.
        if let Some(docs) = confirmed(candidate, data) {
            return docs;
        }
        let docs = self.ask(filename, data);
        if let Some((docs, size)) = &docs.1 {
            self.read.lock().unwrap_or_else(|e| e.into_inner()).put(key, docs, *size);
        }
        docs.0
    }

    /// Has a worker read the file: the documents, and, when a worker answered (not died or
    /// ran out of time), the answer again with its size, to be kept.
    #[allow(clippy::type_complexity)]
    fn ask(&self, filename: &str, data: &[u8]) -> (Vec<Document>, Option<(Vec<Document>, usize)>) {
        let fail = |why: &str, detail: String| vec![Document::empty(filename, super::container::sniff(data), data).failed_with(why, detail)];
        // Over the memory or time allowed: the file's own fault, as a limit in the reader is.
        let refuse = |why: &str, detail: String| {
            let mut d = fail(why, detail);
            d[0].broken = true;
            d
        };
        let mut w = match self.checkout() {
            Ok(w) => w,
            Err(e) => return (fail("hệ thống chưa đọc được tệp này (trình đọc không khởi động được)", format!("cannot start a parse worker: {e}")), None),
        };
        let sent = (|| -> std::io::Result<()> {
            let name = filename.as_bytes();
            w.stdin.write_all(&(name.len() as u32).to_le_bytes())?;
            w.stdin.write_all(name)?;
            w.stdin.write_all(&(data.len() as u64).to_le_bytes())?;
            w.stdin.write_all(data)?;
            w.stdin.flush()
        })();
        if let Err(e) = sent {
            self.retire(w);
            return (fail("hệ thống chưa đọc được tệp này (trình đọc dừng giữa chừng)", format!("the parse worker stopped before reading the file ({e})")), None);
        }
        match w.rx.recv_timeout(Duration::from_secs(self.limits.worker_seconds.max(1))) {
            Ok(Ok(json)) => {
                let docs: Result<Vec<Document>, _> = serde_json::from_slice(&json);
                self.idle.lock().unwrap().push(w);
                self.cv.notify_one();
                match docs {
                    Ok(d) => (d.clone(), Some((d, json.len()))),
                    Err(e) => (fail("hệ thống chưa đọc được tệp này (trình đọc trả lời sai)", format!("the parse worker answered nonsense ({e})")), None),
                }
            }
            Ok(Err(_)) | Err(RecvTimeoutError::Disconnected) => {
                let status = {
                    let _ = w.child.kill();
                    w.child.wait().ok()
                };
                *self.spawned.lock().unwrap() -= 1;
                self.cv.notify_one();
                let docs = refuse(
                    &format!("từ chối: đọc tệp này cần quá {} MB bộ nhớ, hoặc trình đọc gặp lỗi", self.limits.worker_memory_mb),
                    format!("the parse worker died or timed out ({})", status.map(|s| s.to_string()).unwrap_or_else(|| "no status".into())),
                );
                (docs, None)
            }
            Err(RecvTimeoutError::Timeout) => {
                self.retire(w);
                (refuse(&format!("từ chối: đọc tệp quá {} giây nên đã dừng", self.limits.worker_seconds), "the parse worker timed out".into()), None)
            }
        }
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        if let Ok(mut idle) = self.idle.lock() {
            for mut w in idle.drain(..) {
                let _ = w.child.kill();
                let _ = w.child.wait();
            }
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct LimitsWire {
    attachment_mb: u64,
    zip_entries: usize,
    inflated_mb: u64,
    compression_ratio: u64,
    xml_depth: usize,
    cells: usize,
    #[serde(default)]
    worker_seconds: u64,
    #[serde(default)]
    ocr_pages: usize,
    #[serde(default)]
    converter_memory_mb: u64,
}

impl From<&Limits> for LimitsWire {
    fn from(l: &Limits) -> Self {
        LimitsWire {
            attachment_mb: l.attachment_mb,
            zip_entries: l.zip_entries,
            inflated_mb: l.inflated_mb,
            compression_ratio: l.compression_ratio,
            xml_depth: l.xml_depth,
            cells: l.cells,
            worker_seconds: l.worker_seconds,
            ocr_pages: l.ocr_pages,
            converter_memory_mb: l.converter_memory_mb,
        }
    }
}

/// The worker side: read requests from stdin, answer on stdout, until stdin closes.
pub fn serve(limits_json: &str) -> std::io::Result<()> {
    let w: LimitsWire = serde_json::from_str(limits_json).unwrap_or_else(|_| LimitsWire::from(&Limits::default()));
    let limits = Limits {
        attachment_mb: w.attachment_mb,
        zip_entries: w.zip_entries,
        inflated_mb: w.inflated_mb,
        compression_ratio: w.compression_ratio,
        xml_depth: w.xml_depth,
        cells: w.cells,
        worker_seconds: if w.worker_seconds > 0 { w.worker_seconds } else { Limits::default().worker_seconds },
        ocr_pages: if w.ocr_pages > 0 { w.ocr_pages } else { Limits::default().ocr_pages },
        converter_memory_mb: if w.converter_memory_mb > 0 { w.converter_memory_mb } else { Limits::default().converter_memory_mb },
        ..Limits::default()
    };
    let stdin = std::io::stdin();
    let mut input = BufReader::new(stdin.lock());
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    loop {
        let mut n4 = [0u8; 4];
        match input.read_exact(&mut n4) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let mut name = vec![0u8; u32::from_le_bytes(n4) as usize];
        input.read_exact(&mut name)?;
        let mut n8 = [0u8; 8];
        input.read_exact(&mut n8)?;
        let mut data = vec![0u8; u64::from_le_bytes(n8) as usize];
        input.read_exact(&mut data)?;
        let filename = String::from_utf8_lossy(&name).into_owned();
        let docs = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_attachment(&filename, &data, &limits))).unwrap_or_else(|p| {
            let why = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown".into());
            vec![Document::empty(&filename, Format::Other, &data).failed_with("hệ thống chưa đọc được tệp này (lỗi của trình đọc)", format!("reader panicked: {why}"))]
        });
        let json = serde_json::to_vec(&docs).unwrap_or_else(|_| b"[]".to_vec());
        out.write_all(&(json.len() as u64).to_le_bytes())?;
        out.write_all(&json)?;
        out.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(name: &str, data: &[u8]) -> (Key, Vec<Document>) {
        ((name.to_string(), data.len(), crc32fast::hash(data)), read_attachment(name, data, &Limits::default()))
    }

    #[test]
    fn a_file_read_before_is_answered_again_only_when_its_bytes_are_the_same() {
        let mut recent = Recent::default();
        let a = b"%PDF-1.4 a file the office received once".to_vec();
        let (key, docs) = read("bc.pdf", &a);
        recent.put(key.clone(), &docs, 100);
        assert_eq!(confirmed(recent.candidate(&key), &a), Some(docs), "the same bytes: the same documents");
        // Another file under the same key (a forged CRC-32, say) is not taken for it.
        let b = b"%PDF-1.4 a file the office received anew".to_vec();
        assert_eq!(a.len(), b.len());
        assert_eq!(confirmed(recent.candidate(&key), &b), None);
        assert_eq!(recent.candidate(&(key.0.clone(), key.1, key.2 ^ 1)), None, "another key is another file");
    }

    #[test]
    fn what_is_kept_stays_within_its_entries_and_bytes() {
        let mut recent = Recent::default();
        for i in 0..2000 {
            let data = format!("tệp số {i}").into_bytes();
            let (key, docs) = read(&format!("{i}.txt"), &data);
            recent.put(key, &docs, 64 * 1024);
            assert!(recent.entries.len() <= Recent::ENTRIES && recent.bytes <= Recent::BYTES);
            assert_eq!(recent.entries.len(), recent.order.len());
        }
        assert_eq!(recent.bytes, recent.entries.values().map(|e| e.2).sum::<usize>());
        // The newest stay, the oldest went.
        let (newest, _) = read("1999.txt", "tệp số 1999".as_bytes());
        assert!(recent.candidate(&newest).is_some());
        let (oldest, _) = read("0.txt", "tệp số 0".as_bytes());
        assert!(recent.candidate(&oldest).is_none());
        // Something too large to be worth keeping is not kept.
        let (key, docs) = read("big.txt", b"x");
        recent.put(key.clone(), &docs, Recent::BYTES);
        assert!(recent.candidate(&key).is_none());
    }
}
