//! The router without a socket, for a client in the same process: `hearth run --local` talks
//! to it exactly as it talks to a running server, so a local chat runs the server's pipeline
//! (templates, Modelfile defaults, BOS rule, truncation) and gets the same bytes back.
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use tokio::sync::{mpsc, oneshot};
use tower::ServiceExt;

use crate::backend::Engine;
use crate::config::ServerConfig;
use crate::http::app;
use crate::http::state::AppState;

/// A server in this process, with its own runtime.
pub struct InProcess {
    rt: tokio::runtime::Runtime,
    state: AppState,
}

/// Why a request to the in-process server failed before it had an answer.
#[derive(Debug, thiserror::Error)]
pub enum InProcessError {
    /// The runtime could not start.
    #[error("starting the in-process server: {0}")]
    Runtime(#[from] std::io::Error),
    /// The request could not be built (a path that is not a URI path).
    #[error("request to {path}: {reason}")]
    Request {
        /// The path asked for.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The server task ended without answering.
    #[error("the in-process server ended without answering {0}")]
    NoAnswer(String),
}

/// The body of an answer, read as it is produced; dropping it before the end cancels the
/// generation, as a client closing its connection does.
pub struct BodyReader {
    rx: mpsc::Receiver<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.buf.len() {
            match self.rx.blocking_recv() {
                Some(b) => {
                    self.buf = b;
                    self.pos = 0;
                }
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl InProcess {
    /// A server with `cfg` over `stores` and `engine` (its address and security settings are
    /// not used: nothing listens).
    pub fn start(
        cfg: ServerConfig,
        stores: hearth_store::Stores,
        engine: Arc<dyn Engine>,
    ) -> Result<Self, InProcessError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let state = {
            let _in = rt.enter();
            AppState::new(cfg, stores, engine)
        };
        Ok(InProcess { rt, state })
    }

    /// Serve the GGUF file at `path` under the name `path` (only this process can name files).
    pub fn add_file(&self, path: &Path) -> String {
        self.state.service.add_file(path)
    }

    /// Send `method path` with a JSON `body`: the status and the body as it streams.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<(u16, BodyReader), InProcessError> {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .map_err(|e| InProcessError::Request {
                path: path.to_string(),
                reason: e.to_string(),
            })?;
        let (status_tx, status_rx) = oneshot::channel();
        let (tx, rx) = mpsc::channel(64);
        let router = app(self.state.clone());
        self.rt.spawn(async move {
            let Ok(resp) = router.oneshot(req).await;
            let _ = status_tx.send(resp.status().as_u16());
            let mut body = resp.into_body();
            while let Some(Ok(frame)) = body.frame().await {
                if let Ok(data) = frame.into_data() {
                    if tx.send(data.to_vec()).await.is_err() {
                        // The reader is gone: dropping the body cancels the generation.
                        return;
                    }
                }
            }
        });
        let status = status_rx
            .blocking_recv()
            .map_err(|_| InProcessError::NoAnswer(path.to_string()))?;
        Ok((
            status,
            BodyReader {
                rx,
                buf: Vec::new(),
                pos: 0,
            },
        ))
    }
}
