//! Provenance records for every kind of install, and the trust policy at pull, create and load.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::*;
use hearth_store::modelfile::Modelfile;
use hearth_store::{CreateOptions, Digest, ModelName, Policy, Store, StoreError};

fn n(s: &str) -> ModelName {
    ModelName::parse(s).unwrap()
}

/// A store that never reads the user's policy file.
fn store(dir: &Path) -> Store {
    Store::open(dir.join("models"))
        .unwrap()
        .with_policy(Policy {
            refuse_pickle: true,
            ..Policy::default()
        })
}

fn create_from_file(st: &Store, name: &str, dir: &Path) -> Result<(), StoreError> {
    std::fs::write(dir.join("tiny.gguf"), tiny_gguf()).unwrap();
    let mf = Modelfile::parse("FROM ./tiny.gguf\n").unwrap();
    st.create(&n(name), &mf, dir, &[], CreateOptions::default(), &|_| {})
        .map(|_| ())
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn registry_pull_records_registry_url_digest_and_time() {
    let srv = Server::start();
    let gguf = tiny_gguf();
    let d = Digest::from_bytes(&gguf);
    serve_registry_model(
        &srv,
        "library/tiny",
        "latest",
        Body::Bytes(gguf.into()),
        &d,
        &[],
    );
    let t = tempfile::tempdir().unwrap();
    let st = store(t.path());
    let before = now();
    let name = st
        .pull(
            &format!("http://{}/library/tiny", srv.host()),
            &opts(),
            &|_| {},
        )
        .unwrap();
    let p = st.read_provenance(&name).unwrap().expect("a record");
    assert_eq!(p.name, name.display_shortest());
    assert_eq!(p.registry, srv.host());
    assert_eq!(
        p.url,
        format!("http://{}/v2/library/tiny/manifests/latest", srv.host())
    );
    assert_eq!(p.digest, d.to_string());
    assert!(p.retrieved_at >= before && p.retrieved_at <= now() + 1);
    // The install-time scan ran and passed (high/critical would have refused the model).
    let scan = p.scan.as_deref().expect("scan result recorded");
    assert!(["none", "info", "low", "medium"].contains(&scan), "{scan}");
    // The record lives outside manifests/, which Ollama reads as models.
    assert!(files_under(&st.manifests_dir())
        .iter()
        .all(|f| !f.contains("provenance")));
    assert!(st.provenance_path(&name).is_file());
    // The resolved model carries it (the server's /api/show prints it).
    let r = st
        .resolve(&format!("{}/library/tiny:latest", srv.host()))
        .unwrap();
    assert_eq!(r.provenance.as_ref(), Some(&p));

    // A re-pull (blobs already present) still records the scan of the cached model blob.
    std::fs::remove_file(st.provenance_path(&name)).unwrap();
    st.pull(
        &format!("http://{}/library/tiny", srv.host()),
        &opts(),
        &|_| {},
    )
    .unwrap();
    let again = st.read_provenance(&name).unwrap().unwrap();
    assert_eq!(again.digest, d.to_string());
    assert!(again.scan.is_some());
}

#[test]
fn hf_and_url_pulls_record_their_origin() {
    let gguf = tiny_gguf();
    let d = Digest::from_bytes(&gguf);
    let hf = Server::start();
    let tree = serde_json::json!([
        {"type": "file", "path": "tiny-Q4_K_M.gguf", "size": gguf.len(), "oid": "y",
         "lfs": {"oid": d.hex(), "size": gguf.len(), "pointerSize": 134}},
    ]);
    hf.bytes(
        "/api/models/acme/Tiny-GGUF/tree/main",
        serde_json::to_vec(&tree).unwrap(),
    );
    hf.bytes(
        "/acme/Tiny-GGUF/resolve/main/tiny-Q4_K_M.gguf",
        gguf.clone(),
    );
    hf.bytes("/files/Tiny-Model.gguf", gguf.clone());
    let t = tempfile::tempdir().unwrap();
    let st = store(t.path());
    let mut o = opts();
    o.hf_endpoint = hf.base.clone();
    let name = st.pull("hf.co/acme/Tiny-GGUF:q4_k_m", &o, &|_| {}).unwrap();
    let p = st.read_provenance(&name).unwrap().unwrap();
    assert_eq!(p.registry, hf.host());
    assert_eq!(
        p.url,
        format!("{}/acme/Tiny-GGUF/resolve/main/tiny-Q4_K_M.gguf", hf.base)
    );
    assert_eq!(p.digest, d.to_string());
    assert!(p.scan.is_some());

    let url = format!("{}/files/Tiny-Model.gguf", hf.base);
    let name = st.pull(&url, &opts(), &|_| {}).unwrap();
    let p = st.read_provenance(&name).unwrap().unwrap();
    assert_eq!(
        (p.registry.as_str(), p.url.as_str()),
        (hf.host().as_str(), url.as_str())
    );
    assert_eq!(p.digest, d.to_string());
}

#[test]
fn create_copy_import_and_remove() {
    let t = tempfile::tempdir().unwrap();
    let st = store(t.path());
    create_from_file(&st, "tiny", t.path()).unwrap();
    let d = Digest::from_bytes(&tiny_gguf());
    let p = st.read_provenance(&n("tiny")).unwrap().unwrap();
    assert_eq!(p.registry, "local");
    assert_eq!(
        Path::new(&p.url),
        std::fs::canonicalize(t.path().join("tiny.gguf")).unwrap()
    );
    assert_eq!(p.digest, d.to_string());
    assert!(p.scan.is_some());

    // A copy carries the record under its new name.
    st.copy(&n("tiny"), &n("me/copy:1")).unwrap();
    let c = st.read_provenance(&n("me/copy:1")).unwrap().unwrap();
    assert_eq!(c.name, "me/copy:1");
    assert_eq!(
        (&c.registry, &c.url, &c.digest),
        (&p.registry, &p.url, &p.digest)
    );
    assert_eq!(c.retrieved_at, p.retrieved_at);

    // FROM another model keeps the base's origin.
    let mf = Modelfile::parse("FROM tiny\nSYSTEM s\n").unwrap();
    st.create(
        &n("tiny:child"),
        &mf,
        t.path(),
        &[],
        CreateOptions::default(),
        &|_| {},
    )
    .unwrap();
    let ch = st.read_provenance(&n("tiny:child")).unwrap().unwrap();
    assert_eq!(
        (ch.name.as_str(), ch.url.as_str()),
        ("tiny:child", p.url.as_str())
    );

    // An imported bundle records the bundle.
    let bundle = t.path().join("b.tar");
    Store::export(&st, &n("tiny"), &bundle).unwrap();
    let other = store(&t.path().join("other"));
    let names = other.import(&bundle).unwrap();
    let b = other.read_provenance(&names[0]).unwrap().unwrap();
    assert_eq!(b.registry, "bundle");
    assert_eq!(Path::new(&b.url), std::fs::canonicalize(&bundle).unwrap());
    assert_eq!(b.digest, d.to_string());

    // allowed_registries covers bundles: the registry is the one the bundle's manifest name
    // spells (registry.ollama.ai for this model), at import and at load.
    let only_hf = |dir: &Path| {
        Store::open(dir).unwrap().with_policy(Policy {
            allowed_registries: vec!["huggingface.co".into()],
            ..Policy::default()
        })
    };
    let strict = only_hf(&t.path().join("strict"));
    let e = strict.import(&bundle).unwrap_err();
    assert!(e.to_string().contains("allowed registries"), "{e}");
    assert!(!strict.contains(&n("tiny")));
    let e = only_hf(&t.path().join("other/models"))
        .resolve("tiny")
        .unwrap_err();
    assert!(e.to_string().contains("allowed registries"), "{e}");
    assert!(other.resolve("tiny").is_ok());

    // Delete removes the record (and its now-empty directories).
    st.remove(&n("me/copy:1")).unwrap();
    assert_eq!(st.read_provenance(&n("me/copy:1")).unwrap(), None);
    assert!(!st.provenance_path(&n("me/copy:1")).exists());
    assert!(!st.root().join("provenance/registry.ollama.ai/me").exists());
    assert!(st.read_provenance(&n("tiny")).unwrap().is_some());

    // A model without a record (installed by an older hearth) resolves; its record is None.
    std::fs::remove_file(st.provenance_path(&n("tiny"))).unwrap();
    let r = st.resolve("tiny").unwrap();
    assert!(r.provenance.is_none());
    assert_eq!(st.read_provenance(&n("tiny")).unwrap(), None);
}

#[test]
fn pinned_digest_is_refused_at_pull_create_and_load() {
    let srv = Server::start();
    let gguf = tiny_gguf();
    let d = Digest::from_bytes(&gguf);
    serve_registry_model(
        &srv,
        "library/tiny",
        "latest",
        Body::Bytes(gguf.into()),
        &d,
        &[],
    );
    let wrong = Digest::from_bytes(b"something else");
    let t = tempfile::tempdir().unwrap();
    let full = format!("{}/library/tiny:latest", srv.host());
    let pin = |digest: &Digest| Policy {
        pinned: [
            (full.clone(), digest.to_string()),
            ("tiny".into(), digest.to_string()),
        ]
        .into_iter()
        .collect(),
        refuse_pickle: true,
        ..Policy::default()
    };

    // Pull: refused from the manifest, before any model blob is downloaded.
    let st = Store::open(t.path().join("m"))
        .unwrap()
        .with_policy(pin(&wrong));
    let e = st
        .pull(
            &format!("http://{}/library/tiny", srv.host()),
            &opts(),
            &|_| {},
        )
        .unwrap_err();
    assert!(matches!(e, StoreError::Refused { .. }), "{e}");
    assert!(e.to_string().contains("does not match the pinned"), "{e}");
    assert!(files_under(&st.blobs_dir()).is_empty());
    assert!(!srv
        .seen()
        .iter()
        .any(|s| s.path.contains(&format!("blobs/{d}"))));

    // Create: refused.
    let e = create_from_file(&st, "tiny", t.path()).unwrap_err();
    assert!(e.to_string().contains("does not match the pinned"), "{e}");
    assert!(!st.contains(&n("tiny")));
    assert!(files_under(&st.blobs_dir()).is_empty());
    assert!(!st.root().join("provenance").exists());

    // Load: installed under the right pin, then the pin changes: resolve refuses it.
    let ok = Store::open(t.path().join("m"))
        .unwrap()
        .with_policy(pin(&d));
    ok.pull(
        &format!("http://{}/library/tiny", srv.host()),
        &opts(),
        &|_| {},
    )
    .unwrap();
    create_from_file(&ok, "tiny", t.path()).unwrap();
    assert!(ok.resolve(&full).is_ok());
    assert!(ok.resolve("tiny").is_ok());
    let st = Store::open(t.path().join("m"))
        .unwrap()
        .with_policy(pin(&wrong));
    for name in [full.as_str(), "tiny"] {
        let e = st.resolve(name).unwrap_err();
        assert!(matches!(e, StoreError::Refused { .. }), "{e}");
        assert!(e.to_string().contains("Load of"), "{e}");
    }
    let stores = hearth_store::Stores {
        primary: st.clone(),
        extra: vec![],
    };
    assert!(stores.resolve("tiny").is_err());
    // Unpinned models still load; the record stays readable for `show --provenance`.
    assert!(st.read_provenance(&n("tiny")).unwrap().is_some());

    // Registry not allowed: refused at pull and, for the installed model, at load.
    let reg = Policy {
        allowed_registries: vec!["registry.ollama.ai".into()],
        refuse_pickle: true,
        ..Policy::default()
    };
    let st = Store::open(t.path().join("m")).unwrap().with_policy(reg);
    let e = st.resolve(&full).unwrap_err();
    assert!(e.to_string().contains("allowed registries"), "{e}");
    // A local model has no registry to check.
    assert!(st.resolve("tiny").is_ok());

    // A policy file that does not parse is an error, never ignored.
    let bad = t.path().join("policy.json");
    std::fs::write(&bad, "{\"pinend\": {}}").unwrap();
    assert!(Policy::load(&bad).is_err());
}

#[test]
fn required_keys_need_a_verified_signature_beside_the_file() {
    use hearth_guard::sign::{signature_path, SecretKey};
    let sk = SecretKey::from_seed([3; 32], [1, 2, 3, 4, 5, 6, 7, 8]);
    let other = SecretKey::from_seed([4; 32], [8, 7, 6, 5, 4, 3, 2, 1]);
    let pk = sk.public().to_base64();
    let t = tempfile::tempdir().unwrap();
    let policy = Policy {
        required_keys: vec![pk.clone()],
        refuse_pickle: true,
        ..Policy::default()
    };
    let st = Store::open(t.path().join("m"))
        .unwrap()
        .with_policy(policy.clone());
    let file = t.path().join("tiny.gguf");
    let sig = signature_path(&file);
    let gguf = tiny_gguf();

    // No signature: refused, nothing left behind.
    let e = create_from_file(&st, "tiny", t.path()).unwrap_err();
    assert!(
        e.to_string().contains("no signature from a required key"),
        "{e}"
    );
    assert!(files_under(&st.blobs_dir()).is_empty());
    // Signed by another key: still unsigned as far as the policy goes.
    std::fs::write(&sig, other.sign(&gguf, "file:tiny.gguf")).unwrap();
    let e = create_from_file(&st, "tiny", t.path()).unwrap_err();
    assert!(
        e.to_string().contains("no signature from a required key"),
        "{e}"
    );
    // Signed by the required key over other bytes: a bad signature, refused.
    std::fs::write(&sig, sk.sign(b"other bytes", "file:tiny.gguf")).unwrap();
    let e = create_from_file(&st, "tiny", t.path()).unwrap_err();
    assert!(
        e.to_string().contains("signature verification failed"),
        "{e}"
    );
    assert!(files_under(&st.blobs_dir()).is_empty());
    assert!(!st.contains(&n("tiny")));

    // A good signature: installed, the key recorded, and it loads.
    std::fs::write(&sig, sk.sign(&gguf, "file:tiny.gguf")).unwrap();
    create_from_file(&st, "tiny", t.path()).unwrap();
    let p = st.read_provenance(&n("tiny")).unwrap().unwrap();
    assert_eq!(p.signed_by, std::slice::from_ref(&pk));
    assert!(st.resolve("tiny").is_ok());
    // Without the record's signature the same model is refused at load.
    let mut unsigned = p.clone();
    unsigned.signed_by.clear();
    std::fs::write(
        st.provenance_path(&n("tiny")),
        serde_json::to_vec(&unsigned).unwrap(),
    )
    .unwrap();
    let e = st.resolve("tiny").unwrap_err();
    assert!(e.to_string().contains("Load of tiny:latest"), "{e}");
    // A store without the requirement loads it.
    let open = Store::open(t.path().join("m"))
        .unwrap()
        .with_policy(Policy {
            refuse_pickle: true,
            ..Policy::default()
        });
    assert!(open.resolve("tiny").is_ok());
}

/// An OpenSSF model-signing bundle over one file, shaped like `model_signing sign key`'s.
fn oms_bundle(file_bytes: &[u8], sk: &p256::ecdsa::SigningKey) -> Vec<u8> {
    use hearth_guard::oms::{pae, OmsKey, BUNDLE_MEDIA_TYPE, PAYLOAD_TYPE};
    use hearth_guard::sign::base64_encode;
    use p256::ecdsa::signature::Signer;
    let digest = hearth_guard::sha256_hex(file_bytes);
    let raw: Vec<u8> = (0..digest.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digest[i..i + 2], 16).unwrap())
        .collect();
    // The subject's digest is the sha256 of the resources' digests in order.
    let root = hearth_guard::sha256_hex(&raw);
    let statement = serde_json::json!({
        "_type": hearth_guard::oms::STATEMENT_TYPE,
        "subject": [{"name": "tiny.gguf", "digest": {"sha256": root}}],
        "predicateType": hearth_guard::oms::PREDICATE_TYPE,
        "predicate": {
            "serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": false, "ignore_paths": []},
            "resources": [{"name": ".", "algorithm": "sha256", "digest": digest}]
        }
    });
    let payload = serde_json::to_vec(&statement).unwrap();
    let sig: p256::ecdsa::DerSignature = sk.sign(&pae(&payload));
    let key = OmsKey::from_verifying_key(*sk.verifying_key()).unwrap();
    serde_json::to_vec(&serde_json::json!({
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": key.pem_sha256()}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64_encode(&payload),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"sig": base64_encode(sig.as_bytes()), "keyid": ""}]
        }
    }))
    .unwrap()
}

#[test]
fn oms_required_keys_are_checked_at_create() {
    use hearth_guard::oms::OmsKey;
    let sk = p256::ecdsa::SigningKey::from_bytes(&[7u8; 32].into()).unwrap();
    let other = p256::ecdsa::SigningKey::from_bytes(&[8u8; 32].into()).unwrap();
    let key = OmsKey::from_verifying_key(*sk.verifying_key()).unwrap();
    let t = tempfile::tempdir().unwrap();
    // The policy names the key by id and lists its PEM (relative to the policy file).
    let policy_dir = t.path().join("conf");
    std::fs::create_dir_all(policy_dir.join("keys")).unwrap();
    let pem = {
        use p256::pkcs8::EncodePublicKey;
        sk.verifying_key()
            .to_public_key_pem(p256::pkcs8::LineEnding::LF)
            .unwrap()
    };
    std::fs::write(policy_dir.join("keys/signer.pem"), pem).unwrap();
    std::fs::write(
        policy_dir.join("policy.json"),
        serde_json::json!({
            "required_keys": [key.policy_id()],
            "oms_keys": ["keys/signer.pem"],
        })
        .to_string(),
    )
    .unwrap();
    let policy = Policy::load(&policy_dir.join("policy.json")).unwrap();
    let st = Store::open(t.path().join("m")).unwrap().with_policy(policy);
    let gguf = tiny_gguf();
    let bundle = t.path().join("tiny.gguf.sig");

    // Unsigned: refused by the policy.
    let e = create_from_file(&st, "tiny", t.path()).unwrap_err();
    assert!(
        e.to_string().contains("no signature from a required key"),
        "{e}"
    );
    // Signed by a key the policy does not require: still unsigned.
    std::fs::write(&bundle, oms_bundle(&gguf, &other)).unwrap();
    let e = create_from_file(&st, "tiny", t.path()).unwrap_err();
    assert!(
        e.to_string().contains("no signature from a required key"),
        "{e}"
    );
    // Signed by the required key over other bytes: refused as a bad bundle.
    std::fs::write(&bundle, oms_bundle(b"other bytes", &sk)).unwrap();
    let e = create_from_file(&st, "tiny", t.path()).unwrap_err();
    assert!(e.to_string().contains("model-signing bundle"), "{e}");
    assert!(files_under(&st.blobs_dir()).is_empty());
    // A good bundle: installed, the key id recorded, and it loads.
    std::fs::write(&bundle, oms_bundle(&gguf, &sk)).unwrap();
    create_from_file(&st, "tiny", t.path()).unwrap();
    let p = st.read_provenance(&n("tiny")).unwrap().unwrap();
    assert_eq!(p.signed_by, vec![key.policy_id()]);
    assert!(st.resolve("tiny").is_ok());
}

#[test]
fn a_policy_cannot_allow_pickles() {
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("policy.json");
    std::fs::write(&f, r#"{"refuse_pickle": false}"#).unwrap();
    let e = Policy::load(&f).unwrap_err();
    assert!(e.to_string().contains("refuse_pickle"), "{e}");
}

#[test]
fn a_pinned_blob_altered_in_place_is_refused_at_load() {
    let t = tempfile::tempdir().unwrap();
    let gguf = tiny_gguf();
    let d = Digest::from_bytes(&gguf);
    let st = Store::open(t.path().join("m"))
        .unwrap()
        .with_policy(Policy {
            pinned: [("tiny".to_string(), d.to_string())].into_iter().collect(),
            ..Policy::default()
        });
    create_from_file(&st, "tiny", t.path()).unwrap();
    let r = st.resolve("tiny").unwrap();
    // Hashed once, then remembered while the file is unchanged.
    assert!(st.resolve("tiny").is_ok());
    // The same size, one byte different, at the end of the file (past the GGUF header, so
    // only the hash can tell).
    let mut bytes = std::fs::read(&r.gguf_path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&r.gguf_path, &bytes).unwrap();
    let e = st.resolve("tiny").unwrap_err();
    assert!(matches!(e, StoreError::DigestMismatch { .. }), "{e}");
    // Without a pin or required keys nothing is re-hashed (the blob is trusted as stored).
    let open = Store::open(t.path().join("m"))
        .unwrap()
        .with_policy(Policy::default());
    assert!(open.resolve("tiny").is_ok());
}
