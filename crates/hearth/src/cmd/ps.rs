//! `hearth ps`: models loaded in the running server.
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the server's JSON.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Some(v) = super::client::get_json("/api/ps")? else {
        anyhow::bail!(
            "no hearth server is running at {} (start one with `hearth serve`)",
            super::client::base_url()?
        );
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<32} {:>10} {:>8} {:<30}",
        "NAME", "SIZE", "CONTEXT", "UNTIL"
    );
    for m in v["models"].as_array().into_iter().flatten() {
        let size = m["size"].as_u64().unwrap_or(0);
        println!(
            "{:<32} {:>7.1} GB {:>8} {:<30}",
            m["name"].as_str().unwrap_or("?"),
            size as f64 / 1e9,
            m["context_length"].as_u64().unwrap_or(0),
            m["expires_at"].as_str().unwrap_or("")
        );
    }
    Ok(ExitCode::SUCCESS)
}
