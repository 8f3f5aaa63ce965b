//! `hearth-store`: hearth's model store, in Ollama's on-disk layout.
//!
//! - [`Store`]: a content-addressed store (`blobs/sha256-<hex>`, `manifests/<host>/<ns>/<model>/<tag>`);
//!   [`Stores`] adds read-only extra stores (an existing Ollama store).
//! - [`ModelName`]: strict parsing of Ollama-style names and `hf.co/owner/repo[:quant]`.
//! - [`Store::pull`]: from an Ollama registry, Hugging Face, or a URL; verified, resumable,
//!   parallel, with progress events ([`PullEvent`]).
//! - [`Store::resolve`]: a name to the GGUF path and its template, system prompt and params.
//! - [`Store::create`] from a Modelfile, [`Store::export`]/[`Store::import`] bundles.
//!
//! This crate never touches llama.cpp; it validates models with `hearth-gguf`.
//!
//! The API is blocking (an async server calls it from `spawn_blocking`). Progress arrives as
//! [`PullEvent`]s shaped like Ollama's `/api/pull` stream; a pull stops (keeping its partial
//! download for a later resume) when `opts.download.cancel` is set:
//!
//! ```no_run
//! use std::sync::{atomic::AtomicBool, mpsc, Arc};
//! use hearth_store::{PullEvent, PullOptions, Stores};
//!
//! let stores = Stores::from_env()?;
//! let mut opts = PullOptions::from_env();
//! let cancel = Arc::new(AtomicBool::new(false));
//! opts.download.cancel = Some(cancel.clone()); // set it when the client goes away
//! let (tx, rx) = mpsc::channel::<PullEvent>();
//! let store = stores.primary.clone();
//! let job = std::thread::spawn(move || {
//!     store.pull("qwen2.5-coder:0.5b", &opts, &|e: &PullEvent| {
//!         let _ = tx.send(e.clone());
//!     })
//! });
//! for event in rx {
//!     println!("{}", serde_json::to_string(&event).unwrap_or_default());
//! }
//! let name = job.join().expect("pull thread")?;
//! let model = stores.resolve(&name.display_shortest())?;
//! println!("{} {:?}", model.gguf_path.display(), model.template);
//! # Ok::<(), hearth_store::StoreError>(())
//! ```

mod bundle;
pub mod create;
mod digest;
mod download;
mod error;
mod fsutil;
pub mod guard;
mod hf;
pub mod http;
pub mod manifest;
pub mod modelfile;
mod name;
mod progress;
pub mod provenance;
mod pull;
mod show;
mod space;
mod store;
mod upload;

pub use create::CreateOptions;
pub use digest::Digest;
pub use download::DownloadOptions;
pub use error::{Result, StoreError};
pub use fsutil::free_space;
pub use manifest::{Layer, Manifest};
pub use name::{ModelName, Scheme, DEFAULT_HOST, DEFAULT_NAMESPACE, DEFAULT_TAG, HF_HOST};
pub use progress::{no_progress, Progress, PullEvent};
pub use provenance::{Policy, Provenance};
pub use pull::{name_for_url, PullOptions, PullSource, RegistryToken};
pub use show::{format_params, ShowInfo};
pub use space::check_free_space;
pub use store::{ListEntry, Message, ModelConfig, ResolvedModel, Store, Stores};
pub use upload::BlobUpload;
