//! OCI/Docker-style manifests as Ollama writes them, parsed with every digest validated and
//! every size capped before anything else looks at them.

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Result, StoreError};

pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.docker.container.image.v1+json";
pub const MEDIA_MODEL: &str = "application/vnd.ollama.image.model";
pub const MEDIA_TEMPLATE: &str = "application/vnd.ollama.image.template";
pub const MEDIA_PROMPT: &str = "application/vnd.ollama.image.prompt";
pub const MEDIA_SYSTEM: &str = "application/vnd.ollama.image.system";
pub const MEDIA_PARAMS: &str = "application/vnd.ollama.image.params";
pub const MEDIA_LICENSE: &str = "application/vnd.ollama.image.license";
pub const MEDIA_MESSAGES: &str = "application/vnd.ollama.image.messages";
pub const MEDIA_PROJECTOR: &str = "application/vnd.ollama.image.projector";
pub const MEDIA_ADAPTER: &str = "application/vnd.ollama.image.adapter";

/// A manifest larger than this is refused (Ollama's are about a kilobyte).
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// At most this many layers.
pub const MAX_LAYERS: usize = 256;
/// Text layers (config, template, system, params, license, messages) are at most this big.
pub const MAX_TEXT_LAYER_BYTES: u64 = 16 << 20;
/// No single blob may claim more than this (2 TiB).
pub const MAX_BLOB_BYTES: u64 = 2 << 40;

/// Whether a media type holds GGUF weights that must pass validation before install.
pub fn is_gguf_media(media_type: &str) -> bool {
    matches!(media_type, MEDIA_MODEL | MEDIA_PROJECTOR | MEDIA_ADAPTER)
}

/// One layer (or the config) of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layer {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// A parsed, validated manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub config: Layer,
    pub layers: Vec<Layer>,
}

#[derive(Deserialize)]
struct RawLayer {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    #[serde(default)]
    digest: String,
    #[serde(default)]
    size: i64,
    #[serde(default)]
    from: Option<String>,
}

#[derive(Deserialize)]
struct RawManifest {
    #[serde(rename = "schemaVersion", default)]
    schema_version: u32,
    #[serde(rename = "mediaType", default)]
    media_type: String,
    config: RawLayer,
    #[serde(default)]
    layers: Vec<RawLayer>,
}

impl Manifest {
    /// Parse and validate manifest bytes. `what` names the model or file in errors.
    pub fn parse(bytes: &[u8], what: &str) -> Result<Manifest> {
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(StoreError::TooLarge {
                what: format!("manifest for {what}"),
                size: bytes.len() as u64,
                limit: MAX_MANIFEST_BYTES,
            });
        }
        let raw: RawManifest =
            serde_json::from_slice(bytes).map_err(|source| StoreError::Json {
                what: format!("manifest for {what}"),
                source,
            })?;
        let invalid = |reason: String| StoreError::InvalidManifest {
            what: what.to_string(),
            reason,
        };
        if raw.schema_version != 2 {
            return Err(invalid(format!(
                "schemaVersion is {}, expected 2",
                raw.schema_version
            )));
        }
        if raw.layers.len() > MAX_LAYERS {
            return Err(invalid(format!(
                "{} layers, at most {MAX_LAYERS} allowed",
                raw.layers.len()
            )));
        }
        let layer = |i: Option<usize>, l: RawLayer| -> Result<Layer> {
            let at = match i {
                Some(i) => format!("layer {i}"),
                None => "config".to_string(),
            };
            let digest = Digest::parse(&l.digest)?;
            let size = u64::try_from(l.size)
                .map_err(|_| invalid(format!("{at} has negative size {}", l.size)))?;
            let limit = if is_gguf_media(&l.media_type) {
                MAX_BLOB_BYTES
            } else {
                MAX_TEXT_LAYER_BYTES
            };
            if size > limit {
                return Err(StoreError::TooLarge {
                    what: format!("{what} {at} ({})", l.media_type),
                    size,
                    limit,
                });
            }
            if l.media_type.is_empty() || l.media_type.len() > 200 {
                return Err(invalid(format!("{at} has no valid mediaType")));
            }
            Ok(Layer {
                media_type: l.media_type,
                digest,
                size,
                from: l.from.filter(|f| !f.is_empty()),
            })
        };
        let config = layer(None, raw.config)?;
        let layers = raw
            .layers
            .into_iter()
            .enumerate()
            .map(|(i, l)| layer(Some(i), l))
            .collect::<Result<Vec<_>>>()?;
        Ok(Manifest {
            schema_version: 2,
            media_type: if raw.media_type.is_empty() {
                MANIFEST_MEDIA_TYPE.to_string()
            } else {
                raw.media_type
            },
            config,
            layers,
        })
    }

    pub fn new(config: Layer, layers: Vec<Layer>) -> Manifest {
        Manifest {
            schema_version: 2,
            media_type: MANIFEST_MEDIA_TYPE.to_string(),
            config,
            layers,
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Config first, then the layers; each digest once.
    pub fn all_layers(&self) -> Vec<&Layer> {
        let mut out: Vec<&Layer> = Vec::with_capacity(self.layers.len() + 1);
        for l in std::iter::once(&self.config).chain(&self.layers) {
            if !out.iter().any(|o| o.digest == l.digest) {
                out.push(l);
            }
        }
        out
    }

    /// Total bytes of config and layers (each digest counted once).
    pub fn total_size(&self) -> u64 {
        self.all_layers()
            .iter()
            .fold(0u64, |a, l| a.saturating_add(l.size))
    }

    /// The first layer of a media type.
    pub fn layer(&self, media_type: &str) -> Option<&Layer> {
        self.layers.iter().find(|l| l.media_type == media_type)
    }

    /// The model weights layer.
    pub fn model_layer(&self) -> Option<&Layer> {
        self.layer(MEDIA_MODEL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32";

    fn manifest(layer_digest: &str, size: i64) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{MANIFEST_MEDIA_TYPE}",
            "config":{{"mediaType":"{CONFIG_MEDIA_TYPE}","digest":"{D}","size":10}},
            "layers":[{{"mediaType":"{MEDIA_MODEL}","digest":"{layer_digest}","size":{size}}}]}}"#
        )
    }

    #[test]
    fn parses_and_round_trips() {
        let m = Manifest::parse(manifest(D, 5).as_bytes(), "t").unwrap();
        assert_eq!(m.layers[0].size, 5);
        assert_eq!(m.all_layers().len(), 1); // same digest counted once
        let again = Manifest::parse(&m.to_json(), "t").unwrap();
        assert_eq!(again, m);
    }

    #[test]
    fn rejects_bad_digests_sizes_and_limits() {
        for d in [
            "sha256:../../x",
            &D[..D.len() - 1],
            &D.to_uppercase(),
            &D.replace("sha256", "sha512"),
        ] {
            let e = Manifest::parse(manifest(d, 5).as_bytes(), "t").unwrap_err();
            assert!(matches!(e, StoreError::InvalidDigest { .. }), "{d}: {e}");
        }
        assert!(Manifest::parse(manifest(D, -1).as_bytes(), "t").is_err());
        let huge = Manifest::parse(manifest(D, 3 << 40).as_bytes(), "t").unwrap_err();
        assert!(matches!(huge, StoreError::TooLarge { .. }));
        let big = vec![b' '; MAX_MANIFEST_BYTES as usize + 1];
        assert!(matches!(
            Manifest::parse(&big, "t").unwrap_err(),
            StoreError::TooLarge { .. }
        ));
        assert!(Manifest::parse(b"{}", "t").is_err());
    }
}
