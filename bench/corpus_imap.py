#!/usr/bin/env python3
"""The public corpus through the real daemon over IMAP and SMTP, judged like check_corpus.py.

APPENDs every corpus message to a private Dovecot with its arrival (the Maildir file name's
seconds) as INTERNALDATE, runs `baocao run` with IMAP intake and SMTP delivery to smtp-sink,
waits until the acknowledgements have arrived, stops the daemon with SIGTERM, then points the
same database at a file outbox and lets `check_corpus.py --work` judge submissions, status and
reminders.

Usage: bench/corpus_imap.py [CORPUS_DIR]   (default ../shared/corpus/thanhhoa; run as root)
"""
import glob, imaplib, os, re, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imap import BIN, ROOT, servers  # noqa: E402

corpus = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "corpus", "thanhhoa"))
tmp = tempfile.mkdtemp(prefix="baocao-corpus-imap-")
os.chmod(tmp, 0o755)
procs = []
try:
    iport, sport, work = servers(tmp, procs)
    cfg = open(os.path.join(corpus, "config.toml"), encoding="utf-8").read()
    cfg = re.sub(r'(?m)^source = .*$', f'source = "imap://vanphong@127.0.0.1:{iport}/INBOX"', cfg)
    smtp_cfg = re.sub(r'(?m)^transport = .*$', f'transport = "smtp+plain://127.0.0.1:{sport}"', cfg)
    smtp_cfg = "\n".join(l for l in smtp_cfg.splitlines() if not l.startswith(("reminders =", "digest =", "office_status =")))
    open(os.path.join(work, "config.toml"), "w", encoding="utf-8").write(smtp_cfg)
    m = imaplib.IMAP4("127.0.0.1", iport)
    m.login("vanphong", "secret")
    files = sorted(glob.glob(os.path.join(corpus, "inbox", "new", "*")) + glob.glob(os.path.join(corpus, "inbox", "cur", "*")))
    for f in files:
        t = int(os.path.basename(f).split(".")[0])
        m.append("INBOX", None, imaplib.Time2Internaldate(t), open(f, "rb").read())
    env = dict(os.environ, BAOCAO_IMAP_PASSWORD="secret")
    t0 = time.monotonic()
    d = subprocess.Popen([BIN, "--config", "config.toml", "run"], cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "daemon.log"), "w"))
    procs.append(d)
    sinkdir = os.path.join(tmp, "sink", "m")
    last, stable = -1, 0
    while time.monotonic() - t0 < 120:
        n = len(os.listdir(sinkdir))
        stable = stable + 1 if n == last and n > 0 else 0
        last = n
        if stable >= 10:
            break
        time.sleep(0.2)
    d.terminate()
    d.wait(30)
    print(f"{len(files)} messages APPENDed; {last} acknowledgement(s) at smtp-sink within {time.monotonic() - t0:.1f} s; daemon exit {d.returncode}")
    open(os.path.join(work, "config.toml"), "w", encoding="utf-8").write(cfg)  # same database, file outbox, for the reminder checks
    r = subprocess.run([sys.executable, os.path.join(ROOT, "..", "shared", "tools", "check_corpus.py"), corpus, "--work", work, "--config", "config.toml", "--bin", BIN], capture_output=True, text=True)
    print(r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr)
finally:
    for p in procs:
        p.kill()
    shutil.rmtree(tmp, ignore_errors=True)
