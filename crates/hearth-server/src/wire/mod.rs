//! Wire types: typed requests and responses per protocol, and the one streamer every
//! streaming endpoint shares. No HTTP machinery here; the `http` layer routes and frames.
//! [`ollama`]'s response types are public: hearth's own client reads answers with them.
pub(crate) mod anthropic;
pub(crate) mod embed;
pub(crate) mod frame;
pub(crate) mod infill;
pub mod ollama;
pub(crate) mod ollama_models;
pub(crate) mod ollama_out;
pub(crate) mod openai;
pub(crate) mod openai_out;
pub(crate) mod responses;
pub(crate) mod responses_out;
pub(crate) mod tool_choice;
