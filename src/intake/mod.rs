//! Intake: message sources (Maildir folders, single `.eml` files; IMAP in the daemon) and the
//! exactly-once path of one raw message into the store ([`pipeline`]).
//!
//! A message's source key (the Maildir unique name, or the content hash of an `.eml`) is unique
//! per office in the store, and its row is written in the same transaction as its documents,
//! decision and audit events, so a crash at any instant leaves it either fully recorded or not at
//! all, and a re-run records it exactly once. `ingest` never changes the files it reads.
//! The daemon reads a Maildir or an IMAP mailbox through one [`source::Source`] loop.

pub mod imap;
pub mod pipeline;
pub mod source;
pub mod utf7;

use std::path::{Path, PathBuf};

/// One raw message from a source.
#[derive(Debug, Clone)]
pub struct RawMessage {
    pub source_key: String,
    /// Arrival at the mailbox (unix seconds): the Maildir delivery time, IMAP INTERNALDATE, or
    /// for a bare `.eml` the newest `Received:` header.
    pub arrival: Option<i64>,
    pub path: Option<PathBuf>,
    pub bytes: Vec<u8>,
    /// The size the source reports when `bytes` holds only the head (an oversized IMAP message).
    pub declared_size: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{0} is neither a Maildir folder (with new/ or cur/) nor a file")]
    NotASource(String),
    #[error("the intake source {0} is not a Maildir (no new/ or cur/ folder there)")]
    NotAMaildir(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// A message file found in a Maildir, not yet read.
#[derive(Debug, Clone)]
pub struct MaildirEntry {
    pub path: PathBuf,
    pub unique: String,
    pub arrival: Option<i64>,
    pub in_new: bool,
}

/// The unique part of a Maildir file name (before the `:2,` info).
pub fn maildir_unique(name: &str) -> &str {
    name.split(':').next().unwrap_or(name)
}

/// The delivery time a Maildir file name starts with (Dovecot and Postfix write Unix seconds).
pub fn maildir_arrival(name: &str) -> Option<i64> {
    let digits: String = name.chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.len() < 9 || digits.len() > 11 {
        return None;
    }
    digits.parse().ok()
}

pub fn is_maildir(p: &Path) -> bool {
    p.join("new").is_dir() || p.join("cur").is_dir()
}

/// Lists a Maildir's messages (new/ and cur/; a missing cur/ or tmp/ is fine), oldest first.
pub fn list_maildir(dir: &Path) -> Result<Vec<MaildirEntry>, IntakeError> {
    let mut out = Vec::new();
    for (sub, in_new) in [("new", true), ("cur", false)] {
        let d = dir.join(sub);
        if !d.is_dir() {
            continue;
        }
        let rd = std::fs::read_dir(&d).map_err(|e| IntakeError::Read { path: d.display().to_string(), source: e })?;
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !e.file_type().map(|t| t.is_file()).unwrap_or(false) {
                continue;
            }
            out.push(MaildirEntry {
                path: e.path(),
                unique: maildir_unique(&name).to_string(),
                arrival: maildir_arrival(&name),
                in_new,
            });
        }
    }
    out.sort_by(|a, b| (a.arrival, &a.unique).cmp(&(b.arrival, &b.unique)));
    Ok(out)
}

/// Expands `ingest` arguments into message entries: Maildir folders, folders of `.eml` files,
/// and single files.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<MaildirEntry>, IntakeError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            if is_maildir(p) {
                out.extend(list_maildir(p)?);
            } else {
                let rd = std::fs::read_dir(p).map_err(|e| IntakeError::Read { path: p.display().to_string(), source: e })?;
                let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
                files.sort();
                out.extend(files.into_iter().map(|f| MaildirEntry { path: f, unique: String::new(), arrival: None, in_new: false }));
            }
        } else if p.is_file() {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            // A file inside a Maildir's new/ or cur/ keeps its Maildir identity.
            let parent_is_maildir = p.parent().and_then(|d| d.file_name()).is_some_and(|n| n == "new" || n == "cur");
            if parent_is_maildir && maildir_arrival(&name).is_some() {
                out.push(MaildirEntry { path: p.clone(), unique: maildir_unique(&name).to_string(), arrival: maildir_arrival(&name), in_new: true });
            } else {
                out.push(MaildirEntry { path: p.clone(), unique: String::new(), arrival: None, in_new: false });
            }
        } else {
            return Err(IntakeError::NotASource(p.display().to_string()));
        }
    }
    Ok(out)
}

/// How much of an oversized message is read: its head, for the record and the reply.
const HEAD_BYTES: u64 = 64 * 1024;

/// Reads one entry's bytes and gives it its exactly-once key. A file larger than `max_bytes`
/// is not read whole: its head alone is, and its size is declared so it is recorded rejected.
pub fn read_entry(e: &MaildirEntry, max_bytes: u64) -> Result<RawMessage, IntakeError> {
    use std::io::Read;
    // Another process (the daemon) may have moved the file from new/ to cur/ since the listing.
    let moved;
    let e = match std::fs::metadata(&e.path) {
        Err(x) if x.kind() == std::io::ErrorKind::NotFound && e.in_new => match moved_to_cur(e) {
            Some(m) => {
                moved = m;
                &moved
            }
            None => e,
        },
        _ => e,
    };
    let err = |source| IntakeError::Read { path: e.path.display().to_string(), source };
    let size = std::fs::metadata(&e.path).map_err(err)?.len();
    let (bytes, declared_size) = if size > max_bytes {
        let mut head = Vec::with_capacity(HEAD_BYTES as usize);
        std::fs::File::open(&e.path).map_err(err)?.take(HEAD_BYTES).read_to_end(&mut head).map_err(err)?;
        (head, Some(size))
    } else {
        (std::fs::read(&e.path).map_err(err)?, None)
    };
    let source_key = if e.unique.is_empty() {
        format!("eml:{}", crate::digest::sha256_hex(&bytes))
    } else {
        format!("maildir:{}", e.unique)
    };
    Ok(RawMessage { source_key, arrival: e.arrival, path: Some(e.path.clone()), bytes, declared_size })
}

/// The same message in the Maildir's cur/, when another process moved it there.
fn moved_to_cur(e: &MaildirEntry) -> Option<MaildirEntry> {
    let cur = e.path.parent()?.parent()?.join("cur");
    let found = std::fs::read_dir(&cur).ok()?.flatten().find(|f| maildir_unique(&f.file_name().to_string_lossy()) == e.unique)?;
    Some(MaildirEntry { path: found.path(), unique: e.unique.clone(), arrival: e.arrival, in_new: false })
}

/// Applies `after = "flag"` the Maildir way: new/NAME → cur/NAME:2,S (only after the commit).
pub fn maildir_mark_seen(e: &MaildirEntry) -> std::io::Result<()> {
    if !e.in_new {
        return Ok(());
    }
    let Some(dir) = e.path.parent().and_then(|p| p.parent()) else { return Ok(()) };
    let cur = dir.join("cur");
    std::fs::create_dir_all(&cur)?;
    let name = e.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let base = maildir_unique(&name);
    std::fs::rename(&e.path, cur.join(format!("{base}:2,S")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arrival_time_comes_from_the_maildir_file_name() {
        assert_eq!(maildir_arrival("1584670320.M3P1003.host:2,S"), Some(1584670320));
        assert_eq!(maildir_arrival("msg.eml"), None);
        assert_eq!(maildir_unique("1584670320.M3P1003.host:2,S"), "1584670320.M3P1003.host");
    }

    #[test]
    fn a_maildir_without_cur_or_tmp_is_listed_oldest_first() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("new")).unwrap();
        std::fs::write(d.path().join("new/1600000000.B.x"), b"x").unwrap();
        std::fs::write(d.path().join("new/1500000000.A.x"), b"y").unwrap();
        let l = list_maildir(d.path()).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].arrival, Some(1500000000));
    }
}

/// The Maildir the daemon watches. Every message not yet recorded is handed over, read or not
/// (people share the mailbox and may have opened a message, moving it to cur/, before the
/// daemon saw it); with `after = "flag"` each is marked seen only after its commit.
pub struct MaildirSource {
    dir: PathBuf,
    after: crate::config::After,
    poll: std::time::Duration,
    max_bytes: u64,
    /// The entries of the current pass still to hand over; None between passes.
    pending: Option<std::collections::VecDeque<MaildirEntry>>,
}

impl MaildirSource {
    pub fn new(cfg: &crate::config::Config, dir: &Path) -> MaildirSource {
        MaildirSource {
            dir: dir.to_path_buf(),
            after: cfg.intake.after.clone(),
            poll: std::time::Duration::from_secs(cfg.intake.poll_seconds.max(1)),
            max_bytes: cfg.intake.max_message_bytes,
            pending: None,
        }
    }
}

impl source::Source for MaildirSource {
    type Token = MaildirEntry;
    type Error = IntakeError;

    async fn open(&mut self, _: &crate::store::Store) -> Result<source::Opened, IntakeError> {
        if !is_maildir(&self.dir) {
            return Err(IntakeError::NotAMaildir(self.dir.display().to_string()));
        }
        Ok(source::Opened::Ready)
    }

    async fn next(&mut self, _: &crate::store::Store, _: &source::Health) -> Result<Option<source::Incoming<MaildirEntry>>, IntakeError> {
        if self.pending.is_none() {
            self.pending = Some(list_maildir(&self.dir)?.into());
        }
        let pending = self.pending.as_mut().expect("listed above");
        while let Some(e) = pending.pop_front() {
            match read_entry(&e, self.max_bytes) {
                Ok(raw) => return Ok(Some(source::Incoming { raw: Some(raw), token: e })),
                // Moved or removed since the listing (a person, another process): the next
                // pass lists the folder again.
                Err(err) => tracing::warn!("{err}"),
            }
        }
        self.pending = None;
        Ok(None)
    }

    async fn settle(&mut self, _: &crate::store::Store, e: MaildirEntry) -> Result<(), IntakeError> {
        if self.after == crate::config::After::Flag {
            if let Err(err) = maildir_mark_seen(&e) {
                tracing::warn!("cannot mark {} seen: {err}", e.path.display());
            }
        }
        Ok(())
    }

    fn unrecorded(&mut self, _: MaildirEntry, _: crate::store::StoreError) -> Result<(), IntakeError> {
        // One bad message never stops the others: it stays unmarked and is tried next pass.
        Ok(())
    }

    async fn wait(&mut self, shutdown: &mut tokio::sync::watch::Receiver<bool>) -> Result<bool, IntakeError> {
        tokio::select! {
            _ = tokio::time::sleep(self.poll) => Ok(!*shutdown.borrow()),
            _ = shutdown.changed() => Ok(false),
        }
    }

    async fn close(&mut self) {
        self.pending = None;
    }
}

/// The files and folders `baocao ingest` is given, as a source: read once, in order, through
/// the same batched pipeline as the daemon's; nothing is marked at the source. It counts what
/// happened for the command's summary.
pub struct FilesSource {
    entries: std::collections::VecDeque<MaildirEntry>,
    max_bytes: u64,
    pub decisions: std::collections::BTreeMap<&'static str, usize>,
    pub known: usize,
    /// One line per file that could not be read or recorded.
    pub unreadable: Vec<String>,
    /// Called once per file handed over and dealt with (a progress bar).
    pub progress: Box<dyn FnMut() + Send>,
}

impl FilesSource {
    pub fn new(entries: Vec<MaildirEntry>, max_bytes: u64) -> FilesSource {
        FilesSource { entries: entries.into(), max_bytes, decisions: Default::default(), known: 0, unreadable: vec![], progress: Box::new(|| {}) }
    }
}

impl source::Source for FilesSource {
    type Token = PathBuf;
    type Error = crate::store::StoreError;

    async fn open(&mut self, _: &crate::store::Store) -> Result<source::Opened, Self::Error> {
        Ok(source::Opened::Ready)
    }

    async fn next(&mut self, _: &crate::store::Store, _: &source::Health) -> Result<Option<source::Incoming<PathBuf>>, Self::Error> {
        while let Some(e) = self.entries.pop_front() {
            match read_entry(&e, self.max_bytes) {
                Ok(raw) => return Ok(Some(source::Incoming { raw: Some(raw), token: e.path })),
                Err(err) => {
                    self.unreadable.push(err.to_string());
                    (self.progress)();
                }
            }
        }
        Ok(None)
    }

    async fn settle(&mut self, _: &crate::store::Store, _: PathBuf) -> Result<(), Self::Error> {
        (self.progress)();
        Ok(())
    }

    fn recorded(&mut self, path: &PathBuf, outcome: &pipeline::Outcome) {
        match outcome {
            pipeline::Outcome::Recorded { decision, .. } => *self.decisions.entry(decision.as_str()).or_default() += 1,
            pipeline::Outcome::AlreadyKnown => self.known += 1,
            pipeline::Outcome::SetAside => self.unreadable.push(format!("{}: could not be recorded; set aside (see `audit`)", path.display())),
        }
    }

    fn unrecorded(&mut self, path: PathBuf, e: crate::store::StoreError) -> Result<(), Self::Error> {
        (self.progress)();
        // The database is away: nothing after this message could be recorded either.
        if e.is_transient() {
            return Err(crate::store::StoreError::Interrupted(format!("cannot record {}: {e}", path.display())));
        }
        self.unreadable.push(format!("{}: {e}", path.display()));
        Ok(())
    }

    async fn wait(&mut self, _: &mut tokio::sync::watch::Receiver<bool>) -> Result<bool, Self::Error> {
        Ok(false)
    }

    async fn close(&mut self) {}
}
