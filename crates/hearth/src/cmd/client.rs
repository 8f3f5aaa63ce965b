//! Talking to a running `hearth serve` (for `ps`, `stop`): the address from HEARTH_HOST /
//! OLLAMA_HOST (unspecified addresses are reached over loopback) and the key from HEARTH_API_KEY.
use std::time::Duration;

use hearth_server::config::ServerConfig;

/// Base URL of the local server.
pub fn base_url() -> anyhow::Result<String> {
    let cfg = ServerConfig::from_env(|k| std::env::var(k).ok())?;
    let mut addr = cfg.bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    Ok(format!("http://{addr}"))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .new_agent()
}

fn auth() -> Option<String> {
    std::env::var("HEARTH_API_KEY")
        .ok()
        .filter(|k| !k.is_empty())
        .map(|k| format!("Bearer {k}"))
}

/// GET a JSON document; `Ok(None)` when no server answers.
pub fn get_json(path: &str) -> anyhow::Result<Option<serde_json::Value>> {
    let url = format!("{}{path}", base_url()?);
    let mut req = agent().get(&url);
    if let Some(a) = auth() {
        req = req.header("authorization", a);
    }
    let mut resp = match req.call() {
        Ok(r) => r,
        Err(_) => return Ok(None),
    };
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string()?;
    if status != 200 {
        anyhow::bail!("{url}: HTTP {status}: {text}");
    }
    Ok(Some(serde_json::from_str(&text)?))
}

/// POST a JSON body; `Ok(None)` when no server answers.
pub fn post_json(
    path: &str,
    body: &serde_json::Value,
) -> anyhow::Result<Option<serde_json::Value>> {
    let url = format!("{}{path}", base_url()?);
    let mut req = agent()
        .post(&url)
        .header("content-type", "application/json");
    if let Some(a) = auth() {
        req = req.header("authorization", a);
    }
    let mut resp = match req.send(body.to_string().as_str()) {
        Ok(r) => r,
        Err(_) => return Ok(None),
    };
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string()?;
    if status != 200 {
        anyhow::bail!("{url}: HTTP {status}: {text}");
    }
    Ok(Some(serde_json::from_str(
        text.lines().last().unwrap_or("{}"),
    )?))
}
