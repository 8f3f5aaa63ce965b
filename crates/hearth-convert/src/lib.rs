//! `hearth-convert`: turns a Hugging Face checkpoint folder (safetensors, `config.json`,
//! tokenizer files) into a GGUF file llama.cpp loads. Today: BERT-family sentence-embedding
//! models (all-MiniLM, bge, e5 in their `BertModel` form), the embedding models no registry
//! ships as GGUF.
//!
//! Nothing here executes model content: weights are read only from safetensors (pickle
//! checkpoints are refused), every header length, shape and offset is checked before data is
//! read ([`safetensors`]), and the JSON files have size caps. The output is deterministic: the
//! same folder and options give the same bytes.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod bert;
mod half;
pub mod safetensors;
mod vocab;

use std::path::{Path, PathBuf};

use hearth_gguf::GgufWriter;

use crate::safetensors::SafeTensors;

/// Largest JSON or vocabulary file read from a checkpoint folder.
pub const MAX_JSON_BYTES: u64 = 64 << 20;

/// Why a conversion failed; every message names the file and, where there is one, the tensor
/// or field.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a valid safetensors file: {message}")]
    Safetensors { path: PathBuf, message: String },
    #[error("{path}: tensor {name}: {message}")]
    Tensor {
        path: PathBuf,
        name: String,
        message: String,
    },
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Unsupported { path: PathBuf, message: String },
}

/// Storage type of the converted weight matrices. Norms, biases and the position and
/// token-type tables stay F32, as llama.cpp's own converter keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutType {
    F32,
    #[default]
    F16,
    Q8_0,
}

impl OutType {
    /// Every type, by its name on the command line.
    pub const ALL: [OutType; 3] = [OutType::F32, OutType::F16, OutType::Q8_0];

    /// `f32`, `f16` or `q8_0`.
    pub fn name(self) -> &'static str {
        match self {
            OutType::F32 => "f32",
            OutType::F16 => "f16",
            OutType::Q8_0 => "q8_0",
        }
    }

    /// GGUF `general.file_type` (llama_ftype).
    fn file_type(self) -> u32 {
        match self {
            OutType::F32 => 0,
            OutType::F16 => 1,
            OutType::Q8_0 => 7,
        }
    }
}

impl std::str::FromStr for OutType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        OutType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown type {s:?}; expected f32, f16 or q8_0"))
    }
}

/// Conversion options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub out_type: OutType,
    /// `general.name`; the folder's name when absent.
    pub name: Option<String>,
}

/// A converted model, ready to write.
#[derive(Debug)]
pub struct Converted {
    pub writer: GgufWriter,
    /// llama.cpp architecture name (`bert`).
    pub architecture: &'static str,
    pub name: String,
    pub n_params: u64,
}

impl Converted {
    /// Write the GGUF to `out` atomically (a temporary file in the same folder, renamed).
    pub fn write(&self, out: &Path) -> Result<(), ConvertError> {
        let io = |source| ConvertError::Io {
            path: out.to_path_buf(),
            source,
        };
        let dir = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let file_name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model.gguf".into());
        let tmp = dir.join(format!(".{file_name}.{}.partial", std::process::id()));
        let result = (|| {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            self.writer.write_to(&mut f)?;
            let f = f.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            std::fs::rename(&tmp, out)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(io)
    }
}

/// Convert the checkpoint folder `dir`.
pub fn convert_dir(dir: &Path, opts: &Options) -> Result<Converted, ConvertError> {
    let config_path = dir.join("config.json");
    let config: serde_json::Value = read_json(&config_path)?;
    let model_type = config
        .get("model_type")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    let files = open_weights(dir)?;
    let name = opts.name.clone().unwrap_or_else(|| {
        dir.canonicalize()
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "model".into())
    });
    match model_type {
        "bert" => bert::convert(dir, &config, &files, opts, name),
        other => Err(ConvertError::Unsupported {
            path: config_path,
            message: format!(
                "model_type {other:?} cannot be converted; hearth converts BERT embedding \
                 models (model_type \"bert\")"
            ),
        }),
    }
}

/// The folder's safetensors files: `model.safetensors`, or the shards named by
/// `model.safetensors.index.json`.
fn open_weights(dir: &Path) -> Result<Vec<SafeTensors>, ConvertError> {
    let single = dir.join("model.safetensors");
    if single.is_file() {
        return Ok(vec![SafeTensors::open(&single)?]);
    }
    let index_path = dir.join("model.safetensors.index.json");
    if index_path.is_file() {
        let index: serde_json::Value = read_json(&index_path)?;
        let map = index
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| ConvertError::Config {
                path: index_path.clone(),
                message: "no weight_map object".into(),
            })?;
        let mut shards: Vec<&str> = map.values().filter_map(|v| v.as_str()).collect();
        shards.sort_unstable();
        shards.dedup();
        return shards
            .into_iter()
            .map(|s| {
                // A shard name is a file in this folder, never a path elsewhere.
                if s.is_empty() || s.contains(['/', '\\']) || s == "." || s == ".." {
                    return Err(ConvertError::Config {
                        path: index_path.clone(),
                        message: format!("shard name {s:?} is not a plain file name"),
                    });
                }
                SafeTensors::open(&dir.join(s))
            })
            .collect();
    }
    let pickle = ["pytorch_model.bin", "model.pt", "model.pth"]
        .iter()
        .any(|f| dir.join(f).exists());
    Err(ConvertError::Unsupported {
        path: dir.to_path_buf(),
        message: if pickle {
            "only PyTorch pickle weights here; hearth reads safetensors only (pickle files can \
             run code when loaded)"
                .into()
        } else {
            "no model.safetensors or model.safetensors.index.json".into()
        },
    })
}

/// Read a bounded file.
pub(crate) fn read_capped(path: &Path) -> Result<Vec<u8>, ConvertError> {
    use std::io::Read;
    let io = |source| ConvertError::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut buf = Vec::new();
    f.take(MAX_JSON_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(io)?;
    if buf.len() as u64 > MAX_JSON_BYTES {
        return Err(ConvertError::Config {
            path: path.to_path_buf(),
            message: format!("larger than {MAX_JSON_BYTES} bytes"),
        });
    }
    Ok(buf)
}

/// Read and parse a bounded JSON file.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConvertError> {
    let bytes = read_capped(path)?;
    serde_json::from_slice(&bytes).map_err(|e| ConvertError::Config {
        path: path.to_path_buf(),
        message: format!("invalid JSON: {e}"),
    })
}
