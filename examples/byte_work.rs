//! The byte work every message costs before any reading of its documents, one stage at a time
//! on one core: the SHA-256 of the raw bytes (SPEC §4's content key), MIME with the parts
//! decoded, the zstd of the raw store, the SHA-256 of each attachment. It is the floor under
//! intake's speed that no scheduling removes (see `bench/ingest.py` for the whole).
//!
//!     cargo run --release --example byte_work -- MAILDIR

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: byte_work MAILDIR");
        std::process::exit(2);
    };
    let mut files = Vec::new();
    for sub in ["new", "cur"] {
        for e in std::fs::read_dir(format!("{dir}/{sub}")).into_iter().flatten().flatten() {
            files.push(std::fs::read(e.path()).expect("a readable message"));
        }
    }
    let total: usize = files.iter().map(|f| f.len()).sum();
    println!("{} messages, {:.1} MB; best of 5 passes, one core", files.len(), total as f64 / 1e6);
    let time = |name: &str, f: &dyn Fn(&[u8]) -> usize| {
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = std::time::Instant::now();
            let n: usize = files.iter().map(|m| f(m)).sum();
            best = best.min(t.elapsed().as_secs_f64());
            std::hint::black_box(n);
        }
        println!("{name:<32} {:7.1} ms  {:6.0} MB/s", best * 1000.0, total as f64 / 1e6 / best);
    };
    time("sha-256 of the raw bytes", &|m| baocao::digest::sha256_hex(m).len());
    time("mime, parts decoded", &|m| baocao::parse::mime::parse(m).attachments.len());
    time("zstd of the raw bytes", &|m| baocao::store::compress(m).len());
    let parsed: Vec<_> = files.iter().map(|m| baocao::parse::mime::parse(m)).collect();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = std::time::Instant::now();
        let n: usize = parsed.iter().flat_map(|p| &p.attachments).map(|a| baocao::digest::sha256_hex(&a.data).len()).sum();
        best = best.min(t.elapsed().as_secs_f64());
        std::hint::black_box(n);
    }
    println!("{:<32} {:7.1} ms", "sha-256 of each attachment", best * 1000.0);
}
