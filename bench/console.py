#!/usr/bin/env python3
"""The console at an office's scale: how fast every page answers with ten years of mail.

Builds an office of 60 units in three groups and 8 report kinds (6 monthly, 1 quarterly, 1 yearly)
tracked for 10 years — about 50,000 reports, each a .docx in a mail (some sent twice, some late,
some to review) — ingests it with `baocao ingest`, starts `baocao run` with the console, logs in
and times each page over HTTP (median and worst of several requests, server-side and transfer on
loopback). Prints one line per page. Not a test: nothing here passes or fails.

Usage: bench/console.py [--years 10] [--units 60] [--keep DIR]   (needs `cargo build --release`)
"""
import argparse, base64, datetime as dt, http.client, io, os, random, re, shutil, statistics
import subprocess, sys, tempfile, time, urllib.parse, zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imap import BIN, free_port, wait_port  # noqa: E402
ap = argparse.ArgumentParser()
ap.add_argument("--years", type=int, default=10)
ap.add_argument("--units", type=int, default=60)
ap.add_argument("--keep", help="build the office in this folder and keep it")
a = ap.parse_args()

END_YEAR = dt.date.today().year
START_YEAR = END_YEAR - a.years + 1
TZ = dt.timezone(dt.timedelta(hours=7))
random.seed(7)

MONTHLY = [("duoc", "Báo cáo công tác dược tháng", "công tác dược"), ("tiemchung", "Báo cáo tiêm chủng mở rộng tháng", "tiêm chủng mở rộng"),
           ("hiv", "Báo cáo phòng chống HIV tháng", "phòng chống HIV"), ("kcb", "Báo cáo khám chữa bệnh tháng", "khám chữa bệnh"),
           ("atvstp", "Báo cáo an toàn thực phẩm tháng", "an toàn thực phẩm"), ("dichbenh", "Báo cáo tình hình dịch bệnh tháng", "tình hình dịch bệnh")]
GROUPS = ["benh-vien", "ttyt", "chi-cuc"]
DIST = ["An Bình", "Bắc Sơn", "Cẩm Thủy", "Đông Sơn", "Hà Trung", "Hậu Lộc", "Hoằng Hóa", "Lang Chánh", "Mường Lát", "Nga Sơn",
        "Ngọc Lặc", "Như Thanh", "Nông Cống", "Quan Hóa", "Quảng Xương", "Thạch Thành", "Thiệu Hóa", "Thọ Xuân", "Thường Xuân", "Triệu Sơn"]


def unit(i):
    g = GROUPS[i % 3]
    place = DIST[i % len(DIST)] + ("" if i < len(DIST) else f" {i // len(DIST) + 1}")
    name = {"benh-vien": f"Bệnh viện Đa khoa {place}", "ttyt": f"Trung tâm Y tế huyện {place}", "chi-cuc": f"Chi cục Dân số {place}"}[g]
    return {"id": f"U{i:02d}", "name": name, "email": f"u{i:02d}@donvi.example", "group": g}


UNITS = [unit(i) for i in range(a.units)]


def config(db):
    out = [f'''[office]
name = "Văn phòng Sở Y tế Đo Tải"
address = "vanphong@so.example"
timezone = "Asia/Ho_Chi_Minh"
leadership = ["giamdoc@so.example"]
staff = ["vanphong@so.example"]

[database]
url = "{db}"

[intake]
source = "maildir:inbox"

[outbound]
transport = "file:var/outbox"
from = "Văn phòng Sở <vanphong@so.example>"

[calendar]
start = "{START_YEAR}-01-01"
shift_to_workday = true

[http]
listen = "127.0.0.1:PORT"
''']
    for u in UNITS:
        out.append(f'[[unit]]\nid = "{u["id"]}"\nname = "{u["name"]}"\nemails = ["{u["email"]}"]\ngroup = "{u["group"]}"\n')
    for rid, name, kw in MONTHLY:
        out.append(f'[[report]]\nid = "{rid}"\nname = "{name}"\nkeywords = ["{kw}"]\nperiod = "month"\ndue = {{ month = "next", day = 5 }}\napplies_to = ["*"]\n')
    out.append('[[report]]\nid = "quy"\nname = "Báo cáo kết quả công tác quý"\nkeywords = ["kết quả công tác quý"]\nperiod = "quarter"\n'
               'due = { month = "next", day = 10 }\napplies_to = ["benh-vien", "ttyt"]\n')
    out.append('[[report]]\nid = "nam"\nname = "Báo cáo tổng kết năm"\nkeywords = ["tổng kết năm"]\nperiod = "year"\n'
               'due = { month = 12, day = 20 }\napplies_to = ["*"]\n')
    return "\n".join(out)


CT = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
      '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
      '<Default Extension="xml" ContentType="application/xml"/>'
      '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>')


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def docx(issuer, number, date_line, summary, body):
    p = lambda t, b=False: f'<w:p><w:r>{"<w:rPr><w:b/></w:rPr>" if b else ""}<w:t xml:space="preserve">{esc(t)}</w:t></w:r></w:p>'
    cell = lambda lines: "<w:tc>" + "".join(p(l) for l in lines) + "</w:tc>"
    header = ("<w:tbl><w:tr>" + cell(["SỞ Y TẾ TỈNH ĐO TẢI", issuer, f"Số: {number}"]) +
              cell(["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", date_line]) + "</w:tr></w:tbl>")
    doc = ('<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
           + header + p("BÁO CÁO", True) + p(summary) + "".join(p(b) for b in body) + "</w:body></w:document>")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CT)
        z.writestr("_rels/.rels", RELS)
        z.writestr("word/document.xml", doc)
    return buf.getvalue()


def b64(b):
    return base64.encodebytes(b).decode().replace("\n", "\r\n")


def mail(frm, subject, mid, when, fname, data):
    d = when.strftime("%a, %d %b %Y %H:%M:%S +0700")
    subj = "=?UTF-8?B?" + base64.b64encode(subject.encode()).decode() + "?="
    fn = urllib.parse.quote(fname)
    return (f"Received: from mx by mx.so.example; {d}\r\nFrom: {frm}\r\nTo: vanphong@so.example\r\nSubject: {subj}\r\nDate: {d}\r\n"
            f"Message-ID: {mid}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\nKính gửi Văn phòng Sở.\r\n--B\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Disposition: attachment; filename*=UTF-8''{fn}\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64(data)}--B--\r\n").encode()


def periods():
    """(report id, name, period label, summary words, due date) for every obligation owed."""
    now = dt.date.today()
    for y in range(START_YEAR, END_YEAR + 1):
        for m in range(1, 13):
            due = dt.date(y + (m == 12), m % 12 + 1, 5)
            if due > now:
                continue
            for rid, name, kw in MONTHLY:
                yield rid, "all", f"tháng {m} năm {y}", f"Kết quả {kw} tháng {m} năm {y}", due
        for q in range(1, 5):
            due = dt.date(y + (q == 4), (q * 3) % 12 + 1, 10)
            if due <= now:
                yield "quy", "bv-ttyt", f"quý {['I', 'II', 'III', 'IV'][q - 1]} năm {y}", f"Kết quả công tác quý {['I', 'II', 'III', 'IV'][q - 1]} năm {y}", due
        due = dt.date(y, 12, 20)
        if due <= now:
            yield "nam", "all", f"năm {y}", f"Báo cáo tổng kết năm {y}", due


def build(work):
    os.makedirs(os.path.join(work, "inbox", "new"), exist_ok=True)
    os.makedirs(os.path.join(work, "inbox", "cur"), exist_ok=True)
    n = 0
    for rid, who, label, summary, due in periods():
        for u in UNITS:
            if who == "bv-ttyt" and u["group"] == "chi-cuc":
                continue
            if random.random() < 0.04:
                continue  # never sent: overdue
            late = random.random() < 0.12
            day = due + dt.timedelta(days=random.randint(1, 20) if late else -random.randint(0, 4))
            when = dt.datetime(day.year, day.month, day.day, random.randint(7, 16), random.randint(0, 59), tzinfo=TZ)
            sends = 2 if random.random() < 0.05 else 1
            for k in range(sends):
                n += 1
                t = when + dt.timedelta(days=k * 2)
                r = random.random()
                # Mostly the report's own words; some only "a report"; a few name another year (to review).
                subject = f"{summary} - {u['name']}" if r > 0.03 else f"Gửi báo cáo {u['name']}" if r > 0.01 else f"{summary.replace(str(due.year), str(due.year + 1))} - {u['name']}"
                data = docx(u["name"].upper(), f"{n}/BC-{u['id']}", f"{u['name'].split()[-1]}, ngày {t.day} tháng {t.month} năm {t.year}", summary,
                            [f"{u['name']} báo cáo như sau:", f"1. Số liệu: {random.randint(100, 99999)}.", "2. Khó khăn, vướng mắc: không."])
                raw = mail(u["email"], subject, f"<m{n}@{u['id'].lower()}.donvi.example>", t, f"BC {rid} {label}.docx", data)
                with open(os.path.join(work, "inbox", "new", f"{int(t.timestamp())}.M{n}P1.bench"), "wb") as f:
                    f.write(raw)
    return n


def request(port, method, path, cookie=None, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    h = {"Cookie": cookie} if cookie else {}
    if body is not None:
        h["Content-Type"] = "application/x-www-form-urlencoded"
    t0 = time.perf_counter()
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    dt_ms = (time.perf_counter() - t0) * 1000
    c.close()
    return r.status, r.getheaders(), data, dt_ms


def main():
    work = a.keep or tempfile.mkdtemp(prefix="baocao-console-bench-")
    port = free_port()
    fresh = not os.path.exists(os.path.join(work, "var", "baocao.db"))
    if fresh:
        os.makedirs(work, exist_ok=True)
        open(os.path.join(work, "config.toml"), "w", encoding="utf-8").write(config("sqlite://var/baocao.db").replace("PORT", str(port)))
        t0 = time.time()
        n = build(work)
        print(f"built {n} messages for {len(UNITS)} units x 8 report kinds x {a.years} years in {time.time() - t0:.0f} s", flush=True)
        t0 = time.time()
        out = subprocess.run([BIN, "--config", "config.toml", "ingest", "--no-deliver", "inbox"], cwd=work, capture_output=True, text=True)
        print(f"ingest: {out.stdout.strip() or out.stderr.strip()[-300:]} ({time.time() - t0:.0f} s)", flush=True)
        p = subprocess.run([BIN, "--config", "config.toml", "user", "add", "bench", "--role", "clerk"], cwd=work, input="mat-khau-do-tai\n", capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(p.stderr)
    else:
        cfg = open(os.path.join(work, "config.toml"), encoding="utf-8").read()
        open(os.path.join(work, "config.toml"), "w", encoding="utf-8").write(re.sub(r'listen = "127.0.0.1:\d+"', f'listen = "127.0.0.1:{port}"', cfg))
    daemon = subprocess.Popen([BIN, "--config", "config.toml", "run"], cwd=work, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "daemon.log"), "w"))
    try:
        wait_port(port)
        st, hs, _, _ = request(port, "POST", "/login", body="name=bench&password=mat-khau-do-tai")
        cookie = dict(hs).get("set-cookie", "").split(";")[0]
        if st != 303 or not cookie:
            sys.exit(f"login failed: {st}")
        _, _, body, _ = request(port, "GET", "/submissions?q=kham+chua+benh", cookie)
        some = re.search(rb'href="/submissions/(\d+)"', body)
        sid = some.group(1).decode() if some else "1"
        pages = ["/", f"/?year={END_YEAR - 5}", f"/?year={END_YEAR - 1}&page=2", "/?report=quy&group=ttyt", "/review", "/submissions",
                 "/submissions?q=kham+chua+benh", "/submissions?q=Bắc+Sơn&decision=accepted", f"/submissions?unit=U07&page=3",
                 f"/submissions/{sid}", f"/submissions/{sid}/raw", "/units", "/units/U07", "/exemptions", "/outbox", "/audit", "/audit?page=50"]
        print(f"{'page':<45} {'median ms':>10} {'worst ms':>10} {'KB':>8}")
        worst_all = 0.0
        for p in pages:
            times, size = [], 0
            for _ in range(7):
                st, _, body, ms = request(port, "GET", urllib.parse.quote(p, safe="/?=&+"), cookie)
                if st != 200:
                    print(f"{p}: HTTP {st}")
                    break
                times.append(ms)
                size = len(body)
            if times:
                worst_all = max(worst_all, statistics.median(times))
                print(f"{p:<45} {statistics.median(times):>10.1f} {max(times):>10.1f} {size / 1024:>8.0f}", flush=True)
        print(f"slowest median: {worst_all:.1f} ms")
    finally:
        daemon.terminate()
        daemon.wait()
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


main()
