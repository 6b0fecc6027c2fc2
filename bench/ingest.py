#!/usr/bin/env python3
"""Ingest throughput: `baocao ingest` against a Python script doing the same reading (email +
python-docx + openpyxl into SQLite), on the public corpus's mailbox scaled ×N; and, over a
private Dovecot, `baocao run --once` against the floor of one ranged `UID FETCH 1:* BODY.PEEK[]`.
Prints wall time, messages per second, CPU and peak RSS of each, in one run. No timed tests.

    python3 bench/ingest.py [--scale 20] [--distinct] [--corpus ../shared/corpus/thanhhoa] [--no-imap] [--backfill 0]

Each copy of a corpus message gets its own Message-ID and its own delivery name, so every copy is
a new message to both programs (its attachments are the same bytes as the original's; with
`--distinct` they are other bytes of the same content, so nothing is parsed or stored once for
many copies). `--backfill
N` also ingests a mailbox of N messages (the scaled corpus repeated) and prints the peak RSS, to
show memory stays bounded. IMAP needs root (Dovecot's login runs as nobody), `dovecot-imapd` and
`postfix` (smtp-sink).
"""
import argparse, email, email.policy, glob, imaplib, io, os, re, resource, shutil, sqlite3, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "baocao")
sys.path.insert(0, os.path.join(ROOT, "bench"))


def distinct(raw, k):
    """The message with each attachment's bytes made its own (the same content, other bytes):
    a comment in a zip package (.docx, .xlsx, .zip), a trailing line elsewhere. Nothing a
    program may cache by content or store once is shared between copies."""
    import base64, zipfile
    m = email.message_from_bytes(raw, policy=email.policy.compat32)
    for part in m.walk():
        if part.is_multipart() or not part.get_filename() or (part.get("Content-Transfer-Encoding") or "").lower() != "base64":
            continue
        data = part.get_payload(decode=True) or b""
        try:
            buf = io.BytesIO(data)
            with zipfile.ZipFile(buf, "a") as z:
                z.comment = b"copy %d" % k
            new = buf.getvalue()
        except Exception:
            new = data + b"\n%% copy %d\n" % k
        part.set_payload(base64.encodebytes(new).decode("ascii"))
    return m.as_bytes()


def scaled_mailbox(corpus, dest, scale, unique=False):
    """The corpus inbox ×scale as a Maildir: each copy renamed and its Message-ID made unique
    (with `unique`, its attachments' bytes too)."""
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(dest, sub), exist_ok=True)
    files = sorted(glob.glob(os.path.join(corpus, "inbox", "new", "*")) + glob.glob(os.path.join(corpus, "inbox", "cur", "*")))
    n = 0
    for k in range(scale):
        for i, f in enumerate(files):
            raw = open(f, "rb").read()
            name = os.path.basename(f).split(":")[0]
            secs = re.match(rb"\d+", name.encode()).group(0).decode()
            if k:
                raw = re.sub(rb"(?im)^(message-id:\s*<)([^>\r\n]*)>", lambda m: m.group(1) + m.group(2) + b".copy%d>" % k, raw, count=1)
                if unique:
                    raw = distinct(raw, k)
            open(os.path.join(dest, "new", "%s.B%dC%d.bench" % (secs, i, k)), "wb").write(raw)
            n += 1
    return n


PY_INGEST = r'''
import email, email.policy, io, os, sqlite3, sys, time, resource, hashlib, zipfile
import docx, openpyxl
box, dbpath = sys.argv[1], sys.argv[2]
db = sqlite3.connect(dbpath)
db.execute("pragma journal_mode=wal"); db.execute("pragma synchronous=normal")
db.execute("create table if not exists message (id integer primary key, sha256 text unique, message_id text, subject text, sender text, raw blob)")
db.execute("create table if not exists document (message integer, filename text, kind text, text text)")
t = time.time(); n = 0
for sub in ("new", "cur"):
    for name in sorted(os.listdir(os.path.join(box, sub))):
        raw = open(os.path.join(box, sub, name), "rb").read()
        m = email.message_from_bytes(raw, policy=email.policy.default)
        cur = db.execute("insert or ignore into message (sha256, message_id, subject, sender, raw) values (?,?,?,?,?)",
                         (hashlib.sha256(raw).hexdigest(), m["message-id"], str(m["subject"] or ""), str(m["from"] or ""), raw))
        mid = cur.lastrowid
        for part in m.walk():
            if part.is_multipart():
                continue
            data = part.get_payload(decode=True) or b""
            fn = part.get_filename() or ""
            if not data.startswith(b"PK"):
                continue
            try:
                z = zipfile.ZipFile(io.BytesIO(data))
                if sum(i.file_size for i in z.infolist()) > 200 * 1024 * 1024:
                    continue  # a zip bomb: refused unread, as baocao does
                names = z.namelist()
                if any(x.startswith("word/") for x in names):
                    d = docx.Document(io.BytesIO(data))
                    text = "\n".join([p.text for p in d.paragraphs] + ["\t".join(c.text for c in r.cells) for tb in d.tables for r in tb.rows])
                    kind = "docx"
                elif any(x.startswith("xl/") for x in names):
                    wb = openpyxl.load_workbook(io.BytesIO(data), data_only=True, read_only=True)
                    text = "\n".join("\t".join("" if c is None else str(c) for c in r) for ws in wb.worksheets for r in ws.iter_rows(values_only=True))
                    kind = "xlsx"
                else:
                    continue
            except Exception as e:
                kind, text = "error", str(e)
            db.execute("insert into document values (?,?,?,?)", (mid, fn, kind, text))
        db.commit()
        n += 1
print(n, time.time() - t)
'''


def timed(cmd, cwd=None, env=None):
    """Runs a command under /usr/bin/time: (wall seconds, user+sys seconds, peak RSS MB, stdout, stderr)."""
    t = time.time()
    p = subprocess.run(["/usr/bin/time", "-f", "TIME %U %S %M", *cmd], cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.time() - t
    line = [l for l in p.stderr.splitlines() if l.startswith("TIME ")][-1].split()
    if p.returncode != 0:
        sys.exit("%s failed:\n%s" % (" ".join(cmd), p.stderr[-2000:]))
    return wall, float(line[1]) + float(line[2]), int(line[3]) / 1024.0, p.stdout, p.stderr


def office(corpus, work, box, extra=""):
    """A scratch office: the corpus's config pointed at `box`, its own database and outbox."""
    os.makedirs(work, exist_ok=True)
    cfg = open(os.path.join(corpus, "config.toml"), encoding="utf-8").read()
    cfg = re.sub(r'(?m)^source = .*$', 'source = "%s"' % box, cfg)
    cfg = cfg.replace("[intake]", "[intake]" + extra, 1)
    open(os.path.join(work, "config.toml"), "w", encoding="utf-8").write(cfg)
    return os.path.join(work, "config.toml")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=int, default=20)
    ap.add_argument("--corpus", default=os.path.join(ROOT, "..", "shared", "corpus", "thanhhoa"))
    ap.add_argument("--no-imap", action="store_true")
    ap.add_argument("--no-python", action="store_true")
    ap.add_argument("--backfill", type=int, default=0)
    ap.add_argument("--distinct", action="store_true", help="every copy's attachments are other bytes (no content repeats)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each; the best is printed")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="baocao-ingest-")
    os.chmod(tmp, 0o755)  # Dovecot's processes (nobody) reach their folder inside it
    box = os.path.join(tmp, "box")
    n = scaled_mailbox(a.corpus, box, a.scale, a.distinct)
    mb = sum(os.path.getsize(f) for f in glob.glob(os.path.join(box, "new", "*"))) / 1e6
    print("mailbox: %d messages (the corpus ×%d%s), %.1f MB" % (n, a.scale, ", attachments distinct" if a.distinct else "", mb))

    best = None
    for r in range(a.repeat):
        w = os.path.join(tmp, "b%d" % r)
        cfg = office(a.corpus, w, "maildir:" + box)
        res = timed([BIN, "--config", cfg, "ingest", "--no-deliver", "--json", box], env=dict(os.environ, BAOCAO_LOG="warn"))
        if best is None or res[0] < best[0]:
            best = res
    wall, cpu, rss = best[:3]
    print("baocao ingest --no-deliver  %6.2f s  %7.0f msg/s  cpu %5.2f s  peak RSS %6.1f MB" % (wall, n / wall, cpu, rss))
    if not a.no_python:
        script = os.path.join(tmp, "py_ingest.py")
        open(script, "w").write(PY_INGEST)
        pbest = None
        for r in range(max(1, a.repeat - 1)):
            db = os.path.join(tmp, "py%d.db" % r)
            res = timed([sys.executable, script, box, db])
            if pbest is None or res[0] < pbest[0]:
                pbest = res
        pw, pc, prss = pbest[:3]
        print("python email+docx+openpyxl  %6.2f s  %7.0f msg/s  cpu %5.2f s  peak RSS %6.1f MB" % (pw, n / pw, pc, prss))
        print("ratio: baocao is %.1f× the Python script" % (pw / wall))

    if a.backfill:
        big = os.path.join(tmp, "backfill")
        k = 0
        for sub in ("new", "cur", "tmp"):
            os.makedirs(os.path.join(big, sub), exist_ok=True)
        names = sorted(os.listdir(os.path.join(box, "new")))
        while k < a.backfill:
            for nm in names:
                if k >= a.backfill:
                    break
                raw = open(os.path.join(box, "new", nm), "rb").read()
                raw = re.sub(rb"(?im)^(message-id:\s*<)([^>\r\n]*)>", lambda m: m.group(1) + m.group(2) + b".bf%d>" % k, raw, count=1)
                open(os.path.join(big, "new", nm.replace(".bench", ".bf%d" % k)), "wb").write(raw)
                k += 1
        cfg = office(a.corpus, os.path.join(tmp, "bf"), "maildir:" + big)
        wall, cpu, rss, _, _ = timed([BIN, "--config", cfg, "ingest", "--no-deliver", "--json", big], env=dict(os.environ, BAOCAO_LOG="warn"))
        print("backfill of %d messages      %6.1f s  %7.0f msg/s  cpu %6.1f s  peak RSS %6.1f MB" % (k, wall, k / wall, cpu, rss))
        shutil.rmtree(big, ignore_errors=True)

    if not a.no_imap:
        imap_bench(a, tmp, box, n)
    shutil.rmtree(tmp, ignore_errors=True)


def imap_bench(a, tmp, box, n):
    if os.geteuid() != 0 or not os.path.exists("/usr/sbin/dovecot"):
        print("imap: skipped (needs root and dovecot-imapd)")
        return
    import imap as helpers  # bench/imap.py: the private Dovecot and smtp-sink
    r = os.path.join(tmp, "dovecot")
    os.makedirs(r)
    dv, port = helpers.dovecot(r)
    try:
        c = imaplib.IMAP4("127.0.0.1", port)
        c.login("vanphong", "secret")
        c.select("INBOX")
        for nm in sorted(os.listdir(os.path.join(box, "new"))):
            raw = open(os.path.join(box, "new", nm), "rb").read()
            secs = int(re.match(r"\d+", nm).group(0))
            c.append("INBOX", None, imaplib.Time2Internaldate(secs), raw)
        c.logout()
        # The floor: one ranged fetch of every body, read whole (Python's imaplib, one round trip).
        floors = []
        for _ in range(3):
            c = imaplib.IMAP4("127.0.0.1", port)
            c.login("vanphong", "secret")
            c.select("INBOX", readonly=True)
            t = time.time()
            typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[])")
            floors.append(time.time() - t)
            got = sum(len(x[1]) for x in data if isinstance(x, tuple))
            c.logout()
        floor = min(floors)
        print("imap floor: UID FETCH 1:* BODY.PEEK[]  %6.3f s for %d messages (%.1f MB)" % (floor, n, got / 1e6))
        best = None
        for k in range(a.repeat):
            # Fresh state each time: the messages flagged by the previous run are unflagged.
            c = imaplib.IMAP4("127.0.0.1", port)
            c.login("vanphong", "secret")
            c.select("INBOX")
            c.uid("STORE", "1:*", "-FLAGS.SILENT", "(\\Seen $Baocao)")
            c.logout()
            sk = os.path.join(tmp, "sink%d" % k)
            sp, sport = helpers.sink(sk)
            w = os.path.join(tmp, "imap%d" % k)
            cfg = office(a.corpus, w, "imap://vanphong@127.0.0.1:%d/INBOX" % port, '\npassword_env = "BENCH_IMAP_PASSWORD"')
            text = open(cfg, encoding="utf-8").read()
            text = re.sub(r'(?m)^password_env = "BAOCAO_IMAP_PASSWORD"\n', "", text)
            text = re.sub(r'(?m)^transport = .*$', 'transport = "smtp+plain://127.0.0.1:%d"' % sport, text)
            open(cfg, "w", encoding="utf-8").write(text)
            env = dict(os.environ, BENCH_IMAP_PASSWORD="secret", BAOCAO_LOG="warn")
            res = timed([BIN, "--config", cfg, "run", "--once"], env=env)
            # Again, with nothing new: what a pass costs beyond reading the messages.
            idle = timed([BIN, "--config", cfg, "run", "--once"], env=env)[0]
            sp.terminate()
            if best is None or res[0] < best[0]:
                best = res + (idle,)
        wall, cpu, rss = best[:3]
        print("baocao run --once (IMAP)     %6.2f s  %7.0f msg/s  cpu %5.2f s  peak RSS %6.1f MB" % (wall, n / wall, cpu, rss))
        print("baocao run --once, nothing new %5.2f s  (start, schedules, delivery: the fixed part of the above)" % best[-1])
        print("ratio: run --once reaches %.0f%% of the raw FETCH floor's speed" % (100 * floor / wall))
    finally:
        dv.terminate()


if __name__ == "__main__":
    main()
