#!/usr/bin/env python3
"""IMAP intake figures against a private Dovecot and smtp-sink (Debian dovecot-imapd, postfix):

1. IDLE latency: with `baocao run` idling on the mailbox, APPEND a report and time until its
   acknowledgement reaches smtp-sink (N times; min/median/max).
2. Idle poll of a big mailbox: APPEND M messages, let one `run --once` record them, then time a
   second `run --once` and report how many message bodies it fetched (must be 0).

Usage: bench/imap.py [--n 10] [--m 10000]   (run as root: Dovecot's login runs as nobody)
"""
import argparse, base64, imaplib, os, shutil, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "baocao")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(p):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", p), 0.2).close()
            return
        except OSError:
            time.sleep(0.025)
    raise SystemExit("port %d did not open" % p)


def dovecot(r):
    for d in ("mail", "run", "state"):
        os.makedirs(os.path.join(r, d), exist_ok=True)
    os.chown(os.path.join(r, "mail"), 65534, 65534)
    os.chmod(r, 0o755)
    open(os.path.join(r, "users"), "w").write("vanphong:{PLAIN}secret\n")
    port = free_port()
    open(os.path.join(r, "dovecot.conf"), "w").write(f"""base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{r}/mail/%u
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {r}/users
}}
userdb {{
  driver = static
  args = uid=65534 gid=65534 home={r}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
""")
    p = subprocess.Popen(["/usr/sbin/dovecot", "-F", "-c", os.path.join(r, "dovecot.conf")], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return p, port


def sink(d):
    os.makedirs(os.path.join(d, "m"))
    subprocess.run(["chown", "-R", "nobody", d])
    port = free_port()
    p = subprocess.Popen(["/usr/sbin/smtp-sink", "-u", "nobody", "-R", d, "-d", "/m/%M.", f"127.0.0.1:{port}", "100"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return p, port


def servers(tmp, procs):
    """Dovecot and smtp-sink under `tmp` (appended to `procs` for cleanup); returns
    (imap port, smtp port, an empty office folder)."""
    dv, iport = dovecot(os.path.join(tmp, "dovecot"))
    procs.append(dv)
    sk, sport = sink(os.path.join(tmp, "sink"))
    procs.append(sk)
    work = os.path.join(tmp, "office")
    os.makedirs(work)
    return iport, sport, work


def message(i, when):
    body = base64.b64encode("Kính gửi Văn phòng Sở. Bệnh viện Đa khoa An Bình gửi báo cáo quý I năm 2021.".encode()).decode()
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(when))
    return (f"From: bva@test.example\r\nTo: vanphong@so.test\r\nSubject: =?UTF-8?B?{base64.b64encode(f'Báo cáo quý I năm 2021 lần {i}'.encode()).decode()}?=\r\n"
            f"Date: {date}\r\nMessage-ID: <bench{i}.{when}@test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{body}\r\n").encode()


def report(i, when):
    """The sample inbox's first report, made unique (its own Message-ID and a text part of its
    own, so it is neither a duplicate nor a redelivery)."""
    raw = open(os.path.join(ROOT, "config", "sample-inbox", "new", "1617588000.M1P1.sample"), "rb").read()
    raw = raw.replace(b"Message-ID: <sample1@test>", f"Message-ID: <idle{i}.{when}@test>".encode())
    return raw.replace(b"\r\n\r\n--XYZ\r\n", f"\r\n\r\n--XYZ\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbench {i} {when}\r\n--XYZ\r\n".encode(), 1)


def office(d, imap_port, smtp_port):
    cfg = open(os.path.join(ROOT, "config", "example.toml"), encoding="utf-8").read()
    cfg = cfg.replace('source = "maildir:sample-inbox"', f'source = "imap://vanphong@127.0.0.1:{imap_port}/INBOX"')
    cfg = cfg.replace('poll_seconds = 60', 'poll_seconds = 60')
    cfg = cfg.replace('transport = "file:var/outbox"', f'transport = "smtp+plain://127.0.0.1:{smtp_port}"')
    cfg = "\n".join(l for l in cfg.splitlines() if not l.startswith(("reminders =", "digest =", "office_status =")))
    open(os.path.join(d, "config.toml"), "w", encoding="utf-8").write(cfg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--m", type=int, default=10000)
    a = ap.parse_args()
    if not os.path.exists(BIN):
        subprocess.run(["cargo", "build", "--release"], cwd=ROOT, check=True)
    env = dict(os.environ, BAOCAO_IMAP_PASSWORD="secret")
    tmp = tempfile.mkdtemp(prefix="baocao-bench-")
    os.chmod(tmp, 0o755)
    procs = []
    try:
        iport, sport, work = servers(tmp, procs)
        office(work, iport, sport)
        m = imaplib.IMAP4("127.0.0.1", iport)
        m.login("vanphong", "secret")
        daemon = subprocess.Popen([BIN, "--config", "config.toml", "run"], cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "daemon.log"), "w"), env=dict(env, BAOCAO_LOG=os.environ.get("BAOCAO_LOG", "warn")))
        procs.append(daemon)
        time.sleep(1.5)  # connected and idling
        sinkdir = os.path.join(tmp, "sink", "m")
        lat = []
        for i in range(a.n):
            before = len(os.listdir(sinkdir))
            now = int(time.time())
            t0 = time.monotonic()
            m.append("INBOX", None, imaplib.Time2Internaldate(now), report(i, now))
            while len(os.listdir(sinkdir)) == before:
                if time.monotonic() - t0 > 30:
                    raise SystemExit("no acknowledgement within 30 s")
                time.sleep(0.002)
            lat.append(time.monotonic() - t0)
            time.sleep(0.2)
        print(f"IDLE: APPEND -> acknowledgement at the SMTP server, {a.n} messages: min {min(lat)*1000:.0f} ms, "
              f"median {statistics.median(lat)*1000:.0f} ms, max {max(lat)*1000:.0f} ms")
        daemon.terminate()
        daemon.wait(20)
        t0 = time.monotonic()
        base = int(time.time()) - 86400 * 400  # old mail: recorded, too old to acknowledge matters not here
        for i in range(a.m):
            m.append("INBOX", None, imaplib.Time2Internaldate(base + i), message(100000 + i, base + i))
        print(f"appended {a.m} messages in {time.monotonic() - t0:.1f} s")
        t0 = time.monotonic()
        r = subprocess.run([BIN, "--config", "config.toml", "run", "--once"], cwd=work, env=env, capture_output=True, text=True)
        print(f"first pass over {a.m} new messages: {time.monotonic() - t0:.1f} s: {r.stdout.strip()} {r.stderr.strip()[-300:]}")
        t0 = time.monotonic()
        r = subprocess.run([BIN, "--config", "config.toml", "run", "--once"], cwd=work, env=env, capture_output=True, text=True)
        print(f"idle poll of a mailbox holding {a.m + a.n} processed messages: {(time.monotonic() - t0)*1000:.0f} ms: {r.stdout.strip()}")
    finally:
        for p in procs:
            p.kill()
        if not os.environ.get("KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept", tmp)


if __name__ == "__main__":
    main()
