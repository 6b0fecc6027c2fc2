//! Fuzzing the parser entry points, and replaying what fuzzing found.
//!
//! `every_saved_fuzz_finding_replays_cleanly` runs in CI: each file under
//! `tests/fixtures/fuzz/<target>/` (a crash, hang or memory blow-up once found) must now parse
//! without a panic, in bounded time and memory.
//!
//! `fuzz_for_a_while` is the fuzzer itself, run outside CI by `bench/fuzz.sh` (ignored here): a
//! mutation fuzzer on the stable toolchain (no coverage guidance; the toolchain has no sanitizer
//! runtime), seeded with documents and mails built in code. Mutations work on bytes and, for
//! Office packages, on the XML inside the zip, so the XML readers see well-formed packages with
//! hostile content. A panic, an input taking longer than `HANG_SECONDS`, or the process growing
//! past `MEMORY_MB` is saved under `tests/fixtures/fuzz/<target>/` before the run stops.

mod common;
use baocao::config::Limits;
use common::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TARGETS: &[&str] = &["mime", "attachment", "docx-xml", "sheet", "header", "extract", "config", "pdf", "doc", "legacy", "page-text", "letter"];
const HANG_SECONDS: u64 = 10;
const MEMORY_MB: u64 = 1024;

/// Runs one input through one entry point, as the product does.
fn run(target: &str, input: &[u8]) {
    let limits = Limits::default();
    match target {
        "mime" => {
            let f = baocao::parse::mime::parse(input);
            for a in f.attachments.iter().take(4) {
                let _ = baocao::parse::read_attachment(&a.filename, &a.data, &limits);
            }
        }
        "attachment" => {
            let _ = baocao::parse::read_attachment("fuzz.bin", input, &limits);
        }
        "docx-xml" => {
            let _ = baocao::parse::docx::read_document_xml(input, &limits);
        }
        "sheet" => {
            // Through the product's entry, which is what must never panic.
            let _ = baocao::parse::read_attachment("bang.xlsx", input, &limits);
        }
        "header" | "extract" => {
            // Text rows and paragraphs made from the input, through the header and extractors.
            let text = String::from_utf8_lossy(input);
            let rows: Vec<Vec<String>> = text.lines().take(2000).map(|l| l.split(['\t', '|']).map(str::to_string).collect()).collect();
            if target == "header" {
                let blocks: Vec<baocao::parse::Block> = text.lines().take(2000).map(|l| baocao::parse::Block::Para(l.to_string())).collect();
                let _ = baocao::parse::header::from_blocks(&blocks);
                let _ = baocao::parse::header::read_date(&text);
            } else {
                let _ = baocao::parse::extract::score_table(&rows);
                let _ = baocao::parse::extract::commitments(&[&rows]);
                let _ = baocao::parse::extract::task_plan(&rows, Some(2021));
                for l in text.lines().take(200) {
                    let _ = baocao::parse::extract::time_range(l, Some(2021));
                }
            }
        }
        "config" => {
            let _ = baocao::config::Config::from_str_at(&String::from_utf8_lossy(input), Path::new("/tmp/fuzz/config.toml"));
        }
        "pdf" | "doc" => {
            // Through poppler / LibreOffice as the worker runs them, their time limit inside
            // the fuzzer's hang limit. Without the programs installed this exercises the refusal.
            let limits = Limits { worker_seconds: 8, ..Limits::default() };
            let _ = baocao::parse::read_attachment(if target == "pdf" { "ban ky.pdf" } else { "bao cao.doc" }, input, &limits);
        }
        "legacy" => {
            use baocao::text::legacy::*;
            let text = String::from_utf8_lossy(input);
            let _ = detect(&text);
            let _ = decode_tcvn3(&text, input.first().is_some_and(|b| b & 1 == 1));
            let _ = decode_vni(&text);
            let _ = decode_if_legacy(&text, Legacy::Tcvn3);
            let _ = decode_if_legacy(&text, Legacy::Vni);
            let _ = encode_vni(&text);
            let _ = encode_tcvn3(&text);
        }
        "letter" => {
            let _ = baocao::parse::letter::read(&String::from_utf8_lossy(input), None);
        }
        "page-text" => {
            let text = String::from_utf8_lossy(input);
            let blocks = baocao::parse::plain::blocks(&text);
            let _ = baocao::parse::header::from_blocks(&blocks);
        }
        _ => panic!("unknown target {target}"),
    }
}

fn fixtures(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz").join(target)
}

#[test]
fn every_saved_fuzz_finding_replays_cleanly() {
    let mut n = 0;
    for t in TARGETS {
        let Ok(dir) = std::fs::read_dir(fixtures(t)) else { continue };
        for e in dir.flatten() {
            let input = std::fs::read(e.path()).unwrap();
            let t0 = Instant::now();
            run(t, &input);
            assert!(t0.elapsed() < Duration::from_secs(HANG_SECONDS), "{}: {:?}", e.path().display(), t0.elapsed());
            n += 1;
        }
    }
    eprintln!("{n} saved fuzz finding(s) replayed");
}

/// xorshift64*: small, seedable, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INTERESTING: &[&[u8]] = &[
    b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"%", b"=?UTF-8?B?", b"?=", b"\r\n\r\n", b"--", b"boundary=", b"<!DOCTYPE x [<!ENTITY a \"&a;\">]>",
    b"&amp;", b"&#xFFFF;", b"<w:t>", b"</w:t>", b"<w:p>", b"<w:tbl>", b"<w:tc>", b"<w:gridSpan w:val=\"999999\"/>", b"<w:vMerge/>", b"PK\x03\x04",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"S\xe1\xbb\x91: 1/BC-X", b"ng\xc3\xa0y 31 th\xc3\xa1ng 2 n\xc4\x83m 2021", b"999999999999999999999", b"-1", b"1e308",
    b"[[report]]", b"due = { month = 13, day = 40 }", b"quarters = [9]", b"\xed\xa0\x80",
];

fn mutate_bytes(rng: &mut Rng, data: &mut Vec<u8>, others: &[Vec<u8>]) {
    for _ in 0..1 + rng.below(8) {
        let len = data.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = rng.next() as u8;
            }
            2 => {
                let i = rng.below(len + 1);
                let ins = INTERESTING[rng.below(INTERESTING.len())];
                data.splice(i..i, ins.iter().copied());
            }
            3 if len > 1 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64.min(len - a))).min(len);
                data.drain(a..b);
            }
            4 if len > 1 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(256.min(len - a))).min(len);
                let chunk: Vec<u8> = data[a..b].to_vec();
                let at = rng.below(len);
                for _ in 0..1 + rng.below(20) {
                    data.splice(at..at, chunk.iter().copied());
                }
            }
            5 if len > 0 => data.truncate(rng.below(len)),
            6 if !others.is_empty() => {
                let o = &others[rng.below(others.len())];
                if !o.is_empty() {
                    let a = rng.below(o.len());
                    let b = (a + rng.below(512)).min(o.len());
                    let at = rng.below(len + 1);
                    data.splice(at..at, o[a..b].iter().copied());
                }
            }
            _ => {
                let at = rng.below(len + 1);
                let byte = rng.next() as u8;
                data.splice(at..at, std::iter::repeat_n(byte, 1 + rng.below(64)));
            }
        }
        if data.len() > 4 * 1024 * 1024 {
            data.truncate(4 * 1024 * 1024);
        }
    }
}

/// Mutates the XML parts inside an Office package and zips it again, so the readers behind the
/// zip see hostile XML in a well-formed package.
fn mutate_package(rng: &mut Rng, data: &[u8], others: &[Vec<u8>]) -> Option<Vec<u8>> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(data)).ok()?;
    let mut parts: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..z.len().min(64) {
        let mut f = z.by_index(i).ok()?;
        let mut b = Vec::new();
        f.by_ref().take(8 * 1024 * 1024).read_to_end(&mut b).ok()?;
        parts.push((f.name().to_string(), b));
    }
    let xmls: Vec<usize> = (0..parts.len()).filter(|&i| parts[i].0.ends_with(".xml")).collect();
    if xmls.is_empty() {
        return None;
    }
    let pick = xmls[rng.below(xmls.len())];
    mutate_bytes(rng, &mut parts[pick].1, others);
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut out);
    for (name, b) in &parts {
        w.start_file(name.as_str(), zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated)).ok()?;
        w.write_all(b).ok()?;
    }
    w.finish().ok()?;
    Some(out.into_inner())
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let docx = bva_q1("12/BC-BVA", 5);
    let xlsx = score_xlsx("BỆNH VIỆN ĐA KHOA AN BÌNH", "BẢNG TỰ CHẤM ĐIỂM NĂM 2021", &[("1", "Công tác chỉ đạo", 6.0, 5.0), ("1.1", "Kế hoạch", 3.0, 2.5), ("2", "Thủ tục hành chính", 4.0, 3.0)], (10.0, 8.0));
    let (d, _) = at(2021, 4, 5, 9);
    let mail = mail("bva@test.example", "Báo cáo quý I năm 2021 - BV An Bình", "<s@test>", &d, "Authentication-Results: mx; dkim=pass\r\n", &[("BC quý I.docx", &docx), ("Điểm.xlsx", &xlsx)]);
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden");
    let mut files: Vec<Vec<u8>> = std::fs::read_dir(&golden).map(|r| r.flatten().filter(|e| !e.path().to_string_lossy().ends_with(".json")).map(|e| std::fs::read(e.path()).unwrap()).collect()).unwrap_or_default();
    let document_xml = |pkg: &[u8]| -> Vec<u8> {
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(pkg)).unwrap();
        let mut b = Vec::new();
        z.by_name("word/document.xml").unwrap().read_to_end(&mut b).unwrap();
        b
    };
    match target {
        "mime" => vec![mail, b"From: a@x\r\nSubject: =?windows-1258?Q?B=E1o?=\r\n\r\nx".to_vec()],
        "attachment" => {
            files.extend([docx, xlsx]);
            files
        }
        "docx-xml" => vec![document_xml(&docx)],
        "sheet" => vec![xlsx],
        "header" | "extract" => vec![
            "SỞ Y TẾ\tCỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nBỆNH VIỆN A\tĐộc lập - Tự do - Hạnh phúc\nSố: 12/BC-BVA\tThanh Hóa, ngày 20 tháng 3 năm 2021\nBÁO CÁO\nKết quả quý I năm 2021\nGIÁM ĐỐC\nNguyễn Văn A".into(),
            "STT|Tiêu chí|Điểm tối đa|Điểm tự chấm\n1|Chỉ đạo|6|5\n1.1|Kế hoạch|3|2,5\nTổng điểm|10|8\nCam kết số 1: làm tốt\nTT|Nội dung|Sản phẩm|Cơ quan chủ trì|Thời gian\nI|Nhóm\n1|Việc|Báo cáo|VP|Quý I/2021".into(),
        ],
        "config" => vec![std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.toml")).unwrap()],
        "pdf" => vec![text_pdf("BAO CAO Ket qua cong tac quy I nam 2021 So: 12/BC-BVA"), b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF".to_vec()],
        "doc" => {
            // A Word 97 file made from the .docx by LibreOffice, when it is installed.
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("f.docx"), &docx).unwrap();
            let _ = std::process::Command::new("soffice")
                .args(["--headless", "--norestore", "--convert-to", "doc", "--outdir"])
                .arg(dir.path())
                .arg(dir.path().join("f.docx"))
                .arg(format!("-env:UserInstallation=file://{}/p", dir.path().display()))
                .output();
            std::fs::read(dir.path().join("f.doc")).map(|d| vec![d]).unwrap_or_else(|_| vec![vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]])
        }
        "legacy" => vec![
            baocao::text::legacy::encode_tcvn3("Báo cáo kết quả công tác quý I năm 2021 của Trung tâm Y tế huyện Bắc Sơn, người dân").into_bytes(),
            baocao::text::legacy::encode_vni("ĐIỂM TỰ CHẤM; Bệnh viện Đa khoa tỉnh; ưu tiên, kỹ thuật, ỵ").into_bytes(),
            "Báo cáo quý I: Unicode thật, Hoà Bình, thuê nhà".as_bytes().to_vec(),
        ],
        "letter" => vec![
            "Số: 417/SYT-VP\nV/v báo cáo\nKính gửi:\n- Thủ trưởng các đơn vị trong ngành;\n1. Trước ngày 15/11/2021 các đơn vị gửi báo cáo về Văn phòng Sở.\n2. Chậm nhất vào ngày 25 tháng 11 năm 2021.\nBáo cáo quý: Gửi Sở Y tế trước ngày 05 tháng cuối quý.\nĐỀ CƯƠNG BÁO CÁO\nI. Tình hình\nPhụ lục 01: Số liệu\nNơi nhận:".into(),
        ],
        "page-text" => vec![
            "      SỞ Y TẾ TỈNH            CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\n   BỆNH VIỆN A                Độc lập - Tự do - Hạnh phúc\n\n     Số: 45/BC-BVĐK      An Bình, ngày 5 tháng 4 năm 2021\n\n                    BÁO CÁO\n           Kết quả công tác quý I\n                  năm 2021\n\u{c}   Thực hiện kế hoạch\n                         GIÁM ĐỐC\n\n                     Nguyễn Văn An\n".into(),
        ],
        _ => vec![],
    }
}

/// A one-page PDF whose text layer says `text` (Helvetica, one line).
fn text_pdf(text: &str) -> Vec<u8> {
    let content = format!("BT /F1 12 Tf 50 750 Td ({text}) Tj ET");
    let objects: Vec<Vec<u8>> = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>".to_string(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect();
    pdf_of(&objects)
}

fn rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<u64>().ok()))
        .unwrap_or(0)
        / 1024
}

fn save(target: &str, kind: &str, input: &[u8]) -> PathBuf {
    let dir = fixtures(target);
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("{kind}-{}", &baocao::digest::sha256_hex(input)[..16]));
    std::fs::write(&p, input).unwrap();
    p
}

#[test]
#[ignore = "the fuzzer: run by bench/fuzz.sh (BAOCAO_FUZZ_TARGET, BAOCAO_FUZZ_SECONDS)"]
fn fuzz_for_a_while() {
    let target = std::env::var("BAOCAO_FUZZ_TARGET").unwrap_or_else(|_| "mime".into());
    let seconds: u64 = std::env::var("BAOCAO_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let seed: u64 = std::env::var("BAOCAO_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x9E37_79B9_7F4A_7C15);
    let pool = seeds(&target);
    assert!(!pool.is_empty(), "no seeds for {target}");
    let mut rng = Rng(seed | 1);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    // The input in flight, written before each run so a crash of the whole process leaves it.
    let current = std::env::temp_dir().join(format!("baocao-fuzz-{target}.current"));
    std::panic::set_hook(Box::new(|_| {}));
    let (mut runs, mut found) = (0u64, 0u64);
    let mut corpus: Vec<Vec<u8>> = pool.clone();
    while Instant::now() < deadline {
        let base = corpus[rng.below(corpus.len())].clone();
        let input = match base.starts_with(b"PK\x03\x04") && rng.below(2) == 0 {
            true => mutate_package(&mut rng, &base, &pool).unwrap_or(base),
            false => {
                let mut b = base;
                mutate_bytes(&mut rng, &mut b, &pool);
                b
            }
        };
        std::fs::write(&current, &input).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let (t, i) = (target.clone(), input.clone());
        std::thread::spawn(move || {
            let r = std::panic::catch_unwind(|| run(&t, &i));
            let _ = tx.send(r.is_ok());
        });
        runs += 1;
        match rx.recv_timeout(Duration::from_secs(HANG_SECONDS)) {
            Ok(true) => {}
            Ok(false) => {
                found += 1;
                eprintln!("panic: saved {}", save(&target, "panic", &input).display());
            }
            Err(_) => {
                eprintln!("hang: saved {}", save(&target, "hang", &input).display());
                found += 1;
                break;
            }
        }
        if rss_mb() > MEMORY_MB {
            eprintln!("memory {} MB: saved {}", rss_mb(), save(&target, "memory", &input).display());
            found += 1;
            break;
        }
        // Keep a few inputs that still parse, to mutate further from them.
        if corpus.len() < 256 && rng.below(50) == 0 {
            corpus.push(input);
        }
    }
    let _ = std::fs::remove_file(&current);
    println!("fuzz {target}: {runs} inputs in {seconds} s, {found} finding(s)");
}
