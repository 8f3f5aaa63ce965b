//! Acceptance: signatures good/bad, signed manifests, pinned-digest refusal, provenance.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hearth_guard::file_sha256;
use hearth_guard::policy::{Policy, Stage, Subject, Violation};
use hearth_guard::provenance::Provenance;
use hearth_guard::sign::{
    make_manifest, signature_path, verify, verify_manifest, PublicKey, SecretKey, SignError,
};

fn key() -> SecretKey {
    SecretKey::from_seed([42; 32], *b"hearthk1")
}

#[test]
fn signed_manifest_verifies_and_tampering_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("model.gguf");
    let b = dir.path().join("params.json");
    std::fs::write(&a, hearth_gguf::writer::tiny_llama().to_bytes()).unwrap();
    std::fs::write(&b, b"{\"temperature\": 0.2}").unwrap();
    let manifest_path = dir.path().join("hearth.manifest");
    let manifest = make_manifest(&[a.clone(), b.clone()], dir.path()).unwrap();
    assert!(manifest.contains(" model.gguf\n") && manifest.contains(" params.json\n"));
    std::fs::write(&manifest_path, &manifest).unwrap();
    let sk = key();
    std::fs::write(
        signature_path(&manifest_path),
        sk.sign(manifest.as_bytes(), "file:hearth.manifest"),
    )
    .unwrap();
    let pk = PublicKey::parse(&sk.public().to_file_text()).unwrap();

    let entries = verify_manifest(&manifest_path, None, &pk).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].sha256, file_sha256(&a).unwrap());

    // A file changed after signing.
    std::fs::write(&b, b"{\"temperature\": 9}").unwrap();
    assert!(matches!(
        verify_manifest(&manifest_path, None, &pk),
        Err(SignError::DigestMismatch { .. })
    ));
    std::fs::write(&b, b"{\"temperature\": 0.2}").unwrap();

    // The manifest changed after signing.
    std::fs::write(&manifest_path, manifest.replace("sha256 ", "sha256  ")).unwrap();
    assert!(matches!(
        verify_manifest(&manifest_path, None, &pk),
        Err(SignError::BadSignature(_))
    ));
    std::fs::write(&manifest_path, &manifest).unwrap();

    // Another key.
    let other = SecretKey::from_seed([1; 32], *b"otherkey").public();
    assert!(matches!(
        verify_manifest(&manifest_path, None, &other),
        Err(SignError::WrongKey { .. })
    ));

    // Bit flip inside the signature itself.
    let sig = std::fs::read_to_string(signature_path(&manifest_path)).unwrap();
    let mut lines: Vec<String> = sig.lines().map(str::to_owned).collect();
    let mut raw = hearth_guard::sign::base64_decode(&lines[1]).unwrap();
    raw[20] ^= 1;
    lines[1] = hearth_guard::sign::base64_encode(&raw);
    assert!(verify(manifest.as_bytes(), &lines.join("\n"), &pk).is_err());
    assert!(verify_manifest(&manifest_path, None, &pk).is_ok());
}

#[test]
fn manifest_paths_cannot_escape() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m");
    let text = format!(
        "hearth-manifest v1\nsha256 {} 0 ../../etc/passwd\n",
        "0".repeat(64)
    );
    std::fs::write(&m, &text).unwrap();
    let sk = key();
    std::fs::write(signature_path(&m), sk.sign(text.as_bytes(), "x")).unwrap();
    let err = verify_manifest(&m, None, &sk.public()).unwrap_err();
    assert!(
        err.to_string().contains("leaves the manifest directory"),
        "{err}"
    );
}

#[test]
fn pinned_digest_mismatch_is_refused_at_pull_and_load() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.gguf");
    std::fs::write(&model, hearth_gguf::writer::tiny_llama().to_bytes()).unwrap();
    let real = file_sha256(&model).unwrap();
    let policy_path = dir.path().join("policy.json");
    std::fs::write(
        &policy_path,
        format!(r#"{{"allowed_registries": ["registry.ollama.ai"], "pinned": {{"tiny:1b": "sha256:{real}", "evil:1b": "sha256:{}"}}}}"#, "ab".repeat(32)),
    )
    .unwrap();
    let policy = Policy::load(&policy_path).unwrap();
    let ok = Subject {
        name: "tiny:1b",
        registry: Some("registry.ollama.ai"),
        digest: Some(&real),
        ..Default::default()
    };
    for stage in [Stage::Pull, Stage::Create, Stage::Load] {
        assert_eq!(policy.enforce(stage, &ok), Ok(()));
        let bad = Subject {
            name: "evil:1b",
            ..ok.clone()
        };
        let err = policy.enforce(stage, &bad).unwrap_err();
        assert!(matches!(err, Violation::DigestMismatch { .. }), "{err}");
        assert!(err.to_string().contains(&real));
    }
    let unsigned_policy = Policy {
        required_keys: vec![key().public().to_base64()],
        ..policy.clone()
    };
    assert!(matches!(
        unsigned_policy.enforce(Stage::Load, &ok),
        Err(Violation::Unsigned { .. })
    ));
    let signed_by = vec![key().public().to_base64()];
    let signed = Subject {
        verified_keys: &signed_by,
        ..ok.clone()
    };
    assert_eq!(unsigned_policy.enforce(Stage::Load, &signed), Ok(()));
}

#[test]
fn provenance_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("latest");
    assert_eq!(Provenance::read(&manifest).unwrap(), None);
    let mut p = Provenance::now(
        "qwen2.5-coder:0.5b",
        "registry.ollama.ai",
        "https://registry.ollama.ai/v2/library/qwen2.5-coder/manifests/0.5b",
        "sha256:1d96",
    );
    p.scan = Some("info".into());
    let path = p.write(&manifest).unwrap();
    assert!(path.ends_with("latest.provenance.json"));
    let back = Provenance::read(&manifest).unwrap().unwrap();
    assert_eq!(back, p);
    assert!(back.to_text().contains("registry:  registry.ollama.ai"));
    std::fs::write(&path, b"{not json").unwrap();
    assert!(Provenance::read(&manifest).is_err());
}

/// Interoperability: signatures made by the reference `minisign` tool (the public test
/// vectors of the minisign-verify crate, message `test`), legacy and prehashed.
#[test]
fn verifies_reference_minisign_signatures() {
    let pk = PublicKey::parse("RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3").unwrap();
    assert_eq!(
        pk.to_base64(),
        "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3"
    );
    let legacy = "untrusted comment: signature from minisign secret key\nRWQf6LRCGA9i59SLOFxz6NxvASXDJeRtuZykwQepbDEGt87ig1BNpWaVWuNrm73YiIiJbq71Wi+dP9eKL8OC351vwIasSSbXxwA=\ntrusted comment: timestamp:1555779966\tfile:test\nQtKMXWyYcwdpZAlPF7tE2ENJkRd1ujvKjlj1m9RtHTBnZPa5WKU5uWRs5GoP5M/VqE81QFuMKI5k/SfNQUaOAA==\n";
    let prehashed = "untrusted comment: signature from minisign secret key\nRUQf6LRCGA9i559r3g7V1qNyJDApGip8MfqcadIgT9CuhV3EMhHoN1mGTkUidF/z7SrlQgXdy8ofjb7bNJJylDOocrCo8KLzZwo=\ntrusted comment: timestamp:1633700835\tfile:test\tprehashed\nwLMDjy9FLAuxZ3q4NlEvkgtyhrr0gtTu6KC4KBJdITbbOeAi1zBIYo0v4iTgt8jJpIidRJnp94ABQkJAgAooBQ==\n";
    assert_eq!(
        verify(b"test", legacy, &pk).unwrap(),
        "timestamp:1555779966\tfile:test"
    );
    assert!(verify(b"test", prehashed, &pk)
        .unwrap()
        .ends_with("prehashed"));
    assert!(verify(b"tesT", legacy, &pk).is_err());
    assert!(verify(b"tesT", prehashed, &pk).is_err());
}
