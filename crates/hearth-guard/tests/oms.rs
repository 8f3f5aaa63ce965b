//! OpenSSF model-signing (OMS) verification against bundles made by the reference tool
//! (`tests/fixtures/oms`, see make-fixtures.sh there), plus tampered and hostile variants.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use hearth_guard::oms::{
    pae, read_bundle, verify_bundle, verify_model, OmsError, OmsKey, Problem, VerifyOptions,
    MAX_BUNDLE_BYTES,
};
use hearth_guard::policy::{Policy, Stage, Subject, Violation};
use hearth_guard::sign::{base64_decode, base64_encode};
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{DerSignature, SigningKey};
use serde_json::{json, Value};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oms")
}

fn fixture_key() -> OmsKey {
    OmsKey::from_pem(&std::fs::read_to_string(fixtures().join("pub.pem")).unwrap()).unwrap()
}

/// A throwaway key made here (never the fixtures' signer).
fn test_signing_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32].into()).unwrap()
}

fn test_key(seed: u8) -> OmsKey {
    OmsKey::from_verifying_key(*test_signing_key(seed).verifying_key()).unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// A copy of the fixture model directory (with its model.sig inside).
fn model_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    copy_dir(&fixtures().join("model"), &model);
    (dir, model)
}

fn mismatch(r: Result<hearth_guard::oms::Verified, OmsError>) -> Vec<Problem> {
    match r {
        Err(OmsError::Mismatch { problems, .. }) => problems,
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

fn bundle_json() -> Value {
    serde_json::from_slice(&std::fs::read(fixtures().join("model/model.sig")).unwrap()).unwrap()
}

fn payload_of(bundle: &Value) -> Value {
    let b64 = bundle["dsseEnvelope"]["payload"].as_str().unwrap();
    serde_json::from_slice(&base64_decode(b64).unwrap()).unwrap()
}

/// A bundle over `statement` signed with `sk`, shaped like model_signing's.
fn signed_bundle(statement: &Value, sk: &SigningKey) -> Vec<u8> {
    let payload = serde_json::to_vec_pretty(statement).unwrap();
    let sig: DerSignature = sk.sign(&pae(&payload));
    let key = OmsKey::from_verifying_key(*sk.verifying_key()).unwrap();
    serde_json::to_vec(&json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": key.pem_sha256()}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64_encode(&payload),
            "payloadType": "application/vnd.in-toto+json",
            "signatures": [{"sig": base64_encode(sig.as_bytes()), "keyid": ""}]
        }
    }))
    .unwrap()
}

#[test]
fn reference_directory_signature_verifies() {
    let model = fixtures().join("model");
    let key = fixture_key();
    let v = verify_model(
        &model,
        &model.join("model.sig"),
        &key,
        &VerifyOptions::default(),
    )
    .unwrap();
    let names: Vec<&str> = v
        .manifest
        .resources
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(names, ["config.json", "sub/tokenizer.json", "weights.dat"]);
    assert_eq!(v.manifest.model_name, "model");
    assert_eq!(
        v.manifest.resources[2].1,
        hearth_guard::file_sha256(&model.join("weights.dat")).unwrap()
    );
    assert!(v.ignored.iter().any(|p| p == "model.sig"));
    assert_eq!(v.key_sha256, key.pem_sha256());
    // The bundle's key hint is the sha256 of the PEM file exactly as openssl wrote it.
    assert_eq!(
        key.pem_sha256(),
        hearth_guard::file_sha256(&fixtures().join("pub.pem")).unwrap()
    );
}

#[test]
fn reference_single_file_signature_verifies() {
    let f = fixtures();
    let v = verify_model(
        &f.join("single.model"),
        &f.join("single.model.sig"),
        &fixture_key(),
        &VerifyOptions::default(),
    )
    .unwrap();
    assert_eq!(v.manifest.resources.len(), 1);
    assert_eq!(v.manifest.resources[0].0, ".");
    // The single-file signature does not cover the directory model.
    let problems = mismatch(verify_model(
        &f.join("model"),
        &f.join("single.model.sig"),
        &fixture_key(),
        &VerifyOptions::default(),
    ));
    assert!(problems.contains(&Problem::Missing(".".into())));
    assert!(problems.contains(&Problem::Extra("weights.dat".into())));
}

#[test]
fn changed_byte_is_a_digest_mismatch_naming_the_file() {
    let (_d, model) = model_copy();
    let w = model.join("weights.dat");
    let mut bytes = std::fs::read(&w).unwrap();
    bytes[1000] ^= 1;
    std::fs::write(&w, bytes).unwrap();
    let problems = mismatch(verify_model(
        &model,
        &model.join("model.sig"),
        &fixture_key(),
        &VerifyOptions::default(),
    ));
    assert!(
        matches!(problems.as_slice(), [Problem::Digest { name, .. }] if name == "weights.dat"),
        "{problems:?}"
    );
}

#[test]
fn extra_and_missing_files_are_refused() {
    let (_d, model) = model_copy();
    std::fs::write(model.join("sub/extra.py"), b"import os").unwrap();
    let err = verify_model(
        &model,
        &model.join("model.sig"),
        &fixture_key(),
        &VerifyOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("sub/extra.py"), "{err}");
    assert_eq!(mismatch(Err(err)), [Problem::Extra("sub/extra.py".into())]);
    // Ignoring it explicitly is allowed (like --ignore-paths).
    let opts = VerifyOptions {
        ignore_paths: vec!["sub/extra.py".into()],
        ..VerifyOptions::default()
    };
    verify_model(&model, &model.join("model.sig"), &fixture_key(), &opts).unwrap();

    std::fs::remove_file(model.join("sub/extra.py")).unwrap();
    std::fs::remove_file(model.join("config.json")).unwrap();
    assert_eq!(
        mismatch(verify_model(
            &model,
            &model.join("model.sig"),
            &fixture_key(),
            &VerifyOptions::default(),
        )),
        [Problem::Missing("config.json".into())]
    );
}

#[test]
fn git_paths_and_the_bundle_itself_are_ignored() {
    let (d, model) = model_copy();
    std::fs::create_dir_all(model.join(".git/objects")).unwrap();
    std::fs::write(model.join(".git/HEAD"), b"ref: refs/heads/main\n").unwrap();
    std::fs::write(model.join(".gitattributes"), b"*.dat binary\n").unwrap();
    // The bundle moved outside the model, and a renamed copy of it inside.
    let outside = d.path().join("elsewhere.sig");
    std::fs::rename(model.join("model.sig"), &outside).unwrap();
    let key = fixture_key();
    verify_model(&model, &outside, &key, &VerifyOptions::default()).unwrap();
    std::fs::copy(&outside, model.join("renamed.sig")).unwrap();
    verify_model(
        &model,
        &model.join("renamed.sig"),
        &key,
        &VerifyOptions::default(),
    )
    .unwrap();
    // ... but not when checked against the outside copy: then it is an unsigned extra file.
    assert_eq!(
        mismatch(verify_model(
            &model,
            &outside,
            &key,
            &VerifyOptions::default()
        )),
        [Problem::Extra("renamed.sig".into())]
    );
}

#[test]
fn tampered_payload_fails_the_signature() {
    let mut b = bundle_json();
    let mut st = payload_of(&b);
    st["predicate"]["resources"][2]["digest"] = json!("00".repeat(32));
    b["dsseEnvelope"]["payload"] = json!(base64_encode(&serde_json::to_vec(&st).unwrap()));
    let err = verify_bundle(&serde_json::to_vec(&b).unwrap(), &fixture_key()).unwrap_err();
    assert!(matches!(err, OmsError::BadSignature(_)), "{err}");

    let mut b = bundle_json();
    let sig = b["dsseEnvelope"]["signatures"][0]["sig"].as_str().unwrap();
    let mut raw = base64_decode(sig).unwrap();
    let n = raw.len();
    raw[n - 3] ^= 0x40;
    b["dsseEnvelope"]["signatures"][0]["sig"] = json!(base64_encode(&raw));
    let err = verify_bundle(&serde_json::to_vec(&b).unwrap(), &fixture_key()).unwrap_err();
    assert!(matches!(err, OmsError::BadSignature(_)), "{err}");
}

#[test]
fn wrong_key_is_refused() {
    let bundle = std::fs::read(fixtures().join("model/model.sig")).unwrap();
    let err = verify_bundle(&bundle, &test_key(7)).unwrap_err();
    assert!(matches!(err, OmsError::KeyMismatch { .. }), "{err}");
    // Without the key hint (older bundles) the ECDSA check itself refuses it.
    let mut b = bundle_json();
    b["verificationMaterial"]["publicKey"]
        .as_object_mut()
        .unwrap()
        .remove("hint");
    let bundle = serde_json::to_vec(&b).unwrap();
    let err = verify_bundle(&bundle, &test_key(7)).unwrap_err();
    assert!(matches!(err, OmsError::BadSignature(_)), "{err}");
    verify_bundle(&bundle, &fixture_key()).unwrap();
}

#[test]
fn signed_but_inconsistent_statements_are_refused() {
    let sk = test_signing_key(3);
    let key = test_key(3);
    let base = payload_of(&bundle_json());
    verify_bundle(&signed_bundle(&base, &sk), &key).unwrap();

    let with = |f: &dyn Fn(&mut Value)| {
        let mut st = base.clone();
        f(&mut st);
        verify_bundle(&signed_bundle(&st, &sk), &key).unwrap_err()
    };
    let e = with(&|st| st["subject"][0]["digest"]["sha256"] = json!("ab".repeat(32)));
    assert!(matches!(e, OmsError::RootDigestMismatch { .. }), "{e}");
    // Dropping a resource changes the root digest.
    let e = with(&|st| {
        st["predicate"]["resources"]
            .as_array_mut()
            .unwrap()
            .remove(0);
    });
    assert!(matches!(e, OmsError::RootDigestMismatch { .. }), "{e}");
    let e = with(&|st| st["predicateType"] = json!("https://example.com/other"));
    assert!(
        matches!(
            e,
            OmsError::Unexpected {
                field: "payload.predicateType",
                ..
            }
        ),
        "{e}"
    );
    let e = with(&|st| st["predicateType"] = json!("https://model_signing/Digests/v0.1"));
    assert!(matches!(e, OmsError::Unsupported { .. }), "{e}");
    let e = with(&|st| st["_type"] = json!("https://in-toto.io/Statement/v0.1"));
    assert!(
        matches!(
            e,
            OmsError::Unexpected {
                field: "payload._type",
                ..
            }
        ),
        "{e}"
    );
    let e = with(&|st| st["predicate"]["serialization"]["method"] = json!("shards"));
    assert!(matches!(e, OmsError::Unsupported { .. }), "{e}");
    let e = with(&|st| st["predicate"]["serialization"]["hash_type"] = json!("blake3"));
    assert!(matches!(e, OmsError::Unsupported { .. }), "{e}");
    let e = with(&|st| st["predicate"]["resources"][0]["name"] = json!("../../etc/passwd"));
    assert!(e.to_string().contains("resources[0].name"), "{e}");
    let e = with(&|st| st["predicate"]["resources"][1]["name"] = json!("config.json"));
    assert!(e.to_string().contains("listed twice"), "{e}");
    let e = with(&|st| st["predicate"]["resources"][0]["digest"] = json!("xyz"));
    assert!(e.to_string().contains("resources[0].digest"), "{e}");
    let e = with(&|st| st["predicate"]["resources"][0]["algorithm"] = json!("md5"));
    assert!(e.to_string().contains("resources[0].algorithm"), "{e}");
    let e = with(&|st| st["subject"] = json!([]));
    assert!(e.to_string().contains("payload.subject"), "{e}");
    let e = with(&|st| {
        st.as_object_mut().unwrap().remove("predicate");
    });
    assert!(e.to_string().contains("payload.predicate"), "{e}");
}

#[test]
fn hostile_bundles_are_errors_not_panics() {
    let key = fixture_key();
    let good = std::fs::read(fixtures().join("model/model.sig")).unwrap();
    let cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"{}".to_vec(),
        good[..good.len() / 2].to_vec(),
        "[".repeat(100_000).into_bytes(),
        br#"{"mediaType": 5}"#.to_vec(),
        br#"{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}"#.to_vec(),
        br#"{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
             "dsseEnvelope": {"payload": "!!", "payloadType": "application/vnd.in-toto+json",
             "signatures": [{"sig": "AA=="}]}}"#
            .to_vec(),
        br#"{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
             "dsseEnvelope": {"payload": "e30=", "payloadType": "application/vnd.in-toto+json",
             "signatures": []}}"#
            .to_vec(),
        br#"{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
             "dsseEnvelope": {"payload": "e30=", "payloadType": "text/plain",
             "signatures": [{"sig": "AA=="}]}}"#
            .to_vec(),
        br#"{"mediaType": "application/vnd.dev.sigstore.bundle.v0.1+json",
             "messageSignature": {}}"#
            .to_vec(),
        vec![0xff; 4096],
    ];
    for (i, c) in cases.iter().enumerate() {
        assert!(verify_bundle(c, &key).is_err(), "case {i} verified");
    }
    // Every single-byte change of the reference bundle: no panic, and wherever it still
    // verifies the signed statement is unchanged (e.g. an unknown field renamed).
    let reference = verify_bundle(&good, &key).unwrap();
    for i in (0..good.len()).step_by(2) {
        let mut b = good.clone();
        b[i] ^= 0x20;
        if let Ok(m) = verify_bundle(&b, &key) {
            assert_eq!(m, reference, "byte {i}");
        }
    }
}

#[test]
fn oversized_bundle_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.sig");
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(MAX_BUNDLE_BYTES + 1).unwrap();
    assert!(matches!(read_bundle(&p), Err(OmsError::TooLarge { .. })));
    assert!(matches!(
        read_bundle(&dir.path().join("absent.sig")),
        Err(OmsError::Io { .. })
    ));
}

#[test]
fn bad_public_keys_are_typed_errors() {
    for bad in [
        "",
        "not a key",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        // A P-384 key (model_signing accepts it; hearth supports P-256 only).
        "-----BEGIN PUBLIC KEY-----\nMHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEg5RIqssbSUPuHyDwO4kyZNaUaU+ialoE\nQ0AWsH6lHYj1uEQaLQn1Hzb3EIXqsQvMnWlfnaEWs/yAeaRb2RmXuC7fUm8dRxZc\nCYGOn3gsMv53J1vpsrXuQHaOocfOhn5C\n-----END PUBLIC KEY-----\n",
        // An Ed25519 SPKI key.
        "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n",
    ] {
        assert!(matches!(OmsKey::from_pem(bad), Err(OmsError::Key(_))), "{bad:?}");
    }
}

#[cfg(unix)]
#[test]
fn symlinks_and_special_files_are_refused() {
    let (_d, model) = model_copy();
    std::os::unix::fs::symlink("/etc/hostname", model.join("link")).unwrap();
    let err = verify_model(
        &model,
        &model.join("model.sig"),
        &fixture_key(),
        &VerifyOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, OmsError::Symlink { path } if path.ends_with("link")),
        "{err}"
    );
    std::fs::remove_file(model.join("link")).unwrap();

    let _sock = std::os::unix::net::UnixListener::bind(model.join("sock")).unwrap();
    let err = verify_model(
        &model,
        &model.join("model.sig"),
        &fixture_key(),
        &VerifyOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, OmsError::SpecialFile { path } if path.ends_with("sock")),
        "{err}"
    );
}

#[test]
fn policy_can_require_an_oms_key() {
    let key = fixture_key();
    let policy = Policy {
        required_keys: vec![key.policy_id()],
        ..Policy::default()
    };
    let verified = vec![key.policy_id()];
    let signed = Subject {
        name: "tiny:latest",
        verified_keys: &verified,
        ..Subject::default()
    };
    assert_eq!(policy.enforce(Stage::Load, &signed), Ok(()));
    let other = vec![test_key(9).policy_id()];
    let unsigned = Subject {
        verified_keys: &other,
        ..signed
    };
    assert!(matches!(
        policy.enforce(Stage::Load, &unsigned),
        Err(Violation::Unsigned { .. })
    ));
}
