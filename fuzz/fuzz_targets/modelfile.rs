#![no_main]
//! The Modelfile parser (what `hearth create -f` and `/api/create` read) and the parameter
//! typing behind it: Ok or a typed error with a line number, never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(mf) = hearth_store::modelfile::Modelfile::parse(text) {
        let _ = mf.params();
    }
});
