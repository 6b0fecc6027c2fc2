//! The daemon against real servers: Dovecot (IMAP, IDLE) for intake, smtp-sink for mail, and
//! SQLite or PostgreSQL. Messages are APPENDed with their INTERNALDATEs; acknowledgements are
//! awaited at the SMTP server; the mailbox's flags, the HTTP endpoints, a server restart in
//! the middle of a run, and two instances on one PostgreSQL database are checked.

mod common;
use common::*;
use serde_json::Value;

fn imap_office(db: Db, imap: &Dovecot, sink: &SmtpSink, after: &str, http: Option<u16>) -> Office {
    let mut cfg = CONFIG
        .replace("source = \"maildir:inbox\"", &format!("source = \"{}\"\npassword_env = \"TEST_IMAP_PASSWORD\"\nafter = \"{after}\"\npoll_seconds = 2", imap.url()))
        .replace("transport = \"file:var/outbox\"", &format!("transport = \"{}\"\nlease_seconds = 2", sink.url()));
    if let Some(p) = http {
        cfg.push_str(&format!("\n[http]\nlisten = \"127.0.0.1:{p}\"\n"));
    }
    Office::with_config(db, &cfg)
}

const ENV: &[(&str, &str)] = &[("TEST_IMAP_PASSWORD", "secret")];

fn report(i: usize) -> (i64, Vec<u8>) {
    let (d, t) = at(2021, 4, 1 + (i % 8) as u32, 8 + (i / 8) as u32);
    let doc = bva_q1(&format!("{i}/BC-BVA"), 5);
    (t, mail("bva@test.example", &format!("Báo cáo quý I năm 2021 lần {i}"), &format!("<i{i}@test>"), &d, "", &[("bc.docx", &doc)]))
}

fn acks(sink: &SmtpSink) -> Vec<String> {
    let mut v: Vec<String> = sink.messages().iter().filter(|m| m.kind() == "ack").map(|m| m.key()).collect();
    v.sort();
    v
}

fn subs(o: &Office) -> Vec<Value> {
    o.json(&["submissions", "--json"]).as_array().unwrap().clone()
}

#[test]
fn the_daemon_reads_imap_acknowledges_over_smtp_flags_after_commit_and_serves_health() {
    for db in databases() {
        let imap = Dovecot::start();
        let sink = SmtpSink::start();
        let http = free_port();
        let o = imap_office(db, &imap, &sink, "flag", Some(http));
        let mut c = imap.client();
        // Someone in the office has a message of their own in the shared mailbox.
        let (d0, t0) = at(2021, 3, 30, 9);
        c.append("INBOX", t0, &mail("nguoi.khac@so.test", "Lịch họp giao ban", "<own@test>", &d0, "", &[]));
        for i in 0..3 {
            let (t, m) = report(i);
            c.append("INBOX", t, &m);
        }
        let daemon = Daemon::start(&o, ENV);
        wait_until(30, "three acknowledgements at the SMTP server", || acks(&sink).len() >= 3);
        let s = subs(&o);
        assert_eq!(s.len(), 4, "the three reports and the other message, each once");
        let r0 = s.iter().find(|x| x["message_id"] == "<i0@test>").unwrap();
        assert_eq!(r0["received_at"], "2021-04-01T08:00:00+07:00", "arrival is the INTERNALDATE");
        assert_eq!(r0["decision"], "accepted");
        // Processed messages carry \Seen and $Baocao; nothing was deleted.
        let flags = c.flags("INBOX");
        assert_eq!(flags.len(), 4);
        for (_, f) in &flags {
            assert!(f.contains("$Baocao") && f.contains("\\Seen"), "{f}");
        }
        // A new message while the daemon idles is acknowledged without a restart.
        let (t, m) = report(3);
        c.append("INBOX", t, &m);
        wait_until(20, "the fourth acknowledgement", || acks(&sink).len() >= 4);

        let (code, body) = http_get(http, "/healthz");
        assert_eq!(code, 200, "{body}");
        assert!(body.contains("\"database\":\"ok\"") && body.contains("\"mailbox\":\"ok\""), "{body}");
        let (code, metrics) = http_get(http, "/metrics");
        assert_eq!(code, 200);
        assert!(metrics.contains("baocao_messages{decision=\"accepted\"} 4"), "{metrics}");
        assert!(metrics.contains("baocao_outbox{kind=\"ack\",state=\"sent\"} 4"), "{metrics}");
        assert!(metrics.contains("baocao_last_poll_age_seconds"), "{metrics}");
        assert_eq!(http_get(http, "/").0, 303, "the console's pages need a login");
        o.add_user("lan", "viewer", "mat-khau-du-dai");
        let console = common::browser::Login::new(http, "lan", "mat-khau-du-dai").expect("the viewer logs in");
        let (code, page) = console.get("/");
        assert_eq!(code, 200);
        assert!(page.contains("Bệnh viện Đa khoa An Bình") && page.contains("<table") && !page.contains("<script"), "{page}");
        assert!(daemon.stop().success(), "SIGTERM ends the daemon cleanly");
        assert_eq!(acks(&sink).len(), 4, "one acknowledgement per report, none twice");
    }
}

#[test]
fn moving_processed_mail_leaves_other_peoples_mail_alone() {
    let imap = Dovecot::start();
    let sink = SmtpSink::start();
    let o = imap_office(Db::Sqlite, &imap, &sink, "move:Processed", None);
    let mut c = imap.client();
    for i in 0..2 {
        let (t, m) = report(i);
        c.append("INBOX", t, &m);
    }
    let once = |o: &Office| {
        let out = bin().current_dir(o.path()).args(["--config", "config.toml", "run", "--once"]).envs(ENV.iter().copied()).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    once(&o);
    // Again: nothing new, nothing moved twice.
    once(&o);
    assert_eq!(c.count("INBOX"), 0);
    assert_eq!(c.count("Processed"), 2);
    assert_eq!(subs(&o).len(), 2);
}

#[test]
fn stopping_the_imap_server_mid_run_loses_nothing_and_repeats_nothing() {
    for db in databases() {
        let mut imap = Dovecot::start();
        let sink = SmtpSink::start();
        let o = imap_office(db, &imap, &sink, "flag", None);
        {
            let mut c = imap.client();
            for i in 0..3 {
                let (t, m) = report(i);
                c.append("INBOX", t, &m);
            }
        }
        let daemon = Daemon::start(&o, ENV);
        wait_until(30, "the first acknowledgements", || acks(&sink).len() >= 3);
        imap.stop();
        std::thread::sleep(std::time::Duration::from_secs(3));
        imap.resume();
        {
            let mut c = imap.client();
            for i in 3..6 {
                let (t, m) = report(i);
                c.append("INBOX", t, &m);
            }
        }
        wait_until(60, "acknowledgements after the server came back", || acks(&sink).len() >= 6);
        std::thread::sleep(std::time::Duration::from_secs(2));
        assert!(daemon.stop().success());
        let s = subs(&o);
        assert_eq!(s.len(), 6, "every message once");
        let mut a = acks(&sink);
        let n = a.len();
        a.dedup();
        assert_eq!((n, a.len()), (6, 6), "every acknowledgement once");
    }
}

#[test]
fn two_instances_on_one_postgresql_database_record_and_send_each_message_once() {
    let Some(db) = databases().into_iter().find(|d| matches!(d, Db::Postgres(_))) else {
        eprintln!("note: PostgreSQL unreachable; the two-instance test needs it");
        return;
    };
    let imap = Dovecot::start();
    let sink = SmtpSink::start();
    let o = imap_office(db, &imap, &sink, "flag", None);
    o.ok(&["check-config"]);
    let a = Daemon::start(&o, ENV);
    let b = Daemon::start(&o, ENV);
    let mut c = imap.client();
    for i in 0..8 {
        let (t, m) = report(i);
        c.append("INBOX", t, &m);
    }
    wait_until(40, "eight acknowledgements", || {
        let n = acks(&sink).len();
        if n < 8 {
            for e in std::fs::read_dir(o.path()).unwrap().flatten() {
                if e.file_name().to_string_lossy().starts_with("daemon-") {
                    eprintln!("{}", std::fs::read_to_string(e.path()).unwrap_or_default());
                }
            }
        }
        n >= 8
    });
    // The instance holding the mailbox dies; the other takes over.
    a.kill();
    for i in 8..10 {
        let (t, m) = report(i);
        c.append("INBOX", t, &m);
    }
    wait_until(60, "the other instance to take over", || acks(&sink).len() >= 10);
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(b.stop().success());
    assert_eq!(subs(&o).len(), 10, "each message recorded once");
    let mut k = acks(&sink);
    let n = k.len();
    k.dedup();
    assert_eq!((n, k.len()), (10, 10), "each acknowledgement sent once");
}

#[test]
fn imaps_and_starttls_work_with_the_offices_own_certificate_authority() {
    let imap = Dovecot::start_with(true);
    let sink = SmtpSink::start();
    let ca = imap.dir.path().join("ca.pem");
    {
        let mut c = imap.client();
        for i in 0..2 {
            let (t, m) = report(i);
            c.append("INBOX", t, &m);
        }
    }
    let tls_port = imap.tls_port.unwrap();
    let once = |o: &Office| bin().current_dir(o.path()).args(["--config", "config.toml", "run", "--once"]).envs(ENV.iter().copied()).output().unwrap();
    // Implicit TLS to the name on the certificate, trusting the office's CA.
    let cfg = |source: String, ca_line: &str| {
        CONFIG
            .replace("source = \"maildir:inbox\"", &format!("source = \"{source}\"\npassword_env = \"TEST_IMAP_PASSWORD\"\n{ca_line}"))
            .replace("transport = \"file:var/outbox\"", &format!("transport = \"{}\"", sink.url()))
    };
    let without_ca = Office::with_config(Db::Sqlite, &cfg(format!("imaps://vanphong@localhost:{tls_port}/INBOX"), ""));
    let out = once(&without_ca);
    assert!(!out.status.success(), "a certificate from an unknown CA is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("TLS"), "{}", String::from_utf8_lossy(&out.stderr));
    let ca_line = format!("ca_file = \"{}\"", ca.display());
    let implicit = Office::with_config(Db::Sqlite, &cfg(format!("imaps://vanphong@localhost:{tls_port}/INBOX"), &ca_line));
    let out = once(&implicit);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(subs(&implicit).len(), 2);
    // STARTTLS on the plain port: taken because the server offers it, checked against the CA.
    let starttls = Office::with_config(Db::Sqlite, &cfg(format!("imap://vanphong@127.0.0.1:{}/INBOX", imap.port), &ca_line));
    let check = bin().current_dir(starttls.path()).args(["--config", "config.toml", "check-config", "--connect"]).envs(ENV.iter().copied()).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    assert!(String::from_utf8_lossy(&check.stdout).contains("accepts the login"));
    let out = once(&starttls);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(subs(&starttls).len(), 2);
    let log = std::fs::read_to_string(imap.dir.path().join("dovecot.log")).unwrap_or_default();
    assert!(log.contains("TLS"), "Dovecot saw TLS logins: {log}");
}
