//! Pull from a local registry / Hugging Face / URL server, with fault injection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use hearth_store::{Digest, ModelName, Store, StoreError};

const TEMPLATE: &str = "{{ .System }}<|user|>{{ .Prompt }}<|assistant|>";

fn store() -> (tempfile::TempDir, Store) {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(d.path().join("models")).unwrap();
    (d, s)
}

#[test]
fn registry_pull_installs_resolves_and_skips_present_blobs() {
    let srv = Server::start();
    let gguf = tiny_gguf();
    let d = Digest::from_bytes(&gguf);
    serve_registry_model(
        &srv,
        "library/tiny",
        "latest",
        Body::Bytes(gguf.clone().into()),
        &d,
        &[
            ("application/vnd.ollama.image.template", TEMPLATE.as_bytes()),
            ("application/vnd.ollama.image.system", b"Be brief."),
            (
                "application/vnd.ollama.image.params",
                br#"{"stop":["<|end|>"],"temperature":0.2}"#,
            ),
        ],
    );
    let (_t, st) = store();
    let (events, sink) = recorder();
    let name = st
        .pull(
            &format!("http://{}/library/tiny", srv.host()),
            &opts(),
            &sink,
        )
        .unwrap();
    assert_eq!(name.tag, "latest");
    let statuses: Vec<String> = events
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.status.clone())
        .collect();
    assert_eq!(statuses.first().unwrap(), "pulling manifest");
    assert!(statuses
        .iter()
        .any(|s| s == &format!("pulling {}", d.short())));
    let tail: Vec<&str> = statuses
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        ["verifying sha256 digest", "writing manifest", "success"]
    );
    let ev = events
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e.digest.as_deref() == Some(&d.to_string()))
        .cloned()
        .unwrap();
    assert_eq!(
        (ev.total, ev.completed),
        (Some(gguf.len() as u64), Some(gguf.len() as u64))
    );

    let r = st
        .resolve(&format!("{}/library/tiny:latest", srv.host()))
        .unwrap();
    assert_eq!(std::fs::read(&r.gguf_path).unwrap(), gguf);
    assert_eq!(r.template.as_deref(), Some(TEMPLATE));
    assert_eq!(r.system.as_deref(), Some("Be brief."));
    assert_eq!(r.params["stop"], serde_json::json!(["<|end|>"]));
    // The manifest is stored byte-for-byte as the registry sent it (same id as Ollama's).
    let raw = std::fs::read(st.manifest_path(&name)).unwrap();
    assert_eq!(Digest::from_bytes(&raw).hex(), r.digest);
    assert!(files_under(&st.blobs_dir())
        .iter()
        .all(|f| f.starts_with("sha256-") && !f.contains("partial")));

    // Pulling again downloads no blob.
    srv.clear_seen();
    st.pull(
        &format!("http://{}/library/tiny", srv.host()),
        &opts(),
        &|_| {},
    )
    .unwrap();
    assert_eq!(srv.bytes_sent("/blobs/"), 0, "{:?}", srv.seen());
}

#[test]
fn bad_digests_are_rejected_before_any_file_exists() {
    let good = Digest::from_bytes(b"x").to_string();
    for bad in [
        "sha256:../../x".to_string(),
        good[..good.len() - 1].to_string(),
        good.to_uppercase().replace("SHA256", "sha256"),
        good.replace("sha256", "sha512"),
    ] {
        let srv = Server::start();
        let m = serde_json::json!({"schemaVersion": 2, "mediaType": "x",
            "config": {"mediaType": CONFIG, "digest": good, "size": 1},
            "layers": [{"mediaType": MODEL, "digest": bad, "size": 10}]});
        srv.bytes(
            "/v2/library/m/manifests/latest",
            serde_json::to_vec(&m).unwrap(),
        );
        let (_t, st) = store();
        let e = st
            .pull(
                &format!("http://{}/library/m", srv.host()),
                &opts(),
                &|_| {},
            )
            .unwrap_err();
        assert!(matches!(e, StoreError::InvalidDigest { .. }), "{bad}: {e}");
        assert!(
            files_under(st.root())
                .iter()
                .all(|f| f.starts_with("locks")),
            "{:?}",
            files_under(st.root())
        );
        assert!(files_under(&st.blobs_dir()).is_empty());
        assert_eq!(srv.bytes_sent("/blobs/"), 0);
    }
}

#[test]
fn wrong_digest_leaves_nothing() {
    let srv = Server::start();
    let gguf = tiny_gguf();
    let claimed = Digest::from_bytes(b"something else");
    let m = serve_registry_model(
        &srv,
        "library/w",
        "latest",
        Body::Bytes(gguf.into()),
        &claimed,
        &[],
    );
    let _ = m;
    let (_t, st) = store();
    let e = st
        .pull(
            &format!("http://{}/library/w", srv.host()),
            &opts(),
            &|_| {},
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::DigestMismatch { .. } | StoreError::SizeMismatch { .. }
        ),
        "{e}"
    );
    assert!(
        files_under(&st.blobs_dir()).is_empty(),
        "{:?}",
        files_under(&st.blobs_dir())
    );
    assert!(files_under(&st.manifests_dir()).is_empty());
}

#[test]
fn invalid_gguf_or_pickle_is_not_installed() {
    for payload in [
        b"GGUF\x03\x00\x00\x00garbage-that-is-not-a-model".to_vec(),
        b"PK\x03\x04pytorch".to_vec(),
        b"\x80\x02}q\x00.".to_vec(),
    ] {
        let srv = Server::start();
        let d = Digest::from_bytes(&payload);
        serve_registry_model(
            &srv,
            "library/bad",
            "latest",
            Body::Bytes(payload.into()),
            &d,
            &[],
        );
        let (_t, st) = store();
        let e = st
            .pull(
                &format!("http://{}/library/bad", srv.host()),
                &opts(),
                &|_| {},
            )
            .unwrap_err();
        assert!(
            matches!(
                e,
                StoreError::InvalidModel { .. } | StoreError::Refused { .. }
            ),
            "{e}"
        );
        assert!(
            files_under(&st.blobs_dir()).is_empty(),
            "{:?}",
            files_under(&st.blobs_dir())
        );
        assert!(files_under(&st.manifests_dir()).is_empty());
    }
}

#[test]
fn one_terabyte_is_refused_for_disk_space() {
    let srv = Server::start();
    let d = Digest::from_bytes(b"huge");
    serve_registry_model(
        &srv,
        "library/huge",
        "latest",
        Body::Zeros(1 << 40),
        &d,
        &[],
    );
    let (_t, st) = store();
    let e = st
        .pull(
            &format!("http://{}/library/huge", srv.host()),
            &opts(),
            &|_| {},
        )
        .unwrap_err();
    assert!(matches!(e, StoreError::DiskSpace { .. }), "{e}");
    assert_eq!(srv.bytes_sent("/blobs/"), 0);
    assert!(files_under(&st.blobs_dir()).is_empty());
}

#[test]
fn hundred_megabyte_manifest_is_refused() {
    let srv = Server::start();
    srv.route(
        "/v2/library/big/manifests/latest",
        Route::Static {
            body: Body::Zeros(100 << 20),
            headers: vec![],
        },
    );
    let (_t, st) = store();
    let e = st
        .pull(
            &format!("http://{}/library/big", srv.host()),
            &opts(),
            &|_| {},
        )
        .unwrap_err();
    assert!(matches!(e, StoreError::TooLarge { .. }), "{e}");
    assert!(
        srv.bytes_sent("manifests") < 8 << 20,
        "read at most the limit"
    );
    assert!(files_under(&st.blobs_dir()).is_empty());
}

#[test]
fn resume_after_dropped_connection_and_server_ignoring_range() {
    // A synthetic 3 MiB model: valid GGUF followed by a large tensor.
    let gguf = hearth_gguf::GgufWriter::new()
        .kv(
            "general.architecture",
            hearth_gguf::Value::String("llama".into()),
        )
        .tensor("t", &[256, 3072], hearth_gguf::GgmlType::F32)
        .to_bytes();
    let d = Digest::from_bytes(&gguf);
    let len = gguf.len() as u64;
    for ignore_range in [false, true] {
        let srv = Server::start();
        srv.ignore_range
            .store(ignore_range, std::sync::atomic::Ordering::Relaxed);
        serve_registry_model(
            &srv,
            "library/r",
            "latest",
            Body::Bytes(gguf.clone().into()),
            &d,
            &[],
        );
        let blob_path = format!("/v2/library/r/blobs/{d}");
        let reached = len * 7 / 10;
        srv.drop_after(&blob_path, reached);
        let (_t, st) = store();
        let mut o = opts();
        o.download.retries = 0;
        let e = st
            .pull(&format!("http://{}/library/r", srv.host()), &o, &|_| {})
            .unwrap_err();
        assert!(e.is_transient(), "{e}");
        assert!(!st
            .manifest_path(&ModelName::parse(&format!("{}/library/r", srv.host())).unwrap())
            .exists());
        assert_eq!(
            std::fs::metadata(st.blobs_dir().join(format!("{}-partial", d.file_name())))
                .unwrap()
                .len(),
            reached
        );
        srv.clear_seen();
        st.pull(&format!("http://{}/library/r", srv.host()), &o, &|_| {})
            .unwrap();
        let again = srv.bytes_sent(&blob_path);
        if ignore_range {
            assert_eq!(
                again, len,
                "server ignored Range: whole file fetched and verified"
            );
        } else {
            assert_eq!(again, len - reached);
            let redownloaded = again - (len - reached);
            assert!(
                redownloaded * 10 < len,
                "re-downloaded {redownloaded} of {len}"
            );
            assert_eq!(
                srv.seen()
                    .iter()
                    .find(|s| s.path == blob_path)
                    .unwrap()
                    .headers["range"],
                format!("bytes={reached}-")
            );
        }
        assert_eq!(Digest::of_file(&st.blob_path(&d)).unwrap().0, d);
        assert!(files_under(&st.blobs_dir())
            .iter()
            .all(|f| !f.contains("partial")));
    }
}

#[test]
fn in_process_retry_resumes() {
    let gguf = tiny_gguf();
    let d = Digest::from_bytes(&gguf);
    let srv = Server::start();
    serve_registry_model(
        &srv,
        "library/t",
        "latest",
        Body::Bytes(gguf.clone().into()),
        &d,
        &[],
    );
    let p = format!("/v2/library/t/blobs/{d}");
    srv.drop_after(&p, 100);
    srv.drop_after(&p, 200);
    let (_t, st) = store();
    st.pull(
        &format!("http://{}/library/t", srv.host()),
        &opts(),
        &|_| {},
    )
    .unwrap();
    assert_eq!(
        srv.bytes_sent(&p),
        gguf.len() as u64,
        "each byte fetched once"
    );
}

#[test]
fn hf_pull_and_redirect_drops_authorization() {
    let gguf = tiny_gguf();
    let d = Digest::from_bytes(&gguf);
    let hf = Server::start();
    let cdn = Server::start();
    let tree = serde_json::json!([
        {"type": "file", "path": "README.md", "size": 10, "oid": "abc"},
        {"type": "file", "path": "tiny-Q8_0.gguf", "size": gguf.len(), "oid": "x",
         "lfs": {"oid": d.hex(), "size": gguf.len(), "pointerSize": 134}},
        {"type": "file", "path": "tiny-Q4_K_M.gguf", "size": gguf.len(), "oid": "y",
         "lfs": {"oid": d.hex(), "size": gguf.len(), "pointerSize": 134}},
    ]);
    hf.bytes(
        "/api/models/acme/Tiny-GGUF/tree/main",
        serde_json::to_vec(&tree).unwrap(),
    );
    hf.route(
        "/acme/Tiny-GGUF/resolve/main/tiny-Q4_K_M.gguf",
        Route::Redirect(format!("{}/cdn/blob", cdn.base)),
    );
    cdn.bytes("/cdn/blob", gguf.clone());
    let (_t, st) = store();
    let mut o = opts();
    o.hf_endpoint = hf.base.clone();
    o.hf_token = Some("secret-token".into());
    let name = st.pull("hf.co/acme/Tiny-GGUF:q4_k_m", &o, &|_| {}).unwrap();
    assert_eq!(name.display_shortest(), "hf.co/acme/Tiny-GGUF:q4_k_m");
    let r = st.resolve("hf.co/acme/Tiny-GGUF:q4_k_m").unwrap();
    assert_eq!(std::fs::read(&r.gguf_path).unwrap(), gguf);
    assert_eq!(r.config.model_family, "llama");
    let hf_seen = hf.seen();
    assert!(
        hf_seen
            .iter()
            .all(|s| s.headers.get("authorization").map(String::as_str)
                == Some("Bearer secret-token"))
    );
    let cdn_seen = cdn.seen();
    assert!(!cdn_seen.is_empty());
    assert!(
        cdn_seen
            .iter()
            .all(|s| !s.headers.contains_key("authorization")),
        "{cdn_seen:?}"
    );
}

#[test]
fn url_pull_with_and_without_digest() {
    let gguf = tiny_gguf();
    let d = Digest::from_bytes(&gguf);
    let srv = Server::start();
    srv.bytes("/files/Tiny-Model.gguf", gguf.clone());
    let (_t, st) = store();
    let name = st
        .pull(
            &format!("{}/files/Tiny-Model.gguf", srv.base),
            &opts(),
            &|_| {},
        )
        .unwrap();
    assert_eq!(name.display_shortest(), "tiny-model:latest");
    assert_eq!(
        std::fs::read(st.resolve("tiny-model").unwrap().gguf_path).unwrap(),
        gguf
    );
    let wrong = Digest::from_bytes(b"no");
    let (_t2, st2) = store();
    let e = st2
        .pull(
            &format!("{}/files/Tiny-Model.gguf#sha256={}", srv.base, wrong.hex()),
            &opts(),
            &|_| {},
        )
        .unwrap_err();
    assert!(matches!(e, StoreError::DigestMismatch { .. }), "{e}");
    assert!(files_under(&st2.blobs_dir()).is_empty());
    st2.pull(
        &format!("{}/files/Tiny-Model.gguf#sha256={}", srv.base, d.hex()),
        &opts(),
        &|_| {},
    )
    .unwrap();
}

#[test]
fn concurrent_pulls_download_each_blob_once() {
    let gguf = hearth_gguf::GgufWriter::new()
        .kv(
            "general.architecture",
            hearth_gguf::Value::String("llama".into()),
        )
        .tensor("t", &[1024, 2048], hearth_gguf::GgmlType::F32)
        .to_bytes();
    let d = Digest::from_bytes(&gguf);
    let srv = Server::start();
    serve_registry_model(
        &srv,
        "library/c",
        "latest",
        Body::Bytes(gguf.clone().into()),
        &d,
        &[],
    );
    let (_t, st) = store();
    let name = format!("http://{}/library/c", srv.host());
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|_| s.spawn(|| st.pull(&name, &opts(), &|_| {})))
            .collect();
        for h in hs {
            h.join().unwrap().unwrap();
        }
    });
    assert_eq!(srv.bytes_sent(&format!("/blobs/{d}")), gguf.len() as u64);
    assert!(st.resolve(&name).is_ok());
}

#[test]
fn plain_http_to_remote_hosts_is_refused() {
    let (_t, st) = store();
    let e = st
        .pull("http://example.invalid/ns/m:t", &opts(), &|_| {})
        .unwrap_err();
    assert!(matches!(e, StoreError::Refused { .. }), "{e}");
}

#[test]
fn registry_bearer_challenge_and_repull_prunes_old_layers() {
    let srv = Server::start();
    let v1 = tiny_gguf();
    let d1 = Digest::from_bytes(&v1);
    serve_registry_model(
        &srv,
        "ns/m",
        "latest",
        Body::Bytes(v1.clone().into()),
        &d1,
        &[],
    );
    // Protect the manifest behind a Docker-style bearer challenge.
    let manifest = srv.take("/v2/ns/m/manifests/latest");
    srv.route(
        "/v2/ns/m/manifests/latest",
        Route::Auth {
            token: "tok123".into(),
            challenge: format!(
                "Bearer realm=\"{}/token\",service=\"reg\",scope=\"repository:ns/m:pull\"",
                srv.base
            ),
            inner: Box::new(manifest),
        },
    );
    srv.bytes("/token", br#"{"token":"tok123"}"#.to_vec());
    let (_t, st) = store();
    let name = format!("http://{}/ns/m", srv.host());
    st.pull(&name, &opts(), &|_| {}).unwrap();
    let tok = srv.seen().into_iter().find(|s| s.path == "/token").unwrap();
    assert!(!tok.headers.contains_key("authorization"));
    assert!(st.blob_path(&d1).is_file());

    // A new version under the same name replaces the old model blob.
    let v2 = hearth_gguf::writer::tiny_llama()
        .kv(
            "general.description",
            hearth_gguf::Value::String("v2".into()),
        )
        .to_bytes();
    let d2 = Digest::from_bytes(&v2);
    serve_registry_model(&srv, "ns/m", "latest", Body::Bytes(v2.into()), &d2, &[]);
    let (events, sink) = recorder();
    st.pull(&name, &opts(), &sink).unwrap();
    assert!(st.blob_path(&d2).is_file());
    assert!(!st.blob_path(&d1).exists(), "old layer collected");
    assert!(events
        .lock()
        .unwrap()
        .iter()
        .any(|e| e.status == "removing unused layers"));
}

#[test]
fn parallel_ranges_against_a_server_that_ignores_range() {
    let gguf = hearth_gguf::GgufWriter::new()
        .kv(
            "general.architecture",
            hearth_gguf::Value::String("llama".into()),
        )
        .tensor("t", &[256, 4096], hearth_gguf::GgmlType::F32)
        .to_bytes();
    let d = Digest::from_bytes(&gguf);
    for ignore in [false, true] {
        let srv = Server::start();
        srv.ignore_range
            .store(ignore, std::sync::atomic::Ordering::Relaxed);
        serve_registry_model(
            &srv,
            "library/p",
            "latest",
            Body::Bytes(gguf.clone().into()),
            &d,
            &[],
        );
        let (_t, st) = store();
        let mut o = opts();
        o.download.part_min = 1 << 20;
        o.download.parallel = 4;
        st.pull(&format!("http://{}/library/p", srv.host()), &o, &|_| {})
            .unwrap();
        let blob = format!("/v2/library/p/blobs/{d}");
        let ranged = srv
            .seen()
            .iter()
            .filter(|s| s.path == blob && s.headers.contains_key("range"))
            .count();
        assert_eq!(ranged, 4, "four ranges requested (ignore={ignore})");
        assert_eq!(Digest::of_file(&st.blob_path(&d)).unwrap().0, d);
        assert_eq!(st.list().unwrap()[0].config.model_family, "llama");
    }
}

#[test]
fn redirect_loops_are_cut_off() {
    let srv = Server::start();
    srv.route(
        "/files/a.gguf",
        Route::Redirect(format!("{}/files/b.gguf", srv.base)),
    );
    srv.route("/files/b.gguf", Route::Redirect("/files/a.gguf".into()));
    let (_t, st) = store();
    let e = st
        .pull(&format!("{}/files/a.gguf", srv.base), &opts(), &|_| {})
        .unwrap_err();
    assert!(matches!(e, StoreError::Redirect { .. }), "{e}");
    assert!(srv.seen().len() <= 12, "{}", srv.seen().len());
    assert!(files_under(&st.blobs_dir()).is_empty());
}

#[test]
fn url_resume_needs_a_validator() {
    let gguf = tiny_gguf();
    let len = gguf.len() as u64;
    // Without ETag/Last-Modified and without a digest, a retry starts over.
    let srv = Server::start();
    srv.bytes("/files/m.gguf", gguf.clone());
    srv.drop_after("/files/m.gguf", 100);
    let (_t, st) = store();
    st.pull(&format!("{}/files/m.gguf", srv.base), &opts(), &|_| {})
        .unwrap();
    assert_eq!(srv.bytes_sent("/files/m.gguf"), len + 100);
    assert!(srv.seen().iter().all(|s| !s.headers.contains_key("range")));
    // With an ETag the retry resumes with Range + If-Range.
    let srv = Server::start();
    srv.route(
        "/files/m.gguf",
        Route::Static {
            body: Body::Bytes(gguf.clone().into()),
            headers: vec![("ETag".into(), "\"v1\"".into())],
        },
    );
    srv.drop_after("/files/m.gguf", 100);
    let (_t, st) = store();
    st.pull(&format!("{}/files/m.gguf", srv.base), &opts(), &|_| {})
        .unwrap();
    assert_eq!(srv.bytes_sent("/files/m.gguf"), len);
    let last = srv.seen().pop().unwrap();
    assert_eq!(last.headers["range"], "bytes=100-");
    assert_eq!(last.headers["if-range"], "\"v1\"");
}

#[test]
fn blobs_of_another_store_are_copied_not_downloaded() {
    let srv = Server::start();
    let gguf = tiny_gguf();
    let d = Digest::from_bytes(&gguf);
    serve_registry_model(
        &srv,
        "library/tiny",
        "latest",
        Body::Bytes(gguf.clone().into()),
        &d,
        &[],
    );
    let t = tempfile::tempdir().unwrap();
    let other = t.path().join("ollama/blobs");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join(d.file_name()), &gguf).unwrap();
    let st = Store::open(t.path().join("m")).unwrap();
    let mut o = opts();
    o.download.reuse_from = vec![other.clone()];
    st.pull(&format!("http://{}/library/tiny", srv.host()), &o, &|_| {})
        .unwrap();
    assert_eq!(srv.bytes_sent(&format!("/blobs/{d}")), 0);
    assert_eq!(std::fs::read(st.blob_path(&d)).unwrap(), gguf);
    // A file in the other store that does not match its name is not trusted.
    let (_t2, st2) = store();
    let mut bad = gguf.clone();
    bad[100] ^= 1;
    std::fs::write(other.join(d.file_name()), &bad).unwrap();
    st2.pull(&format!("http://{}/library/tiny", srv.host()), &o, &|_| {})
        .unwrap();
    assert_eq!(srv.bytes_sent(&format!("/blobs/{d}")), gguf.len() as u64);
    assert_eq!(std::fs::read(st2.blob_path(&d)).unwrap(), gguf);
}

/// A registry token belongs to its host: a pull from another host (a model name can spell
/// any) does not carry it.
#[test]
fn registry_token_goes_only_to_its_host() {
    let srv = Server::start();
    let gguf = tiny_gguf();
    let d = Digest::from_bytes(&gguf);
    serve_registry_model(&srv, "ns/m", "latest", Body::Bytes(gguf.into()), &d, &[]);
    let (_t, st) = store();
    let mut o = opts();
    o.registry_token = Some(hearth_store::RegistryToken {
        host: "registry.example".into(),
        token: "s3cr3t".into(),
    });
    st.pull(&format!("http://{}/ns/m", srv.host()), &o, &|_| {})
        .unwrap();
    assert!(
        srv.seen()
            .iter()
            .all(|r| !r.headers.contains_key("authorization")),
        "the token went to {}",
        srv.host()
    );
    // The same token configured for this host is sent to it.
    let (_t2, st2) = store();
    o.registry_token = Some(hearth_store::RegistryToken {
        host: srv.host(),
        token: "s3cr3t".into(),
    });
    st2.pull(&format!("http://{}/ns/m", srv.host()), &o, &|_| {})
        .unwrap();
    assert!(srv
        .seen()
        .iter()
        .any(|r| r.headers.get("authorization").map(String::as_str) == Some("Bearer s3cr3t")));
}

/// A bearer challenge whose realm is on another host is not followed: the token service
/// there never sees a request.
#[test]
fn realm_on_a_foreign_host_is_refused() {
    let srv = Server::start();
    let other = Server::start();
    other.bytes("/token", br#"{"token":"tok"}"#.to_vec());
    let gguf = tiny_gguf();
    let d = Digest::from_bytes(&gguf);
    serve_registry_model(&srv, "ns/m", "latest", Body::Bytes(gguf.into()), &d, &[]);
    let manifest = srv.take("/v2/ns/m/manifests/latest");
    srv.route(
        "/v2/ns/m/manifests/latest",
        Route::Auth {
            token: "tok".into(),
            challenge: format!("Bearer realm=\"{}/token\",service=\"reg\"", other.base),
            inner: Box::new(manifest),
        },
    );
    let (_t, st) = store();
    let err = st
        .pull(&format!("http://{}/ns/m", srv.host()), &opts(), &|_| {})
        .unwrap_err();
    assert!(matches!(err, StoreError::Refused { .. }), "{err}");
    assert!(
        other.seen().is_empty(),
        "the foreign token service was asked"
    );
}
