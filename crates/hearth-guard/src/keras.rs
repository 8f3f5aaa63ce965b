//! Keras models: `.keras` archives (a zip holding `config.json`, `metadata.json` and
//! `model.weights.h5`) and legacy HDF5 `.h5` files (the model config is a JSON attribute).
//!
//! A `Lambda` layer stores a Python function (marshalled bytecode, base64) that Keras
//! deserializes and runs when the model is loaded with `safe_mode=False`, and that older Keras
//! (before 2.13, CVE-2024-3660) ran regardless. Custom objects name a Python module whose code
//! must be imported to load the model. Both are reported; nothing is ever deserialized.

use serde_json::Value;

use crate::report::{Finding, Location, Severity};

/// The HDF5 superblock signature.
pub const HDF5_MAGIC: &[u8] = b"\x89HDF\r\n\x1a\n";

/// Whether `b` is an HDF5 file (signature at 0; HDF5 also allows 512, 1024, ... after a user
/// block).
pub fn looks_like_hdf5(b: &[u8]) -> bool {
    [0usize, 512, 1024, 2048]
        .iter()
        .any(|&o| b.get(o..o + HDF5_MAGIC.len()) == Some(HDF5_MAGIC))
}

/// Modules whose objects ship with Keras itself.
fn is_builtin_module(m: &str) -> bool {
    ["keras", "tensorflow", "tf_keras", "builtins"]
        .iter()
        .any(|p| m == *p || m.starts_with(&format!("{p}.")))
}

/// Report Lambda layers and custom objects in a parsed model config.
fn walk(v: &Value, field: &str, base: u64, depth: usize, out: &mut Vec<Finding>) {
    if depth > 256 {
        return;
    }
    match v {
        Value::Object(m) => {
            let class = m.get("class_name").and_then(Value::as_str);
            let name = m
                .get("config")
                .and_then(|c| c.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("?");
            if class == Some("Lambda") {
                out.push(Finding::new(
                    "keras.lambda-layer",
                    Severity::High,
                    format!(
                        "Lambda layer {name:?} carries Python code that runs when the model is \
                         loaded with safe_mode=False (and by Keras before 2.13 regardless)"
                    ),
                    Location::at(field.to_owned(), base),
                ));
            } else if let Some(module) = m.get("module").and_then(Value::as_str) {
                if class.is_some() && !is_builtin_module(module) {
                    out.push(Finding::new(
                        "keras.custom-object",
                        Severity::Medium,
                        format!(
                            "{} {name:?} needs code from module {module:?} imported to load",
                            class.unwrap_or("object")
                        ),
                        Location::at(field.to_owned(), base),
                    ));
                }
            }
            for child in m.values() {
                walk(child, field, base, depth + 1, out);
            }
        }
        Value::Array(a) => {
            for child in a {
                walk(child, field, base, depth + 1, out);
            }
        }
        _ => {}
    }
}

/// Scan a `.keras` archive's `config.json` (bytes found at `base` under `field`).
pub(crate) fn scan_config(json: &[u8], base: u64, field: &str, out: &mut Vec<Finding>) {
    match serde_json::from_slice::<Value>(json) {
        Ok(v) => walk(&v, field, base, 0, out),
        Err(e) => out.push(Finding::new(
            "keras.bad-config",
            Severity::Medium,
            format!("model config is not JSON ({e}); not checked"),
            Location::at(field.to_owned(), base),
        )),
    }
}

/// Scan a legacy HDF5 Keras file: the `model_config` attribute is JSON stored as is, found by
/// its opening (`{"class_name": ` in Keras 2, `{"module": ` in Keras 3) and parsed up to the
/// end of that one value; openings inside a config already parsed are skipped.
pub(crate) fn scan_hdf5(b: &[u8], out: &mut Vec<Finding>) {
    let needles: [&[u8]; 4] = [
        b"{\"class_name\": \"",
        b"{\"class_name\":\"",
        b"{\"module\": \"",
        b"{\"module\":\"",
    ];
    let mut starts: Vec<usize> = Vec::new();
    for needle in needles {
        let mut from = 0;
        while let Some(i) = find(&b[from..], needle) {
            starts.push(from + i);
            from += i + 1;
            if starts.len() > 10_000 {
                break;
            }
        }
    }
    starts.sort_unstable();
    let mut parsed_to = 0usize;
    let mut found = false;
    for at in starts {
        if at < parsed_to {
            continue;
        }
        let mut values = serde_json::Deserializer::from_slice(&b[at..]).into_iter::<Value>();
        if let Some(Ok(v)) = values.next() {
            found = true;
            walk(&v, "model_config", at as u64, 0, out);
            parsed_to = at + values.byte_offset();
        }
    }
    if !found {
        out.push(Finding::new(
            "hdf5.unchecked",
            Severity::Info,
            "HDF5 file without a Keras model config: only Keras configs are checked",
            Location::offset(0),
        ));
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(out: &[Finding]) -> Vec<&str> {
        out.iter().map(|f| f.rule_id.as_str()).collect()
    }

    const LAMBDA: &str = r#"{"module": "keras", "class_name": "Functional", "config": {"name": "m", "layers": [
        {"module": "keras.layers", "class_name": "Dense", "config": {"name": "d"}},
        {"module": "keras.layers", "class_name": "Lambda", "config": {"name": "boom",
          "function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA"}}}},
        {"module": "evil_pkg.layers", "class_name": "Custom", "config": {"name": "c"}, "registered_name": "Custom"}
    ]}}"#;

    #[test]
    fn lambda_layers_and_custom_objects_are_reported() {
        let mut out = Vec::new();
        scan_config(LAMBDA.as_bytes(), 0, "config.json", &mut out);
        let found = ids(&out);
        assert!(found.contains(&"keras.lambda-layer"), "{found:?}");
        assert!(found.contains(&"keras.custom-object"), "{found:?}");
        assert!(out.iter().any(|f| f.message.contains("boom")));
        let mut clean = Vec::new();
        scan_config(
            br#"{"module": "keras", "class_name": "Sequential", "config": {"layers": []}}"#,
            0,
            "config.json",
            &mut clean,
        );
        assert!(clean.is_empty(), "{clean:?}");
    }

    #[test]
    fn hdf5_model_config_is_found_in_place() {
        let mut b = HDF5_MAGIC.to_vec();
        b.extend_from_slice(&[0u8; 100]);
        b.extend_from_slice(LAMBDA.replace('\n', " ").as_bytes());
        b.extend_from_slice(&[0u8; 50]);
        assert!(looks_like_hdf5(&b));
        let mut out = Vec::new();
        scan_hdf5(&b, &mut out);
        let found = ids(&out);
        // Reported once, although the inner layers also look like config openings.
        assert_eq!(
            found.iter().filter(|i| **i == "keras.lambda-layer").count(),
            1,
            "{out:?}"
        );
        assert_eq!(
            found
                .iter()
                .filter(|i| **i == "keras.custom-object")
                .count(),
            1,
            "{out:?}"
        );
        let mut plain = HDF5_MAGIC.to_vec();
        plain.extend_from_slice(&[0u8; 64]);
        let mut out = Vec::new();
        scan_hdf5(&plain, &mut out);
        assert_eq!(ids(&out), ["hdf5.unchecked"]);
    }
}
