//! Ollama's Modelfile: `FROM`, `TEMPLATE`, `SYSTEM`, `PARAMETER`, `LICENSE`, `MESSAGE`
//! (`ADAPTER` is recognised and refused). Values may be bare (rest of the line), `"quoted"` or
//! `"""multi-line"""`; `#` starts a comment line; commands are case-insensitive.

use serde_json::{Map, Value};

use crate::error::{Result, StoreError};

/// One Modelfile instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    From(String),
    Template(String),
    System(String),
    Parameter(String, String),
    License(String),
    Message { role: String, content: String },
    Adapter(String),
}

/// A parsed Modelfile: the commands with their line numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Modelfile {
    pub commands: Vec<(usize, Command)>,
}

/// A Modelfile may not be larger than this.
pub const MAX_MODELFILE_BYTES: usize = 16 << 20;

impl Modelfile {
    pub fn parse(text: &str) -> Result<Modelfile> {
        let err = |line: usize, reason: String| StoreError::Modelfile { line, reason };
        if text.len() > MAX_MODELFILE_BYTES {
            return Err(err(0, format!("larger than {MAX_MODELFILE_BYTES} bytes")));
        }
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut out = Modelfile::default();
        let mut rest = text;
        let mut line = 1usize;
        loop {
            // Skip blank space and comment lines.
            let trimmed = rest.trim_start_matches([' ', '\t', '\r', '\n']);
            line += rest[..rest.len() - trimmed.len()].matches('\n').count();
            rest = trimmed;
            if rest.is_empty() {
                break;
            }
            if rest.starts_with('#') {
                let end = rest.find('\n').unwrap_or(rest.len());
                rest = &rest[end..];
                continue;
            }
            let start_line = line;
            let (word, after) = split_word(rest);
            let cmd = word.to_ascii_lowercase();
            if !matches!(
                cmd.as_str(),
                "from" | "template" | "system" | "parameter" | "license" | "message" | "adapter"
            ) {
                return Err(err(
                    start_line,
                    format!("unknown command {word:?}; expected FROM, TEMPLATE, SYSTEM, PARAMETER, LICENSE, MESSAGE"),
                ));
            }
            let mut after = after.trim_start_matches([' ', '\t']);
            let mut first = None;
            if cmd == "parameter" || cmd == "message" {
                let (w, a) = split_word(after);
                if w.is_empty() {
                    return Err(err(
                        start_line,
                        format!("{} needs a name and a value", cmd.to_uppercase()),
                    ));
                }
                first = Some(w.to_string());
                after = a.trim_start_matches([' ', '\t']);
            }
            let (value, remaining) = read_value(after).map_err(|r| err(start_line, r))?;
            line += after[..after.len() - remaining.len()].matches('\n').count();
            rest = remaining;
            if value.is_empty() && cmd != "system" && cmd != "template" {
                return Err(err(
                    start_line,
                    format!("{} needs a value", cmd.to_uppercase()),
                ));
            }
            let c = match cmd.as_str() {
                "from" => Command::From(value),
                "template" => Command::Template(value),
                "system" => Command::System(value),
                "license" => Command::License(value),
                "adapter" => Command::Adapter(value),
                "parameter" => Command::Parameter(first.unwrap_or_default(), value),
                _ => {
                    let role = first.unwrap_or_default();
                    if !matches!(role.as_str(), "system" | "user" | "assistant") {
                        return Err(err(
                            start_line,
                            format!("message role must be system, user or assistant, not {role:?}"),
                        ));
                    }
                    Command::Message {
                        role,
                        content: value,
                    }
                }
            };
            out.commands.push((start_line, c));
        }
        if !out
            .commands
            .iter()
            .any(|(_, c)| matches!(c, Command::From(_)))
        {
            return Err(err(0, "no FROM line".into()));
        }
        Ok(out)
    }

    /// The `PARAMETER` lines as Ollama's typed params JSON (repeated `stop` values collect).
    pub fn params(&self) -> Result<Map<String, Value>> {
        let mut m = Map::new();
        for (line, c) in &self.commands {
            if let Command::Parameter(k, v) = c {
                let val = typed_param(k, v).map_err(|reason| StoreError::Modelfile {
                    line: *line,
                    reason,
                })?;
                match (m.get_mut(k), val) {
                    (Some(Value::Array(a)), Value::Array(b)) => a.extend(b),
                    (_, val) => {
                        m.insert(k.clone(), val);
                    }
                }
            }
        }
        Ok(m)
    }
}

fn split_word(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// A value: `"""…"""`, `"…"`, or the rest of the line. Returns it and what follows.
fn read_value(s: &str) -> std::result::Result<(String, &str), String> {
    let (v, rest) = if let Some(body) = s.strip_prefix("\"\"\"") {
        let end = body.find("\"\"\"").ok_or("unterminated \"\"\" string")?;
        (body[..end].to_string(), &body[end + 3..])
    } else if let Some(body) = s.strip_prefix('"') {
        let end = body.find('"').ok_or("unterminated \" string")?;
        (body[..end].to_string(), &body[end + 1..])
    } else {
        let end = s.find('\n').unwrap_or(s.len());
        return Ok((s[..end].trim().to_string(), &s[end..]));
    };
    let end = rest.find('\n').unwrap_or(rest.len());
    if !rest[..end].trim().is_empty() {
        return Err(format!(
            "unexpected text after closing quote: {:?}",
            rest[..end].trim()
        ));
    }
    Ok((v, rest))
}

/// Type a parameter as Ollama's options do.
pub fn typed_param(key: &str, v: &str) -> std::result::Result<Value, String> {
    const INTS: &[&str] = &[
        "num_ctx",
        "num_batch",
        "num_gpu",
        "main_gpu",
        "num_thread",
        "num_keep",
        "seed",
        "num_predict",
        "top_k",
        "repeat_last_n",
        "draft_num_predict",
        "mirostat",
    ];
    const FLOATS: &[&str] = &[
        "top_p",
        "min_p",
        "typical_p",
        "temperature",
        "repeat_penalty",
        "presence_penalty",
        "frequency_penalty",
        "mirostat_tau",
        "mirostat_eta",
    ];
    let v = v.trim();
    if key == "stop" {
        return Ok(Value::Array(vec![Value::String(v.to_string())]));
    }
    if INTS.contains(&key) {
        return v
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("parameter {key} must be an integer, got {v:?}"));
    }
    if FLOATS.contains(&key) {
        let f = v
            .parse::<f64>()
            .map_err(|_| format!("parameter {key} must be a number, got {v:?}"))?;
        return serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| format!("parameter {key} must be finite"));
    }
    if key == "use_mmap" {
        return v
            .parse::<bool>()
            .map(Value::Bool)
            .map_err(|_| format!("parameter {key} must be true or false, got {v:?}"));
    }
    Err(format!("unknown parameter {key:?}"))
}

/// Quote a value for a rendered Modelfile as Ollama does.
pub fn quote(s: &str) -> String {
    if s.contains('\n') || s.starts_with(' ') || s.ends_with(' ') || s.contains('"') || s.is_empty()
    {
        format!("\"\"\"{s}\"\"\"")
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ollama_modelfiles() {
        let text = "# comment\nFROM ./m.gguf\nTEMPLATE \"\"\"{{ .System }}\n{{ .Prompt }}\"\"\"\nsystem You are terse.\nPARAMETER stop <|im_end|>\nPARAMETER stop \"<|endoftext|>\"\nPARAMETER temperature 0.2\nparameter num_ctx 8192\nLICENSE \"\"\"MIT\nline 2\"\"\"\nMESSAGE user hi\nMESSAGE assistant \"hello there\"\n";
        let m = Modelfile::parse(text).unwrap();
        assert_eq!(m.commands[0], (2, Command::From("./m.gguf".into())));
        assert_eq!(
            m.commands[1].1,
            Command::Template("{{ .System }}\n{{ .Prompt }}".into())
        );
        assert_eq!(m.commands[2], (5, Command::System("You are terse.".into())));
        assert_eq!(m.commands.last().unwrap().0, 13);
        let p = m.params().unwrap();
        assert_eq!(
            p["stop"],
            serde_json::json!(["<|im_end|>", "<|endoftext|>"])
        );
        assert_eq!(p["num_ctx"], serde_json::json!(8192));
        assert_eq!(p["temperature"], serde_json::json!(0.2));
        assert!(matches!(&m.commands[7].1, Command::License(l) if l == "MIT\nline 2"));
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "TEMPLATE x",
            "FROM x\nBOGUS y",
            "FROM x\nMESSAGE robot hi",
            "FROM x\nSYSTEM \"\"\"open",
            "FROM x\nPARAMETER",
            "FROM",
        ] {
            assert!(Modelfile::parse(bad).is_err(), "{bad:?}");
        }
        let m = Modelfile::parse("FROM x\nPARAMETER num_ctx big").unwrap();
        assert!(m.params().is_err());
        let m = Modelfile::parse("FROM x\nPARAMETER nonsense 1").unwrap();
        assert!(m.params().is_err());
    }
}
