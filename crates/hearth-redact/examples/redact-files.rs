//! Redact every file under the given paths, as one process (for side-by-side timing with
//! other scanners): prints `{"file", "findings"}` per file as JSON Lines on stdout, and the
//! bytes and time on stderr.
//!
//!   cargo run --release -p hearth-redact --example redact-files -- DIR...
use std::path::{Path, PathBuf};
use std::time::Instant;

use hearth_redact::Redactor;

fn walk(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let Ok(rd) = std::fs::read_dir(p) else { return };
        let mut v: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        v.sort();
        for x in v {
            walk(&x, out);
        }
    } else if p.is_file() {
        out.push(p.to_path_buf());
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut files = Vec::new();
    for a in std::env::args().skip(1) {
        walk(Path::new(&a), &mut files);
    }
    let redactor = Redactor::builder().build()?;
    let mut bytes = 0usize;
    let mut out = String::new();
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        bytes += text.len();
        let mut req = redactor.request();
        req.redact(&text)?;
        let n: usize = req.findings().iter().map(|x| x.count).sum();
        out.push_str(&format!(
            "{{\"file\":{:?},\"findings\":{n}}}\n",
            f.display().to_string()
        ));
    }
    print!("{out}");
    let s = started.elapsed().as_secs_f64();
    eprintln!(
        "{} files, {bytes} bytes in {s:.3} s ({:.1} MB/s, process start and rule compile included)",
        files.len(),
        bytes as f64 / 1e6 / s
    );
    Ok(())
}
