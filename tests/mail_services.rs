//! The mail services offices use, as far as they can be stood up here: OAuth2 logins (SASL
//! XOAUTH2 and OAUTHBEARER) to a real Dovecot and a real Postfix whose `oauth2` passdb checks
//! each token at a small local provider (token endpoint and RFC 7662 introspection), the way
//! Microsoft 365 and Gmail check theirs; and folders with Vietnamese names, as the province's
//! Zimbra holds them (IMAP modified UTF-7 on the wire).

mod common;
use common::*;

fn report(i: usize) -> (i64, Vec<u8>) {
    let (d, t) = at(2021, 4, 1 + i as u32, 9);
    (t, mail("bva@test.example", &format!("Báo cáo quý I năm 2021 lần {i}"), &format!("<o{i}@test>"), &d, "", &[("bc.docx", &bva_q1(&format!("{i}/BC-BVA"), 5))]))
}

/// An office reading `imap` with the intake login `login` (TOML lines), moving what it
/// processed to `folder`, and writing its mail to the file outbox.
fn office_on(imap: &Dovecot, login: &str, folder: &str) -> Office {
    let cfg = CONFIG.replace("source = \"maildir:inbox\"", &format!("source = \"{}\"\n{login}after = \"move:{folder}\"\npoll_seconds = 2", imap.url()));
    Office::with_config(Db::Sqlite, &cfg)
}

fn run_once(o: &Office, env: &[(&str, &str)]) -> std::process::Output {
    let mut c = bin();
    c.current_dir(o.path()).args(["--config", "config.toml", "run", "--once"]);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn imap_logs_in_with_an_xoauth2_token_from_a_command_and_moves_mail_to_a_vietnamese_folder() {
    let provider = OAuthProvider::start("vanphong", "unused", false);
    provider.grant("good-token-1");
    let imap = Dovecot::start_with_oauth2(&provider);
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "good-token-1\n").unwrap();
    let o = office_on(&imap, &format!("auth = \"xoauth2\"\ntoken_command = \"cat {}\"\n", token.display()), "Đã xử lý");
    let mut c = imap.client();
    for i in 0..2 {
        let (t, m) = report(i);
        c.append("INBOX", t, &m);
    }

    let out = run_once(&o, &[]);
    assert!(out.status.success(), "run --once: {}", String::from_utf8_lossy(&out.stderr));
    let subs = o.json(&["submissions", "--json"]);
    assert_eq!(subs.as_array().unwrap().len(), 2, "{subs}");
    assert!(provider.state.lock().unwrap().introspected.iter().all(|t| t == "good-token-1"), "Dovecot checked the token at the provider");
    assert!(!provider.state.lock().unwrap().introspected.is_empty());

    // The folder exists under its modified UTF-7 name and holds what was processed.
    let list = c.cmd("LIST \"\" \"*\"").join("");
    assert!(list.contains("\"&ARAA4w- x&Hu0- l&AP0-\"") || list.contains(" &ARAA4w- x&Hu0- l&AP0-"), "{list}");
    assert_eq!(c.count("\"&ARAA4w- x&Hu0- l&AP0-\""), 2);
    assert_eq!(c.count("INBOX"), 0);

    // check-config --connect says how it logged in, never the token.
    let out = o.run(&["check-config", "--connect"]);
    let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("accepts the login of vanphong (XOAUTH2, token from token_command)"), "{said}");
    assert!(said.contains("processed mail moves to «Đã xử lý» (exists)"), "the folder's name read back from the server: {said}");
    assert!(!said.contains("good-token-1"), "{said}");
}

#[test]
fn an_expired_token_is_refreshed_at_the_token_url_and_a_refused_one_is_a_clear_error() {
    // The provider's first access token is dead by the time it is used (as after a night): the
    // server refuses it, baocao forgets it and exchanges the refresh token again.
    let provider = OAuthProvider::start("vanphong", "1//refresh-secret", true);
    let imap = Dovecot::start_with_oauth2(&provider);
    let login = format!(
        "auth = \"oauthbearer\"\ntoken_url = \"{}\"\nclient_id = \"baocao-test\"\nclient_secret_env = \"TEST_CLIENT_SECRET\"\nrefresh_token_env = \"TEST_REFRESH_TOKEN\"\n",
        provider.url("/token")
    );
    let o = office_on(&imap, &login, "Processed");
    let (t, m) = report(0);
    imap.client().append("INBOX", t, &m);
    let env = [("TEST_CLIENT_SECRET", "s3cret"), ("TEST_REFRESH_TOKEN", "1//refresh-secret")];
    let out = run_once(&o, &env);
    assert!(out.status.success(), "run --once: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(o.json(&["submissions", "--json"]).as_array().unwrap().len(), 1);
    {
        let st = provider.state.lock().unwrap();
        assert_eq!(st.issued, 2, "the refused token was replaced by a fresh one");
        assert!(st.introspected.contains(&"tok-1".to_string()) && st.introspected.contains(&"tok-2".to_string()), "{:?}", st.introspected);
    }

    // A revoked refresh token: the provider's words reach the operator.
    let out = run_once(&o, &[("TEST_CLIENT_SECRET", "s3cret"), ("TEST_REFRESH_TOKEN", "1//revoked")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid_grant") && err.contains("expired or revoked"), "{err}");
    assert!(!err.contains("1//revoked"), "the refresh token is never printed: {err}");

    // A token command whose token the server refuses every time: one clear line, nothing read.
    let o = office_on(&imap, "auth = \"xoauth2\"\ntoken_command = \"echo not-a-valid-token\"\n", "Processed");
    let (t, m) = report(1);
    imap.client().append("INBOX", t, &m);
    let out = run_once(&o, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("AUTHENTICATE XOAUTH2") && err.contains("refused the token (token from token_command)"), "{err}");
    assert_eq!(o.json(&["submissions", "--json"]).as_array().unwrap().len(), 0);
}

#[test]
fn smtp_sends_through_postfix_with_an_oauth2_token_and_a_refused_token_keeps_every_mail_queued() {
    let provider = OAuthProvider::start("sender", "unused", false);
    provider.grant("smtp-token");
    let pf = Postfix::start_with_oauth2(&provider);
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "stale-token\n").unwrap();
    let ob = format!(
        "transport = \"smtp://127.0.0.1:{}\"\nca_file = \"{}\"\nuser = \"sender\"\nauth = \"xoauth2\"\ntoken_command = \"cat {}\"\n",
        pf.port,
        pf.ca.display(),
        token.display()
    );
    let o = Office::with_config(Db::Sqlite, &CONFIG.replace("transport = \"file:var/outbox\"\n", &ob));
    for i in 0..2 {
        let (t, m) = report(i);
        o.deliver(t, &format!("{i}"), &m);
    }
    o.ok(&["ingest", "--no-deliver", "inbox"]);

    let out = o.ok(&["deliver"]);
    assert!(out.contains("0 mail(s) delivered, 0 failed"), "{out}");
    let list = o.json(&["outbox", "list", "--json"]);
    let why = list["blocked"]["error"].as_str().unwrap_or_default().to_string();
    assert!(why.contains("XOAUTH2") && why.contains("refused the token") && why.contains("535"), "{why}");
    let mails = list["mails"].as_array().unwrap();
    assert!(mails.len() >= 2 && mails.iter().all(|m| m["state"] == "queued" && m["attempts"] == 0), "nothing failed or counted against a mail: {list}");

    std::fs::write(&token, "smtp-token\n").unwrap();
    let out = o.ok(&["deliver"]);
    assert!(out.contains(&format!("{} mail(s) delivered, 0 failed, 0 still queued", mails.len())), "{out}");
    wait_until(30, "Postfix to relay every mail", || pf.sink.messages().len() >= mails.len());
    assert!(pf.log().contains("sasl_method=XOAUTH2, sasl_username=sender"), "{}", pf.log());
    assert!(provider.state.lock().unwrap().introspected.contains(&"smtp-token".to_string()));
}

#[test]
fn a_daily_limit_keeps_what_is_over_it_queued_takes_the_kinds_in_turn_and_tells_the_office_first() {
    for db in databases() {
        // A consumer Gmail account: a few hundred recipients a day; here four.
        let cfg = CONFIG.replace("acks_per_sender_hour = 1000\n", "acks_per_sender_hour = 1000\ndaily_limit = 4\n");
        let o = Office::with_config(db, &cfg);
        for i in 0..3 {
            let (t, m) = report(i);
            o.deliver(t, &format!("{i}"), &m);
        }
        o.ok(&["ingest", "--no-deliver", "inbox"]);
        // The next morning's reminder run: TTYT-B is late; queued after the three answers.
        o.ok(&["remind", "--as-of", "2021-04-10T09:00"]);
        let list = o.json(&["outbox", "list", "--json"]);
        let mails = list["mails"].as_array().unwrap().clone();
        let state = |kind: &str| -> Vec<String> { mails.iter().filter(|m| m["kind"] == kind).map(|m| m["state"].as_str().unwrap().to_string()).collect() };
        assert_eq!(state("reminder"), ["sent"], "the reminder took its turn before the older answers: {list}");
        let acks = state("ack");
        assert_eq!((acks.iter().filter(|s| *s == "sent").count(), acks.iter().filter(|s| *s == "queued").count()), (2, 1), "{list}");
        // The office was told before the day was used up, and that notice went out.
        let notice: Vec<&serde_json::Value> = mails.iter().filter(|m| m["key"].as_str().unwrap().starts_with("daily-limit:")).collect();
        assert_eq!(notice.len(), 1, "{list}");
        assert_eq!(notice[0]["state"], "sent");
        assert_eq!(notice[0]["recipients"][0], "chanhvanphong@so.test");
        let text = o.outbox().iter().map(|p| std::fs::read_to_string(p).unwrap_or_default()).find(|t| t.contains("X-Baocao-Key: daily-limit:")).unwrap();
        assert!(text.contains("X-Baocao-Kind: status"), "{text}");
        // Nothing more today: what waits stays queued, not failed, and is not counted as tried.
        let out = o.ok(&["deliver"]);
        assert!(out.contains("0 mail(s) delivered, 0 failed, 1 still queued"), "{out}");
        let list = o.json(&["outbox", "list", "--json"]);
        let waiting: Vec<&serde_json::Value> = list["mails"].as_array().unwrap().iter().filter(|m| m["state"] == "queued").collect();
        assert_eq!(waiting.len(), 1);
        assert_eq!(waiting[0]["attempts"], 0);
    }
}
