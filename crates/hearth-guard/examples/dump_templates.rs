//! Print every `tokenizer.chat_template*` of a GGUF file with its sha256 (used to pin the
//! known-good template list from real model files): `cargo run -p hearth-guard --example
//! dump_templates -- MODEL.gguf OUTDIR`.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use sha2::Digest;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let f = hearth_gguf::GgufFile::open(&args[1]).expect("open");
    for (k, t) in f.metadata().chat_templates() {
        let h = sha2::Sha256::digest(t.as_bytes());
        let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
        println!("{k} {hex} {} bytes", t.len());
        if let Some(dir) = args.get(2) {
            std::fs::write(format!("{dir}/{k}.jinja"), t).expect("write");
        }
    }
}
