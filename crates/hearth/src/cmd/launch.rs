//! `hearth launch TOOL`: point a coding agent or editor at the running hearth server — the
//! environment, configuration and command each tool needs (base URL, key, model names,
//! context window) — and start it when it is installed. `--print` only shows them.
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

/// The tools hearth can configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Tool {
    /// Claude Code (Anthropic Messages API).
    Claude,
    /// Codex CLI (OpenAI Responses API).
    Codex,
    /// OpenCode (OpenAI-compatible chat).
    Opencode,
    /// Aider (through litellm's `ollama_chat/`).
    Aider,
    /// Zed's agent and edit prediction (Ollama provider; configured in Zed's settings).
    Zed,
    /// Continue's CLI `cn` and IDE extensions (Ollama provider, autocomplete included).
    Continue,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tool to configure and start.
    #[arg(value_enum)]
    pub tool: Tool,
    /// Model the tool should use (default: the first installed model).
    #[arg(long, short)]
    pub model: Option<String>,
    /// Context window to tell the tool about, in tokens.
    #[arg(long, default_value_t = 32768)]
    pub ctx: u32,
    /// Print the configuration and command instead of starting the tool.
    #[arg(long)]
    pub print: bool,
    /// Arguments passed on to the tool.
    #[arg(last = true)]
    pub rest: Vec<String>,
}

/// What a tool needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Environment variables.
    pub(crate) env: Vec<(String, String)>,
    /// A configuration file: where it goes and its text.
    pub(crate) file: Option<(PathBuf, String)>,
    /// A settings snippet the user merges by hand (tools configured only through their UI).
    pub(crate) snippet: Option<(String, String)>,
    /// The command line (`None`: the tool is not started from a terminal).
    pub(crate) command: Option<Vec<String>>,
}

/// Where hearth writes launch configurations.
fn config_dir() -> PathBuf {
    std::env::var_os("HEARTH_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".hearth")))
        .unwrap_or_else(|| PathBuf::from(".hearth"))
        .join("launch")
}

fn toml_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The plan for `tool` against the server at `base` (no trailing slash).
pub(crate) fn plan(tool: Tool, model: &str, base: &str, key: Option<&str>, ctx: u32) -> Plan {
    let token = key.unwrap_or("hearth").to_string();
    match tool {
        Tool::Claude => Plan {
            env: vec![
                ("ANTHROPIC_BASE_URL".into(), base.into()),
                ("ANTHROPIC_AUTH_TOKEN".into(), token),
                ("ANTHROPIC_MODEL".into(), model.into()),
                ("ANTHROPIC_DEFAULT_HAIKU_MODEL".into(), model.into()),
                ("ANTHROPIC_DEFAULT_SONNET_MODEL".into(), model.into()),
                ("ANTHROPIC_DEFAULT_OPUS_MODEL".into(), model.into()),
                (
                    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".into(),
                    "1".into(),
                ),
            ],
            file: None,
            snippet: None,
            command: Some(vec!["claude".into(), "--model".into(), model.into()]),
        },
        Tool::Codex => {
            let mut command: Vec<String> = vec!["codex".into()];
            let mut settings = vec![
                "model_provider=\"hearth\"".to_string(),
                "model_providers.hearth.name=\"hearth\"".to_string(),
                format!(
                    "model_providers.hearth.base_url={}",
                    toml_str(&format!("{base}/v1"))
                ),
                "model_providers.hearth.wire_api=\"responses\"".to_string(),
                format!("model_context_window={ctx}"),
            ];
            let mut env = Vec::new();
            if key.is_some() {
                settings.push("model_providers.hearth.env_key=\"HEARTH_API_KEY\"".into());
                env.push(("HEARTH_API_KEY".into(), token));
            }
            for s in settings {
                command.push("-c".into());
                command.push(s);
            }
            command.extend(["-m".into(), model.into()]);
            Plan {
                env,
                file: None,
                snippet: None,
                command: Some(command),
            }
        }
        Tool::Opencode => {
            let config = serde_json::json!({
                "$schema": "https://opencode.ai/config.json",
                "provider": {"hearth": {
                    "npm": "@ai-sdk/openai-compatible",
                    "name": "hearth",
                    "options": {"baseURL": format!("{base}/v1"), "apiKey": token},
                    "models": {model: {"name": model, "limit": {"context": ctx, "output": 8192},
                        "tool_call": true}},
                }},
                "model": format!("hearth/{model}"),
            });
            Plan {
                env: vec![("OPENCODE_CONFIG_CONTENT".into(), config.to_string())],
                file: None,
                snippet: None,
                command: Some(vec!["opencode".into()]),
            }
        }
        Tool::Aider => {
            let mut env = vec![("OLLAMA_API_BASE".into(), base.to_string())];
            if key.is_some() {
                env.push(("OLLAMA_API_KEY".into(), token));
            }
            Plan {
                env,
                file: None,
                snippet: None,
                command: Some(vec![
                    "aider".into(),
                    "--model".into(),
                    format!("ollama_chat/{model}"),
                    "--no-show-model-warnings".into(),
                ]),
            }
        }
        Tool::Zed => {
            let settings = serde_json::json!({
                "language_models": {"ollama": {"api_url": base, "available_models": [{
                    "name": model, "display_name": format!("{model} (hearth)"),
                    "max_tokens": ctx, "supports_tools": true}]}},
                "agent": {"default_model": {"provider": "ollama", "model": model}},
            });
            let text = serde_json::to_string_pretty(&settings).unwrap_or_default();
            Plan {
                env: Vec::new(),
                file: None,
                snippet: Some((
                    "Zed settings.json (merge it in; Zed reads no environment for this)".into(),
                    text,
                )),
                command: None,
            }
        }
        Tool::Continue => {
            let mut yaml = String::new();
            let _ = write!(
                yaml,
                "name: hearth\nversion: 1.0.0\nschema: v1\nmodels:\n  - name: {model} (hearth)\n    \
                 provider: ollama\n    model: {model}\n    apiBase: {base}\n    defaultCompletionOptions:\n      \
                 contextLength: {ctx}\n    roles: [chat, edit, apply, autocomplete]\n"
            );
            if key.is_some() {
                let _ = writeln!(yaml, "    apiKey: {token}");
            }
            let path = config_dir().join("continue.yaml");
            Plan {
                env: Vec::new(),
                command: Some(vec![
                    "cn".into(),
                    "--config".into(),
                    path.display().to_string(),
                ]),
                file: Some((path, yaml)),
                snippet: None,
            }
        }
    }
}

/// Quote a word for a POSIX shell.
fn sh(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The plan as a shell script a user can read or paste.
pub(crate) fn render(p: &Plan) -> String {
    let mut out = String::new();
    if let Some((path, text)) = &p.file {
        let _ = writeln!(out, "# {}", path.display());
        let _ = writeln!(
            out,
            "mkdir -p {}",
            sh(&path.parent().unwrap_or(path).display().to_string())
        );
        let _ = writeln!(
            out,
            "cat > {} <<'EOF'\n{text}EOF",
            sh(&path.display().to_string())
        );
    }
    if let Some((what, text)) = &p.snippet {
        let _ = writeln!(out, "# {what}:\n{text}");
    }
    for (k, v) in &p.env {
        let _ = writeln!(out, "export {k}={}", sh(v));
    }
    if let Some(cmd) = &p.command {
        let words: Vec<String> = cmd.iter().map(|w| sh(w)).collect();
        let _ = writeln!(out, "{}", words.join(" "));
    }
    out
}

fn default_model() -> anyhow::Result<String> {
    let stores = hearth_store::Stores::from_env()?;
    let list = stores.list_all().context("listing installed models")?;
    list.first()
        .map(|e| e.name.display_shortest())
        .context("no model is installed: name one with --model, or `hearth pull` one first")
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let model = match args.model {
        Some(m) => m,
        None => default_model()?,
    };
    let base = super::client::base_url()?;
    let key = std::env::var("HEARTH_API_KEY")
        .ok()
        .filter(|k| !k.is_empty());
    let mut p = plan(args.tool, &model, &base, key.as_deref(), args.ctx);
    if let Some(cmd) = &mut p.command {
        cmd.extend(args.rest);
    }
    if args.print {
        print!("{}", render(&p));
        return Ok(ExitCode::SUCCESS);
    }
    let Some(cmd) = p.command.clone() else {
        print!("{}", render(&p));
        return Ok(ExitCode::SUCCESS);
    };
    if !on_path(&cmd[0]) {
        eprint!("{}", render(&p));
        anyhow::bail!(
            "{} is not installed (not on PATH); the setup it needs is above",
            cmd[0]
        );
    }
    if let Some((path, text)) = &p.file {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    tracing::info!(tool = %cmd[0], %model, %base, "launching");
    let status = std::process::Command::new(&cmd[0])
        .args(&cmd[1..])
        .envs(p.env.iter().map(|(k, v)| (k, v)))
        .status()
        .with_context(|| format!("starting {}", cmd[0]))?;
    Ok(ExitCode::from(
        status
            .code()
            .and_then(|c| u8::try_from(c).ok())
            .unwrap_or(1),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "http://127.0.0.1:11434";

    #[test]
    fn claude_gets_the_anthropic_base_url_and_model() {
        let p = plan(Tool::Claude, "qwen2.5-coder:1.5b", BASE, None, 32768);
        assert!(p.env.contains(&("ANTHROPIC_BASE_URL".into(), BASE.into())));
        assert!(p
            .env
            .contains(&("ANTHROPIC_MODEL".into(), "qwen2.5-coder:1.5b".into())));
        assert_eq!(p.command.unwrap()[0], "claude");
    }

    #[test]
    fn codex_speaks_responses_to_the_v1_base() {
        let p = plan(Tool::Codex, "m", BASE, Some("k"), 8192);
        let cmd = p.command.unwrap().join(" ");
        assert!(
            cmd.contains("model_providers.hearth.base_url=\"http://127.0.0.1:11434/v1\""),
            "{cmd}"
        );
        assert!(cmd.contains("wire_api=\"responses\""), "{cmd}");
        assert!(cmd.contains("model_context_window=8192"), "{cmd}");
        assert!(cmd.contains("env_key=\"HEARTH_API_KEY\""), "{cmd}");
        assert!(cmd.ends_with("-m m"), "{cmd}");
    }

    #[test]
    fn opencode_config_is_json() {
        let p = plan(Tool::Opencode, "m", BASE, None, 100);
        let v: serde_json::Value = serde_json::from_str(&p.env[0].1).unwrap();
        assert_eq!(v["model"], "hearth/m");
        assert_eq!(
            v["provider"]["hearth"]["options"]["baseURL"],
            "http://127.0.0.1:11434/v1"
        );
        assert_eq!(
            v["provider"]["hearth"]["models"]["m"]["limit"]["context"],
            100
        );
    }

    #[test]
    fn render_quotes_for_the_shell() {
        let p = plan(Tool::Opencode, "it's", BASE, None, 1);
        let out = render(&p);
        assert!(
            out.starts_with("export OPENCODE_CONFIG_CONTENT='{"),
            "{out}"
        );
        assert!(out.contains("it'\\''s"), "{out}");
    }

    #[test]
    fn continue_and_zed_configs() {
        let p = plan(Tool::Continue, "m", BASE, None, 4096);
        let (path, yaml) = p.file.unwrap();
        assert!(path.ends_with("launch/continue.yaml"));
        assert!(
            yaml.contains("provider: ollama") && yaml.contains("autocomplete"),
            "{yaml}"
        );
        assert!(yaml.contains("contextLength: 4096"), "{yaml}");
        let p = plan(Tool::Zed, "m", BASE, None, 4096);
        assert!(p.command.is_none());
        let (_, text) = p.snippet.unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["language_models"]["ollama"]["api_url"], BASE);
    }
}
