#!/usr/bin/env python3
"""Figures at a province's scale (SPEC §16): 700 units × 60 indicators × 4 columns × 12 months.

Builds an office whose 700 commune stations each send the monthly form (.xlsx, two merged header
rows, sections, a total row, a ratio column) every month of a year — 8,400 workbooks in mail —
ingests them with `baocao ingest` (every form read against the office's form, checked, stored),
then times `baocao figures --json` and `--xlsx` for one period (whole commands: start, config and
form loaded, database opened), and the console's page *Số liệu* for that period over HTTP, and
prints peak memory of each. Not a test: nothing here passes or fails.

Usage: bench/figures.py [--units 700] [--months 12] [--keep DIR]   (needs `cargo build --release`)
"""
import argparse, base64, datetime as dt, http.client, io, os, random, resource, shutil, statistics
import subprocess, sys, tempfile, time, urllib.parse, zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imap import BIN, free_port, wait_port  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--units", type=int, default=700)
ap.add_argument("--months", type=int, default=12)
ap.add_argument("--indicators", type=int, default=60)
ap.add_argument("--keep", help="build the office in this folder and keep it")
a = ap.parse_args()
random.seed(16)
YEAR = 2023
TZ = dt.timezone(dt.timedelta(hours=7))
SECTIONS = ["KHÁM, CHỮA BỆNH", "Y TẾ DỰ PHÒNG", "CHĂM SÓC SỨC KHỎE SINH SẢN", "DÂN SỐ", "DƯỢC, TRANG THIẾT BỊ", "TÀI CHÍNH"]
WORDS = ["khám", "điều trị", "tiêm chủng", "phụ nữ", "trẻ em", "người cao tuổi", "xét nghiệm", "tư vấn", "truyền thông", "kiểm tra",
         "cấp phát", "theo dõi", "chuyển tuyến", "sàng lọc", "quản lý"]


def indicators():
    """(number, label, unit, kind) rows: sections, indicators, a total per section, a ratio row."""
    rows, n = [], 0
    per = max(1, a.indicators // len(SECTIONS))
    for s, title in enumerate(SECTIONS):
        rows.append(("IVX"[s] if s < 3 else ["IV", "V", "VI"][s - 3], title, "", "section"))
        first = n + 1
        for k in range(per - 1):
            n += 1
            w = WORDS[(n * 7 + k) % len(WORDS)]
            rows.append((str(n), f"Số lượt {w} {['tại trạm', 'lưu động', 'tại nhà', 'tại trường học', 'ngoài giờ'][k % 5]} nhóm {n}", "lượt", "figure"))
        rows.append(("", f"Cộng mục {s + 1} ({first}-{n})", "lượt", "total"))
    rows.append((str(n + 1), "Tỷ lệ trẻ em được tiêm chủng đầy đủ", "%", "ratio"))
    return rows


ROWS = indicators()
COLS = ["Kế hoạch năm 2023", "Trong tháng", "Lũy kế từ đầu năm", "Tỷ lệ % so với kế hoạch"]


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def col(c):
    return "ABCDEFGHIJ"[c]


def xlsx(title_unit, month, values):
    """A workbook: heading, two merged header rows, the rows; values[number] = (plan, month, cum)."""
    cells = {}
    cells[(0, 0)] = "TRUNG TÂM Y TẾ HUYỆN ĐO TẢI"
    cells[(1, 0)] = title_unit
    cells[(3, 0)] = "BÁO CÁO KẾT QUẢ HOẠT ĐỘNG CỦA TRẠM Y TẾ"
    cells[(4, 0)] = f"Tháng {month} năm {YEAR}" if month else f"Tháng ..... năm {YEAR}"
    for c, h in enumerate(["STT", "Nội dung", "Đơn vị tính", COLS[0], "Kết quả thực hiện", "Kết quả thực hiện", COLS[3]]):
        cells[(6, c)] = h
    for c, h in enumerate(["STT", "Nội dung", "Đơn vị tính", COLS[0], COLS[1], COLS[2], COLS[3]]):
        cells[(7, c)] = h
    for i, (num, label, unit, kind) in enumerate(ROWS):
        r = 8 + i
        cells[(r, 0)], cells[(r, 1)], cells[(r, 2)] = num, label, unit
        key = num or label
        if values and key in values:
            plan, m, cum = values[key]
            if kind == "ratio":
                cells[(r, 4)], cells[(r, 5)] = m, cum
            else:
                cells[(r, 3)], cells[(r, 4)], cells[(r, 5)] = plan, m, cum
                cells[(r, 6)] = round(cum / plan * 100, 1) if plan else None
    rows = {}
    for (r, c), v in cells.items():
        if v is None or v == "":
            continue
        ref = f"{col(c)}{r + 1}"
        rows.setdefault(r, []).append(f'<c r="{ref}"><v>{v}</v></c>' if isinstance(v, (int, float)) else f'<c r="{ref}" t="inlineStr"><is><t>{esc(v)}</t></is></c>')
    data = "".join(f'<row r="{r + 1}">{"".join(cs)}</row>' for r, cs in sorted(rows.items()))
    merges = "".join(f'<mergeCell ref="{m}"/>' for m in ["A7:A8", "B7:B8", "C7:C8", "D7:D8", "E7:F7", "G7:G8"])
    sheet = (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f'<sheetData>{data}</sheetData><mergeCells count="6">{merges}</mergeCells></worksheet>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
                   '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                   '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                   '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>')
        z.writestr("_rels/.rels", '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                   'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Bieu 01" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
                   '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>')
        z.writestr("xl/styles.xml", '<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                   '<fonts count="1"><font><sz val="11"/><name val="Times New Roman"/></font></fonts><fills count="2"><fill><patternFill/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
                   '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
                   '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs></styleSheet>')
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    return buf.getvalue()


def values(base, month):
    v, cum_of = {}, {}
    for num, label, unit, kind in ROWS:
        if kind == "figure":
            per = lambda m: int(base * (1 + (int(num) % 7) / 10) + m)
            v[num] = (per(0) * 12, per(month), sum(per(m) for m in range(1, month + 1)))
    section = []
    for num, label, unit, kind in ROWS:
        if kind == "figure":
            section.append(v[num])
        elif kind == "total":
            v[label] = tuple(sum(x[i] for x in section) for i in range(3))
            section = []
        elif kind == "ratio":
            v[num] = (95, 88.5, 90.0)
    return v


def config():
    out = [f'''[office]
name = "Văn phòng Trung tâm Y tế huyện Đo Tải"
address = "vanphong@ttyt.example"
timezone = "Asia/Ho_Chi_Minh"
leadership = ["giamdoc@ttyt.example"]
staff = ["vanphong@ttyt.example"]

[database]
url = "sqlite://var/baocao.db"

[intake]
source = "maildir:inbox"

[outbound]
transport = "file:var/outbox"

[calendar]
start = "{YEAR}-01-01"

[http]
listen = "127.0.0.1:PORT"
''']
    for i in range(a.units):
        out.append(f'[[unit]]\nid = "TYT{i:04d}"\nname = "Trạm Y tế xã Số {i + 1}"\nemails = ["tyt{i:04d}@donvi.example"]\ngroup = "tram"\n')
    out.append('[[report]]\nid = "tyt-thang"\nname = "Báo cáo kết quả hoạt động của trạm y tế tháng"\nkeywords = ["hoạt động của trạm y tế"]\n'
               'period = "month"\ndue = { month = "next", day = 5 }\napplies_to = ["tram"]\nform = "forms/bieu.xlsx"\n')
    return "\n".join(out)


def mail(frm, subject, mid, when, fname, data):
    d = when.strftime("%a, %d %b %Y %H:%M:%S +0700")
    subj = "=?UTF-8?B?" + base64.b64encode(subject.encode()).decode() + "?="
    body = base64.encodebytes(data).decode().replace("\n", "\r\n")
    return (f"Received: from mx by mx.ttyt.example; {d}\r\nFrom: {frm}\r\nTo: vanphong@ttyt.example\r\nSubject: {subj}\r\nDate: {d}\r\n"
            f"Message-ID: {mid}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\nKính gửi Văn phòng.\r\n--B\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Disposition: attachment; filename=\"{fname}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{body}--B--\r\n").encode()


def timed(args, cwd, runs=7):
    """Median and worst wall time (ms) of a command, and its peak RSS (MB)."""
    times, peak = [], 0
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        p = subprocess.run(args, cwd=cwd, capture_output=True)
        times.append((time.perf_counter() - t0) * 1000)
        if p.returncode != 0:
            sys.exit(f"{args}: {p.stderr.decode()[-400:]}")
        peak = max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
    return statistics.median(times), max(times), peak / 1024, p.stdout


def main():
    work = a.keep or tempfile.mkdtemp(prefix="baocao-figures-bench-")
    port = free_port()
    fresh = not os.path.exists(os.path.join(work, "var", "baocao.db"))
    if fresh:
        os.makedirs(os.path.join(work, "inbox", "new"), exist_ok=True)
        os.makedirs(os.path.join(work, "inbox", "cur"), exist_ok=True)
        os.makedirs(os.path.join(work, "forms"), exist_ok=True)
        open(os.path.join(work, "config.toml"), "w", encoding="utf-8").write(config().replace("PORT", str(port)))
        open(os.path.join(work, "forms", "bieu.xlsx"), "wb").write(xlsx("TÊN ĐƠN VỊ: ....................", 0, None))
        t0 = time.time()
        n = 0
        for month in range(1, a.months + 1):
            for i in range(a.units):
                n += 1
                when = dt.datetime(YEAR + (month == 12), month % 12 + 1, 2 + i % 3, 8 + i % 9, i % 60, tzinfo=TZ)
                data = xlsx(f"TRẠM Y TẾ XÃ SỐ {i + 1}", month, values(20 + (i % 50) * 3, month))
                raw = mail(f"tyt{i:04d}@donvi.example", f"Báo cáo hoạt động của trạm y tế tháng {month} năm {YEAR}", f"<f{n}@donvi.example>", when, f"BC thang {month}.xlsx", data)
                open(os.path.join(work, "inbox", "new", f"{int(when.timestamp())}.M{n}P1.bench"), "wb").write(raw)
        print(f"built {n} forms ({a.units} units x {a.months} months, {len(ROWS)} rows x 4 columns) in {time.time() - t0:.0f} s", flush=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.time()
        out = subprocess.run([BIN, "--config", "config.toml", "ingest", "--no-deliver", "inbox"], cwd=work, capture_output=True, text=True)
        wall = time.time() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        print(f"ingest: {out.stdout.strip() or out.stderr.strip()[-300:]}", flush=True)
        print(f"  {wall:.1f} s wall, {cpu:.1f} s CPU (with the parse workers): {wall / n * 1000:.2f} ms wall and {cpu / n * 1000:.2f} ms CPU per form; "
              f"peak RSS {after.ru_maxrss / 1024:.0f} MB", flush=True)
        p = subprocess.run([BIN, "--config", "config.toml", "user", "add", "bench", "--role", "clerk"], cwd=work, input="mat-khau-do-tai\n", capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(p.stderr)
    period = f"{YEAR}-{min(a.months, 6):02d}"
    med, worst, rss, out = timed([BIN, "--config", "config.toml", "figures", "--report", "tyt-thang", "--period", period, "--json"], work)
    print(f"figures --json {period} (whole command): median {med:.0f} ms, worst {worst:.0f} ms, peak RSS {rss:.0f} MB, {len(out) / 1e6:.1f} MB of JSON")
    med, worst, rss, _ = timed([BIN, "--config", "config.toml", "figures", "--report", "tyt-thang", "--period", period, "--xlsx", "tong-hop.xlsx"], work, runs=3)
    print(f"figures --xlsx {period} (whole command): median {med:.0f} ms, worst {worst:.0f} ms, peak RSS {rss:.0f} MB, {os.path.getsize(os.path.join(work, 'tong-hop.xlsx')) / 1e6:.1f} MB")
    med, worst, rss, _ = timed([BIN, "--config", "config.toml", "check-config"], work, runs=5)
    print(f"  (of which starting, loading the config and reading the form: check-config median {med:.0f} ms)")
    cfg = open(os.path.join(work, "config.toml"), encoding="utf-8").read()
    import re
    open(os.path.join(work, "config.toml"), "w", encoding="utf-8").write(re.sub(r'listen = "127.0.0.1:\d+"', f'listen = "127.0.0.1:{port}"', cfg))
    daemon = subprocess.Popen([BIN, "--config", "config.toml", "run"], cwd=work, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "daemon.log"), "w"))
    try:
        wait_port(port)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        c.request("POST", "/login", body="name=bench&password=mat-khau-do-tai", headers={"Content-Type": "application/x-www-form-urlencoded"})
        r = c.getresponse()
        r.read()
        cookie = (r.getheader("set-cookie") or "").split(";")[0]
        for path in [f"/figures?report=tyt-thang&period={period}", f"/figures?report=tyt-thang&period={period}&page=20",
                     f"/figures?report=tyt-thang&period={period}&unit=TYT0007", f"/figures?report=tyt-thang&period={period}&row=12"]:
            times, size = [], 0
            for _ in range(9):
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                t0 = time.perf_counter()
                c.request("GET", path, headers={"Cookie": cookie})
                r = c.getresponse()
                body = r.read()
                times.append((time.perf_counter() - t0) * 1000)
                size = len(body)
                if r.status != 200:
                    sys.exit(f"{path}: HTTP {r.status}")
            print(f"page {path:<60} median {statistics.median(times):6.0f} ms, worst {max(times):6.0f} ms, {size / 1024:.0f} KB")
        rss = int(open(f"/proc/{daemon.pid}/status").read().split("VmHWM:")[1].split()[0]) / 1024
        print(f"daemon peak RSS {rss:.0f} MB")
    finally:
        daemon.terminate()
        daemon.wait()
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


main()
