#![no_main]
//! Registry manifests (what a pull reads from any registry a model name spells): digests,
//! sizes and media types checked, never a panic or an unchecked path.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = hearth_store::Manifest::parse(data, "fuzz") {
        let _ = m.total_size();
        let _ = m.model_layer();
        let _ = m.all_layers();
        let _ = m.to_json();
    }
});
