//! NumPy and Keras files: object arrays are pickles (scanned as such), Keras Lambda layers and
//! custom objects are reported, plain arrays and models are clean. Built here; nothing loaded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hearth_guard::{keras, npy, scan_bytes, zip, Format, ScanOptions, Severity};

/// `os.system('id')` via GLOBAL + REDUCE (protocol 2).
const EVIL: &[u8] = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R.";

fn worst(b: &[u8]) -> (Format, Option<Severity>, Vec<String>) {
    let r = scan_bytes(b, &ScanOptions::default());
    let ids = r.findings.iter().map(|f| f.rule_id.clone()).collect();
    (r.format, r.max_severity(), ids)
}

#[test]
fn npy_object_array_with_a_payload_is_high() {
    let (f, sev, ids) = worst(&npy::build("'|O'", "(1,)", EVIL));
    assert_eq!(f, Format::Npy);
    assert!(sev >= Some(Severity::High), "{ids:?}");
    assert!(ids.iter().any(|i| i == "npy.object-array"));
    let (f, sev, ids) = worst(&npy::build("'<f8'", "(2,)", &[0; 16]));
    assert_eq!(f, Format::Npy);
    assert_eq!(sev, None, "{ids:?}");
}

#[test]
fn npz_members_are_scanned_stored_or_deflated() {
    let clean = npy::build("'<f4'", "(1,)", &[0; 4]);
    let evil = npy::build("'|O'", "(1,)", EVIL);
    for deflate in [false, true] {
        let z = zip::build(
            &[("a.npy", &clean, deflate), ("b.npy", &evil, deflate)],
            &[],
        );
        let (f, sev, ids) = worst(&z);
        assert_eq!(f, Format::Npz);
        assert!(sev >= Some(Severity::High), "deflate={deflate}: {ids:?}");
        let z = zip::build(&[("a.npy", &clean, deflate)], &[]);
        let (f, sev, ids) = worst(&z);
        assert_eq!(f, Format::Npz);
        assert_eq!(sev, None, "{ids:?}");
    }
}

#[test]
fn keras_archive_with_a_lambda_layer_is_high() {
    let config =
        br#"{"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": [
        {"module": "keras.layers", "class_name": "Lambda", "config": {"name": "boom",
         "function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAA"}}}}]}}"#;
    let meta = br#"{"keras_version": "3.6.0"}"#;
    let z = zip::build(
        &[
            ("metadata.json", meta, false),
            ("config.json", config, true),
            ("model.weights.h5", keras::HDF5_MAGIC, false),
        ],
        &[],
    );
    let (f, sev, ids) = worst(&z);
    assert_eq!(f, Format::Keras);
    assert_eq!(sev, Some(Severity::High), "{ids:?}");
    assert!(ids.iter().any(|i| i == "keras.lambda-layer"));
    let plain = br#"{"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": []}}"#;
    let z = zip::build(
        &[
            ("metadata.json", meta, false),
            ("config.json", plain, false),
        ],
        &[],
    );
    let (f, sev, ids) = worst(&z);
    assert_eq!(f, Format::Keras);
    assert_eq!(sev, None, "{ids:?}");
}
