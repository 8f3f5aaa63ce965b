//! Wire types: typed requests and responses per protocol, and the one streamer every
//! streaming endpoint shares. No HTTP machinery here; the `http` layer routes and frames.
pub(crate) mod frame;
pub(crate) mod infill;
pub(crate) mod ollama;
pub(crate) mod ollama_models;
pub(crate) mod openai;
pub(crate) mod openai_out;
