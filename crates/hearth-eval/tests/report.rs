//! The report: its JSON validates against the schema in the repo, and its HTML page opens in
//! headless Chromium with the plots drawn (checked by the colours on the screenshot, not
//! pixel by pixel).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use hearth_eval::exec::Verdict;
use hearth_eval::log::Record;
use hearth_eval::report::{Agreement, DataInfo, Machine, Report, Run};
use serde_json::Value;

/// Two runs over 164 problems: a hearth run and a comparison server's.
fn report() -> Report {
    let records = |seed: u64| -> Vec<Record> {
        (0..164u64)
            .map(|i| {
                let x = (i * 2_654_435_761 + seed) % 97;
                Record {
                    task_id: format!("HumanEval/{i}"),
                    verdict: if x < 53 {
                        Verdict::Passed
                    } else {
                        Verdict::Failed {
                            reason: "exit status 1: AssertionError".into(),
                        }
                    },
                    answer: format!("answer {x}"),
                    model_s: 1.0 + (x as f64) / 10.0,
                    test_s: 0.05,
                    tokens: Some(20 + x as u32 * 3),
                    scorer: hearth_eval::SCORER.into(),
                    exact: None,
                    tries: Vec::new(),
                }
            })
            .collect()
    };
    let a = records(0);
    let b = records(7);
    let name_a = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf";
    let name_b = "llama.cpp=http://127.0.0.1:8080 <b>&";
    Report {
        hearth: "0.0.0-test".into(),
        suite: "humaneval".into(),
        data: DataInfo {
            path: "/cache/HumanEval.jsonl.gz".into(),
            sha256: "b796127e".into(),
            problems: 164,
        },
        machine: Machine {
            cpu: "AMD EPYC (test)".into(),
            logical_cores: 2,
            ram_bytes: 24 << 30,
            gpus: vec![],
        },
        answer_style: hearth_eval::ANSWER_STYLE.into(),
        scorer: hearth_eval::SCORER.into(),
        max_tokens: 512,
        agreement: vec![Agreement::of((name_a, &a), (name_b, &b))],
        runs: vec![
            Run::of(name_a, "humaneval", &a),
            Run::of(name_b, "humaneval", &b),
        ],
    }
}

fn schema() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/report.schema.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// The part of JSON Schema (2020-12) the report's schema uses: `type` (one or several),
/// `required`, `properties`, `additionalProperties: false`, `items`, `enum`, `minimum`,
/// `maximum`, `minItems`, `maxItems` and local `$ref`s. A keyword it does not know fails the
/// validation, so the schema cannot quietly use more than is checked.
fn validate(root: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let s = schema.as_object().expect("a schema is an object");
    for key in s.keys() {
        let known = [
            "$schema",
            "title",
            "description",
            "type",
            "required",
            "properties",
            "additionalProperties",
            "items",
            "enum",
            "minimum",
            "maximum",
            "minItems",
            "maxItems",
            "$ref",
            "$defs",
        ];
        assert!(
            known.contains(&key.as_str()),
            "{at}: keyword {key} is not checked"
        );
    }
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/$defs/").expect("a local $ref");
        validate(root, &root["$defs"][name], v, at, errors);
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => panic!("{at}: bad type keyword"),
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            "number" => v.is_number(),
            "integer" => v.is_u64() || v.is_i64(),
            other => panic!("{at}: unknown type {other}"),
        });
        if !ok {
            errors.push(format!("{at}: {v} is not {types:?}"));
            return;
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            errors.push(format!("{at}: {v} not in {e:?}"));
        }
    }
    if let Some(n) = v.as_f64() {
        if s.get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n < m)
        {
            errors.push(format!("{at}: {n} below the minimum"));
        }
        if s.get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n > m)
        {
            errors.push(format!("{at}: {n} above the maximum"));
        }
    }
    if let Some(items) = v.as_array() {
        let len = items.len() as u64;
        if s.get("minItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| len < m)
        {
            errors.push(format!("{at}: fewer than minItems"));
        }
        if s.get("maxItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| len > m)
        {
            errors.push(format!("{at}: more than maxItems"));
        }
        if let Some(item) = s.get("items") {
            for (i, x) in items.iter().enumerate() {
                validate(root, item, x, &format!("{at}[{i}]"), errors);
            }
        }
    }
    if let Some(obj) = v.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let r = r.as_str().unwrap();
            if !obj.contains_key(r) {
                errors.push(format!("{at}: missing {r}"));
            }
        }
        for (k, x) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => validate(root, ps, x, &format!("{at}.{k}"), errors),
                None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{at}: unexpected {k}"))
                }
                None => {}
            }
        }
    }
}

/// A fim report: two variants of one model, each run with exact-match verdicts.
fn fim_report() -> Report {
    let mut r = report();
    r.suite = "fim".into();
    let with_exact = |run: &Run, suite: &str| {
        let records: Vec<Record> = run
            .results
            .iter()
            .enumerate()
            .map(|(i, p)| Record {
                task_id: p.task_id.clone(),
                verdict: if p.passed {
                    Verdict::Passed
                } else {
                    Verdict::Failed { reason: "x".into() }
                },
                answer: String::new(),
                model_s: p.model_s,
                test_s: 0.05,
                tokens: p.tokens,
                scorer: "fim-insert-v1".into(),
                exact: Some(i % 3 == 0),
                tries: Vec::new(),
            })
            .collect();
        Run::of(&run.summary.model, suite, &records)
    };
    r.runs = vec![
        with_exact(&r.runs[0], "fim-single"),
        with_exact(&r.runs[0], "fim-span"),
    ];
    r.agreement.clear();
    r
}

fn errors_of(v: &Value) -> Vec<String> {
    let schema = schema();
    let mut errors = Vec::new();
    validate(&schema, &schema, v, "$", &mut errors);
    errors
}

#[test]
fn the_json_report_validates_against_the_schema() {
    let v = serde_json::to_value(report()).unwrap();
    assert_eq!(errors_of(&v), Vec::<String>::new());
    assert_eq!(v["runs"][0]["problems"], 164);
    assert_eq!(v["runs"][0]["results"].as_array().unwrap().len(), 164);
    assert_eq!(v["runs"][0]["published"][0]["pass_at_1"], 61.6);

    let fim = serde_json::to_value(fim_report()).unwrap();
    assert_eq!(errors_of(&fim), Vec::<String>::new());
    assert_eq!(fim["runs"][1]["results"][0]["exact"], true);
    assert!(fim["runs"][0]["exact_match"].as_f64().unwrap() > 33.0);
    assert_eq!(fim["runs"][0]["verdicts"][0]["use_case"], "autocomplete");
    assert!(fim["runs"][0]["verdicts"][0]["realistic"].is_boolean());
    let mut edit = fim_report();
    edit.suite = "edit".into();
    let records: Vec<Record> = (0..4)
        .map(|i| Record {
            task_id: format!("exercise-{i}"),
            verdict: if i < 2 {
                Verdict::Passed
            } else {
                Verdict::Failed {
                    reason: "malformed edit: no file".into(),
                }
            },
            answer: String::new(),
            model_s: 30.0,
            test_s: 0.5,
            tokens: Some(600),
            scorer: "edit-v1".into(),
            exact: None,
            tries: vec![hearth_eval::log::Try {
                passed: i == 0,
                malformed: i == 3,
            }],
        })
        .collect();
    edit.runs = vec![Run::of("m", "edit-whole", &records)];
    let e = serde_json::to_value(&edit).unwrap();
    assert_eq!(errors_of(&e), Vec::<String>::new());
    assert_eq!(e["runs"][0]["solved_first_try"], 25.0);
    assert_eq!(e["runs"][0]["results"][3]["tries"][0]["malformed"], true);
    assert!(hearth_eval::html::html(&edit).contains("first try 25.0%, malformed 25.0%"));
    let html = hearth_eval::html::html(&fim_report());
    assert!(
        html.contains("· single") && html.contains("· span"),
        "variants are told apart"
    );

    // The validator is not a rubber stamp: each of these breaks the schema.
    let mut missing = v.clone();
    missing["runs"][0]
        .as_object_mut()
        .unwrap()
        .remove("pass_at_1");
    let mut wrong_type = v.clone();
    wrong_type["runs"][1]["results"][3]["passed"] = Value::from("yes");
    let mut out_of_range = v.clone();
    out_of_range["runs"][0]["ci95"][1] = Value::from(101.0);
    let mut extra = v.clone();
    extra["machine"]["secret"] = Value::from("x");
    for (what, bad) in [
        ("missing", missing),
        ("wrong type", wrong_type),
        ("out of range", out_of_range),
        ("extra", extra),
    ] {
        assert!(!errors_of(&bad).is_empty(), "{what}: validated");
    }
}

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
            })
        })
}

fn rgb(hex: &str) -> [u8; 3] {
    let n = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap();
    [(n >> 16) as u8, (n >> 8) as u8, n as u8]
}

#[test]
fn the_html_report_shows_its_plots_in_headless_chromium() {
    let page = hearth_eval::html::html(&report());
    // Self-contained: nothing to fetch, nothing to run.
    for outside in ["<script", "http-equiv", "src=", "href=", "@import", "url("] {
        assert!(!page.contains(outside), "the page contains {outside}");
    }
    // Labels are escaped.
    assert!(page.contains("&lt;b&gt;&amp;") && !page.contains("<b>&"));
    assert!(page.contains("published 61.6%"));
    assert!(page.contains("chat: <span"));

    let Some(browser) = chromium() else {
        // CI installs it (scripts/setup); elsewhere it is optional.
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is not installed (scripts/setup installs it)"
        );
        eprintln!("skipping the screenshot: no chromium");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let shot = dir.path().join("shot.png");
    std::fs::write(&html, &page).unwrap();
    let out = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--window-size=900,2600",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(
        shot.is_file(),
        "{} made no screenshot: {}",
        browser.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected colour type {other:?}"),
    };
    assert!(info.width >= 800 && info.height >= 2000, "{info:?}");
    let count = |hex: &str| {
        let want = rgb(hex);
        buf[..info.buffer_size()]
            .chunks_exact(channels)
            .filter(|p| (0..3).all(|c| p[c].abs_diff(want[c]) <= 6))
            .count()
    };
    // Each colour fills a visible area: bars and points of both runs, histograms, the grid.
    for (what, hex, min) in [
        ("first run's bars", hearth_eval::html::PALETTE[0], 3000),
        ("second run's bars", hearth_eval::html::PALETTE[1], 3000),
        ("passed cells", hearth_eval::html::PASS, 2000),
        ("failed cells", hearth_eval::html::FAIL, 2000),
    ] {
        let n = count(hex);
        eprintln!("{what}: {n} pixels");
        assert!(n >= min, "{what} ({hex}): {n} pixels, want ≥ {min}");
    }
    // And most of the page is the white background, not a blank or an error page of
    // another colour.
    let white = count("#ffffff");
    let total = (info.width * info.height) as usize;
    assert!(
        white > total / 2 && white < total,
        "{white} of {total} white"
    );
}
