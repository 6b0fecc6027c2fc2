#!/usr/bin/env python3
"""Kill soak: SIGKILL at random instants, servers restarted, the disk filled, a flood — and then
count what was lost and what happened twice. Not a test (it takes minutes); figures go to
RELIABILITY.md.

Phases (each prints one line of counts):
  ingest   Maildir `ingest --no-deliver` killed K times, then `deliver` to smtp-sink killed K times
           (SQLite and PostgreSQL).
  imap     `run` over IMAP from a private Dovecot, acknowledging through smtp-sink, killed K times
           while a feeder APPENDs; Dovecot restarted twice and PostgreSQL once mid-run; once with
           after = "flag" and once with "move:Processed" on each database.
  disk     the SQLite database on a small tmpfs: intake until the disk is full (it must stop and
           say why, nothing half written), then the tmpfs grown and intake resumed.
  flood    one address sends F messages at once while other units send theirs; every message
           recorded, the flooder answered within [outbound] acks_per_sender_hour, the others all
           answered, and how long they waited.
  catchup  the daemon (under faketime) down across a reminder morning: started the next day it
           sends that morning's reminders once, late; started again, nothing more; a stage older
           than catch_up_days is never sent.

"Loss": a message never recorded, or an acknowledgement never received. "Double": a message
recorded twice, or one key received twice by the SMTP server (only the window SMTP itself cannot
close, between the final dot and the commit, may give one).

Usage: bench/soak.py [--kills 150] [--n 600] [--flood 10000] [--phases ingest,imap,disk,flood,catchup]
Run as root (Dovecot and smtp-sink drop privileges; the disk phase mounts a tmpfs); needs
`cargo build --release`, Debian dovecot-imapd, postfix, faketime and PostgreSQL on 127.0.0.1:5432.
"""
import argparse, collections, email, glob, imaplib, os, random, re, shutil, signal, sqlite3, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imap import BIN, ROOT, dovecot, free_port, report, sink, wait_port  # noqa: E402

ENV = dict(os.environ, BAOCAO_IMAP_PASSWORD="secret", BAOCAO_LOG="warn")
# A killed sender's claim on a mail lapses after lease_seconds; short here so the settling run
# does not wait five minutes for it.
LEASE = "acks_per_sender_hour = 100000\nlease_seconds = 10"
OTHER = open(os.path.join(ROOT, "config", "sample-inbox", "new", "1634263200.M3P1.sample"), "rb").read()


def other(i, when):
    """Another unit's report (the sample's score table), made unique."""
    return OTHER.replace(b"Message-ID: <sample3@test>", f"Message-ID: <other{i}.{when}@test>".encode())


def config(work, db, source, transport, after="flag", extra=""):
    cfg = open(os.path.join(ROOT, "config", "example.toml"), encoding="utf-8").read()
    cfg = cfg.replace('url = "sqlite://var/baocao.db"', f'url = "{db}"')
    cfg = cfg.replace('source = "maildir:sample-inbox"', f'source = "{source}"')
    cfg = cfg.replace('after = "flag"', f'after = "{after}"')
    cfg = cfg.replace('poll_seconds = 60', 'poll_seconds = 1')
    cfg = cfg.replace('transport = "file:var/outbox"', f'transport = "{transport}"\n{extra}')
    cfg = "\n".join(l for l in cfg.splitlines() if not l.startswith(("reminders =", "digest =", "office_status =")))
    os.makedirs(work, exist_ok=True)
    open(os.path.join(work, "config.toml"), "w", encoding="utf-8").write(cfg)


def baocao(work, *args, env=ENV, check=True):
    r = subprocess.run([BIN, "--config", "config.toml", *args], cwd=work, env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"baocao {' '.join(args)}: exit {r.returncode}: {r.stderr[-800:]}")
    return r


def kill_loop(work, args, kills, max_wait, between=None):
    """Starts `baocao ARGS` and SIGKILLs it at a random instant, `kills` times; calls
    `between(i)` before each start. Returns how many runs ended by themselves first."""
    finished = 0
    for i in range(kills):
        if between:
            between(i)
        p = subprocess.Popen([BIN, "--config", "config.toml", *args], cwd=work, env=ENV, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            p.wait(random.uniform(0.0, max_wait))
            finished += 1
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.wait()
    return finished


class Db:
    """A fresh database: a SQLite file in the office folder, or a PostgreSQL database."""

    def __init__(self, kind, work):
        self.kind, self.work = kind, work
        if kind == "sqlite":
            self.url = "sqlite://var/baocao.db"
        else:
            self.name = f"baocao_soak_{os.getpid()}_{random.randint(0, 10**6)}"
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {self.name}"], check=True)
            self.url = f"postgres://postgres@127.0.0.1:5432/{self.name}"

    def rows(self, sql):
        if self.kind == "sqlite":
            c = sqlite3.connect(os.path.join(self.work, "var", "baocao.db"), timeout=30)
            try:
                return [tuple(r) for r in c.execute(sql)]
            finally:
                c.close()
        for _ in range(30):
            r = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", self.name, "-AtF", "\t", "-c", sql], capture_output=True, text=True)
            if r.returncode == 0:
                return [tuple(l.split("\t")) for l in r.stdout.splitlines() if l]
            time.sleep(1)
        raise SystemExit(r.stderr)

    def drop(self):
        if self.kind == "postgres":
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)"])


def sunk(sinkdir):
    """X-Baocao-Key -> how many times the SMTP server received it."""
    keys = collections.Counter()
    for f in glob.glob(os.path.join(sinkdir, "m", "*")):
        try:
            head = open(f, "rb").read(65536).split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        except OSError:
            continue
        m = re.search(rb"^X-Baocao-Key:\s*(\S+)", head, re.M | re.I)
        if m:
            keys[m.group(1).decode()] += 1
    return keys


def count(db, sinkdir, expected_messages):
    """(recorded, losses, doubles, unsent) of one office."""
    rows = db.rows("SELECT message_id, count(*) FROM messages GROUP BY message_id")
    recorded = sum(int(n) for _, n in rows)
    doubles = sum(int(n) - 1 for _, n in rows if int(n) > 1)
    losses = len(expected_messages - {m for m, _ in rows})
    outbox = db.rows("SELECT key, state FROM outbox")
    got = sunk(sinkdir)
    unsent = [k for k, s in outbox if s != "sent"]
    lost_mail = [k for k, s in outbox if s == "sent" and got[k] == 0]
    double_mail = sum(n - 1 for n in got.values() if n > 1)
    states = collections.Counter(s for _, s in outbox if s != "sent")
    return dict(recorded=recorded, msg_losses=losses, msg_doubles=doubles, mails=len(outbox), unsent=len(unsent), unsent_states=dict(states),
                mail_losses=len(lost_mail), mail_doubles=double_mail)


def verify_audit(work):
    r = baocao(work, "audit", "verify", check=False)
    return "intact" if r.returncode == 0 else f"BROKEN: {r.stdout.strip()[-200:]} {r.stderr.strip()[-200:]}"


def restart_postgres():
    ver = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", ver, "main", "restart"], check=True, capture_output=True)
    for _ in range(60):
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode == 0:
            return
        time.sleep(0.5)


def phase_ingest(tmp, kind, a):
    work = os.path.join(tmp, f"ingest-{kind}")
    os.makedirs(os.path.join(work, "inbox", "new"))
    sk, sport = sink(os.path.join(tmp, f"sink-ingest-{kind}"))
    db = Db(kind, work)
    try:
        config(work, db.url, "maildir:inbox", f"smtp+plain://127.0.0.1:{sport}", extra=LEASE)
        now = int(time.time())
        mids = set()
        per = 40  # messages dropped in before each run: enough work that most runs die mid-way

        def drop(i):
            for j in range(i * per, (i + 1) * per):
                raw = report(j, now) if j % 5 else other(j, now)
                mids.add(re.search(rb"Message-ID: (<[^>]+>)", raw).group(1).decode())
                open(os.path.join(work, "inbox", "new", f"{now - per * a.kills + j}.M{j}P1.soak"), "wb").write(raw)

        k1 = kill_loop(work, ["ingest", "--no-deliver", "inbox"], a.kills, 0.3, drop)
        baocao(work, "ingest", "--no-deliver", "inbox")
        k2 = kill_loop(work, ["deliver"], a.kills, 0.3)
        time.sleep(11)  # the claims of killed senders lapse (lease_seconds)
        baocao(work, "deliver")
        time.sleep(0.5)
        c = count(db, os.path.join(tmp, f"sink-ingest-{kind}"), mids)
        print(f"ingest {kind}: {len(mids)} messages, {2 * a.kills - k1 - k2} kills ({a.kills - k1} in ingest, {a.kills - k2} in deliver), "
              f"{c}, audit {verify_audit(work)}", flush=True)
        return 2 * a.kills - k1 - k2, c
    finally:
        sk.kill()
        db.drop()


def phase_imap(tmp, kind, after, a):
    tag = f"{kind}-{after.split(':')[0]}"
    work = os.path.join(tmp, f"imap-{tag}")
    sk, sport = sink(os.path.join(tmp, f"sink-imap-{tag}"))
    dv_dir = os.path.join(tmp, f"dovecot-{tag}")
    dv, iport = dovecot(dv_dir)
    procs = [sk, dv]
    db = Db(kind, work)
    try:
        config(work, db.url, f"imap://vanphong@127.0.0.1:{iport}/INBOX", f"smtp+plain://127.0.0.1:{sport}", after=after,
               extra=LEASE)
        mids, done = set(), threading.Event()

        def feed():
            m = None
            for i in range(a.n):
                while True:
                    try:
                        if m is None:
                            m = imaplib.IMAP4("127.0.0.1", iport)
                            m.login("vanphong", "secret")
                        now = int(time.time())
                        raw = report(10**6 + i, now) if i % 5 else other(10**6 + i, now)
                        m.append("INBOX", None, imaplib.Time2Internaldate(now), raw)
                        mids.add(re.search(rb"Message-ID: (<[^>]+>)", raw).group(1).decode())
                        break
                    except (OSError, imaplib.IMAP4.abort, imaplib.IMAP4.error):
                        m = None  # Dovecot restarting
                        time.sleep(0.3)
                time.sleep(random.uniform(0, 2.0 * a.kills / a.n))  # spread over the kills
            done.set()

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        restarts = {a.kills // 3: "dovecot", 2 * a.kills // 3: "dovecot"}
        if kind == "postgres":
            restarts[a.kills // 2] = "postgres"

        def between(i):
            what = restarts.get(i)
            if what == "dovecot":
                procs[1].kill()
                procs[1].wait()
                time.sleep(0.3)
                procs[1] = subprocess.Popen(["/usr/sbin/dovecot", "-F", "-c", os.path.join(dv_dir, "dovecot.conf")], stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                wait_port(iport)
            elif what == "postgres":
                restart_postgres()

        k = kill_loop(work, ["run"], a.kills, 2.0, between)
        done.wait()
        # Settle: a clean daemon until every message is in and every mail out.
        p = subprocess.Popen([BIN, "--config", "config.toml", "run"], cwd=work, env=ENV, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "settle.log"), "w"))
        t0 = time.time()
        while time.time() - t0 < 120:
            got = db.rows("SELECT count(*) FROM messages")[0][0]
            queued = db.rows("SELECT count(*) FROM outbox WHERE state <> 'sent'")[0][0]
            if int(got) >= len(mids) and int(queued) == 0:
                break
            time.sleep(1)
        time.sleep(2)
        p.terminate()
        p.wait(30)
        c = count(db, os.path.join(tmp, f"sink-imap-{tag}"), mids)
        m = imaplib.IMAP4("127.0.0.1", iport)
        m.login("vanphong", "secret")
        m.select("INBOX")
        typ, data = m.uid("FETCH", "1:*", "(FLAGS)")
        inbox = [d for d in data if d]
        unmarked = sum(1 for d in inbox if b"$Baocao" not in d)
        moved = 0
        if after.startswith("move:"):
            typ, st = m.status(after[5:], "(MESSAGES)")
            moved = int(re.search(rb"MESSAGES (\d+)", st[0]).group(1)) if typ == "OK" else 0
        mailbox = f"{len(inbox)} left in INBOX, {unmarked} of them unmarked" + (f", {moved} moved" if after.startswith("move:") else "")
        print(f"imap {kind} after={after}: {len(mids)} messages, {a.kills - k} kills, restarts {sorted(restarts.values())}, {c}, "
              f"mailbox: {mailbox}, audit {verify_audit(work)}", flush=True)
        return a.kills - k, c
    finally:
        for p in procs:
            p.kill()
        db.drop()


def phase_disk(tmp, a):
    work = os.path.join(tmp, "disk")
    var = os.path.join(work, "var")
    os.makedirs(os.path.join(work, "inbox", "new"))
    os.makedirs(var)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", var], check=True)
    try:
        config(work, "sqlite://var/baocao.db", "maildir:inbox", "file:var/outbox", extra=LEASE)
        now = int(time.time())
        mids = set()
        for i in range(a.n):
            raw = report(2 * 10**6 + i, now)
            mids.add(re.search(rb"Message-ID: (<[^>]+>)", raw).group(1).decode())
            open(os.path.join(work, "inbox", "new", f"{now - a.n + i}.M{i}P1.soak"), "wb").write(raw)
        r = baocao(work, "ingest", "--no-deliver", "inbox", check=False)
        said = (r.stderr.strip().splitlines() or [""])[-1][:300]
        db = Db("sqlite", work)
        before = int(db.rows("SELECT count(*) FROM messages")[0][0])
        integrity = db.rows("PRAGMA integrity_check")[0][0]
        subprocess.run(["mount", "-o", "remount,size=256m", var], check=True)
        r2 = baocao(work, "ingest", "--no-deliver", "inbox", check=False)
        rows = db.rows("SELECT message_id, count(*) FROM messages GROUP BY message_id")
        doubles = sum(int(n) - 1 for _, n in rows if int(n) > 1)
        losses = len(mids - {m for m, _ in rows})
        print(f"disk: full after {before} of {a.n} messages: exit {r.returncode}, said: {said!r}; integrity {integrity}; "
              f"after growing: exit {r2.returncode}, {sum(int(n) for _, n in rows)} recorded, losses {losses}, doubles {doubles}, "
              f"audit {verify_audit(work)}", flush=True)
    finally:
        subprocess.run(["umount", "-l", var])


def phase_flood(tmp, a):
    work = os.path.join(tmp, "flood")
    os.makedirs(os.path.join(work, "inbox", "new"))
    sk, sport = sink(os.path.join(tmp, "sink-flood"))
    try:
        config(work, "sqlite://var/baocao.db", "maildir:inbox", f"smtp+plain://127.0.0.1:{sport}")
        now = int(time.time())
        others = set(random.sample(range(a.flood), 10))
        mids = set()
        for i in range(a.flood):
            raw = other(3 * 10**6 + i, now) if i in others else report(3 * 10**6 + i, now)
            mids.add(re.search(rb"Message-ID: (<[^>]+>)", raw).group(1).decode())
            open(os.path.join(work, "inbox", "new", f"{now - 60 + i * 60 // a.flood}.M{i}P1.soak"), "wb").write(raw)
        t0 = time.time()
        p = subprocess.Popen([BIN, "--config", "config.toml", "run"], cwd=work, env=ENV, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(work, "daemon.log"), "w"))
        db = Db("sqlite", work)
        first_other = None
        while time.time() - t0 < 900:
            time.sleep(1)
            try:
                got = int(db.rows("SELECT count(*) FROM messages")[0][0])
                acked = sunk(os.path.join(tmp, "sink-flood"))
            except sqlite3.OperationalError:
                continue
            to_others = db.rows("SELECT count(*) FROM outbox WHERE state = 'sent' AND recipients LIKE '%ccds@%'")
            if first_other is None and int(to_others[0][0]) > 0:
                first_other = time.time() - t0
            if got >= a.flood and int(to_others[0][0]) >= len(others):
                break
        took = time.time() - t0
        time.sleep(2)
        p.terminate()
        p.wait(30)
        rows = db.rows("SELECT message_id, count(*) FROM messages GROUP BY message_id")
        losses = len(mids - {m for m, _ in rows})
        by = collections.Counter(r for (r,) in db.rows("SELECT recipients FROM outbox WHERE kind = 'ack'"))
        flood_acks = sum(n for r, n in by.items() if "bva@" in r)
        other_acks = sum(n for r, n in by.items() if "ccds@" in r)
        skipped = db.rows("SELECT count(*) FROM audit WHERE kind = 'ack_skipped'")[0][0]
        wait = db.rows("SELECT max(sent_at - created_at) FROM outbox WHERE kind = 'ack' AND recipients LIKE '%ccds@%'")[0][0]
        print(f"flood: {a.flood - len(others)} from one address + {len(others)} from another unit, all in {took:.0f} s "
              f"({a.flood / took:.0f} msg/s): {sum(int(n) for _, n in rows)} recorded, losses {losses}; acks to the flooder {flood_acks} "
              f"({skipped} skipped, audited), to the other unit {other_acks} of {len(others)}, each sent at most {wait} s after its "
              f"message was recorded (the first after {first_other or float('nan'):.0f} s of the flood)", flush=True)
    finally:
        sk.kill()


def phase_catchup(tmp, a):
    """Reminders at 08:00 on working days; the q-report of quý I năm 2021 is due 10/04/2021 with
    reminders 3 days before. The daemon is stopped the evening before the reminder morning
    (Tue 06/04) and started again at 10:00 on Wed 07/04."""
    if not shutil.which("faketime"):
        print("catchup: skipped (apt-get install faketime)")
        return
    work = os.path.join(tmp, "catchup")
    os.makedirs(os.path.join(work, "inbox", "new"))
    config(work, "sqlite://var/baocao.db", "maildir:inbox", "file:var/outbox")
    cfg = open(os.path.join(work, "config.toml"), encoding="utf-8").read()
    cfg = cfg.replace("[schedule]", '[schedule]\nreminders = "0 0 8 * * Mon-Fri"')
    open(os.path.join(work, "config.toml"), "w", encoding="utf-8").write(cfg)

    def daemon_at(when, secs=4):
        env = dict(ENV, FAKETIME=f"@{when}", FAKETIME_DONT_FAKE_MONOTONIC="1")
        # faketime runs the daemon as its child: signal the whole group.
        p = subprocess.Popen(["faketime", "-f", f"@{when}", BIN, "--config", "config.toml", "run"], cwd=work, env=env, start_new_session=True,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "daemon.log"), "a"))
        time.sleep(secs)
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(30)
        time.sleep(1)

    reminders = lambda: [os.path.basename(f) for f in glob.glob(os.path.join(work, "var", "outbox", "*.eml")) if "remind" in open(f, errors="replace").read(4000)]
    daemon_at("2021-04-05 17:00:00")
    r0 = len(reminders())
    daemon_at("2021-04-07 10:00:00")
    r1 = len(reminders())
    daemon_at("2021-04-07 11:00:00")
    r2 = len(reminders())
    print(f"catchup: down over the 08:00 reminder run of 06/04/2021; before {r0}, started at 10:00 on 07/04: {r1 - r0} reminder(s) sent late, "
          f"started again: {r2 - r1} more", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=150)
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--flood", type=int, default=10000)
    ap.add_argument("--phases", default="ingest,imap,disk,flood,catchup")
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    random.seed(a.seed)
    if not os.path.exists(BIN):
        subprocess.run(["cargo", "build", "--release"], cwd=ROOT, check=True)
    tmp = tempfile.mkdtemp(prefix="baocao-soak-")
    os.chmod(tmp, 0o755)
    phases = a.phases.split(",")
    kills, totals = 0, collections.Counter()
    t0 = time.time()
    try:
        for kind in ("sqlite", "postgres"):
            if "ingest" in phases:
                k, c = phase_ingest(tmp, kind, a)
                kills += k
                totals.update({x: c[x] for x in ("msg_losses", "msg_doubles", "mail_losses", "mail_doubles", "unsent")})
            if "imap" in phases:
                for after in ("flag", "move:Processed"):
                    k, c = phase_imap(tmp, kind, after, a)
                    kills += k
                    totals.update({x: c[x] for x in ("msg_losses", "msg_doubles", "mail_losses", "mail_doubles", "unsent")})
        if "disk" in phases:
            phase_disk(tmp, a)
        if "flood" in phases:
            phase_flood(tmp, a)
        if "catchup" in phases:
            phase_catchup(tmp, a)
        print(f"TOTAL: {kills} SIGKILLs in {time.time() - t0:.0f} s; {dict(totals)}")
    finally:
        if not os.environ.get("KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept", tmp)


if __name__ == "__main__":
    main()
