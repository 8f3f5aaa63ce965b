//! Binding and running the server with graceful shutdown (Ctrl-C / SIGTERM: stop accepting,
//! let in-flight requests finish).
use std::sync::Arc;

use crate::backend::Engine;
use crate::config::{ConfigError, ServerConfig};
use crate::http::app;
use crate::http::state::AppState;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Refused configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The model store.
    #[error("model store: {0}")]
    Store(#[from] hearth_store::StoreError),
    /// Binding or serving.
    #[error("listening on {addr}: {source}")]
    Io {
        /// Address.
        addr: std::net::SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
}

/// Validate, bind, serve until `shutdown` resolves.
pub async fn serve(
    cfg: ServerConfig,
    stores: hearth_store::Stores,
    engine: Arc<dyn Engine>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let addr = cfg.bind;
    let api_key = cfg.api_key.is_some();
    // Checked (and the upstreams built) before anything listens.
    let state = AppState::try_new(cfg, stores, engine)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Io { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServeError::Io { addr, source })?;
    let auth = if api_key {
        "API key required"
    } else {
        "no API key"
    };
    tracing::warn!("hearth listening on http://{local} ({auth})");
    eprintln!("hearth: listening on http://{local}");
    // With the peer address, so a client's newer autocomplete request supersedes its older one.
    let service = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| ServeError::Io { addr, source })
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::warn!("shutting down: finishing in-flight requests");
}

/// Run the server on its own multi-threaded runtime until Ctrl-C / SIGTERM.
pub fn run_blocking(
    cfg: ServerConfig,
    stores: hearth_store::Stores,
    engine: Arc<dyn Engine>,
) -> Result<(), ServeError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| ServeError::Io {
            addr: cfg.bind,
            source,
        })?;
    rt.block_on(serve(cfg, stores, engine, shutdown_signal()))
}
