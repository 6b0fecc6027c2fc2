//! Delivery and concurrency faults through the real binary: a server that will not talk leaves
//! every mail queued until it is fixed; a refused recipient does not stop the others; a message
//! and its re-delivery ingested at once are recorded once; a real Postfix with TLS and SASL
//! takes the mail, and a wrong password or an untrusted certificate loses none.

mod common;
use common::*;
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};

fn smtp_office(db: Db, port: u16) -> Office {
    let cfg = CONFIG.replace("transport = \"file:var/outbox\"", &format!("transport = \"smtp+plain://127.0.0.1:{port}\""));
    Office::with_config(db, &cfg)
}

fn three_reports(o: &Office) {
    for (i, (unit, from)) in [("12/BC-BVA", "bva@test.example"), ("13/BC-BVA", "bva@test.example"), ("14/BC-BVA", "bva@test.example")].iter().enumerate() {
        let (d, t) = at(2021, 4, 5 + i as u32, 9);
        o.deliver(t, &i.to_string(), &mail(from, "Báo cáo quý I năm 2021", &format!("<m{i}@test>"), &d, "", &[("BC quý I.docx", &bva_q1(unit, 5))]));
    }
}

#[test]
fn a_server_refusing_at_the_greeting_fails_no_mail_and_they_all_go_once_it_is_fixed() {
    for db in databases() {
        let port = free_port();
        let o = smtp_office(db, port);
        three_reports(&o);
        {
            let _broken = SmtpSink::start_on(port, &["-f", "CONNECT"]);
            o.ok(&["ingest", "--no-deliver", "inbox"]);
            let out = o.ok(&["deliver"]);
            assert!(out.contains("0 mail(s) delivered, 0 failed, 4 still queued"), "three acknowledgements and the notice wait: {out}");
            let list = o.json(&["outbox", "list", "--json"]);
            assert!(list["blocked"]["error"].as_str().unwrap().contains("5"), "the reason is kept: {list}");
            let mails = list["mails"].as_array().unwrap();
            assert!(mails.iter().filter(|m| m["kind"] == "ack").all(|m| m["state"] == "queued" && m["attempts"] == 0), "{list}");
            assert_eq!(mails.iter().filter(|m| m["kind"] == "status").count(), 1, "office.staff hear of it once: {list}");
            o.ok(&["deliver"]);
            let again = o.json(&["outbox", "list", "--json"]);
            assert_eq!(again["mails"].as_array().unwrap().iter().filter(|m| m["kind"] == "status").count(), 1, "not twice");
        }
        let sink = SmtpSink::start_on(port, &[]);
        let out = o.ok(&["deliver"]);
        assert!(out.contains("4 mail(s) delivered, 0 failed, 0 still queued"), "the acknowledgements and the notice: {out}");
        let got = sink.messages();
        assert_eq!(got.iter().filter(|m| m.kind() == "ack").count(), 3);
        let notice: Vec<_> = got.iter().filter(|m| m.kind() == "status").collect();
        assert_eq!(notice.len(), 1);
        assert_eq!(notice[0].rcpt, vec!["chanhvanphong@so.test".to_string()]);
        assert!(o.json(&["outbox", "list", "--json"])["blocked"].is_null());
        let audit = o.json(&["audit", "--json"]);
        let kinds: Vec<&str> = audit.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert!(kinds.contains(&"outbox_blocked") && kinds.contains(&"outbox_unblocked"), "{kinds:?}");
    }
}

/// A scripted SMTP server refusing one recipient for good; returns what it accepted.
fn refusing_server(refuse: &'static str) -> (u16, std::thread::JoinHandle<Vec<(Vec<String>, String)>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
        let mut w = sock.try_clone().unwrap();
        let mut r = BufReader::new(sock);
        let mut got = Vec::new();
        let mut rcpt = Vec::new();
        writeln!(w, "220 test ESMTP\r").unwrap();
        let mut line = String::new();
        while r.read_line(&mut line).unwrap_or(0) > 0 {
            let l = line.trim_end().to_string();
            line.clear();
            let up = l.to_ascii_uppercase();
            let reply = if up.starts_with("EHLO") {
                "250-test\r\n250 8BITMIME".to_string()
            } else if up.starts_with("RCPT") && l.contains(&format!("<{refuse}>")) {
                format!("550 5.1.1 <{refuse}>: mailbox unavailable")
            } else if up.starts_with("RCPT") {
                rcpt.push(l[l.find('<').unwrap() + 1..l.find('>').unwrap()].to_string());
                "250 ok".into()
            } else if up == "DATA" {
                writeln!(w, "354 go\r").unwrap();
                let mut data = String::new();
                loop {
                    let mut d = String::new();
                    r.read_line(&mut d).unwrap();
                    if d == ".\r\n" {
                        break;
                    }
                    data.push_str(&d);
                }
                got.push((std::mem::take(&mut rcpt), data));
                "250 queued".into()
            } else if up == "QUIT" {
                writeln!(w, "221 bye\r").unwrap();
                break;
            } else {
                "250 ok".into()
            };
            writeln!(w, "{reply}\r").unwrap();
        }
        got
    });
    (port, h)
}

#[test]
fn one_refused_recipient_does_not_keep_the_digest_from_the_others() {
    let (port, server) = refusing_server("giamdoc@so.test");
    let cfg = CONFIG
        .replace("transport = \"file:var/outbox\"", &format!("transport = \"smtp+plain://127.0.0.1:{port}\""))
        .replace("leadership = [\"giamdoc@so.test\"]", "leadership = [\"giamdoc@so.test\", \"phogiamdoc@so.test\"]");
    let o = Office::with_config(Db::Sqlite, &cfg);
    let out = o.ok(&["digest", "--as-of", "2021-04-12"]);
    assert!(out.contains("1 mail(s) delivered, 0 failed"), "{out}");
    let got = server.join().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, vec!["phogiamdoc@so.test".to_string()], "the accepted recipient has it");
    let list = o.json(&["outbox", "list", "--json"]);
    let digest = list["mails"].as_array().unwrap().iter().find(|m| m["kind"] == "digest").unwrap().clone();
    assert_eq!(digest["state"], "sent");
    assert!(digest["last_error"].as_str().unwrap().contains("giamdoc@so.test: RCPT TO giamdoc@so.test: 550"), "{digest}");
    let audit = o.json(&["audit", "--json"]);
    let refused: Vec<&Value> = audit.as_array().unwrap().iter().filter(|e| e["kind"] == "mail_recipient_refused").collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["data"].as_str().map(|d| d.contains("giamdoc@so.test")), Some(true));
}

#[test]
fn a_message_and_its_redelivery_ingested_at_once_are_recorded_once() {
    for db in databases() {
        let o = Office::new(db);
        let pairs = 30;
        for dir in ["a", "b"] {
            std::fs::create_dir_all(o.path().join(format!("{dir}/new"))).unwrap();
        }
        for i in 0..pairs {
            let (d, t) = at(2021, 4, 5, 9);
            let m = mail("bva@test.example", "Báo cáo quý I năm 2021", &format!("<r{i}@test>"), &d, "", &[("BC quý I.docx", &bva_q1(&format!("{i}/BC-BVA"), 5))]);
            std::fs::write(o.path().join(format!("a/new/{}.M{i}Pa.test", t + i as i64)), &m).unwrap();
            // The same message through another relay: one more Received header, same body.
            let mut relay = format!("Received: from relay2.test by mx.so.test; {d}\r\n").into_bytes();
            relay.extend(&m);
            std::fs::write(o.path().join(format!("b/new/{}.M{i}Pb.test", t + i as i64)), &relay).unwrap();
        }
        o.ok(&["audit", "verify"]); // migrate before the race
        let spawn = |dir: &str| bin().current_dir(o.path()).args(["--config", "config.toml", "ingest", "--no-deliver", dir]).output();
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| spawn("a").unwrap());
            let b = s.spawn(|| spawn("b").unwrap());
            (a.join().unwrap(), b.join().unwrap())
        });
        assert!(a.status.success() && b.status.success(), "{}\n{}", String::from_utf8_lossy(&a.stderr), String::from_utf8_lossy(&b.stderr));
        let subs = o.json(&["submissions", "--json"]);
        let subs = subs.as_array().unwrap();
        assert_eq!(subs.len(), 2 * pairs);
        for i in 0..pairs {
            let mid = format!("<r{i}@test>");
            let mut decisions: Vec<&str> = subs.iter().filter(|s| s["message_id"] == mid.as_str()).map(|s| s["decision"].as_str().unwrap()).collect();
            decisions.sort();
            assert_eq!(decisions, vec!["accepted", "duplicate"], "{mid}");
        }
        let versions: Vec<i64> = subs.iter().filter_map(|s| s["version"].as_i64()).collect();
        assert_eq!(versions.iter().max(), Some(&(pairs as i64)), "versions are not inflated");
        let acks = o.json(&["outbox", "list", "--json", "--limit", "1000"])["mails"].as_array().unwrap().iter().filter(|m| m["kind"] == "ack").count();
        assert_eq!(acks, pairs, "one acknowledgement per message");
    }
}

#[test]
fn a_flood_from_one_address_is_recorded_whole_but_answered_within_its_hourly_limit() {
    let o = Office::with_config(Db::Sqlite, &CONFIG.replace("acks_per_sender_hour = 1000", "acks_per_sender_hour = 20"));
    let (d, t) = at(2021, 4, 5, 9);
    let doc = bva_q1("12/BC-BVA", 5);
    for i in 0..200 {
        o.deliver(t + i, &format!("f{i}"), &mail("bva@test.example", &format!("Báo cáo quý I năm 2021 ({i})"), &format!("<flood{i}@test>"), &d, "", &[("BC quý I.docx", &doc)]));
    }
    o.deliver(t + 500, "other", &mail("ttyt.bacson@test.example", "Báo cáo quý I năm 2021 - TTYT Bắc Sơn", "<other@test>", &d, "", &[("BC quý I.docx", &bva_q1("3/BC-TTYT", 6))]));
    let out = o.ok(&["ingest", "--no-deliver", "inbox"]);
    assert!(out.contains("ingested 201 new message(s)"), "nothing is lost: {out}");
    let list = o.json(&["outbox", "list", "--json", "--limit", "1000"]);
    let acks: Vec<&Value> = list["mails"].as_array().unwrap().iter().filter(|m| m["kind"] == "ack").collect();
    let to = |a: &str| acks.iter().filter(|m| m["recipients"][0] == a).count();
    assert_eq!(to("bva@test.example"), 20, "the flooding address gets outbound.acks_per_sender_hour answers");
    assert_eq!(to("ttyt.bacson@test.example"), 1, "another unit is still answered");
    let audit = o.json(&["audit", "--json"]);
    let skipped = audit.as_array().unwrap().iter().filter(|e| e["kind"] == "ack_skipped" && e["data"].as_str().unwrap_or("").contains("acks_per_sender_hour")).count();
    assert_eq!(skipped, 180, "each unanswered message is recorded as such");
}

/// An office sending through a real Postfix: `transport`, the login from two environment
/// variables, and the test CA when `trust` (otherwise only the public roots).
fn postfix_office(transport: &str, ca: &std::path::Path, trust: bool) -> Office {
    let mut ob = format!("transport = \"{transport}\"\nuser_env = \"BAOCAO_TEST_SMTP_USER\"\npassword_env = \"BAOCAO_TEST_SMTP_PASSWORD\"\n");
    if trust {
        ob += &format!("ca_file = \"{}\"\n", ca.display());
    }
    Office::with_config(Db::Sqlite, &CONFIG.replace("transport = \"file:var/outbox\"\n", &ob))
}

/// `baocao deliver` with a login in the environment (`None`: the variables unset).
fn deliver_as(o: &Office, login: Option<(&str, &str)>) -> String {
    let mut c = bin();
    c.current_dir(o.path()).args(["--config", "config.toml", "deliver"]);
    match login {
        Some((u, p)) => c.env("BAOCAO_TEST_SMTP_USER", u).env("BAOCAO_TEST_SMTP_PASSWORD", p),
        None => c.env_remove("BAOCAO_TEST_SMTP_USER").env_remove("BAOCAO_TEST_SMTP_PASSWORD"),
    };
    let out = c.output().unwrap();
    assert!(out.status.success(), "deliver: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn blocked_reason(o: &Office) -> String {
    let list = o.json(&["outbox", "list", "--json"]);
    list["blocked"]["error"].as_str().unwrap_or_default().to_string()
}

#[test]
fn mail_goes_through_a_real_postfix_over_starttls_and_implicit_tls_with_auth_plain_and_login() {
    let pf = Postfix::start();
    let ways = [
        (format!("smtp://127.0.0.1:{}", pf.port), "PLAIN"),
        (format!("smtps://127.0.0.1:{}", pf.tls_port), "PLAIN"),
        (format!("smtp://127.0.0.1:{}", pf.login_port), "LOGIN"),
    ];
    for (i, (transport, mechanism)) in ways.iter().enumerate() {
        let o = postfix_office(transport, &pf.ca, true);
        let (d, t) = at(2021, 4, 5, 9);
        o.deliver(t, "a", &mail("bva@test.example", "Báo cáo quý I năm 2021", &format!("<pf{i}@test>"), &d, "", &[("BC quý I.docx", &bva_q1("12/BC-BVA", 5))]));
        o.ok(&["ingest", "--no-deliver", "inbox"]);
        let out = deliver_as(&o, Some(("sender", "secret")));
        assert!(out.contains("1 mail(s) delivered, 0 failed, 0 still queued"), "{transport}: {out}");
        let key = o.json(&["outbox", "list", "--json"])["mails"][0]["key"].as_str().unwrap().to_string();
        // Postfix queued it and relayed it on to the sink behind it.
        wait_until(30, "Postfix to relay the acknowledgement", || pf.sink.messages().iter().any(|m| m.key() == key));
        let got: Vec<_> = pf.sink.messages().into_iter().filter(|m| m.key() == key).collect();
        assert_eq!(got.len(), 1, "{transport}: once");
        assert_eq!(got[0].rcpt, vec!["bva@test.example".to_string()]);
        // ESMTPSA: Postfix's mark of a session both encrypted and authenticated.
        let received = String::from_utf8_lossy(&got[0].raw).to_string();
        assert!(received.contains("with ESMTPSA"), "{transport}: {}", &received[..received.len().min(1500)]);
        assert!(pf.log().contains(&format!("sasl_method={mechanism}, sasl_username=sender")), "{transport} logs in with {mechanism}: {}", pf.log());
    }
}

#[test]
fn an_untrusted_certificate_a_wrong_password_or_a_missing_one_is_a_clear_error_and_no_mail_is_lost() {
    let pf = Postfix::start();
    let transport = format!("smtp://127.0.0.1:{}", pf.port);
    let o = postfix_office(&transport, &pf.ca, false);
    three_reports(&o);
    o.ok(&["ingest", "--no-deliver", "inbox"]);

    let out = deliver_as(&o, Some(("sender", "secret")));
    assert!(out.contains("0 mail(s) delivered, 0 failed"), "a certificate from an unknown CA is refused: {out}");
    let why = blocked_reason(&o);
    assert!(why.contains("certificate") && why.contains("127.0.0.1"), "the reason names the certificate and the server: {why}");

    // The office's own CA trusted: now the password is what is wrong.
    let cfg = std::fs::read_to_string(o.path().join("config.toml")).unwrap();
    let cfg = cfg.replace("password_env = \"BAOCAO_TEST_SMTP_PASSWORD\"\n", &format!("password_env = \"BAOCAO_TEST_SMTP_PASSWORD\"\nca_file = \"{}\"\n", pf.ca.display()));
    std::fs::write(o.path().join("config.toml"), cfg).unwrap();
    let out = deliver_as(&o, Some(("sender", "not-the-password")));
    assert!(out.contains("0 mail(s) delivered, 0 failed"), "{out}");
    let why = blocked_reason(&o);
    assert!(why.contains("login") && why.contains("535"), "the server's answer to the login is kept: {why}");

    let out = deliver_as(&o, None);
    assert!(out.contains("0 mail(s) delivered, 0 failed"), "{out}");
    let why = blocked_reason(&o);
    assert!(why.contains("BAOCAO_TEST_SMTP_USER") && why.contains("not set"), "an unset variable is named: {why}");
    assert!(!pf.log().contains("Relay access denied") && !pf.log().contains("Access denied"), "no mail was offered without a login: {}", pf.log());

    let list = o.json(&["outbox", "list", "--json"]);
    let mails = list["mails"].as_array().unwrap();
    assert!(mails.iter().all(|m| m["state"] == "queued" && m["attempts"] == 0), "nothing failed, nothing counted against a mail: {list}");
    let queued = mails.len();
    assert!(queued >= 3, "{list}");

    let out = deliver_as(&o, Some(("sender", "secret")));
    assert!(out.contains(&format!("{queued} mail(s) delivered, 0 failed, 0 still queued")), "{out}");
    wait_until(30, "Postfix to relay every mail", || pf.sink.messages().len() >= queued);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let got = pf.sink.messages();
    let keys: std::collections::HashSet<String> = got.iter().map(|m| m.key()).collect();
    assert_eq!(got.len(), queued, "each mail once");
    assert_eq!(keys.len(), queued);
    assert_eq!(got.iter().filter(|m| m.kind() == "ack").count(), 3);
    assert!(o.json(&["outbox", "list", "--json"])["blocked"].is_null());
}

/// A tmpfs mounted on a folder for the test's life (the test runs as root, as CI does).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &std::path::Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = std::process::Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(dir).output().unwrap();
        assert!(out.status.success(), "mounting a tmpfs needs root: {}", String::from_utf8_lossy(&out.stderr));
        Tmpfs(dir.to_path_buf())
    }
    fn grow(&self, size: &str) {
        let out = std::process::Command::new("mount").args(["-o", &format!("remount,size={size}")]).arg(&self.0).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_stops_intake_with_its_reason_and_once_there_is_room_every_message_is_recorded_once() {
    let o = Office::new(Db::Sqlite);
    let disk = Tmpfs::mount(&o.path().join("var"), "1m");
    // Forty reports, each with an annex that does not compress (the raw store deflates).
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for i in 0..40u32 {
        let annex: Vec<u8> = (0..24_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let (d, t) = at(2021, 4, 5, 9);
        o.deliver(t + i as i64, &i.to_string(), &mail("bva@test.example", "Báo cáo quý I năm 2021", &format!("<full{i}@test>"), &d, "", &[("BC quý I.docx", &bva_q1(&format!("{i}/BC-BVA"), 5)), ("phu luc.bin", &annex)]));
    }
    let first = o.run(&["ingest", "--no-deliver", "inbox"]);
    let err = String::from_utf8_lossy(&first.stderr);
    assert_eq!(first.status.code(), Some(1), "intake stops: {err}");
    assert!(err.contains("disk is full"), "and says why: {err}");
    let before = subs_of(&o).len();
    // Messages are committed in batches: the batch the disk could not hold is not recorded at all.
    assert!(before < 40, "not all recorded before the disk filled: {before}");

    disk.grow("64m");
    o.ok(&["ingest", "--no-deliver", "inbox"]);
    let s = subs_of(&o);
    let mids: std::collections::HashSet<&str> = s.iter().map(|m| m["message_id"].as_str().unwrap()).collect();
    assert_eq!(s.len(), 40, "every message recorded once");
    assert_eq!(mids.len(), 40);
    assert!(s.iter().all(|m| m["decision"] == "accepted"), "none recorded as refused: {s:?}");
    let audit = o.json(&["audit", "--json"]);
    assert!(!audit.as_array().unwrap().iter().any(|e| e["kind"] == "message_set_aside"), "nothing set aside for a full disk");
    o.ok(&["audit", "verify"]);
}

fn subs_of(o: &Office) -> Vec<Value> {
    o.json(&["submissions", "--json"]).as_array().unwrap().clone()
}

#[test]
fn a_server_slower_than_the_lease_never_gets_a_mail_twice() {
    for db in databases() {
        let port = free_port();
        let cfg = CONFIG.replace("transport = \"file:var/outbox\"", &format!("transport = \"smtp+plain://127.0.0.1:{port}\"")).replace("acks_per_sender_hour = 1000", "acks_per_sender_hour = 1000\nlease_seconds = 2");
        let o = Office::with_config(db, &cfg);
        for i in 0..2u32 {
            let (d, t) = at(2021, 4, 5 + i, 9);
            o.deliver(t, &i.to_string(), &mail("bva@test.example", "Báo cáo quý I năm 2021", &format!("<slow{i}@test>"), &d, "", &[("BC quý I.docx", &bva_q1(&format!("{i}/BC-BVA"), 5))]));
        }
        o.ok(&["ingest", "--no-deliver", "inbox"]);
        // Each RCPT answered after 5 s: every claim (2 s) lapses before its mail's data ends.
        let sink = SmtpSink::start_on(port, &["-W", "RCPT:5"]);
        let start = || bin().current_dir(o.path()).args(["--config", "config.toml", "deliver"]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
        let first = start();
        // The second sender comes once the first one's claim on the first mail has lapsed.
        std::thread::sleep(std::time::Duration::from_millis(3500));
        let second = start();
        let (a, b) = (first.wait_with_output().unwrap(), second.wait_with_output().unwrap());
        let logs = format!("{}{}", String::from_utf8_lossy(&a.stderr), String::from_utf8_lossy(&b.stderr));
        let mut left = o.json(&["outbox", "list", "--json"]);
        // A mail overtaken late may still be queued for the next run.
        if left["mails"].as_array().unwrap().iter().any(|m| m["state"] != "sent") {
            std::thread::sleep(std::time::Duration::from_secs(3));
            o.ok(&["deliver"]);
            left = o.json(&["outbox", "list", "--json"]);
        }
        let mails = left["mails"].as_array().unwrap();
        assert!(mails.iter().all(|m| m["state"] == "sent"), "{left}");
        let got = sink.messages();
        let mut per_key: HashMap<String, usize> = HashMap::new();
        for m in &got {
            *per_key.entry(m.key()).or_default() += 1;
        }
        assert_eq!(per_key.len(), mails.len(), "every mail arrived: {per_key:?}");
        assert!(per_key.values().all(|n| *n == 1), "none twice: {per_key:?}\n{logs}");
        assert!(logs.contains("took this mail over"), "the first sender saw its claim taken and left the mail: {logs}");
    }
}
