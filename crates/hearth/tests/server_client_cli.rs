//! `hearth list`, `pull` and `run` as clients of a running `hearth serve`: the clients point
//! HEARTH_MODELS at an empty store, so what they show can only come from the server; with no
//! server at the address (or `--local`, HEARTH_NO_SERVER=1) they use the local store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hearth_gguf::testing::{test_model, TestModel};
use hearth_store::Digest;

const PROXY_VARS: [&str; 6] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
];

fn command(home: &Path, host: &str, models: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hearth"));
    c.env("HOME", home)
        .env("HEARTH_HOST", host)
        .env("HEARTH_MODELS", models)
        .env("OLLAMA_MODELS", home.join("no-ollama"))
        .env("NO_COLOR", "1")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("OLLAMA_HOST")
        .env_remove("HEARTH_API_KEY")
        .env_remove("HEARTH_NO_SERVER")
        .current_dir(home);
    for v in PROXY_VARS {
        c.env_remove(v);
    }
    c
}

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn hearth(home: &Path, host: &str, models: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut c = command(home, host, models);
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    Out {
        ok: o.status.success(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// A loopback port nothing listens on (bound and released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `hearth serve`, killed when dropped.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(home: &Path, host: &str, models: &Path) -> Serve {
    let mut c = command(home, host, models);
    // The tests' registry is on loopback: allow the server to pull from it.
    c.args(["serve", "--ctx-size", "1024", "--allow-private-pulls"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut s = Serve(c.spawn().unwrap());
    let start = Instant::now();
    while TcpStream::connect(host).is_err() {
        if let Some(status) = s.0.try_wait().unwrap() {
            panic!("hearth serve exited: {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "hearth serve did not listen on {host}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    s
}

/// A minimal Ollama-registry stand-in: fixed paths to fixed bytes, over plain HTTP/1.1.
fn registry(routes: HashMap<String, Vec<u8>>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = l.local_addr().unwrap().to_string();
    let routes = Arc::new(routes);
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let routes = Arc::clone(&routes);
            std::thread::spawn(move || {
                let mut r = BufReader::new(c.try_clone().unwrap());
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                }
                let mut c = c;
                match routes.get(&path) {
                    Some(b) => {
                        let _ = write!(
                            c,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            b.len()
                        );
                        let _ = c.write_all(b);
                    }
                    None => {
                        let _ = write!(
                            c,
                            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        );
                    }
                }
            });
        }
    });
    host
}

/// `library/tiny:latest` with a config blob and a tiny GGUF.
fn tiny_registry() -> String {
    let gguf = hearth_gguf::writer::tiny_llama().to_bytes();
    let cfg =
        br#"{"model_format":"gguf","model_family":"llama","architecture":"amd64","os":"linux"}"#;
    let (gd, cd) = (Digest::from_bytes(&gguf), Digest::from_bytes(cfg));
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "digest": cd.to_string(), "size": cfg.len()},
        "layers": [{"mediaType": "application/vnd.ollama.image.model",
                    "digest": gd.to_string(), "size": gguf.len()}],
    });
    let mut routes = HashMap::new();
    routes.insert(format!("/v2/library/tiny/blobs/{gd}"), gguf);
    routes.insert(format!("/v2/library/tiny/blobs/{cd}"), cfg.to_vec());
    routes.insert(
        "/v2/library/tiny/manifests/latest".to_string(),
        serde_json::to_vec(&manifest).unwrap(),
    );
    registry(routes)
}

#[test]
fn list_pull_and_run_go_through_the_server_and_fall_back_without_one() {
    let Some(gguf) = test_model(TestModel::SmolLm2) else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let home = d.path();
    let (server_store, empty_store) = (home.join("server-models"), home.join("client-models"));
    std::fs::create_dir_all(&empty_store).unwrap();
    std::fs::write(home.join("Modelfile"), format!("FROM {}\n", gguf.display())).unwrap();
    let host = format!("127.0.0.1:{}", free_port());
    let created = hearth(
        home,
        &host,
        &server_store,
        &["create", "smol", "-f", "Modelfile"],
        &[],
    );
    assert!(created.ok, "{}", created.stderr);

    // No server at the address: `list` falls back to the local store.
    let unused = format!("127.0.0.1:{}", free_port());
    let local = hearth(home, &unused, &server_store, &["list"], &[]);
    assert!(local.ok, "{}", local.stderr);
    assert!(local.stdout.contains("smol:latest"), "{}", local.stdout);
    let none = hearth(home, &unused, &empty_store, &["list"], &[]);
    assert!(none.ok, "{}", none.stderr);
    assert!(!none.stdout.contains("smol"), "{}", none.stdout);

    let _server = serve(home, &host, &server_store);

    // Through the server: the client's own store is empty.
    let listed = hearth(home, &host, &empty_store, &["list"], &[]);
    assert!(listed.ok, "{}", listed.stderr);
    assert!(listed.stdout.starts_with("NAME"), "{}", listed.stdout);
    let row = listed
        .stdout
        .lines()
        .find(|l| l.starts_with("smol:latest"))
        .unwrap_or_else(|| panic!("{}", listed.stdout));
    assert!(row.contains("MB"), "{row}");
    let json = hearth(home, &host, &empty_store, &["list", "--json"], &[]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["models"][0]["name"], "smol:latest", "{v}");
    // Forced standalone: the empty local store.
    for (args, env) in [
        (&["list", "--local"][..], &[][..]),
        (&["list"][..], &[("HEARTH_NO_SERVER", "1")][..]),
    ] {
        let out = hearth(home, &host, &empty_store, args, env);
        assert!(out.ok, "{}", out.stderr);
        assert!(!out.stdout.contains("smol"), "{args:?}: {}", out.stdout);
    }

    let ran = hearth(
        home,
        &host,
        &empty_store,
        &[
            "run",
            "smol",
            "Name three colors.",
            "--temperature",
            "0",
            "-n",
            "8",
            "--verbose",
        ],
        &[],
    );
    assert!(ran.ok, "{}", ran.stderr);
    assert!(!ran.stdout.trim().is_empty(), "no text: {}", ran.stderr);
    assert!(ran.stderr.contains("eval count:"), "{}", ran.stderr);
    let evals: u32 = ran
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("eval count:"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=8).contains(&evals), "{}", ran.stderr);
    // Greedy: the same answer again.
    let again = hearth(
        home,
        &host,
        &empty_store,
        &[
            "run",
            "smol",
            "Name three colors.",
            "--temperature",
            "0",
            "-n",
            "8",
        ],
        &[],
    );
    assert_eq!(again.stdout, ran.stdout, "{}", again.stderr);
    // The same command standalone finds no model in the empty store.
    let local_run = hearth(
        home,
        &host,
        &empty_store,
        &["run", "smol", "hi", "-n", "2", "--local"],
        &[],
    );
    assert!(!local_run.ok);
    assert!(
        local_run.stderr.contains("hearth pull smol"),
        "{}",
        local_run.stderr
    );
    // The server's error is shown.
    let missing = hearth(home, &host, &empty_store, &["run", "nope", "hi"], &[]);
    assert!(!missing.ok);
    assert!(missing.stderr.contains("nope"), "{}", missing.stderr);
    assert!(missing.stderr.contains("HTTP 404"), "{}", missing.stderr);

    // `pull` through the server lands in the server's store, with progress on stderr.
    let reg = tiny_registry();
    let name = format!("http://{reg}/library/tiny");
    let pulled = hearth(home, &host, &empty_store, &["pull", &name], &[]);
    assert!(pulled.ok, "{}", pulled.stderr);
    assert!(
        pulled.stderr.contains("pulling manifest"),
        "{}",
        pulled.stderr
    );
    assert!(
        pulled.stderr.lines().any(|l| l == "success"),
        "{}",
        pulled.stderr
    );
    let listed = hearth(home, &host, &empty_store, &["list"], &[]);
    assert!(
        listed.stdout.contains("/library/tiny:latest"),
        "{}",
        listed.stdout
    );
    let local = hearth(home, &host, &empty_store, &["list", "--local"], &[]);
    assert!(!local.stdout.contains("tiny"), "{}", local.stdout);
    // A failing pull reports the server's error.
    let bad = hearth(
        home,
        &host,
        &empty_store,
        &["pull", &format!("http://{reg}/library/absent")],
        &[],
    );
    assert!(!bad.ok);
    assert!(bad.stderr.contains("hearth: server"), "{}", bad.stderr);
}

/// `hearth run --local` drives the same server code in this process: the same greedy answer,
/// token for token, as through `hearth serve`, for each test model, with and without a system
/// message. The server's model is unloaded after each answer so that both start from an empty
/// KV cache: reusing a cached prompt prefix changes llama.cpp's batch arithmetic, and with it
/// greedy output (seen on the 0.5B after a request sharing a 3-token prefix).
#[test]
fn run_local_and_through_the_server_give_identical_answers() {
    let models = [
        (TestModel::Qwen05, "qwen05"),
        (TestModel::Qwen15, "qwen15"),
        (TestModel::SmolLm2, "smol"),
    ];
    let d = tempfile::tempdir().unwrap();
    let home = d.path();
    let store = home.join("models");
    let host = format!("127.0.0.1:{}", free_port());
    let mut names = Vec::new();
    for (m, name) in models {
        let Some(gguf) = test_model(m) else { continue };
        let mf = home.join(format!("{name}.Modelfile"));
        std::fs::write(&mf, format!("FROM {}\n", gguf.display())).unwrap();
        let created = hearth(
            home,
            &host,
            &store,
            &["create", name, "-f", mf.to_str().unwrap()],
            &[],
        );
        assert!(created.ok, "{}", created.stderr);
        names.push(name);
    }
    if names.is_empty() {
        return;
    }
    let _server = serve(home, &host, &store);
    for name in names {
        for extra in [&[][..], &["--system", "Answer in one short sentence."][..]] {
            let mut args = vec![
                "run",
                name,
                "Write a Python function that reverses a string.",
                "--temperature",
                "0",
                "-n",
                "24",
                "-c",
                "1024",
            ];
            args.extend_from_slice(extra);
            let remote = hearth(home, &host, &store, &args, &[]);
            assert!(remote.ok, "{name}: {}", remote.stderr);
            let stopped = hearth(home, &host, &store, &["stop", name], &[]);
            assert!(stopped.ok, "{}", stopped.stderr);
            args.push("--local");
            let local = hearth(home, &host, &store, &args, &[]);
            assert!(local.ok, "{name}: {}", local.stderr);
            assert!(!remote.stdout.trim().is_empty(), "{name}: no answer");
            assert_eq!(local.stdout, remote.stdout, "{name} {extra:?}");
        }
    }
}

/// A model's Modelfile SYSTEM, PARAMETERs and MESSAGEs apply in both of `hearth run`'s paths:
/// through `hearth serve` and standalone (`--local`), with the same answer.
#[test]
fn modelfile_defaults_apply_through_the_server_and_standalone() {
    let Some(gguf) = test_model(TestModel::Qwen05) else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let home = d.path();
    let store = home.join("models");
    let host = format!("127.0.0.1:{}", free_port());
    std::fs::write(
        home.join("Modelfile"),
        format!(
            "FROM {}\nSYSTEM You only talk about fruit: answer with a long list of fruit names.\n\
             PARAMETER temperature 0\nPARAMETER num_predict 3\n\
             MESSAGE user Name some things.\n\
             MESSAGE assistant \"Apple, banana, cherry, mango, pear, plum, kiwi, lemon\"\n",
            gguf.display()
        ),
    )
    .unwrap();
    let created = hearth(
        home,
        &host,
        &store,
        &["create", "fruit", "-f", "Modelfile"],
        &[],
    );
    assert!(created.ok, "{}", created.stderr);
    let _server = serve(home, &host, &store);
    let args = ["run", "fruit", "Name some more things.", "--verbose"];
    let remote = hearth(home, &host, &store, &args, &[]);
    assert!(remote.ok, "{}", remote.stderr);
    let stopped = hearth(home, &host, &store, &["stop", "fruit"], &[]);
    assert!(stopped.ok, "{}", stopped.stderr);
    let local = hearth(
        home,
        &host,
        &store,
        &[&args[..], &["--local"]].concat(),
        &[],
    );
    assert!(local.ok, "{}", local.stderr);
    for out in [&remote, &local] {
        // PARAMETER num_predict 3 (no -n given).
        assert!(
            out.stderr.contains("eval count:           3 token(s)"),
            "{}",
            out.stderr
        );
    }
    // PARAMETER temperature 0: the same greedy answer in both paths.
    assert_eq!(remote.stdout, local.stdout);
    // SYSTEM and the MESSAGE example steer the answer to a fruit name.
    let said = remote.stdout.to_lowercase();
    assert!(
        ["apple", "banana", "orange", "grape", "mango", "pear", "cherry", "lemon", "kiwi"]
            .iter()
            .any(|f| said.contains(f)),
        "{said:?}"
    );
}
