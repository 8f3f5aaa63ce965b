//! Write the tiny synthetic llama model to a file: `cargo run -p hearth-gguf --example write_tiny -- OUT`.
fn main() -> std::io::Result<()> {
    let out = std::env::args_os()
        .nth(1)
        .unwrap_or_else(|| "tiny.gguf".into());
    std::fs::write(out, hearth_gguf::writer::tiny_llama().to_bytes())
}
