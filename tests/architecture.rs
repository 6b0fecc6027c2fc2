//! The shape the code keeps (lib.rs's note): read from the sources themselves, so a change that
//! bends an arrow the wrong way fails here with the file that bent it.

use std::collections::{BTreeMap, BTreeSet};

/// Every `src/**/*.rs` file as (its top-level module, its path, its text without unit tests
/// and comments).
fn sources() -> Vec<(String, String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(&root).unwrap().display().to_string();
                let top = rel.split('/').next().unwrap().trim_end_matches(".rs").to_string();
                let text = std::fs::read_to_string(&p).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap();
                let code: String = code.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
                out.push((top, rel, code));
            }
        }
    }
    out
}

/// Which top-level modules each one names (`crate::x`), with the files that do.
fn arrows() -> BTreeMap<(String, String), BTreeSet<String>> {
    let path = regex::Regex::new(r"crate::([a-z_]+)").unwrap();
    let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (top, rel, code) in sources() {
        if top == "lib" || top == "main" {
            continue;
        }
        for c in path.captures_iter(&code) {
            if c[1] != top {
                out.entry((top.clone(), c[1].to_string())).or_default().insert(rel.clone());
            }
        }
    }
    out
}

#[test]
fn no_two_modules_reach_each_other_round_a_circle() {
    let arrows = arrows();
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in arrows.keys() {
        next.entry(a.as_str()).or_default().push(b.as_str());
    }
    // From each module, every module it reaches; a module reaching itself closes a circle.
    for start in next.keys() {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<(&str, Vec<&str>)> = vec![(start, vec![start])];
        while let Some((m, trail)) = todo.pop() {
            for n in next.get(m).into_iter().flatten() {
                if n == start {
                    let mut circle = trail.clone();
                    circle.push(n);
                    let files: Vec<String> = circle.windows(2).map(|w| format!("{} -> {}: {:?}", w[0], w[1], arrows[&(w[0].to_string(), w[1].to_string())])).collect();
                    panic!("a circle of modules: {}\n{}", circle.join(" -> "), files.join("\n"));
                }
                if seen.insert(*n) {
                    let mut t = trail.clone();
                    t.push(n);
                    todo.push((n, t));
                }
            }
        }
    }
    assert!(arrows.len() > 40, "the arrows were read: {}", arrows.len());
}

#[test]
fn the_pure_cores_never_read_the_store_and_the_store_writes_no_audit_event_itself() {
    let arrows = arrows();
    for core in ["parse", "matching", "schedule", "domain", "text", "digest"] {
        let to_store = arrows.get(&(core.to_string(), "store".to_string()));
        assert!(to_store.is_none(), "{core} names the store: {to_store:?}");
    }
    // compile builds from what `facts` read: it may name the store's row types, never the
    // store itself or a transaction.
    let handle = regex::Regex::new(r"&(mut )?Store\b|\bTx<|store::(Store|Tx)\b|store::\{[^}]*\b(Store|Tx)\b").unwrap();
    let mut events = 0;
    for (top, rel, code) in sources() {
        if top == "compile" {
            assert!(!handle.is_match(&code), "{rel} holds the store's handle");
        }
        if top == "store" {
            assert!(!code.contains(".audit("), "{rel} writes an audit event itself: office, intake or the deliverer does, in the change's transaction");
        }
        events += code.matches(".audit(").count();
    }
    assert!(events > 30, "the audit calls were found: {events}");
}
