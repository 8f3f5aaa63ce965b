//! Model residency: loads a model on first use, keeps it for its keep-alive (default 5 minutes,
//! `0` = unload when idle, negative = forever), bounds the number of resident models and their
//! memory (least recently used idle model unloaded first), gives each model `num_parallel`
//! sequence slots and bounds the number of waiting requests (503 beyond it).
//!
//! A [`Lease`] is one request's hold on a slot; dropping it (request done, or the client went
//! away and the response future/stream was dropped) frees the slot at once.
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::backend::{
    BackendError, Engine, GenParams, GenStream, LoadParams, ModelEntry, Runner, RunnerInfo,
    SlotUsage,
};
use crate::metrics::Gauges;
use crate::service::error::ServiceError;

/// Scheduler limits.
#[derive(Debug, Clone)]
pub(crate) struct SchedConfig {
    /// Sequences per model.
    pub(crate) num_parallel: u32,
    /// Resident models.
    pub(crate) max_loaded: usize,
    /// Waiting requests before 503.
    pub(crate) max_queue: usize,
    /// Memory budget in bytes (0 = unlimited).
    pub(crate) memory_budget: u64,
    /// Keep-alive when a request does not say (`None` = forever).
    pub(crate) keep_alive: Option<Duration>,
    /// Context per sequence when the first request does not say.
    pub(crate) default_num_ctx: u32,
    /// Engine threads.
    pub(crate) threads: Option<u32>,
}

/// A resident model.
pub(crate) struct Resident {
    /// Name it was loaded under.
    pub(crate) name: String,
    /// Catalog entry.
    pub(crate) entry: ModelEntry,
    /// The loaded model.
    pub(crate) runner: Arc<dyn Runner>,
    /// Context per sequence.
    pub(crate) n_ctx_per_seq: u32,
    sem: Arc<Semaphore>,
    state: Mutex<ResidentState>,
}

impl Drop for Resident {
    /// Unloading joins the engine's thread and frees the model's memory: that happens on a
    /// blocking thread, never on an async worker (the last reference may be dropped anywhere).
    fn drop(&mut self) {
        if let Ok(h) = tokio::runtime::Handle::try_current() {
            let runner: Arc<dyn Runner> = std::mem::replace(&mut self.runner, Arc::new(Unloaded));
            h.spawn_blocking(move || drop(runner));
        }
    }
}

/// What a [`Resident`] holds while its model is torn down elsewhere.
struct Unloaded;

impl Runner for Unloaded {
    fn info(&self) -> RunnerInfo {
        RunnerInfo::default()
    }
    fn prompt_tokens(&self, _: &str) -> Result<Vec<i32>, BackendError> {
        Err(BackendError::Unsupported("an unloaded model"))
    }
    fn generate(&self, _: GenParams) -> Result<GenStream, BackendError> {
        Err(BackendError::Unsupported("an unloaded model"))
    }
    fn slots(&self) -> SlotUsage {
        SlotUsage::default()
    }
}

struct ResidentState {
    last_used: Instant,
    expires: Option<SystemTime>,
    keep_alive: Option<Duration>,
    active: usize,
    unload_when_idle: bool,
}

/// Info for `/api/ps`.
#[derive(Debug, Clone)]
pub(crate) struct PsEntry {
    /// Name.
    pub(crate) name: String,
    /// Catalog entry.
    pub(crate) entry: ModelEntry,
    /// Memory held.
    pub(crate) memory_bytes: u64,
    /// When it will be unloaded (`None` = never).
    pub(crate) expires_at: Option<SystemTime>,
    /// Context per sequence.
    pub(crate) context_length: u32,
}

struct Inner {
    engine: Arc<dyn Engine>,
    cfg: SchedConfig,
    resident: Mutex<BTreeMap<String, Arc<Resident>>>,
    load_lock: tokio::sync::Mutex<()>,
    waiting: AtomicUsize,
    running: AtomicUsize,
}

/// The scheduler (cheap to clone).
#[derive(Clone)]
pub(crate) struct Scheduler {
    inner: Arc<Inner>,
}

/// One request's hold on a sequence slot of a resident model.
pub(crate) struct Lease {
    /// The model.
    pub(crate) resident: Arc<Resident>,
    /// Load time paid by this request (zero when it was already resident).
    pub(crate) load_duration: Duration,
    _permit: OwnedSemaphorePermit,
    sched: Weak<Inner>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("model", &self.resident.name)
            .finish()
    }
}

struct WaitGuard<'a>(&'a AtomicUsize);
impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(inner) = self.sched.upgrade() else {
            return;
        };
        inner.running.fetch_sub(1, Ordering::SeqCst);
        let unload = {
            let Ok(mut st) = self.resident.state.lock() else {
                return;
            };
            st.active = st.active.saturating_sub(1);
            st.last_used = Instant::now();
            st.expires = st.keep_alive.map(|d| SystemTime::now() + d);
            st.active == 0 && (st.unload_when_idle || st.keep_alive == Some(Duration::ZERO))
        };
        if unload {
            inner.remove_if_idle(&self.resident.name);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Inner {
    fn remove_if_idle(&self, name: &str) -> bool {
        let mut res = lock(&self.resident);
        let idle = res.get(name).is_some_and(|r| lock(&r.state).active == 0);
        if idle {
            res.remove(name);
            tracing::info!(model = name, "unloaded");
        }
        idle
    }

    fn memory(res: &BTreeMap<String, Arc<Resident>>) -> u64 {
        res.values().map(|r| r.runner.info().memory_bytes).sum()
    }

    /// Unload least-recently-used idle models until one more model of `need` bytes fits.
    /// Returns false when nothing idle is left to unload.
    fn make_room(&self, need: u64) -> bool {
        let mut res = lock(&self.resident);
        loop {
            let over_count = res.len() >= self.cfg.max_loaded;
            let over_mem = self.cfg.memory_budget > 0
                && !res.is_empty()
                && Self::memory(&res).saturating_add(need) > self.cfg.memory_budget;
            if !over_count && !over_mem {
                return true;
            }
            let victim = res
                .iter()
                .filter(|(_, r)| lock(&r.state).active == 0)
                .min_by_key(|(_, r)| lock(&r.state).last_used)
                .map(|(k, _)| k.clone());
            match victim {
                Some(k) => {
                    res.remove(&k);
                    tracing::info!(model = %k, "unloaded (least recently used)");
                }
                None => return false,
            }
        }
    }
}

impl Scheduler {
    /// A scheduler over `engine`; spawns the expiry task on the current tokio runtime.
    pub(crate) fn new(engine: Arc<dyn Engine>, cfg: SchedConfig) -> Self {
        let inner = Arc::new(Inner {
            engine,
            cfg,
            resident: Mutex::new(BTreeMap::new()),
            load_lock: tokio::sync::Mutex::new(()),
            waiting: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
        });
        let weak = Arc::downgrade(&inner);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(250));
                loop {
                    tick.tick().await;
                    let Some(inner) = weak.upgrade() else { break };
                    let now = SystemTime::now();
                    let expired: Vec<String> = lock(&inner.resident)
                        .iter()
                        .filter(|(_, r)| {
                            let st = lock(&r.state);
                            st.active == 0 && st.expires.is_some_and(|e| e <= now)
                        })
                        .map(|(k, _)| k.clone())
                        .collect();
                    for k in expired {
                        inner.remove_if_idle(&k);
                    }
                }
            });
        }
        Self { inner }
    }

    /// Wait for a slot of `entry`'s model, loading it first if needed.
    /// `keep_alive`: `None` = the default; `Some(None)` = forever; `Some(Some(d))`.
    pub(crate) async fn acquire(
        &self,
        entry: &ModelEntry,
        num_ctx: Option<u32>,
        keep_alive: Option<Option<Duration>>,
    ) -> Result<Lease, ServiceError> {
        let inner = &self.inner;
        if inner.waiting.fetch_add(1, Ordering::SeqCst) >= inner.cfg.max_queue {
            inner.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(ServiceError::Busy(inner.cfg.max_queue));
        }
        let _wait = WaitGuard(&inner.waiting);
        let (resident, load_duration) = self.resident_or_load(entry, num_ctx).await?;
        let permit = resident
            .sem
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ServiceError::Unloading)?;
        {
            let mut st = lock(&resident.state);
            st.active += 1;
            st.last_used = Instant::now();
            st.keep_alive = keep_alive.unwrap_or(inner.cfg.keep_alive);
            st.unload_when_idle = false;
            st.expires = None;
        }
        inner.running.fetch_add(1, Ordering::SeqCst);
        Ok(Lease {
            resident,
            load_duration,
            _permit: permit,
            sched: Arc::downgrade(inner),
        })
    }

    async fn resident_or_load(
        &self,
        entry: &ModelEntry,
        num_ctx: Option<u32>,
    ) -> Result<(Arc<Resident>, Duration), ServiceError> {
        let inner = &self.inner;
        // A loaded model serves every request whose context fits in its own; a request for a
        // larger context reloads it once it is idle (so clients asking for different num_ctx
        // values do not make it reload back and forth), and is served by the loaded one while
        // it is busy.
        let fits = |r: &Resident| num_ctx.is_none_or(|n| n.max(256) <= r.n_ctx_per_seq);
        if let Some(r) = lock(&inner.resident).get(&entry.name) {
            if fits(r) {
                return Ok((r.clone(), Duration::ZERO));
            }
        }
        let _guard = inner.load_lock.lock().await;
        let loaded = lock(&inner.resident).get(&entry.name).cloned();
        if let Some(r) = loaded {
            if fits(&r) || !inner.remove_if_idle(&entry.name) {
                return Ok((r, Duration::ZERO));
            }
            tracing::info!(model = %entry.name, from = r.n_ctx_per_seq, to = ?num_ctx, "reloading with a larger context");
        }
        let per_seq = num_ctx.unwrap_or(inner.cfg.default_num_ctx).max(256);
        let mut params = LoadParams {
            n_ctx: per_seq.saturating_mul(inner.cfg.num_parallel),
            n_parallel: inner.cfg.num_parallel,
            threads: inner.cfg.threads,
            gpu_layers: None,
        };
        let load_err = |e: BackendError| ServiceError::backend(&entry.name, e);
        // Estimate first (weights, KV cache, buffers for this context): a model that cannot fit
        // is refused with a suggestion instead of being loaded into swap or the OOM killer.
        // What unloading idle models would free counts as available.
        let reclaimable = Inner::memory(&lock(&inner.resident));
        let (engine, path, p) = (inner.engine.clone(), entry.path.clone(), params);
        let ram_cap = inner.cfg.memory_budget;
        let estimate =
            tokio::task::spawn_blocking(move || engine.estimate(&path, &p, ram_cap, reclaimable))
                .await
                .map_err(|e| ServiceError::Task(format!("model estimate: {e}")))?
                .map_err(load_err)?;
        // Without an estimate: the file plus a fifth for KV and buffers.
        let need = estimate.map_or(entry.size.saturating_add(entry.size / 5), |e| e.bytes);
        params.gpu_layers = estimate.and_then(|e| e.gpu_layers);
        while !inner.make_room(need) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let engine = inner.engine.clone();
        let path = entry.path.clone();
        let start = Instant::now();
        let runner = tokio::task::spawn_blocking(move || engine.load(&path, &params))
            .await
            .map_err(|e| ServiceError::Task(format!("model load: {e}")))?
            .map_err(load_err)?;
        let load_duration = start.elapsed();
        let info = runner.info();
        let n_ctx_per_seq = if info.n_ctx_per_seq > 0 {
            info.n_ctx_per_seq
        } else {
            per_seq
        };
        tracing::info!(model = %entry.name, ?load_duration, n_ctx_per_seq, "loaded");
        let resident = Arc::new(Resident {
            name: entry.name.clone(),
            entry: entry.clone(),
            runner,
            n_ctx_per_seq,
            sem: Arc::new(Semaphore::new(inner.cfg.num_parallel.max(1) as usize)),
            state: Mutex::new(ResidentState {
                last_used: Instant::now(),
                expires: None,
                keep_alive: inner.cfg.keep_alive,
                active: 0,
                unload_when_idle: false,
            }),
        });
        lock(&inner.resident).insert(entry.name.clone(), resident.clone());
        Ok((resident, load_duration))
    }

    /// Load without generating (Ollama's empty prompt); sets the keep-alive.
    pub(crate) async fn preload(
        &self,
        entry: &ModelEntry,
        num_ctx: Option<u32>,
        keep_alive: Option<Option<Duration>>,
    ) -> Result<Duration, ServiceError> {
        let lease = self.acquire(entry, num_ctx, keep_alive).await?;
        Ok(lease.load_duration)
    }

    /// Unload now if idle, else as soon as the last request finishes. True if it was resident.
    pub(crate) fn unload(&self, name: &str) -> bool {
        let Some(r) = lock(&self.inner.resident).get(name).cloned() else {
            return false;
        };
        {
            let mut st = lock(&r.state);
            st.unload_when_idle = true;
            st.keep_alive = Some(Duration::ZERO);
        }
        self.inner.remove_if_idle(name);
        true
    }

    /// Resident models for `/api/ps`.
    /// The context per sequence a model not yet loaded gets when a request names none.
    pub(crate) fn default_num_ctx(&self) -> u32 {
        self.inner.cfg.default_num_ctx.max(256)
    }

    pub(crate) fn ps(&self) -> Vec<PsEntry> {
        lock(&self.inner.resident)
            .values()
            .map(|r| {
                let st = lock(&r.state);
                let expires_at = if st.active > 0 {
                    st.keep_alive.map(|d| SystemTime::now() + d)
                } else {
                    st.expires
                };
                PsEntry {
                    name: r.name.clone(),
                    entry: r.entry.clone(),
                    memory_bytes: r.runner.info().memory_bytes,
                    expires_at,
                    context_length: r.n_ctx_per_seq,
                }
            })
            .collect()
    }

    /// Gauges for `/metrics`.
    pub(crate) fn gauges(&self) -> Gauges {
        let res = lock(&self.inner.resident);
        let (mut used, mut total, mut busy) = (0u64, 0u64, 0u64);
        for r in res.values() {
            let s = r.runner.slots();
            used = used.saturating_add(s.kv_used);
            total = total.saturating_add(s.kv_total);
            busy = busy.saturating_add(u64::from(s.busy));
        }
        Gauges {
            loaded_models: res.len(),
            memory_bytes: Inner::memory(&res),
            waiting: self.inner.waiting.load(Ordering::SeqCst),
            running: self.inner.running.load(Ordering::SeqCst),
            kv_usage: if total > 0 {
                used as f64 / total as f64
            } else {
                0.0
            },
            slots_busy: busy,
            fim_sessions: 0,
        }
    }

    /// Forget a model (after delete): unloads it when idle.
    pub(crate) fn forget(&self, name: &str) {
        self.unload(name);
    }
}

#[cfg(test)]
#[path = "scheduler_tests.rs"]
mod tests;
