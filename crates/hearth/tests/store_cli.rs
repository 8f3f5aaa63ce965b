//! The model-store subcommands end to end: create from a Modelfile, list, show, cp, export,
//! rm, import, list --all-stores over an Ollama-layout store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

fn hearth(home: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(args)
        .env("HOME", home)
        .env("HEARTH_MODELS", home.join("hearth-models"))
        .env("OLLAMA_MODELS", home.join("ollama-models"))
        .env("NO_COLOR", "1")
        .current_dir(home)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn create_list_show_cp_export_rm_import() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path();
    std::fs::write(
        home.join("tiny.gguf"),
        hearth_gguf::writer::tiny_llama().to_bytes(),
    )
    .unwrap();
    std::fs::write(
        home.join("Modelfile"),
        "FROM ./tiny.gguf\nSYSTEM \"\"\"You are terse.\"\"\"\nPARAMETER stop <|end|>\nPARAMETER temperature 0.1\n",
    )
    .unwrap();
    let (ok, _, err) = hearth(home, &["create", "tiny:v1", "-f", "Modelfile"]);
    assert!(ok, "{err}");
    let (ok, out, err) = hearth(home, &["list"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("NAME"), "{out}");
    assert!(out.contains("tiny:v1"), "{out}");

    let (ok, out, _) = hearth(home, &["show", "tiny:v1"]);
    assert!(ok);
    assert!(out.contains("architecture        llama"), "{out}");
    let (_, mf, _) = hearth(home, &["show", "tiny:v1", "--modelfile"]);
    assert!(
        mf.contains("SYSTEM You are terse.") && mf.contains("PARAMETER stop <|end|>"),
        "{mf}"
    );
    let (_, params, _) = hearth(home, &["show", "tiny:v1", "--parameters"]);
    assert!(params.contains("\"<|end|>\""), "{params}");

    assert!(hearth(home, &["cp", "tiny:v1", "me/tiny:copy"]).0);
    assert!(hearth(home, &["export", "me/tiny:copy", "-o", "b.tar"]).0);
    assert!(hearth(home, &["rm", "tiny:v1", "me/tiny:copy"]).0);
    let (_, out, _) = hearth(home, &["list"]);
    assert!(!out.contains("tiny"), "{out}");
    let blobs = home.join("hearth-models/blobs");
    assert_eq!(
        std::fs::read_dir(&blobs).unwrap().count(),
        0,
        "rm collected every blob"
    );
    let (ok, out, err) = hearth(home, &["import", "b.tar"]);
    assert!(ok, "{err}");
    assert!(out.contains("me/tiny:copy"), "{out}");
    let (ok, _, err) = hearth(home, &["show", "me/tiny:copy", "--system"]);
    assert!(ok, "{err}");

    // An Ollama-layout store (written here as Ollama writes it) is listed with --all-stores
    // and usable by name, without copying anything.
    let ollama = home.join("ollama-models");
    let gguf = hearth_gguf::writer::tiny_llama().to_bytes();
    let cfg =
        br#"{"model_format":"gguf","model_family":"llama","architecture":"amd64","os":"linux"}"#;
    let (gd, cd) = (
        hearth_store::Digest::from_bytes(&gguf),
        hearth_store::Digest::from_bytes(cfg),
    );
    std::fs::create_dir_all(ollama.join("blobs")).unwrap();
    std::fs::write(ollama.join("blobs").join(gd.file_name()), &gguf).unwrap();
    std::fs::write(ollama.join("blobs").join(cd.file_name()), cfg).unwrap();
    let m = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{cd}","size":{}}},"layers":[{{"mediaType":"application/vnd.ollama.image.model","digest":"{gd}","size":{}}}]}}"#,
        cfg.len(),
        gguf.len()
    );
    let mdir = ollama.join("manifests/registry.ollama.ai/library/olla");
    std::fs::create_dir_all(&mdir).unwrap();
    std::fs::write(mdir.join("latest"), m).unwrap();
    let (_, out, _) = hearth(home, &["list"]);
    assert!(!out.contains("olla"), "{out}");
    let (ok, out, err) = hearth(home, &["list", "--all-stores"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("STORE") && out.contains("olla:latest"),
        "{out}"
    );
    let (ok, out, err) = hearth(home, &["show", "olla"]);
    assert!(ok && out.contains("llama"), "{out}{err}");
    let (ok, _, err) = hearth(home, &["rm", "olla"]);
    assert!(!ok && err.contains("read-only"), "{err}");
    assert!(mdir.join("latest").is_file());
}

/// A minimal registry: one manifest, its blobs (sent slowly, so two pulls overlap), and a
/// count of blob bytes sent.
fn tiny_registry(gguf: Vec<u8>) -> (String, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    use std::io::{BufRead, BufReader, Write};
    use std::sync::atomic::{AtomicU64, Ordering};
    let cfg = br#"{"model_format":"gguf","model_family":"llama"}"#.to_vec();
    let (gd, cd) = (
        hearth_store::Digest::from_bytes(&gguf),
        hearth_store::Digest::from_bytes(&cfg),
    );
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{cd}","size":{}}},"layers":[{{"mediaType":"application/vnd.ollama.image.model","digest":"{gd}","size":{}}}]}}"#,
        cfg.len(),
        gguf.len()
    );
    let routes: std::collections::HashMap<String, Vec<u8>> = [
        (
            "/v2/library/tiny/manifests/latest".to_string(),
            manifest.into_bytes(),
        ),
        (format!("/v2/library/tiny/blobs/{gd}"), gguf),
        (format!("/v2/library/tiny/blobs/{cd}"), cfg),
    ]
    .into();
    let routes = std::sync::Arc::new(routes);
    let sent = std::sync::Arc::new(AtomicU64::new(0));
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = l.local_addr().unwrap().to_string();
    let sent2 = sent.clone();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let (routes, sent) = (routes.clone(), sent2.clone());
            std::thread::spawn(move || {
                let mut c = c;
                let mut r = BufReader::new(c.try_clone().unwrap());
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                }
                let Some(body) = routes.get(&path) else {
                    let _ = write!(
                        c,
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                    return;
                };
                let _ = write!(
                    c,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                for chunk in body.chunks(256) {
                    if c.write_all(chunk).is_err() {
                        return;
                    }
                    if path.contains("/blobs/") {
                        sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                }
            });
        }
    });
    (host, sent)
}

#[test]
fn two_pull_processes_download_each_blob_once() {
    let d = tempfile::tempdir().unwrap();
    let gguf = hearth_gguf::writer::tiny_llama().to_bytes();
    let cfg_len = br#"{"model_format":"gguf","model_family":"llama"}"#.len() as u64;
    let total = gguf.len() as u64 + cfg_len;
    let (host, sent) = tiny_registry(gguf);
    let name = format!("http://{host}/library/tiny");
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_hearth"))
            .args(["pull", &name])
            .env("HOME", d.path())
            .env("HEARTH_MODELS", d.path().join("hearth-models"))
            .env("OLLAMA_MODELS", d.path().join("none"))
            .env_remove("HTTPS_PROXY")
            .env_remove("ALL_PROXY")
            .env_remove("HTTP_PROXY")
            .output()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(spawn);
        let b = s.spawn(spawn);
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    assert!(String::from_utf8_lossy(&a.stderr).contains("success"));
    assert_eq!(
        sent.load(std::sync::atomic::Ordering::Relaxed),
        total,
        "each blob sent once"
    );
    let (ok, out, _) = hearth(d.path(), &["list"]);
    assert!(
        ok && out.contains(&format!("{host}/library/tiny:latest")),
        "{out}"
    );
}
