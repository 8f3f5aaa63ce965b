//! Server configuration: bind address, security settings and limits, from flags and the
//! environment (`HEARTH_*`, with Ollama's `OLLAMA_*` names accepted for compatibility).
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Default port, Ollama's.
pub const DEFAULT_PORT: u16 = 11434;
/// Largest `num_ctx` a request may ask for at all; above it the request is rejected.
pub const MAX_NUM_CTX: u64 = 1 << 20;

/// Configuration errors: the server refuses to start.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A policy that would send requests out, in a build with no upstream client.
    #[error(
        "{0} sets mode = \"hybrid\", but this build of hearth has no upstream (cloud) client \
         (cargo feature `cloud`): remove the line to stay local-only, or set HEARTH_NO_CLOUD=1"
    )]
    HybridUnsupported(String),
    /// A hybrid policy whose upstreams cannot be used (a missing key, an unreadable file).
    #[error("routing: {0}")]
    Upstream(String),
    /// A host string that does not parse.
    #[error("invalid host {value:?} in {source_name}: {reason}")]
    BadHost {
        /// The value.
        value: String,
        /// Where it came from.
        source_name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Off-loopback without an API key.
    #[error(
        "refusing to listen on {addr} (not loopback) without an API key: set HEARTH_API_KEY or \
         HEARTH_API_KEY_FILE, or pass --insecure-no-auth to accept anyone on the network"
    )]
    NoAuthOffLoopback {
        /// The address.
        addr: SocketAddr,
    },
    /// An API key file that cannot be read or is empty.
    #[error("API key file {path}: {reason}")]
    KeyFile {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A key (`HEARTH_API_KEY`, `HEARTH_MANAGEMENT_KEY`) set to nothing but whitespace.
    #[error("{0} is blank: set a real key or unset it")]
    BlankKey(&'static str),
    /// `--management key` with no key to require.
    #[error(
        "--management key needs a key: set HEARTH_MANAGEMENT_KEY (or HEARTH_MANAGEMENT_KEY_FILE) \
         or HEARTH_API_KEY"
    )]
    ManagementNeedsKey,
    /// A `--management` value that is not `open`, `key` or `off`.
    #[error("invalid management mode {0:?}: expected open, key or off")]
    BadManagement(String),
    /// A numeric setting that does not parse.
    #[error("invalid value {value:?} for {name}")]
    BadNumber {
        /// Variable.
        name: &'static str,
        /// Value.
        value: String,
    },
}

/// Who may manage models (pull, push, create, blobs, copy, delete) over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Management {
    /// Like any other endpoint: open on loopback, behind the API key when one is set.
    #[default]
    Open,
    /// Only with a key, on every bind, loopback included: the management key when one is
    /// set (so inference can stay keyless for local editors), else the API key.
    Key,
    /// Refused.
    Off,
}

impl std::str::FromStr for Management {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "open" => Ok(Management::Open),
            "key" => Ok(Management::Key),
            "off" => Ok(Management::Off),
            _ => Err(ConfigError::BadManagement(s.to_string())),
        }
    }
}

/// Everything `hearth serve` is configured with.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Listen address.
    pub bind: SocketAddr,
    /// Bearer token required on every request (except `/`, `/health` and CORS preflight).
    pub api_key: Option<String>,
    /// Allow listening off-loopback without a key.
    pub insecure_no_auth: bool,
    /// Extra host names accepted in the Host header.
    pub allowed_hosts: Vec<String>,
    /// Extra CORS origins (patterns with a trailing `*`).
    pub allowed_origins: Vec<String>,
    /// Request body limit in bytes.
    pub max_body_bytes: usize,
    /// Prompt (all text fields together) limit in bytes.
    pub max_prompt_bytes: usize,
    /// Who may pull, push, create, upload blobs, copy and delete.
    pub management: Management,
    /// The key `Management::Key` requires (falls back to `api_key`).
    pub management_key: Option<String>,
    /// Let pulls started over HTTP reach loopback and private addresses (a registry on the
    /// LAN); off by default so a caller cannot use the server to reach them.
    pub allow_private_pulls: bool,
    /// Directories whose GGUF files `/api/create` may name by server path (`from`); none by
    /// default, so a caller over HTTP cannot make the server read its files.
    pub allow_models_from: Vec<std::path::PathBuf>,
    /// Sequences per model.
    pub num_parallel: u32,
    /// Models resident at once.
    pub max_loaded_models: usize,
    /// Requests waiting (over all models) before 503.
    pub max_queue: usize,
    /// Keep-alive when the request does not say; `None` = forever.
    pub keep_alive: Option<Duration>,
    /// Memory budget for loaded models in bytes (0 = unlimited).
    pub memory_budget: u64,
    /// Context per sequence when the request does not say.
    pub default_num_ctx: u32,
    /// Engine threads.
    pub threads: Option<u32>,
    /// The routing policy (local-only by default) and the file it came from.
    pub route_policy: hearth_route::Policy,
    pub route_policy_file: Option<String>,
    /// `HEARTH_NO_CLOUD`: nothing leaves whatever the policy says.
    pub no_cloud: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), DEFAULT_PORT),
            api_key: None,
            insecure_no_auth: false,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            max_body_bytes: 32 << 20,
            max_prompt_bytes: 4 << 20,
            management: Management::Open,
            management_key: None,
            allow_private_pulls: false,
            allow_models_from: Vec::new(),
            num_parallel: 1,
            max_loaded_models: 3,
            max_queue: 512,
            keep_alive: Some(Duration::from_secs(300)),
            memory_budget: 0,
            default_num_ctx: 4096,
            threads: None,
            route_policy: hearth_route::Policy::default(),
            route_policy_file: None,
            no_cloud: false,
        }
    }
}

/// Parse an `OLLAMA_HOST`-style value: `host`, `host:port`, `:port`, `[::1]:port`,
/// optionally with `http://` or `https://` and a trailing path.
pub fn parse_host(value: &str, source_name: &'static str) -> Result<SocketAddr, ConfigError> {
    let bad = |reason: &str| ConfigError::BadHost {
        value: value.to_string(),
        source_name,
        reason: reason.to_string(),
    };
    let mut s = value.trim();
    for scheme in ["http://", "https://"] {
        if let Some(rest) = s.strip_prefix(scheme) {
            s = rest;
        }
    }
    if let Some(i) = s.find('/') {
        s = &s[..i];
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']').ok_or_else(|| bad("missing ']'"))?;
        let host = &rest[..end];
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(bad("junk after ']'")),
        };
        (host, port)
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            Some(_) => (s, None), // bare IPv6
            None => (s, None),
        }
    };
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| bad("port is not a number 0-65535"))?,
        None => DEFAULT_PORT,
    };
    let ip = match host {
        "" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        h => h
            .parse::<IpAddr>()
            .map_err(|_| bad("host must be an IP address or localhost"))?,
    };
    Ok(SocketAddr::new(ip, port))
}

/// Parse a keep-alive value the way Ollama does: a number of seconds or a Go duration string
/// (`5m`, `1h30m`, `300ms`, `-1`); negative means forever (`None`).
pub fn parse_keep_alive(value: &str) -> Option<Option<Duration>> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return Some(secs_to_keep_alive(secs));
    }
    go_duration(v).map(secs_to_keep_alive)
}

/// Seconds (possibly negative) to a keep-alive.
pub fn secs_to_keep_alive(secs: f64) -> Option<Duration> {
    if !secs.is_finite() || secs < 0.0 {
        None
    } else {
        Some(Duration::from_secs_f64(secs.min(1e9)))
    }
}

/// Parse a Go `time.Duration` string to seconds.
pub fn go_duration(s: &str) -> Option<f64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0f64;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_end == 0 {
            return None;
        }
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += n * mult;
    }
    Some(if neg { -total } else { total })
}

/// True for loopback addresses.
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

impl ServerConfig {
    /// Read `HEARTH_*` / `OLLAMA_*` variables through `get` (so tests need not touch the
    /// process environment). Flags given on the command line are applied afterwards by the caller.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        let pick = |a: &str, b: &str| {
            get(a)
                .filter(|v| !v.is_empty())
                .or_else(|| get(b).filter(|v| !v.is_empty()))
        };
        if let Some(h) = get("HEARTH_HOST").filter(|v| !v.is_empty()) {
            c.bind = parse_host(&h, "HEARTH_HOST")?;
        } else if let Some(h) = get("OLLAMA_HOST").filter(|v| !v.is_empty()) {
            c.bind = parse_host(&h, "OLLAMA_HOST")?;
        }
        c.api_key = key_from_env(&get, "HEARTH_API_KEY")?;
        c.no_cloud = hearth_route::no_cloud(get("HEARTH_NO_CLOUD").as_deref());
        if let Some(o) = pick("HEARTH_ORIGINS", "OLLAMA_ORIGINS") {
            c.allowed_origins = split_list(&o);
        }
        if let Some(h) = get("HEARTH_ALLOWED_HOSTS") {
            c.allowed_hosts = split_list(&h);
        }
        if let Some(k) = pick("HEARTH_KEEP_ALIVE", "OLLAMA_KEEP_ALIVE") {
            c.keep_alive = parse_keep_alive(&k).ok_or(ConfigError::BadNumber {
                name: "HEARTH_KEEP_ALIVE",
                value: k,
            })?;
        }
        let num = |name: &'static str, v: String| -> Result<u64, ConfigError> {
            v.trim()
                .parse::<u64>()
                .map_err(|_| ConfigError::BadNumber { name, value: v })
        };
        if let Some(v) = pick("HEARTH_NUM_PARALLEL", "OLLAMA_NUM_PARALLEL") {
            c.num_parallel = num("HEARTH_NUM_PARALLEL", v)?.clamp(1, 256) as u32;
        }
        if let Some(v) = pick("HEARTH_MAX_LOADED_MODELS", "OLLAMA_MAX_LOADED_MODELS") {
            c.max_loaded_models = num("HEARTH_MAX_LOADED_MODELS", v)?.clamp(1, 64) as usize;
        }
        if let Some(v) = pick("HEARTH_MAX_QUEUE", "OLLAMA_MAX_QUEUE") {
            c.max_queue = num("HEARTH_MAX_QUEUE", v)?.min(1 << 20) as usize;
        }
        if let Some(v) = pick("HEARTH_CONTEXT_LENGTH", "OLLAMA_CONTEXT_LENGTH") {
            c.default_num_ctx = num("HEARTH_CONTEXT_LENGTH", v)?.clamp(256, MAX_NUM_CTX) as u32;
        }
        if let Some(v) = get("HEARTH_MEMORY_BUDGET").filter(|v| !v.is_empty()) {
            c.memory_budget = num("HEARTH_MEMORY_BUDGET", v)?;
        }
        if let Some(v) = get("HEARTH_MAX_BODY_BYTES").filter(|v| !v.is_empty()) {
            c.max_body_bytes = num("HEARTH_MAX_BODY_BYTES", v)?.min(1 << 34) as usize;
        }
        c.management_key = key_from_env(&get, "HEARTH_MANAGEMENT_KEY")?;
        if c.management_key.is_some() {
            // A management key that nothing asks for would be a surprise: setting one means it
            // is required.
            c.management = Management::Key;
        }
        if let Some(v) = get("HEARTH_MANAGEMENT").filter(|v| !v.trim().is_empty()) {
            c.management = v.parse()?;
        }
        if get("HEARTH_DISABLE_MANAGEMENT")
            .is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes"))
        {
            c.management = Management::Off;
        }
        if let Some(v) = get("HEARTH_ALLOW_MODELS_FROM") {
            c.allow_models_from = std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect();
        }
        if let Some(v) = get("HEARTH_ALLOW_PRIVATE_PULLS") {
            c.allow_private_pulls = matches!(v.trim(), "1" | "true" | "yes");
        }
        Ok(c)
    }

    /// Refuse configurations that expose the server without authentication.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.api_key.as_deref().is_some_and(|k| k.trim().is_empty()) {
            return Err(ConfigError::BlankKey("HEARTH_API_KEY"));
        }
        if self
            .management_key
            .as_deref()
            .is_some_and(|k| k.trim().is_empty())
        {
            return Err(ConfigError::BlankKey("HEARTH_MANAGEMENT_KEY"));
        }
        if !is_loopback(&self.bind) && self.api_key.is_none() && !self.insecure_no_auth {
            return Err(ConfigError::NoAuthOffLoopback { addr: self.bind });
        }
        if self.management == Management::Key && self.management_credential().is_none() {
            return Err(ConfigError::ManagementNeedsKey);
        }
        #[cfg(not(feature = "cloud"))]
        if self.route_policy.router.mode == hearth_route::Mode::Hybrid && !self.no_cloud {
            return Err(ConfigError::HybridUnsupported(
                self.route_policy_file
                    .clone()
                    .unwrap_or_else(|| "the routing policy".into()),
            ));
        }
        Ok(())
    }

    /// The key a model-management request must carry in `Management::Key` mode.
    pub fn management_credential(&self) -> Option<&str> {
        self.management_key.as_deref().or(self.api_key.as_deref())
    }
}

/// A key from `VAR`, else from the file `VAR_FILE` names. A blank key would let in anyone
/// who sends an empty one: refused.
fn key_from_env(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
) -> Result<Option<String>, ConfigError> {
    if let Some(k) = get(var).filter(|v| !v.is_empty()) {
        if k.trim().is_empty() {
            return Err(ConfigError::BlankKey(var));
        }
        return Ok(Some(k.trim().to_string()));
    }
    match get(&format!("{var}_FILE")).filter(|v| !v.is_empty()) {
        Some(path) => read_key_file(&path).map(Some),
        None => Ok(None),
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Read an API key from a file (first line, trimmed, non-empty).
pub fn read_key_file(path: &str) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::KeyFile {
        path: path.to_string(),
        reason: e.to_string(),
    })?;
    let key = text.lines().next().unwrap_or("").trim().to_string();
    if key.is_empty() {
        return Err(ConfigError::KeyFile {
            path: path.to_string(),
            reason: "empty".into(),
        });
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let p = |s| parse_host(s, "t").unwrap();
        assert_eq!(p("").to_string(), "127.0.0.1:11434");
        assert_eq!(p("0.0.0.0").to_string(), "0.0.0.0:11434");
        assert_eq!(p(":8080").to_string(), "127.0.0.1:8080");
        assert_eq!(p("http://127.0.0.1:9/x").to_string(), "127.0.0.1:9");
        assert_eq!(p("[::1]:5").to_string(), "[::1]:5");
        assert_eq!(p("::1").to_string(), "[::1]:11434");
        assert!(parse_host("evil.example", "t").is_err());
        assert!(parse_host("1.2.3.4:99999", "t").is_err());
    }

    #[test]
    fn keep_alive() {
        assert_eq!(parse_keep_alive("5m"), Some(Some(Duration::from_secs(300))));
        assert_eq!(
            parse_keep_alive("1h30m"),
            Some(Some(Duration::from_secs(5400)))
        );
        assert_eq!(parse_keep_alive("0"), Some(Some(Duration::ZERO)));
        assert_eq!(parse_keep_alive("-1"), Some(None));
        assert_eq!(parse_keep_alive("-1m"), Some(None));
        assert_eq!(parse_keep_alive("abc"), None);
    }

    #[test]
    fn off_loopback_needs_key() {
        let env = |k: &str| (k == "HEARTH_HOST").then(|| "0.0.0.0:1234".to_string());
        let c = ServerConfig::from_env(env).unwrap();
        assert!(matches!(
            c.validate(),
            Err(ConfigError::NoAuthOffLoopback { .. })
        ));
        let mut c2 = c.clone();
        c2.insecure_no_auth = true;
        assert!(c2.validate().is_ok());
        let mut c3 = c;
        c3.api_key = Some("k".into());
        assert!(c3.validate().is_ok());
        assert!(ServerConfig::default().validate().is_ok());
    }

    #[test]
    fn blank_keys_are_refused() {
        let env = |k: &str| (k == "HEARTH_API_KEY").then(|| "  \t".to_string());
        assert!(matches!(
            ServerConfig::from_env(env),
            Err(ConfigError::BlankKey("HEARTH_API_KEY"))
        ));
        let c = ServerConfig {
            api_key: Some(" ".into()),
            ..ServerConfig::default()
        };
        assert!(matches!(c.validate(), Err(ConfigError::BlankKey(_))));
    }

    #[test]
    fn management_modes() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let c = ServerConfig::from_env(env(&[])).unwrap();
        assert_eq!(c.management, Management::Open);
        let c = ServerConfig::from_env(env(&[("HEARTH_MANAGEMENT", "key")])).unwrap();
        assert_eq!(c.management, Management::Key);
        // Key mode with no key at all cannot start.
        assert_eq!(c.validate(), Err(ConfigError::ManagementNeedsKey));
        let c = ServerConfig::from_env(env(&[
            ("HEARTH_MANAGEMENT", "key"),
            ("HEARTH_API_KEY", "a"),
        ]))
        .unwrap();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.management_credential(), Some("a"));
        // A management key alone means key mode, and it is the one required.
        let c = ServerConfig::from_env(env(&[
            ("HEARTH_MANAGEMENT_KEY", " m "),
            ("HEARTH_API_KEY", "a"),
        ]))
        .unwrap();
        assert_eq!(c.management, Management::Key);
        assert_eq!(c.management_credential(), Some("m"));
        let c = ServerConfig::from_env(env(&[("HEARTH_DISABLE_MANAGEMENT", "1")])).unwrap();
        assert_eq!(c.management, Management::Off);
        assert_eq!(
            ServerConfig::from_env(env(&[("HEARTH_MANAGEMENT", "closed")])).unwrap_err(),
            ConfigError::BadManagement("closed".into())
        );
        assert_eq!(
            ServerConfig::from_env(env(&[("HEARTH_MANAGEMENT_KEY", " ")])).unwrap_err(),
            ConfigError::BlankKey("HEARTH_MANAGEMENT_KEY")
        );
    }
}
