#!/usr/bin/env python3
"""Parsing speed and peak memory: baocao's parse stage vs the same work in Python
(python-docx, openpyxl, email). Prints one line per workload.

    python3 bench/parse.py [CORPUS_INBOX]   (default ../shared/corpus/thanhhoa/inbox)
Needs `cargo build --release` and `pip install python-docx openpyxl` for the comparison.
"""
import email, email.policy, glob, io, json, os, resource, subprocess, sys, tempfile, time, zipfile

here = os.path.dirname(os.path.abspath(__file__))
binp = os.path.join(here, "..", "target", "release", "baocao")
inbox = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "shared", "corpus", "thanhhoa", "inbox")
msgs = sorted(glob.glob(os.path.join(inbox, "new", "*")) + glob.glob(os.path.join(inbox, "cur", "*")))
tmp = tempfile.mkdtemp(prefix="baocao-bench-")
docx, xlsx = [], []
for i, m in enumerate(msgs):
    msg = email.message_from_bytes(open(m, "rb").read(), policy=email.policy.default)
    for part in msg.walk():
        data = part.get_payload(decode=True) if not part.is_multipart() else None
        if not data or not data.startswith(b"PK"):
            continue
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except Exception:
            continue
        sizes = sum(zi.file_size for zi in zipfile.ZipFile(io.BytesIO(data)).infolist())
        if sizes > 200 * 1024 * 1024:
            continue  # the zip bomb: not a speed workload
        kind = "docx" if any(n.startswith("word/") for n in names) else "xlsx" if any(n.startswith("xl/") for n in names) else None
        if kind:
            p = os.path.join(tmp, "%d.%s" % (i, kind))
            open(p, "wb").write(data)
            (docx if kind == "docx" else xlsx).append(p)
msgs = [m for m in msgs if os.path.getsize(m) < 1_000_000]

def run_rust(files, repeat, extra=()):
    t = time.time()
    out = subprocess.run(["/usr/bin/time", "-f", "%M", binp, "parse", "--repeat", str(repeat), *extra, *files], capture_output=True, text=True)
    wall = time.time() - t
    rss_kb = int(out.stderr.strip().splitlines()[-1])
    return json.loads(out.stdout), rss_kb / 1024.0, wall

def py_child(code, files, repeat):
    prog = "import sys,time,resource\nfiles=sys.argv[2:]\nrepeat=int(sys.argv[1])\n" + code + \
        "\nt=time.time()\nn=0\nfor _ in range(repeat):\n  for f in files:\n    n+=len(open(f,'rb').read()); work(f)\nprint(n, time.time()-t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024.0)"
    out = subprocess.run([sys.executable, "-c", prog, str(repeat), *files], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    n, secs, rss = out.stdout.split()
    return int(n) / 1e6 / float(secs), float(rss)

PY_DOCX = "import docx\ndef work(f):\n  d=docx.Document(f)\n  [p.text for p in d.paragraphs]\n  [[c.text for c in r.cells] for t in d.tables for r in t.rows]"
PY_XLSX = "import openpyxl\ndef work(f):\n  wb=openpyxl.load_workbook(f, data_only=True)\n  [[c for c in r] for ws in wb.worksheets for r in ws.iter_rows(values_only=True)]"
PY_MSG = "import email,email.policy\ndef work(f):\n  m=email.message_from_bytes(open(f,'rb').read(),policy=email.policy.default)\n  [p.get_payload(decode=True) for p in m.walk() if not p.is_multipart()]"

for name, files, repeat, extra, py in [("docx", docx, 30, (), PY_DOCX), ("xlsx", xlsx, 30, (), PY_XLSX), ("messages", msgs, 10, ("--messages",), PY_MSG)]:
    if not files:
        continue
    r, rss, _ = run_rust(files, repeat, extra)
    line = "%-9s baocao %7.1f MB/s, peak %5.1f MB (%d files x %d)" % (name, r["mb_per_s"], rss, len(files), repeat)
    p = py_child(PY_DOCX if name == "docx" else PY_XLSX if name == "xlsx" else PY_MSG, files, max(1, repeat // 5))
    if p:
        line += " | python %6.1f MB/s, peak %5.1f MB | %.0fx" % (p[0], p[1], r["mb_per_s"] / p[0])
    print(line)

# The whole intake as the daemon runs it (parse workers included), on a scratch copy of the
# corpus: the main process's peak and the largest parse worker's peak.
corpus = os.path.dirname(os.path.abspath(inbox))
if os.path.exists(os.path.join(corpus, "config.toml")):
    import shutil
    work = os.path.join(tmp, "office")
    shutil.copytree(corpus, work)
    t = time.time()
    out = subprocess.run(["/usr/bin/time", "-f", "%M", binp, "--config", "config.toml", "ingest", "inbox"], cwd=work, capture_output=True, text=True,
                         env=dict(os.environ, BAOCAO_LOG="info"))
    wall = time.time() - t
    lines = out.stderr.strip().splitlines()
    main_kb = int(lines[-1])
    worker_kb = next((int(l.split("peak_rss_kb=")[1].split()[0]) for l in lines if "peak_rss_kb=" in l), 0)
    print("ingest    %d messages in %.2f s: main process peak %.1f MB, largest parse worker peak %.1f MB" % (len(glob.glob(os.path.join(work, "inbox", "*", "*"))), wall, main_kb / 1024.0, worker_kb / 1024.0))

# Documents read through external programs (LibreOffice, poppler, Tesseract), made here from the
# corpus's .docx by LibreOffice and poppler: files read, MB/s of input and the peak memory of
# the largest process (the converter, run by the parse worker), one parse worker at a time.
def convert(src, to, outdir):
    prof = os.path.join(tmp, "lo-profile")
    subprocess.run(["soffice", "--headless", "--norestore", "-env:UserInstallation=file://" + prof, "--convert-to", to, "--outdir", outdir, src],
                   capture_output=True)
    out = os.path.join(outdir, os.path.splitext(os.path.basename(src))[0] + "." + to.split(":")[0])
    return out if os.path.exists(out) else None

if docx and subprocess.run(["which", "soffice"], capture_output=True).returncode == 0:
    conv = os.path.join(tmp, "converted")
    os.makedirs(conv, exist_ok=True)
    sample = docx[:6]
    made = {"doc": [], "rtf": [], "odt": [], "pdf": [], "jpg (OCR)": []}
    for f in sample:
        for fmt, to in [("doc", "doc:MS Word 97"), ("rtf", "rtf"), ("odt", "odt"), ("pdf", "pdf")]:
            p = convert(f, to, conv)
            if p:
                made[fmt].append(p)
    for p in made["pdf"][:3]:
        base = os.path.splitext(p)[0] + "-page"
        subprocess.run(["pdftoppm", "-r", "200", "-jpeg", "-singlefile", "-f", "1", "-l", "1", p, base], capture_output=True)
        if os.path.exists(base + ".jpg"):
            made["jpg (OCR)"].append(base + ".jpg")
    for fmt, files in made.items():
        if not files:
            continue
        t = time.time()
        out = subprocess.run(["/usr/bin/time", "-f", "%M", binp, "parse", "--json", *files], capture_output=True, text=True)
        wall = time.time() - t
        peak = int(out.stderr.strip().splitlines()[-1]) / 1024.0
        docs = [d for m in json.loads(out.stdout) for d in m["documents"]]
        ok = sum(1 for d in docs if d["parse"] == "ok" and len(d.get("text") or "") > 20)
        mb = sum(os.path.getsize(f) for f in files) / 1e6
        print("%-9s %d of %d files read with text, %.2f MB in %.1f s (%.2f MB/s, %.1f s per file), peak %.0f MB" % (fmt, ok, len(files), mb, wall, mb / wall, wall / len(files), peak))
