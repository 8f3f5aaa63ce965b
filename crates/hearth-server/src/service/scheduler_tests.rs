//! Scheduler tests with a counting engine (the scheduler's policy is what is under test here;
//! the real engine is exercised by the server integration tests).
use std::path::Path;
use std::sync::atomic::AtomicU32;

use super::*;
use crate::backend::{GenParams, GenStream, RunnerInfo, SlotUsage};

#[derive(Default)]
struct CountingEngine {
    loads: AtomicU32,
}

struct Dummy(u32);

impl Runner for Dummy {
    fn info(&self) -> RunnerInfo {
        RunnerInfo {
            n_ctx_per_seq: self.0,
            memory_bytes: 100,
            ..RunnerInfo::default()
        }
    }
    fn prompt_tokens(&self, text: &str) -> Result<Vec<i32>, BackendError> {
        Ok(text.bytes().map(i32::from).collect())
    }
    fn generate(&self, _: GenParams) -> Result<GenStream, BackendError> {
        Err(BackendError::Unsupported("generation"))
    }
    fn slots(&self) -> SlotUsage {
        SlotUsage::default()
    }
}

impl Engine for CountingEngine {
    fn load(&self, _: &Path, p: &LoadParams) -> Result<Arc<dyn Runner>, BackendError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        Ok(Arc::new(Dummy(p.n_ctx / p.n_parallel.max(1))))
    }
}

fn entry(name: &str) -> ModelEntry {
    ModelEntry {
        name: name.into(),
        path: "/nonexistent".into(),
        size: 100,
        digest: String::new(),
        modified: SystemTime::UNIX_EPOCH,
        system: None,
        parameters: serde_json::Map::new(),
        messages: Vec::new(),
    }
}

fn cfg() -> SchedConfig {
    SchedConfig {
        num_parallel: 2,
        max_loaded: 2,
        max_queue: 3,
        memory_budget: 0,
        keep_alive: Some(Duration::from_secs(300)),
        default_num_ctx: 512,
        threads: None,
    }
}

#[tokio::test]
async fn loads_once_and_lru_unloads() {
    let engine = Arc::new(CountingEngine::default());
    let s = Scheduler::new(engine.clone(), cfg());
    drop(s.acquire(&entry("a"), None, None).await.unwrap());
    drop(s.acquire(&entry("a"), None, None).await.unwrap());
    assert_eq!(engine.loads.load(Ordering::SeqCst), 1);
    drop(s.acquire(&entry("b"), None, None).await.unwrap());
    drop(s.acquire(&entry("a"), None, None).await.unwrap()); // a is now more recent than b
    drop(s.acquire(&entry("c"), None, None).await.unwrap()); // evicts b
    let mut names: Vec<String> = s.ps().into_iter().map(|p| p.name).collect();
    names.sort();
    assert_eq!(names, ["a", "c"]);
    assert_eq!(engine.loads.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn keep_alive_zero_unloads_and_negative_keeps() {
    let s = Scheduler::new(Arc::new(CountingEngine::default()), cfg());
    drop(
        s.acquire(&entry("a"), None, Some(Some(Duration::ZERO)))
            .await
            .unwrap(),
    );
    assert!(s.ps().is_empty());
    drop(s.acquire(&entry("a"), None, Some(None)).await.unwrap());
    assert_eq!(s.ps().len(), 1);
    assert!(s.ps()[0].expires_at.is_none());
    drop(
        s.acquire(&entry("a"), None, Some(Some(Duration::from_millis(10))))
            .await
            .unwrap(),
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(s.ps().is_empty(), "expired model still resident");
}

#[tokio::test]
async fn slots_and_queue_bound() {
    let s = Scheduler::new(Arc::new(CountingEngine::default()), cfg());
    let e = entry("a");
    let l1 = s.acquire(&e, None, None).await.unwrap();
    let _l2 = s.acquire(&e, None, None).await.unwrap();
    assert_eq!(s.gauges().running, 2);
    // Three waiters fill the queue; the fourth is refused with 503.
    let mut waiters = Vec::new();
    for _ in 0..3 {
        let s2 = s.clone();
        let e2 = e.clone();
        waiters.push(tokio::spawn(async move {
            s2.acquire(&e2, None, None).await.map(|_| ())
        }));
    }
    while s.gauges().waiting < 3 {
        tokio::task::yield_now().await;
    }
    let err = s.acquire(&e, None, None).await.unwrap_err();
    assert!(matches!(err, ServiceError::Busy(3)), "{err}");
    // Freeing a slot lets a waiter in at once.
    drop(l1);
    let mut done = 0;
    for w in waiters {
        if tokio::time::timeout(Duration::from_secs(5), w)
            .await
            .is_ok()
        {
            done += 1;
        }
    }
    assert_eq!(done, 3);
}

#[tokio::test]
async fn larger_num_ctx_reloads_when_idle_smaller_reuses() {
    let engine = Arc::new(CountingEngine::default());
    let s = Scheduler::new(engine.clone(), cfg());
    let e = entry("a");
    drop(s.acquire(&e, Some(4096), None).await.unwrap());
    assert_eq!(s.ps()[0].context_length, 4096);
    // Smaller or default contexts are served by the loaded one.
    drop(s.acquire(&e, Some(1024), None).await.unwrap());
    drop(s.acquire(&e, None, None).await.unwrap());
    assert_eq!(engine.loads.load(Ordering::SeqCst), 1);
    // A larger one reloads once, and then stays.
    drop(s.acquire(&e, Some(8192), None).await.unwrap());
    drop(s.acquire(&e, Some(8192), None).await.unwrap());
    drop(s.acquire(&e, Some(2048), None).await.unwrap());
    assert_eq!(engine.loads.load(Ordering::SeqCst), 2);
    assert_eq!(s.ps().len(), 1);
    assert_eq!(s.ps()[0].context_length, 8192);
    // While busy, a larger request is served by the loaded model instead of waiting.
    let busy = s.acquire(&e, None, None).await.unwrap();
    let l = s.acquire(&e, Some(16384), None).await.unwrap();
    assert_eq!(l.resident.n_ctx_per_seq, 8192);
    assert_eq!(engine.loads.load(Ordering::SeqCst), 2);
    drop((busy, l));
}
