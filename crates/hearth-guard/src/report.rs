//! Findings, reports and their renderings: human text, JSON and SARIF 2.1.0.

use std::fmt::Write as _;

use serde::Serialize;

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A fact worth knowing (template matches a pinned one, format detected).
    Info,
    /// Unusual but not known to be harmful (unknown template, duplicate vocab pieces).
    Low,
    /// Likely broken or hiding something (trailing bytes, unknown pickle globals, bad CRC).
    Medium,
    /// Malformed in a way that crashes or misleads loaders, or a sandbox-escape idiom.
    High,
    /// Code execution on load (pickle imports of os/subprocess/builtins.exec ...).
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Process exit code of `hearth scan` for a report whose worst finding has this severity:
    /// 0 for none/info/low, 3 medium, 4 high, 5 critical (1 is a scan that could not run,
    /// 2 a usage error).
    pub fn exit_code(self) -> u8 {
        match self {
            Severity::Info | Severity::Low => 0,
            Severity::Medium => 3,
            Severity::High => 4,
            Severity::Critical => 5,
        }
    }

    fn sarif_level(self) -> &'static str {
        match self {
            Severity::Info => "note",
            Severity::Low => "note",
            Severity::Medium => "warning",
            Severity::High | Severity::Critical => "error",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where in the file a finding is: a byte offset and/or a field (`metadata["tokenizer.chat_template"]`,
/// `zip entry "archive/data.pkl"`, `pickle opcode 12`), and a line for template findings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
}

impl Location {
    pub fn none() -> Self {
        Self::default()
    }
    pub fn offset(offset: u64) -> Self {
        Location {
            offset: Some(offset),
            ..Self::default()
        }
    }
    pub fn field(field: impl Into<String>) -> Self {
        Location {
            field: Some(field.into()),
            ..Self::default()
        }
    }
    pub fn at(field: impl Into<String>, offset: u64) -> Self {
        Location {
            offset: Some(offset),
            field: Some(field.into()),
            line: None,
        }
    }
    pub fn with_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(f) = &self.field {
            parts.push(f.clone());
        }
        if let Some(l) = self.line {
            parts.push(format!("line {l}"));
        }
        if let Some(o) = self.offset {
            parts.push(format!("byte {o}"));
        }
        parts.join(", ")
    }
}

/// One thing the scanner found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable rule id, `gguf.trailing-bytes`, `template.sandbox-escape`, `pickle.dangerous-import` ...
    pub rule_id: String,
    pub severity: Severity,
    pub message: String,
    pub location: Location,
    /// Longer supporting text (a template diff, a list of imports).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Finding {
    pub fn new(
        rule_id: impl Into<String>,
        severity: Severity,
        message: impl Into<String>,
        location: Location,
    ) -> Self {
        Finding {
            rule_id: rule_id.into(),
            severity,
            message: message.into(),
            location,
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// The detected container format of a scanned file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Gguf,
    Pickle,
    PytorchZip,
    Zip,
    PytorchLegacy,
    PytorchTar,
    Safetensors,
    /// NumPy `.npy` array.
    Npy,
    /// NumPy `.npz` archive (a zip of `.npy` arrays).
    Npz,
    /// Keras v3 `.keras` archive.
    Keras,
    /// HDF5 (legacy Keras `.h5`).
    Hdf5,
    Unknown,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Gguf => "GGUF",
            Format::Pickle => "pickle",
            Format::PytorchZip => "PyTorch zip archive",
            Format::Zip => "zip archive",
            Format::PytorchLegacy => "legacy PyTorch (pickle sequence)",
            Format::PytorchTar => "legacy PyTorch tar archive",
            Format::Safetensors => "safetensors",
            Format::Npy => "NumPy array (.npy)",
            Format::Npz => "NumPy archive (.npz)",
            Format::Keras => "Keras archive (.keras)",
            Format::Hdf5 => "HDF5 (Keras .h5)",
            Format::Unknown => "unknown",
        }
    }
}

/// The result of scanning one file.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub path: String,
    pub format: Format,
    pub file_size: u64,
    pub findings: Vec<Finding>,
}

impl Report {
    /// The worst severity, or `None` with no findings.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// `hearth scan`'s exit code (see [`Severity::exit_code`]).
    pub fn exit_code(&self) -> u8 {
        self.max_severity().map_or(0, Severity::exit_code)
    }

    /// Findings of at least this severity.
    pub fn at_least(&self, s: Severity) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.severity >= s)
    }

    /// Whether any finding has this rule id.
    pub fn has_rule(&self, rule_id: &str) -> bool {
        self.findings.iter().any(|f| f.rule_id == rule_id)
    }

    /// Findings sorted worst first, stable within a severity.
    pub fn sort(&mut self) {
        self.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    }

    /// Human-readable text (no colour).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}: {} ({} bytes)",
            self.path,
            self.format.name(),
            self.file_size
        );
        if self.findings.is_empty() {
            let _ = writeln!(out, "  no findings");
        }
        for f in &self.findings {
            let loc = f.location.describe();
            let _ = write!(
                out,
                "  [{:<8}] {}: {}",
                f.severity.name(),
                f.rule_id,
                f.message
            );
            if !loc.is_empty() {
                let _ = write!(out, " ({loc})");
            }
            out.push('\n');
            if let Some(d) = &f.detail {
                for line in d.lines() {
                    let _ = writeln!(out, "      {line}");
                }
            }
        }
        let worst = self.max_severity().map_or("none", Severity::name);
        let _ = writeln!(out, "  {} finding(s), worst: {worst}", self.findings.len());
        out
    }

    /// JSON (one object).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// SARIF 2.1.0 log for one or more reports (one run, one result per finding).
pub fn to_sarif(reports: &[Report]) -> serde_json::Value {
    use serde_json::json;
    let mut rules: Vec<String> = reports
        .iter()
        .flat_map(|r| r.findings.iter().map(|f| f.rule_id.clone()))
        .collect();
    rules.sort();
    rules.dedup();
    let results: Vec<serde_json::Value> = reports
        .iter()
        .flat_map(|r| {
            r.findings.iter().map(move |f| {
                let mut region = serde_json::Map::new();
                if let Some(o) = f.location.offset {
                    region.insert("byteOffset".into(), json!(o));
                }
                if let Some(l) = f.location.line {
                    region.insert("startLine".into(), json!(l.max(1)));
                }
                let mut physical = json!({ "artifactLocation": { "uri": r.path } });
                if !region.is_empty() {
                    physical["region"] = serde_json::Value::Object(region);
                }
                let mut loc = json!({ "physicalLocation": physical });
                if let Some(field) = &f.location.field {
                    loc["logicalLocations"] = json!([{ "name": field }]);
                }
                let mut text = f.message.clone();
                if let Some(d) = &f.detail {
                    text.push('\n');
                    text.push_str(d);
                }
                json!({
                    "ruleId": f.rule_id,
                    "level": f.severity.sarif_level(),
                    "message": { "text": text },
                    "locations": [loc],
                    "properties": { "severity": f.severity.name() },
                })
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "hearth-guard",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://example.invalid/hearth",
                "rules": rules.iter().map(|id| json!({ "id": id })).collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    })
}
