//! # baocao
//!
//! Reads the office mailbox of a provincial Department of Health, understands the Word and Excel
//! reports its units send, knows every deadline, and answers, reminds and reports.
//!
//! ## The pipeline
//! ```text
//! intake (Maildir / .eml / IMAP)          one Source loop; exactly-once key per message
//!   -> office::analyse
//!      -> parse::mime                     headers, forwards, attachments
//!      -> parse::{container,docx,sheet}   bytes -> blocks / sheets (in parse-worker processes)
//!      -> parse::{header,extract}         administrative header, score table, commitments, plan
//!      -> parse::form                     a unit's copy of the office's form read against it
//!      -> matching                        unit, report kind, period -> decision with evidence (pure)
//!   -> office::record_arrival             one transaction: raw bytes, decision, versions, a form
//!                                         report's figures checked against the unit's past, the
//!                                         acknowledgement in the outbox, audit events
//! office                                  the one door for decisions: arrival and whether it is
//!                                         acknowledged, accept, assign, reject, exempt, extend,
//!                                         withdraw, reprocess, requeue mail, reminders due, the
//!                                         digest, status mail and review notice (whether due,
//!                                         key, recipients), the directory of units and report
//!                                         kinds (CLI, daemon, console); each writes its audit
//!                                         event (audit::Kind) in the change's transaction
//! facts                                   what the store knew at an instant, read once: the
//!                                         visible obligations and their states, the snapshot,
//!                                         a form report's figures; handed to the pure cores
//! schedule                                deadlines, status as of T, reminder plan (pure)
//! notify                                  renders and queues what office decided; delivery
//!                                         through a MailTransport
//! compile                                 digest figures, the status workbook and page; a form
//!                                         report's period compiled and the office's form
//!                                         filled (pure, from facts)
//! daemon                                  `run`: intake, cron jobs (domain::Job), delivery and
//!                                         the console as tasks under one shutdown signal
//! web                                     the console (SPEC §14): sessions, pages, forms that
//!                                         call office's actions under the person's account
//! health                                  what the daemon shares with its faces: live rules,
//!                                         parse stage, /healthz and /metrics (no face imports
//!                                         the daemon)
//! store                                   the only place SQL lives: one file per aggregate
//!                                         (messages, requests, exemptions, extensions,
//!                                         reminders, outbox, audit chain, mailbox, jobs,
//!                                         directory, figures, mail, console)
//! digest, text, domain, config            low modules every stage may use: fingerprints,
//!                                         Vietnamese folding, pure types, the validated config
//! ```
//! The pure cores (parse, matching, schedule, compile) never read the store: they take `domain`
//! types — the office's `Rules` (units, reports, calendar), periods, decisions, kinds and states
//! as enums — and what `facts` read for them. `Config` is where things are and
//! dereferences to those rules.
//! ## Where state lives
//! Only in the database (SQLite by default, PostgreSQL when shared): received messages with
//! their raw bytes (compressed, content-addressed), decisions, exemptions and extensions, the
//! office's directory of units, groups and report kinds (seeded from the TOML file), the outbox, reminder
//! stages already decided, and the hash-chained audit trail. The rules a running daemon reads
//! are the file's joined to the directory, the confirmed requests and the extensions
//! (`office::requests::Live`), read again whenever one of them changes. Everything else is recomputed
//! from it, so `status --as-of T` reproduces any past day.

pub mod audit;
pub mod cli;
pub mod compile;
pub mod daemon;
pub mod config;
pub mod digest;
pub mod domain;
pub mod facts;
pub mod health;
pub mod intake;
pub mod matching;
pub mod notify;
pub mod office;
pub mod parse;
pub mod schedule;
pub mod secrets;
pub mod store;
pub mod text;
pub mod tls;
pub mod web;
