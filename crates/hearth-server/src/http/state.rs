//! What handlers share: the configuration, the [`Service`] and the request counter.
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};

use crate::backend::Engine;
use crate::config::ServerConfig;
use crate::service::error::ServiceError;
use crate::service::request::GenRequest;
use crate::service::running::Running;
use crate::service::scheduler::SchedConfig;
use crate::service::sessions::SessionKey;
use crate::service::{Limits, Service};

/// Header an editor plugin may send to name its document; a newer request with the same
/// session supersedes an older one still running.
pub(crate) const SESSION_HEADER: &str = "x-hearth-session";

/// Everything handlers share.
pub struct Shared {
    pub(crate) cfg: ServerConfig,
    pub(crate) service: Service,
    pub(crate) next_id: AtomicU64,
    /// The cloud models of a hybrid policy (`None`: nothing leaves).
    #[cfg(feature = "cloud")]
    pub(crate) upstreams: Option<crate::upstream::Upstreams>,
}

/// Cheap-to-clone handle on the server's state.
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// The state of a server with `cfg` over `stores` and `engine` (call it inside a tokio
    /// runtime: the residency expiry task starts on it).
    pub fn new(cfg: ServerConfig, stores: hearth_store::Stores, engine: Arc<dyn Engine>) -> Self {
        #[cfg(feature = "cloud")]
        let upstreams = upstreams_of(&cfg).unwrap_or_else(|e| {
            // `AppState::try_new` refuses this; a state built without checking answers cloud
            // routes with an error instead.
            tracing::error!(%e, "hybrid routing unavailable");
            None
        });
        Self::with(
            cfg,
            stores,
            engine,
            #[cfg(feature = "cloud")]
            upstreams,
        )
    }

    /// [`AppState::new`] for a server about to start: the configuration checked as
    /// [`check_config`] does, the upstreams built once.
    pub fn try_new(
        cfg: ServerConfig,
        stores: hearth_store::Stores,
        engine: Arc<dyn Engine>,
    ) -> Result<Self, crate::config::ConfigError> {
        cfg.validate()?;
        #[cfg(feature = "cloud")]
        let upstreams = upstreams_of(&cfg)?;
        Ok(Self::with(
            cfg,
            stores,
            engine,
            #[cfg(feature = "cloud")]
            upstreams,
        ))
    }

    fn with(
        cfg: ServerConfig,
        stores: hearth_store::Stores,
        engine: Arc<dyn Engine>,
        #[cfg(feature = "cloud")] upstreams: Option<crate::upstream::Upstreams>,
    ) -> Self {
        let limits = Limits {
            max_prompt_bytes: cfg.max_prompt_bytes,
        };
        let service = Service::new(stores, engine, sched_config(&cfg), limits);
        AppState(Arc::new(Shared {
            cfg,
            service,
            next_id: AtomicU64::new(1),
            #[cfg(feature = "cloud")]
            upstreams,
        }))
    }

    /// Start a generation where the routing middleware decided: an upstream model for a cloud
    /// route (which may still be answered here: a secret that must not leave, a fallback),
    /// else the local service.
    pub(crate) async fn start(
        &self,
        ext: &Extensions,
        #[cfg_attr(not(feature = "cloud"), allow(unused_mut))] mut gen: GenRequest,
    ) -> Result<Running, ServiceError> {
        #[cfg(feature = "cloud")]
        if let Some(ask) = ext.get::<crate::upstream::CloudAsk>() {
            let Some(up) = &self.upstreams else {
                return Err(ServiceError::Upstream(
                    "hybrid routing is unavailable (see the server's log)".into(),
                ));
            };
            let metrics = self.service.metrics_handle();
            match up.start(&gen, ask, metrics).await? {
                crate::upstream::Served::Cloud(r) => return Ok(*r),
                crate::upstream::Served::Local(named) => {
                    if let Some(m) = self
                        .cfg
                        .route_policy
                        .local_model_for(&gen.model, named.as_deref())
                        .map_err(ServiceError::Invalid)?
                    {
                        gen.model = m;
                    }
                }
            }
        }
        #[cfg(not(feature = "cloud"))]
        let _ = ext;
        self.service.start(gen).await
    }

    /// The generation service (for in-process clients such as `hearth run`).
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// Who is typing where: the session header, else the client's address, plus the model.
    /// Editors type in one place at a time, so a newer request from the same client and model
    /// supersedes the older one. Call it before the handler's first await: it also stamps the
    /// arrival order.
    pub(crate) fn session(&self, headers: &HeaderMap, ext: &Extensions, model: &str) -> SessionKey {
        let who = headers
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(|v| format!("session {}", v.chars().take(200).collect::<String>()))
            .or_else(|| {
                ext.get::<ConnectInfo<SocketAddr>>()
                    .map(|c| format!("client {}", c.0.ip()))
            })
            .unwrap_or_else(|| "client local".into());
        self.service.sessions().key(&who, model)
    }
}

/// `cfg` checked as a server would start with it: [`ServerConfig::validate`], then in a build
/// with the `cloud` feature the hybrid policy's upstreams (their keys set, the redactor's files
/// readable, the audit log writable).
pub fn check_config(cfg: &ServerConfig) -> Result<(), crate::config::ConfigError> {
    cfg.validate()?;
    #[cfg(feature = "cloud")]
    upstreams_of(cfg)?;
    Ok(())
}

/// The upstream clients of `cfg`'s routing policy (`None` when nothing may leave).
#[cfg(feature = "cloud")]
fn upstreams_of(
    cfg: &ServerConfig,
) -> Result<Option<crate::upstream::Upstreams>, crate::config::ConfigError> {
    crate::upstream::Upstreams::new(
        &cfg.route_policy,
        cfg.route_policy_file.as_deref(),
        cfg.no_cloud,
        &|k| std::env::var(k).ok(),
        std::env::vars(),
    )
    .map_err(|e| crate::config::ConfigError::Upstream(e.0))
}

/// Scheduler limits from the server configuration.
fn sched_config(cfg: &ServerConfig) -> SchedConfig {
    SchedConfig {
        num_parallel: cfg.num_parallel,
        max_loaded: cfg.max_loaded_models,
        max_queue: cfg.max_queue,
        memory_budget: cfg.memory_budget,
        keep_alive: cfg.keep_alive,
        default_num_ctx: cfg.default_num_ctx,
        threads: cfg.threads,
    }
}
