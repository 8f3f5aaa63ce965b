//! Acceptance: the three real test models scan clean and their chat templates match the
//! pinned known-good list.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hearth_gguf::testing::{test_model, TestModel};
use hearth_guard::{scan_path, Format, ScanOptions, Severity};

#[test]
fn real_models_scan_clean() {
    for m in TestModel::ALL {
        let Some(path) = test_model(m) else { continue };
        let r = scan_path(&path, &ScanOptions::default()).unwrap();
        assert_eq!(r.format, Format::Gguf);
        assert_eq!(
            r.max_severity(),
            Some(Severity::Info),
            "{m:?}:\n{}",
            r.to_text()
        );
        assert_eq!(r.exit_code(), 0);
        assert!(r.has_rule("template.known"), "{m:?}:\n{}", r.to_text());
        assert!(
            !r.has_rule("template.render-failed"),
            "{m:?}:\n{}",
            r.to_text()
        );
    }
}
