//! `pull`: from an Ollama registry (`/v2/{ns}/{model}/manifests/{tag}`, `/v2/.../blobs/{digest}`),
//! from Hugging Face (`hf.co/owner/repo[:quant]`), or from a plain `https://…/file.gguf` URL.
//! A model is either fully installed and valid, or not installed at all: the manifest is
//! written last, after every blob is verified and every model layer passed validation.

use std::path::Path;

use crate::digest::Digest;
use crate::download::{BlobOutcome, BlobSpec, DownloadOptions, Downloader};
use crate::error::{Result, StoreError};
use crate::guard;
use crate::hf;
use crate::http::{Credential, Fetched, HttpClient, HttpOptions};
use crate::manifest::{self, Layer, Manifest, MAX_BLOB_BYTES, MAX_MANIFEST_BYTES};
use crate::name::ModelName;
use crate::progress::{Progress, PullEvent};
use crate::provenance::{url_host, Stage};
use crate::space;
use crate::store::{ModelConfig, Store};

/// Everything a pull can be told.
#[derive(Debug, Clone)]
pub struct PullOptions {
    pub http: HttpOptions,
    pub download: DownloadOptions,
    /// Hugging Face endpoint (`$HF_ENDPOINT`, default `https://huggingface.co`).
    pub hf_endpoint: String,
    /// Sent as a Bearer token to the Hugging Face endpoint's origin only (`$HF_TOKEN`).
    pub hf_token: Option<String>,
    /// A Bearer token for one registry host: sent only when pulling from that host
    /// (`$HEARTH_REGISTRY_TOKEN` for `$HEARTH_REGISTRY_TOKEN_HOST`, default the Ollama
    /// registry), never to a host a model name happens to spell.
    pub registry_token: Option<RegistryToken>,
    /// Hosts besides a registry's own that may issue its anonymous tokens (the `realm` of
    /// its `WWW-Authenticate` challenge): `$HEARTH_REGISTRY_AUTH_HOSTS`, default `ollama.com`
    /// (the Ollama registry's token service).
    pub auth_hosts: Vec<String>,
    /// The name to install a plain-URL pull under (default: derived from the file name).
    pub name: Option<ModelName>,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            http: HttpOptions::default(),
            download: DownloadOptions::default(),
            hf_endpoint: "https://huggingface.co".into(),
            hf_token: None,
            registry_token: None,
            auth_hosts: vec!["ollama.com".into()],
            name: None,
        }
    }
}

/// A registry credential and the host it belongs to.
#[derive(Clone)]
pub struct RegistryToken {
    /// Registry host (`registry.ollama.ai`, `registry.example:5000`), compared case-blind.
    pub host: String,
    pub token: String,
}

impl std::fmt::Debug for RegistryToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RegistryToken({} <redacted>)", self.host)
    }
}

impl RegistryToken {
    /// Whether this token belongs to the registry `host`.
    pub fn is_for(&self, host: &str) -> bool {
        self.host.eq_ignore_ascii_case(host)
    }
}

impl PullOptions {
    /// Defaults plus `HF_ENDPOINT`, `HF_TOKEN` and `HEARTH_REGISTRY_TOKEN` from the environment.
    pub fn from_env() -> PullOptions {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut o = PullOptions::default();
        if let Some(e) = var("HF_ENDPOINT") {
            o.hf_endpoint = e.trim_end_matches('/').to_string();
        }
        o.hf_token = var("HF_TOKEN").or_else(|| var("HUGGING_FACE_HUB_TOKEN"));
        o.registry_token = var("HEARTH_REGISTRY_TOKEN").map(|token| RegistryToken {
            host: var("HEARTH_REGISTRY_TOKEN_HOST")
                .unwrap_or_else(|| crate::name::DEFAULT_HOST.to_string()),
            token,
        });
        if let Some(h) = var("HEARTH_REGISTRY_AUTH_HOSTS") {
            o.auth_hosts = h
                .split(',')
                .map(|x| x.trim().to_ascii_lowercase())
                .filter(|x| !x.is_empty())
                .collect();
        }
        o
    }
}

/// What a pull string names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullSource {
    Registry(ModelName),
    HuggingFace(ModelName),
    /// A direct file URL, with an optional expected digest from a `#sha256=<hex>` fragment.
    Url {
        url: String,
        sha256: Option<Digest>,
    },
}

impl PullSource {
    pub fn parse(s: &str) -> Result<PullSource> {
        let lower = s.to_ascii_lowercase();
        let is_url = (lower.starts_with("https://") || lower.starts_with("http://"))
            && (lower
                .split('#')
                .next()
                .unwrap_or("")
                .split('?')
                .next()
                .unwrap_or("")
                .ends_with(".gguf")
                || s.matches('/').count() > 5);
        if is_url {
            let (url, frag) = match s.split_once('#') {
                Some((u, f)) => (u, Some(f)),
                None => (s, None),
            };
            let sha256 = match frag {
                Some(f) => Some(
                    f.strip_prefix("sha256=")
                        .and_then(Digest::from_hex)
                        .ok_or_else(|| StoreError::InvalidDigest { digest: f.into() })?,
                ),
                None => None,
            };
            return Ok(PullSource::Url {
                url: url.to_string(),
                sha256,
            });
        }
        let n = ModelName::parse(s)?;
        Ok(if n.is_huggingface() {
            PullSource::HuggingFace(n)
        } else {
            PullSource::Registry(n)
        })
    }
}

/// A name for a URL pull: the file's stem, lower-cased, invalid characters replaced.
pub fn name_for_url(url: &str) -> Result<ModelName> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let file = path.rsplit('/').next().unwrap_or("");
    let stem = file
        .strip_suffix(".gguf")
        .or(file.strip_suffix(".GGUF"))
        .unwrap_or(file);
    let mut s: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(80)
        .collect();
    while s.starts_with(['-', '.']) {
        s.remove(0);
    }
    ModelName::parse(&s)
}

impl Store {
    /// Pull a model (registry name, `hf.co/...` name, or URL). Progress events go to
    /// `progress`; returns the installed name.
    pub fn pull(
        &self,
        what: &str,
        opts: &PullOptions,
        progress: Progress<'_>,
    ) -> Result<ModelName> {
        self.writable()?;
        let client = HttpClient::new(opts.http.clone());
        let src = PullSource::parse(what)?;
        // The layers of the version this pull replaces, collected afterwards (as Ollama does).
        let target = match &src {
            PullSource::Registry(n) | PullSource::HuggingFace(n) => Some(n.clone()),
            PullSource::Url { url, .. } => opts.name.clone().or_else(|| name_for_url(url).ok()),
        };
        let previous: Vec<Digest> = target
            .and_then(|n| self.read_manifest(&n).ok())
            .map(|(m, _, _)| {
                m.all_layers()
                    .into_iter()
                    .map(|l| l.digest.clone())
                    .collect()
            })
            .unwrap_or_default();
        let gc = self.gc_lock(false)?;
        let mut fetched: Vec<Digest> = Vec::new();
        let result = match src {
            PullSource::Registry(n) => {
                self.pull_registry(&client, &n, opts, progress, &mut fetched)
            }
            PullSource::HuggingFace(n) => self.pull_hf(&client, &n, opts, progress, &mut fetched),
            PullSource::Url { url, sha256 } => match &opts.name {
                Some(n) => Ok(n.clone()),
                None => name_for_url(&url),
            }
            .and_then(|name| {
                self.pull_url(&client, &url, sha256, &name, opts, progress, &mut fetched)?;
                Ok(name)
            }),
        };
        match result {
            Ok(name) => {
                drop(gc);
                if let Ok((m, _, _)) = self.read_manifest(&name) {
                    let now: Vec<&Digest> = m.all_layers().into_iter().map(|l| &l.digest).collect();
                    let stale: Vec<Digest> =
                        previous.into_iter().filter(|d| !now.contains(&d)).collect();
                    if !stale.is_empty() {
                        progress(&PullEvent::status("removing unused layers"));
                        if let Ok(_gc) = self.gc_lock(true) {
                            self.discard_unreferenced(&stale);
                        }
                    }
                }
                progress(&PullEvent::status("success"));
                Ok(name)
            }
            Err(e) => {
                // A verified blob is kept for the next try after a network failure; after
                // any other failure the pull leaves nothing behind.
                if !(e.is_transient() || matches!(e, StoreError::Cancelled)) {
                    self.discard_unreferenced(&fetched);
                }
                Err(e)
            }
        }
    }

    fn downloader<'a>(
        &'a self,
        client: &'a HttpClient,
        opts: &'a PullOptions,
        progress: Progress<'a>,
        blobs: &'a Path,
    ) -> Downloader<'a> {
        Downloader {
            client,
            blobs,
            opts: &opts.download,
            progress,
        }
    }

    fn pull_registry(
        &self,
        client: &HttpClient,
        name: &ModelName,
        opts: &PullOptions,
        progress: Progress<'_>,
        fetched: &mut Vec<Digest>,
    ) -> Result<ModelName> {
        progress(&PullEvent::status("pulling manifest"));
        let base = name.base_url();
        let manifest_url = format!("{base}/v2/{}/manifests/{}", name.repository(), name.tag);
        let accept = [("Accept", manifest::MANIFEST_MEDIA_TYPE.to_string())];
        let mut cred = match &opts.registry_token {
            Some(t) if t.is_for(&name.host) => Some(Credential::bearer(&manifest_url, &t.token)?),
            Some(t) => {
                tracing::debug!(token_host = %t.host, host = %name.host, "registry token not sent: another host");
                None
            }
            None => None,
        };
        let mut resp = client.get(&manifest_url, &accept, cred.as_ref())?;
        if resp.status() == 401 {
            if let Some(c) = anonymous_token(client, &resp, &manifest_url, &opts.auth_hosts)? {
                cred = Some(c);
                resp = client.get(&manifest_url, &accept, cred.as_ref())?;
            }
        }
        if resp.status() == 404 {
            return Err(StoreError::NotFound(format!("{name} (registry {base})")));
        }
        let what = name.display_shortest();
        let bytes = resp
            .error_for_status()?
            .read_limited(MAX_MANIFEST_BYTES, &format!("manifest for {what}"))?;
        let m = Manifest::parse(&bytes, &what)?;
        let Some(model_digest) = m.model_layer().map(|l| l.digest.clone()) else {
            return Err(StoreError::InvalidManifest {
                what,
                reason: "no model layer".into(),
            });
        };
        // The manifest names the model file's digest: refuse before downloading anything.
        self.enforce_policy(
            Stage::Pull,
            name,
            Some(&name.host),
            Some(&model_digest.to_string()),
            &[],
        )?;
        let _space = self.reserve_space(
            &m.all_layers()
                .iter()
                .map(|l| (&l.digest, l.size))
                .collect::<Vec<_>>(),
        )?;
        let blobs = self.blobs_dir();
        let dl = self.downloader(client, opts, progress, &blobs);
        let mut scan = None;
        for l in m.all_layers() {
            let spec = BlobSpec {
                url: format!("{base}/v2/{}/blobs/{}", name.repository(), l.digest),
                credential: cred.clone(),
                expected: Some(l.digest.clone()),
                size: Some(l.size),
                media_type: l.media_type.clone(),
                label: format!("{} layer {}", what, l.digest),
                max_size: l.size,
            };
            let out = dl.fetch(&spec)?;
            if l.digest == model_digest {
                scan = scan.max(out.scan);
            }
            if !out.cached {
                fetched.push(out.digest.clone());
            }
        }
        scan = scan.max(self.finish(name, &m, Some(&bytes), progress, fetched)?);
        self.record_install(
            name,
            &name.host,
            &manifest_url,
            &model_digest.to_string(),
            scan,
        )?;
        Ok(name.clone())
    }

    /// Verify model layers that were already present (the ones fetched now were checked
    /// before they entered `blobs/`), then write the manifest. Returns the worst scan result
    /// of the model layers checked here.
    fn finish(
        &self,
        name: &ModelName,
        m: &Manifest,
        raw: Option<&[u8]>,
        progress: Progress<'_>,
        fetched: &[Digest],
    ) -> Result<Option<guard::ScanResult>> {
        progress(&PullEvent::status("verifying sha256 digest"));
        let mut scan = None;
        for l in &m.layers {
            if !fetched.contains(&l.digest) {
                let s = guard::check_layer_file(&self.blob_path(&l.digest), &l.media_type)?;
                if l.media_type == manifest::MEDIA_MODEL {
                    scan = scan.max(s);
                }
            }
        }
        progress(&PullEvent::status("writing manifest"));
        match raw {
            Some(bytes) => self.write_manifest_bytes(name, m, bytes)?,
            None => self.write_manifest(name, m)?,
        }
        Ok(scan)
    }

    /// Refuse before downloading when the missing blobs cannot fit beside what concurrent
    /// pulls have reserved; hold their space until the returned reservation is dropped.
    fn reserve_space(&self, layers: &[(&Digest, u64)]) -> Result<space::Reservation> {
        let blobs = self.blobs_dir();
        let wants = layers
            .iter()
            .filter(|(d, _)| !self.blob_path(d).is_file())
            .map(|(d, size)| space::Want {
                partial: blobs.join(format!("{}-partial", d.file_name())),
                dest: self.blob_path(d),
                size: *size,
            })
            .collect();
        space::reserve(&blobs, wants)
    }

    fn pull_hf(
        &self,
        client: &HttpClient,
        name: &ModelName,
        opts: &PullOptions,
        progress: Progress<'_>,
        fetched: &mut Vec<Digest>,
    ) -> Result<ModelName> {
        progress(&PullEvent::status("pulling manifest"));
        let endpoint = opts.hf_endpoint.trim_end_matches('/');
        let cred = match &opts.hf_token {
            Some(t) => Some(Credential::bearer(endpoint, t)?),
            None => None,
        };
        let entries = hf::list(client, endpoint, name, cred.as_ref())?;
        let file = hf::choose(&entries, name)?;
        if file.size > MAX_BLOB_BYTES {
            return Err(StoreError::TooLarge {
                what: format!("{}/{}", name.repository(), file.path),
                size: file.size,
                limit: MAX_BLOB_BYTES,
            });
        }
        let url = hf::resolve_url(endpoint, name, &file.path);
        let registry = url_host(endpoint);
        if let Some(d) = &file.sha256 {
            self.enforce_policy(
                Stage::Pull,
                name,
                Some(&registry),
                Some(&d.to_string()),
                &[],
            )?;
        }
        let _space = match &file.sha256 {
            Some(d) => Some(self.reserve_space(&[(d, file.size)])?),
            None => {
                space::check_free_space(&self.blobs_dir(), file.size)?;
                None
            }
        };
        let blobs = self.blobs_dir();
        let dl = self.downloader(client, opts, progress, &blobs);
        let out = dl.fetch(&BlobSpec {
            url: url.clone(),
            credential: cred,
            expected: file.sha256.clone(),
            size: Some(file.size),
            media_type: manifest::MEDIA_MODEL.into(),
            label: format!("{}/{}", name.repository(), file.path),
            max_size: file.size,
        })?;
        if !out.cached {
            fetched.push(out.digest.clone());
        }
        self.install_single(name, &out, (&registry, &url), progress, fetched)?;
        Ok(name.clone())
    }

    #[allow(clippy::too_many_arguments)]
    fn pull_url(
        &self,
        client: &HttpClient,
        url: &str,
        sha256: Option<Digest>,
        name: &ModelName,
        opts: &PullOptions,
        progress: Progress<'_>,
        fetched: &mut Vec<Digest>,
    ) -> Result<()> {
        client.check_url(url)?;
        let registry = url_host(url);
        if let Some(d) = &sha256 {
            self.enforce_policy(
                Stage::Pull,
                name,
                Some(&registry),
                Some(&d.to_string()),
                &[],
            )?;
        }
        let blobs = self.blobs_dir();
        let dl = self.downloader(client, opts, progress, &blobs);
        let out = dl.fetch(&BlobSpec {
            url: url.to_string(),
            credential: None,
            expected: sha256,
            size: None,
            media_type: manifest::MEDIA_MODEL.into(),
            label: url.to_string(),
            max_size: MAX_BLOB_BYTES,
        })?;
        if !out.cached {
            fetched.push(out.digest.clone());
        }
        self.install_single(name, &out, (&registry, url), progress, fetched)
    }

    /// Manifest for a model that is one GGUF blob: config from its metadata, one model layer;
    /// `(registry, url)` go into its provenance record.
    fn install_single(
        &self,
        name: &ModelName,
        out: &BlobOutcome,
        (registry, url): (&str, &str),
        progress: Progress<'_>,
        fetched: &mut Vec<Digest>,
    ) -> Result<()> {
        // Checked again now that the digest is known (a no-op when it was checked up front).
        self.enforce_policy(
            Stage::Pull,
            name,
            Some(registry),
            Some(&out.digest.to_string()),
            &[],
        )?;
        let model = Layer {
            media_type: manifest::MEDIA_MODEL.into(),
            digest: out.digest.clone(),
            size: out.size,
            from: None,
        };
        let config = self.config_layer(&self.blob_path(&out.digest))?;
        fetched.push(config.digest.clone());
        let m = Manifest::new(config, vec![model]);
        let scan = out
            .scan
            .max(self.finish(name, &m, None, progress, fetched)?);
        self.record_install(name, registry, url, &out.digest.to_string(), scan)
    }

    /// Write the config blob describing a GGUF file and return its layer.
    pub(crate) fn config_layer(&self, gguf: &Path) -> Result<Layer> {
        let f = hearth_gguf::GgufFile::open(gguf).map_err(|source| StoreError::InvalidModel {
            path: gguf.to_path_buf(),
            source: Box::new(source),
        })?;
        let s = f.summary();
        let family = s.architecture.clone().unwrap_or_default();
        let cfg = ModelConfig {
            model_format: "gguf".into(),
            model_family: family.clone(),
            model_families: Some(vec![family]),
            model_type: s.parameter_size.clone(),
            file_type: s.file_type.clone().unwrap_or_default(),
            renderer: String::new(),
            parser: String::new(),
            architecture: std::env::consts::ARCH
                .replace("x86_64", "amd64")
                .replace("aarch64", "arm64"),
            os: std::env::consts::OS.into(),
        };
        let bytes = serde_json::to_vec(&cfg).unwrap_or_default();
        let (digest, size) = crate::download::write_blob(&self.blobs_dir(), &bytes)?;
        Ok(Layer {
            media_type: manifest::CONFIG_MEDIA_TYPE.into(),
            digest,
            size,
            from: None,
        })
    }
}

/// Docker-style anonymous token: `WWW-Authenticate: Bearer realm="…",service="…",scope="…"`.
///
/// The realm is followed only on the registry's own origin, or over https on an allowed auth
/// host: a registry must not steer hearth at another server (a token service on an internal
/// address, or one that collects what hearth sends).
fn anonymous_token(
    client: &HttpClient,
    resp: &Fetched,
    url: &str,
    auth_hosts: &[String],
) -> Result<Option<Credential>> {
    let Some(h) = resp.header("www-authenticate") else {
        return Ok(None);
    };
    let Some(params) = h
        .trim()
        .strip_prefix("Bearer ")
        .or(h.trim().strip_prefix("bearer "))
    else {
        return Ok(None);
    };
    let get = |k: &str| -> Option<String> {
        params.split(',').find_map(|kv| {
            let (key, v) = kv.trim().split_once('=')?;
            (key.trim() == k).then(|| v.trim().trim_matches('"').to_string())
        })
    };
    let Some(realm) = get("realm") else {
        return Ok(None);
    };
    realm_allowed(&realm, url, auth_hosts)?;
    let mut token_url = realm.clone();
    let mut sep = if realm.contains('?') { '&' } else { '?' };
    for k in ["service", "scope"] {
        if let Some(v) = get(k) {
            token_url.push(sep);
            token_url.push_str(&format!("{k}={}", query_escape(&v)));
            sep = '&';
        }
    }
    let body = client
        .get(&token_url, &[], None)?
        .error_for_status()?
        .read_limited(64 << 10, "registry token")?;
    #[derive(serde::Deserialize)]
    struct Tok {
        token: Option<String>,
        access_token: Option<String>,
    }
    let t: Tok = serde_json::from_slice(&body).map_err(|source| StoreError::Json {
        what: format!("token from {realm}"),
        source,
    })?;
    match t.token.or(t.access_token) {
        Some(tok) => Ok(Some(Credential::bearer(url, &tok)?)),
        None => Ok(None),
    }
}

/// A challenge's `realm` may be the registry's own origin, or https on an allowed host.
fn realm_allowed(realm: &str, registry_url: &str, auth_hosts: &[String]) -> Result<()> {
    let refuse = |reason: &str| StoreError::Refused {
        what: format!(
            "token realm {}",
            realm.chars().take(200).collect::<String>()
        ),
        reason: reason.to_string(),
    };
    let r = crate::http::parse_uri(realm).map_err(|_| refuse("not an absolute URL"))?;
    let reg = crate::http::parse_uri(registry_url)?;
    if crate::http::origin(&r) == crate::http::origin(&reg) {
        return Ok(());
    }
    let host = r.host().unwrap_or("").to_ascii_lowercase();
    if r.scheme_str() != Some("https") {
        return Err(refuse("a token service on another host must use https"));
    }
    if !auth_hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)) {
        return Err(refuse(
            "the registry sent hearth to a token service on another host (allow it with \
             HEARTH_REGISTRY_AUTH_HOSTS)",
        ));
    }
    Ok(())
}

fn query_escape(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':' | b'/') {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realms_only_on_the_registry_or_allowed_https_hosts() {
        let allow = vec!["ollama.com".to_string()];
        let reg = "http://127.0.0.1:5000/v2/ns/m/manifests/latest";
        assert!(realm_allowed("http://127.0.0.1:5000/token", reg, &allow).is_ok());
        assert!(realm_allowed("http://localhost:5000/token", reg, &allow).is_err());
        assert!(realm_allowed("http://127.0.0.1:5001/token", reg, &allow).is_err());
        assert!(realm_allowed("https://ollama.com/token", reg, &allow).is_ok());
        assert!(realm_allowed("http://ollama.com/token", reg, &allow).is_err());
        assert!(realm_allowed("https://evil.example/token", reg, &allow).is_err());
        assert!(realm_allowed("/token", reg, &allow).is_err());
        let t = RegistryToken {
            host: "Registry.Example:5000".into(),
            token: "s3cr3t".into(),
        };
        assert!(t.is_for("registry.example:5000") && !t.is_for("registry.example"));
        assert!(!format!("{t:?}").contains("s3cr3t"));
    }

    #[test]
    fn sources() {
        assert!(matches!(
            PullSource::parse("qwen2.5-coder:7b").unwrap(),
            PullSource::Registry(_)
        ));
        assert!(matches!(
            PullSource::parse("hf.co/o/r:Q4_K_M").unwrap(),
            PullSource::HuggingFace(_)
        ));
        let u = PullSource::parse("https://example.com/x/Model-Q4.gguf").unwrap();
        assert!(matches!(u, PullSource::Url { sha256: None, .. }));
        let h = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32";
        let u = PullSource::parse(&format!("https://example.com/m.gguf#sha256={h}")).unwrap();
        assert!(matches!(
            u,
            PullSource::Url {
                sha256: Some(_),
                ..
            }
        ));
        assert!(PullSource::parse("https://example.com/m.gguf#sha256=../x").is_err());
        assert!(matches!(
            PullSource::parse("http://127.0.0.1:5/ns/m:t").unwrap(),
            PullSource::Registry(_)
        ));
        assert_eq!(
            name_for_url("https://h/a/Qwen2.5 Coder.gguf?x=1")
                .unwrap()
                .model,
            "qwen2.5-coder"
        );
    }
}
