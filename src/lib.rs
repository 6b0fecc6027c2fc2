//! # baocao
//!
//! Reads the office mailbox of a provincial Department of Health, understands the Word and Excel
//! reports its units send, knows every deadline, and answers, reminds and reports.
//!
//! ## The pipeline
//! ```text
//! intake (Maildir / .eml / IMAP)          exactly-once key per message
//!   -> parse::mime                        headers, forwards, attachments
//!   -> parse::{container,docx,sheet}      bytes -> blocks / sheets (in parse-worker processes)
//!   -> parse::{header,extract}            administrative header, score table, commitments, plan
//!   -> matching                           unit, report kind, period -> decision with evidence
//!   -> store (one transaction)            raw bytes, decision, versions, outbox mail, audit events
//! schedule                                deadlines, status as of T, reminder plan (pure)
//! notify                                  acknowledgements, reminders; delivery worker
//! ```
//! ## Where state lives
//! Only in the database (SQLite by default, PostgreSQL when shared): received messages with
//! their raw bytes (compressed, content-addressed), decisions, exemptions, the outbox, reminder
//! stages already decided, and the hash-chained audit trail. Everything else is recomputed
//! from it, so `status --as-of T` reproduces any past day.

pub mod audit;
pub mod cli;
pub mod compile;
pub mod daemon;
pub mod config;
pub mod domain;
pub mod intake;
pub mod matching;
pub mod notify;
pub mod office;
pub mod parse;
pub mod schedule;
pub mod store;
pub mod text;
pub mod tls;
