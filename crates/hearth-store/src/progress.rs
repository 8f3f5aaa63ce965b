//! Pull progress as typed events, shaped like Ollama's `/api/pull` stream objects.

use serde::Serialize;

/// One progress event: `pulling manifest`, `pulling <id>` (with digest, total, completed),
/// `verifying sha256 digest`, `writing manifest`, `success`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullEvent {
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed: Option<u64>,
}

impl PullEvent {
    pub fn status(s: impl Into<String>) -> PullEvent {
        PullEvent {
            status: s.into(),
            digest: None,
            total: None,
            completed: None,
        }
    }

    pub fn bytes(status: impl Into<String>, digest: &str, total: u64, completed: u64) -> PullEvent {
        PullEvent {
            status: status.into(),
            digest: Some(digest.to_string()),
            total: Some(total),
            completed: Some(completed),
        }
    }
}

/// Where progress goes: called from the pulling thread and from range-download threads.
/// A `std::sync::mpsc::Sender<PullEvent>` works via `&|e| { let _ = tx.send(e.clone()); }`.
pub type Progress<'a> = &'a (dyn Fn(&PullEvent) + Sync);

/// A progress sink that drops everything.
pub fn no_progress(_: &PullEvent) {}
