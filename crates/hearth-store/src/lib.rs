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
mod pull;
mod show;
mod store;

pub use create::CreateOptions;
pub use digest::Digest;
pub use download::DownloadOptions;
pub use error::{Result, StoreError};
pub use fsutil::{check_free_space, free_space};
pub use manifest::{Layer, Manifest};
pub use name::{ModelName, Scheme, DEFAULT_HOST, DEFAULT_NAMESPACE, DEFAULT_TAG, HF_HOST};
pub use progress::{no_progress, Progress, PullEvent};
pub use pull::{name_for_url, PullOptions, PullSource};
pub use show::{format_params, ShowInfo};
pub use store::{ListEntry, Message, ModelConfig, ResolvedModel, Store, Stores};
