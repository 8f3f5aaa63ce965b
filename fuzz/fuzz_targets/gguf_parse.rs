#![no_main]
//! The GGUF reader must return Ok or a typed error for any input, never panic or over-allocate.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(g) = hearth_gguf::Gguf::parse(data) {
        // Everything derived from an accepted file must be computable without panicking.
        let _ = g.parameter_count();
        let _ = g.type_mix();
        let _ = g.trailing_bytes();
        let _ = g.metadata.hparams();
        let _ = g.metadata.tokenizer();
        let _ = hearth_gguf::Summary::of(&g);
    }
});
