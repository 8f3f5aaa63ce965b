//! The one supersede registry: autocomplete requests in flight per session key (who is typing
//! where). A newer request supersedes the older one whether that one is still queued for a
//! slot (it answers at once, with nothing) or generating (it is cancelled within one decode
//! step, its KV kept for reuse). Order is the arrival order at the server, stamped before the
//! handler's first await, so a request overtaken on its way to a slot cannot supersede a newer
//! one. (hearth-complete's own registry is not used by the server: two registries, one by
//! arrival and one by call order, could each cancel a different request.)
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// Who is typing where, and when the request arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionKey {
    key: String,
    order: u64,
}

/// Autocomplete requests in flight per session key.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    next: AtomicU64,
    live: Mutex<HashMap<String, (u64, Arc<Notify>)>>,
}

/// One request's registration; dropping it forgets the request.
pub(crate) struct SessionTicket {
    sessions: Arc<Sessions>,
    key: String,
    id: u64,
    /// Signalled when a newer request of the same session arrives.
    pub(crate) superseded: Arc<Notify>,
}

impl Sessions {
    /// A key for `who` (a client's session header or address) typing into `model`, stamped
    /// with the arrival order. Call it before the first await of the request.
    pub(crate) fn key(&self, who: &str, model: &str) -> SessionKey {
        SessionKey {
            key: format!("{who} | {model}"),
            order: self.next.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Register `session`, superseding an older request in flight; a request that a newer one
    /// has already overtaken comes back superseded at once.
    pub(crate) fn begin(self: &Arc<Self>, session: SessionKey) -> SessionTicket {
        let SessionKey { key, order } = session;
        let superseded = Arc::new(Notify::new());
        if let Ok(mut live) = self.live.lock() {
            match live.get(&key) {
                Some((newer, _)) if *newer > order => superseded.notify_one(),
                _ => {
                    if let Some((_, old)) = live.insert(key.clone(), (order, superseded.clone())) {
                        // Stores a permit when the old request is not waiting on it right now.
                        old.notify_one();
                    }
                }
            }
        }
        SessionTicket {
            sessions: Arc::clone(self),
            key,
            id: order,
            superseded,
        }
    }

    /// Sessions with a request in flight.
    pub(crate) fn len(&self) -> usize {
        self.live.lock().map_or(0, |l| l.len())
    }
}

impl Drop for SessionTicket {
    fn drop(&mut self) {
        if let Ok(mut live) = self.sessions.live.lock() {
            if live.get(&self.key).is_some_and(|(i, _)| *i == self.id) {
                live.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_supersedes_older_and_overtaken_comes_back_superseded() {
        let s = Arc::new(Sessions::default());
        let a = s.key("client 1", "m");
        let b = s.key("client 1", "m");
        let other = s.key("client 2", "m");
        // b registers first (a was overtaken on its way): a is superseded at once.
        let tb = s.begin(b);
        let ta = s.begin(a);
        assert!(futures_util::FutureExt::now_or_never(ta.superseded.notified()).is_some());
        assert!(futures_util::FutureExt::now_or_never(tb.superseded.notified()).is_none());
        let _to = s.begin(other);
        assert_eq!(s.len(), 2);
        drop(ta);
        assert_eq!(
            s.len(),
            2,
            "an overtaken request does not remove the newer one"
        );
        drop(tb);
        assert_eq!(s.len(), 1);
    }
}
