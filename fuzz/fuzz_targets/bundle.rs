#![no_main]
//! `hearth import` of a bundle tar from a stranger: entries, names, sizes, digests, manifests
//! and models all checked before anything lands in the store. The input is the tar itself,
//! imported into a fresh store; nothing may panic or be written outside it.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let bundle = dir.path().join("in.tar");
    if std::fs::write(&bundle, data).is_err() {
        return;
    }
    let Ok(store) = hearth_store::Store::open(dir.path().join("store")) else {
        return;
    };
    let store = store.with_policy(hearth_store::Policy::default());
    let _ = store.import(&bundle);
});
