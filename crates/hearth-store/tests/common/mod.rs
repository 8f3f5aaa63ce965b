//! A small HTTP/1.1 test server over `TcpListener` + threads: static routes, Range, redirects,
//! fault injection (drop the connection after N body bytes, ignore Range), and a record of
//! every request (headers, body bytes sent) for assertions.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use hearth_store::{Digest, PullEvent};

#[derive(Clone)]
pub(crate) enum Body {
    Bytes(Arc<Vec<u8>>),
    File(PathBuf),
    /// `n` zero bytes, never held in memory.
    Zeros(u64),
}

impl Body {
    fn len(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.len() as u64,
            Body::File(p) => std::fs::metadata(p).unwrap().len(),
            Body::Zeros(n) => *n,
        }
    }
}

#[derive(Clone)]
pub(crate) enum Route {
    Static {
        body: Body,
        headers: Vec<(String, String)>,
    },
    Redirect(String),
    Status(u16),
    /// 401 with `WWW-Authenticate: <challenge>` unless `Authorization: Bearer <token>`.
    Auth {
        token: String,
        challenge: String,
        inner: Box<Route>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body_bytes: u64,
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Route>,
    /// path -> drop the connection after this many body bytes (one-shot per entry).
    drops: HashMap<String, Vec<u64>>,
    seen: Vec<Seen>,
}

#[derive(Clone)]
pub(crate) struct Server {
    pub base: String,
    state: Arc<Mutex<State>>,
    pub ignore_range: Arc<AtomicBool>,
}

impl Server {
    pub(crate) fn start() -> Server {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let s = Server {
            base,
            state: Arc::new(Mutex::new(State::default())),
            ignore_range: Arc::new(AtomicBool::new(false)),
        };
        let s2 = s.clone();
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(c) = c else { continue };
                let s3 = s2.clone();
                std::thread::spawn(move || {
                    let _ = s3.handle(c);
                });
            }
        });
        s
    }

    pub(crate) fn host(&self) -> String {
        self.base.trim_start_matches("http://").to_string()
    }

    pub(crate) fn route(&self, path: &str, r: Route) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), r);
    }

    /// Remove a route and return it.
    pub(crate) fn take(&self, path: &str) -> Route {
        self.state.lock().unwrap().routes.remove(path).unwrap()
    }

    pub(crate) fn bytes(&self, path: &str, b: Vec<u8>) {
        self.route(
            path,
            Route::Static {
                body: Body::Bytes(Arc::new(b)),
                headers: vec![],
            },
        );
    }

    pub(crate) fn file(&self, path: &str, p: PathBuf) {
        self.route(
            path,
            Route::Static {
                body: Body::File(p),
                headers: vec![],
            },
        );
    }

    /// The next request(s) of `path` break after `after` body bytes.
    pub(crate) fn drop_after(&self, path: &str, after: u64) {
        self.state
            .lock()
            .unwrap()
            .drops
            .entry(path.to_string())
            .or_default()
            .push(after);
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    pub(crate) fn clear_seen(&self) {
        self.state.lock().unwrap().seen.clear();
    }

    /// Body bytes sent for paths containing `needle`.
    pub(crate) fn bytes_sent(&self, needle: &str) -> u64 {
        self.seen()
            .iter()
            .filter(|s| s.path.contains(needle))
            .map(|s| s.body_bytes)
            .sum()
    }

    fn handle(&self, mut c: TcpStream) -> std::io::Result<()> {
        let mut r = BufReader::new(c.try_clone()?);
        let mut line = String::new();
        r.read_line(&mut line)?;
        let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let path = target.split('?').next().unwrap_or("/").to_string();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let (route, drop_at) = {
            let mut st = self.state.lock().unwrap();
            let route = st.routes.get(&path).cloned();
            let d = st.drops.get_mut(&path).and_then(|v| {
                if v.is_empty() {
                    None
                } else {
                    Some(v.remove(0))
                }
            });
            (route, d)
        };
        let idx = {
            let mut st = self.state.lock().unwrap();
            st.seen.push(Seen {
                path: path.clone(),
                headers: headers.clone(),
                body_bytes: 0,
            });
            st.seen.len() - 1
        };
        let route = match route {
            Some(Route::Auth {
                token,
                challenge,
                inner,
            }) => {
                if headers.get("authorization") != Some(&format!("Bearer {token}")) {
                    write!(c, "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: {challenge}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
                    return Ok(());
                }
                Some(*inner)
            }
            r => r,
        };
        match route {
            Some(Route::Auth { .. }) => unreachable!(),
            None => write!(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found")?,
            Some(Route::Status(code)) => write!(c, "HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?,
            Some(Route::Redirect(to)) => {
                write!(c, "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?
            }
            Some(Route::Static { body, headers: extra }) => {
                let len = body.len();
                let mut start = 0u64;
                let mut end = len.saturating_sub(1);
                let mut status = "200 OK".to_string();
                let mut hdrs = String::new();
                if let Some(range) = headers.get("range") {
                    if !self.ignore_range.load(Ordering::Relaxed) {
                        let spec = range.trim_start_matches("bytes=");
                        let (a, b) = spec.split_once('-').unwrap();
                        start = a.parse().unwrap();
                        if !b.is_empty() {
                            end = b.parse::<u64>().unwrap().min(len - 1);
                        }
                        if start >= len {
                            write!(c, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
                            return Ok(());
                        }
                        status = "206 Partial Content".into();
                        hdrs.push_str(&format!("Content-Range: bytes {start}-{end}/{len}\r\n"));
                    }
                }
                for (k, v) in extra {
                    hdrs.push_str(&format!("{k}: {v}\r\n"));
                }
                let n = if len == 0 { 0 } else { end + 1 - start };
                write!(c, "HTTP/1.1 {status}\r\nContent-Length: {n}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n{hdrs}\r\n")?;
                let limit = drop_at.map_or(n, |d| d.min(n));
                let sent = send(&mut c, &body, start, limit)?;
                self.state.lock().unwrap().seen[idx].body_bytes = sent;
                if drop_at.is_some() {
                    c.shutdown(std::net::Shutdown::Both)?;
                    return Ok(());
                }
            }
        }
        c.flush()
    }
}

fn send(c: &mut TcpStream, body: &Body, start: u64, n: u64) -> std::io::Result<u64> {
    let mut sent = 0u64;
    match body {
        Body::Bytes(b) => {
            let s = &b[start as usize..(start + n) as usize];
            for chunk in s.chunks(1 << 16) {
                if c.write_all(chunk).is_err() {
                    break;
                }
                sent += chunk.len() as u64;
            }
        }
        Body::File(p) => {
            let mut f = std::fs::File::open(p)?;
            f.seek(SeekFrom::Start(start))?;
            let mut r = f.take(n);
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let k = r.read(&mut buf)?;
                if k == 0 || c.write_all(&buf[..k]).is_err() {
                    break;
                }
                sent += k as u64;
            }
        }
        Body::Zeros(_) => {
            let buf = vec![0u8; 1 << 16];
            while sent < n {
                let k = (n - sent).min(buf.len() as u64) as usize;
                if c.write_all(&buf[..k]).is_err() {
                    break;
                }
                sent += k as u64;
            }
        }
    }
    Ok(sent)
}

/// A blob and its layer JSON.
pub(crate) fn layer(media: &str, bytes: &[u8]) -> (Digest, serde_json::Value) {
    let d = Digest::from_bytes(bytes);
    (
        d.clone(),
        serde_json::json!({"mediaType": media, "digest": d.to_string(), "size": bytes.len()}),
    )
}

pub(crate) const CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub(crate) const MODEL: &str = "application/vnd.ollama.image.model";

/// Serve a registry model `ns/model:tag` with a config, the model bytes and extra text layers.
/// Returns the manifest JSON bytes.
pub(crate) fn serve_registry_model(
    s: &Server,
    repo: &str,
    tag: &str,
    model: Body,
    model_digest: &Digest,
    extra: &[(&str, &[u8])],
) -> Vec<u8> {
    let cfg =
        br#"{"model_format":"gguf","model_family":"llama","architecture":"amd64","os":"linux"}"#;
    let (cd, cl) = layer(CONFIG, cfg);
    s.bytes(&format!("/v2/{repo}/blobs/{cd}"), cfg.to_vec());
    let mut layers = vec![
        serde_json::json!({"mediaType": MODEL, "digest": model_digest.to_string(), "size": model.len()}),
    ];
    s.route(
        &format!("/v2/{repo}/blobs/{model_digest}"),
        Route::Static {
            body: model,
            headers: vec![],
        },
    );
    for (media, bytes) in extra {
        let (d, l) = layer(media, bytes);
        s.bytes(&format!("/v2/{repo}/blobs/{d}"), bytes.to_vec());
        layers.push(l);
    }
    let m = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": cl,
        "layers": layers,
    }))
    .unwrap();
    s.bytes(&format!("/v2/{repo}/manifests/{tag}"), m.clone());
    m
}

pub(crate) fn tiny_gguf() -> Vec<u8> {
    hearth_gguf::writer::tiny_llama().to_bytes()
}

/// Every regular file under `dir`, relative.
pub(crate) fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// Options for tests: no proxies from the environment, fast retries.
pub(crate) fn opts() -> hearth_store::PullOptions {
    let mut o = hearth_store::PullOptions::default();
    o.http.proxy_from_env = false;
    o.download.backoff = std::time::Duration::from_millis(10);
    o
}

/// Collect events.
pub(crate) fn recorder() -> (Arc<Mutex<Vec<PullEvent>>>, impl Fn(&PullEvent) + Sync) {
    let v = Arc::new(Mutex::new(Vec::new()));
    let v2 = v.clone();
    (v, move |e: &PullEvent| v2.lock().unwrap().push(e.clone()))
}
