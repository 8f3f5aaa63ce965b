//! Local management: create from a Modelfile, list/show/cp/rm with blob collection, a
//! read-only Ollama-layout store, export/import bundles and hostile archives.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::*;
use hearth_store::modelfile::Modelfile;
use hearth_store::{CreateOptions, Digest, ModelName, ShowInfo, Store, StoreError, Stores};

fn n(s: &str) -> ModelName {
    ModelName::parse(s).unwrap()
}

fn create(
    st: &Store,
    name: &str,
    dir: &Path,
    text: &str,
    extra: &[Store],
) -> Result<(), StoreError> {
    let mf = Modelfile::parse(text)?;
    st.create(&n(name), &mf, dir, extra, CreateOptions::default(), &|_| {})
        .map(|_| ())
}

#[test]
fn create_show_cp_rm_like_ollama() {
    let t = tempfile::tempdir().unwrap();
    let st = Store::open(t.path().join("m")).unwrap();
    std::fs::write(t.path().join("tiny.gguf"), tiny_gguf()).unwrap();
    create(
        &st,
        "tiny",
        t.path(),
        "FROM ./tiny.gguf\nTEMPLATE \"\"\"{{ .Prompt }}\"\"\"\nSYSTEM hi\nPARAMETER stop a\nPARAMETER stop b\nPARAMETER num_ctx 256\nLICENSE MIT\nMESSAGE user hello\n",
        &[],
    )
    .unwrap();
    let r = st.resolve("tiny").unwrap();
    assert_eq!(r.template.as_deref(), Some("{{ .Prompt }}"));
    assert_eq!(r.params["stop"], serde_json::json!(["a", "b"]));
    assert_eq!(r.license, ["MIT"]);
    assert_eq!(r.messages[0].content, "hello");
    assert_eq!(r.config.model_format, "gguf");
    assert_eq!(std::fs::read(&r.gguf_path).unwrap(), tiny_gguf());
    let info = ShowInfo::of(&r).unwrap();
    assert_eq!(info.architecture.as_deref(), Some("llama"));
    assert_eq!(info.context_length, Some(128));
    assert!(
        info.modelfile
            .contains("PARAMETER stop a\nPARAMETER stop b\n"),
        "{}",
        info.modelfile
    );
    // The rendered Modelfile parses back to the same settings.
    let again = Modelfile::parse(&info.modelfile).unwrap();
    assert_eq!(again.params().unwrap(), r.params);

    // FROM an existing model inherits its layers; new parameters merge over the old ones.
    create(
        &st,
        "tiny:child",
        t.path(),
        "FROM tiny\nPARAMETER temperature 0.5\nSYSTEM other\n",
        &[],
    )
    .unwrap();
    let c = st.resolve("tiny:child").unwrap();
    assert_eq!(c.gguf_path, r.gguf_path);
    assert_eq!(c.template, r.template);
    assert_eq!(c.system.as_deref(), Some("other"));
    assert_eq!(c.params["num_ctx"], serde_json::json!(256));
    assert_eq!(c.params["temperature"], serde_json::json!(0.5));
    assert_eq!(
        c.manifest.model_layer().unwrap().from.as_deref(),
        Some("tiny:latest")
    );

    st.copy(&n("tiny"), &n("me/copy:1")).unwrap();
    let names: Vec<String> = st
        .list()
        .unwrap()
        .iter()
        .map(|e| e.name.display_shortest())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    let blobs_before = files_under(&st.blobs_dir()).len();
    // Removing one of several users of a blob keeps it.
    st.remove(&n("tiny")).unwrap();
    assert!(st.resolve("me/copy:1").is_ok());
    assert!(r.gguf_path.is_file());
    assert_eq!(files_under(&st.blobs_dir()).len(), blobs_before);
    st.remove(&n("me/copy:1")).unwrap();
    assert!(r.gguf_path.is_file(), "still used by tiny:child");
    st.remove(&n("tiny:child")).unwrap();
    assert!(
        files_under(&st.blobs_dir()).is_empty(),
        "{:?}",
        files_under(&st.blobs_dir())
    );
    assert!(files_under(&st.manifests_dir()).is_empty());
    assert!(matches!(
        st.remove(&n("tiny")),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn create_refuses_pickles_and_missing_files() {
    let t = tempfile::tempdir().unwrap();
    let st = Store::open(t.path().join("m")).unwrap();
    std::fs::write(t.path().join("model.bin"), b"PK\x03\x04torch").unwrap();
    std::fs::write(t.path().join("p.pt"), b"\x80\x02}q\x00.").unwrap();
    for f in ["model.bin", "p.pt"] {
        let e = create(&st, "x", t.path(), &format!("FROM ./{f}\n"), &[]).unwrap_err();
        assert!(matches!(e, StoreError::Refused { .. }), "{e}");
    }
    assert!(create(&st, "x", t.path(), "FROM ./missing.gguf\n", &[]).is_err());
    assert!(matches!(
        create(&st, "x", t.path(), "FROM nothere:1\n", &[]).unwrap_err(),
        StoreError::NotFound(_)
    ));
    assert!(
        files_under(&st.blobs_dir()).is_empty(),
        "{:?}",
        files_under(&st.blobs_dir())
    );
}

/// A store laid out exactly as Ollama writes one (manifest JSON with a trailing newline).
fn ollama_store(root: &Path) -> (Digest, Vec<u8>) {
    let gguf = tiny_gguf();
    let cfg = br#"{"model_format":"gguf","model_family":"llama","model_families":["llama"],"model_type":"1K","file_type":"F32","architecture":"amd64","os":"linux"}"#;
    let tmpl = b"{{ .Prompt }}";
    let (gd, gl) = layer(MODEL, &gguf);
    let (cd, cl) = layer(CONFIG, cfg);
    let (td, tl) = layer("application/vnd.ollama.image.template", tmpl);
    std::fs::create_dir_all(root.join("blobs")).unwrap();
    for (d, b) in [(&gd, &gguf[..]), (&cd, &cfg[..]), (&td, &tmpl[..])] {
        std::fs::write(root.join("blobs").join(d.file_name()), b).unwrap();
    }
    let m = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "config": cl, "layers": [gl, tl]});
    let dir = root.join("manifests/registry.ollama.ai/library/qwen2.5-coder");
    std::fs::create_dir_all(&dir).unwrap();
    let mut bytes = serde_json::to_vec(&m).unwrap();
    bytes.push(b'\n');
    std::fs::write(dir.join("1.5b"), bytes).unwrap();
    (gd, gguf)
}

#[test]
fn ollama_store_is_listed_and_resolved_read_only() {
    let t = tempfile::tempdir().unwrap();
    let (gd, gguf) = ollama_store(&t.path().join("ollama"));
    let stores = Stores {
        primary: Store::open(t.path().join("hearth")).unwrap(),
        extra: vec![Store::open_read_only(t.path().join("ollama")).unwrap()],
    };
    assert!(stores.primary.list().unwrap().is_empty());
    let all = stores.list_all().unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].name.display_shortest(), "qwen2.5-coder:1.5b");
    let r = stores.resolve("qwen2.5-coder:1.5b").unwrap();
    assert_eq!(
        r.gguf_path,
        t.path().join("ollama/blobs").join(gd.file_name())
    );
    assert_eq!(r.template.as_deref(), Some("{{ .Prompt }}"));
    assert_eq!(std::fs::read(&r.gguf_path).unwrap(), gguf);
    hearth_gguf::GgufFile::open(&r.gguf_path).unwrap();
    // Case-insensitive lookup, as Ollama does.
    assert!(stores.resolve("Qwen2.5-Coder:1.5B").is_ok());
    let ro = &stores.extra[0];
    assert!(matches!(
        ro.remove(&n("qwen2.5-coder:1.5b")),
        Err(StoreError::ReadOnly { .. })
    ));
    // Copying into hearth's store copies (and verifies) the blobs; the Ollama store is untouched.
    stores
        .primary
        .copy_from(ro, &n("qwen2.5-coder:1.5b"), &n("mine"))
        .unwrap();
    assert_eq!(
        stores.primary.resolve("mine").unwrap().template.as_deref(),
        Some("{{ .Prompt }}")
    );
    assert_eq!(files_under(&t.path().join("ollama")).len(), 4);
}

/// A model in an Ollama store was never scanned by hearth: it is scanned when first asked
/// for, and a hostile chat template refuses it.
#[test]
fn ollama_store_models_are_scanned_before_use() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("ollama");
    ollama_store(&root);
    let stores = Stores {
        primary: Store::open(t.path().join("hearth")).unwrap(),
        extra: vec![Store::open_read_only(&root).unwrap()],
    };
    let r = stores.resolve("qwen2.5-coder:1.5b").unwrap();
    // Replace the blob with a model whose template escapes the Jinja sandbox.
    let mut w = hearth_gguf::writer::tiny_llama();
    w.metadata.retain(|(k, _)| k != "tokenizer.chat_template");
    let evil = w
        .kv(
            "tokenizer.chat_template",
            hearth_gguf::Value::String("{{ ''.__class__.__mro__[1].__subclasses__() }}".into()),
        )
        .to_bytes();
    std::fs::write(&r.gguf_path, &evil).unwrap();
    let err = stores.resolve("qwen2.5-coder:1.5b").unwrap_err();
    assert!(
        matches!(&err, StoreError::Refused { reason, .. } if reason.contains("template")),
        "{err}"
    );

    // An operator who reviewed this very file can accept its findings in the trust policy,
    // keyed by the file's sha256; an acceptance for other bytes changes nothing.
    let with = |digest: &Digest| Stores {
        primary: Store::open(t.path().join("hearth")).unwrap(),
        extra: vec![Store::open_read_only(&root)
            .unwrap()
            .with_policy(hearth_store::Policy {
                allow_findings: [(digest.to_string(), vec!["*".to_string()])]
                    .into_iter()
                    .collect(),
                ..hearth_store::Policy::default()
            })],
    };
    let other = Digest::from_bytes(b"another file");
    assert!(with(&other).resolve("qwen2.5-coder:1.5b").is_err());
    let reviewed = Digest::from_bytes(&evil);
    assert!(with(&reviewed).resolve("qwen2.5-coder:1.5b").is_ok());
}

/// `allowed_registries` holds for models hearth did not install: an Ollama-store model filed
/// under registry.ollama.ai is refused when only another registry is allowed.
#[test]
fn registry_policy_covers_ollama_store_models() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("ollama");
    ollama_store(&root);
    let policy = |allowed: &str| hearth_store::Policy {
        allowed_registries: vec![allowed.into()],
        ..hearth_store::Policy::default()
    };
    let ro = Store::open_read_only(&root)
        .unwrap()
        .with_policy(policy("huggingface.co"));
    assert!(matches!(
        ro.resolve("qwen2.5-coder:1.5b"),
        Err(StoreError::Policy(_)) | Err(StoreError::Refused { .. })
    ));
    let ro = Store::open_read_only(&root)
        .unwrap()
        .with_policy(policy("registry.ollama.ai"));
    assert!(ro.resolve("qwen2.5-coder:1.5b").is_ok());
}

#[test]
fn export_import_round_trip_is_byte_identical() {
    let t = tempfile::tempdir().unwrap();
    let a = Store::open(t.path().join("a")).unwrap();
    let real = hearth_gguf::testing::test_model(hearth_gguf::testing::TestModel::SmolLm2);
    let src = match &real {
        Some(p) => p.clone(),
        None => {
            std::fs::write(t.path().join("tiny.gguf"), tiny_gguf()).unwrap();
            t.path().join("tiny.gguf")
        }
    };
    create(
        &a,
        "exp:1",
        t.path(),
        &format!("FROM {}\nSYSTEM s\n", src.display()),
        &[],
    )
    .unwrap();
    let bundle = t.path().join("b.tar");
    Store::export(&a, &n("exp:1"), &bundle).unwrap();
    let b = Store::open(t.path().join("b")).unwrap();
    assert_eq!(b.import(&bundle).unwrap(), vec![n("exp:1")]);
    assert_eq!(files_under(&a.blobs_dir()), files_under(&b.blobs_dir()));
    for f in files_under(&a.blobs_dir()) {
        assert_eq!(
            std::fs::read(a.blobs_dir().join(&f)).unwrap(),
            std::fs::read(b.blobs_dir().join(&f)).unwrap()
        );
    }
    assert_eq!(
        std::fs::read(a.manifest_path(&n("exp:1"))).unwrap(),
        std::fs::read(b.manifest_path(&n("exp:1"))).unwrap()
    );
    assert_eq!(b.resolve("exp:1").unwrap().system.as_deref(), Some("s"));
    // Importing again is harmless.
    b.import(&bundle).unwrap();
    // The system tar tool reads the bundle (when installed).
    if let Ok(out) = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&bundle)
        .output()
    {
        let list = String::from_utf8_lossy(&out.stdout);
        assert!(
            list.contains("manifests/registry.ollama.ai/library/exp/1"),
            "{list}"
        );
    }
}

/// One raw ustar header (any name, type and link) with a valid checksum.
fn raw_header(name: &str, size: u64, kind: u8, link: &str) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

fn tar(entries: &[(&str, u8, &str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind, link, data) in entries {
        out.extend(raw_header(name, data.len() as u64, *kind, link));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend(vec![0u8; 1024]);
    out
}

#[test]
fn hostile_bundles_are_rejected_and_nothing_escapes() {
    let t = tempfile::tempdir().unwrap();
    let st = Store::open(t.path().join("store/m")).unwrap();
    let g = tiny_gguf();
    let d = Digest::from_bytes(&g);
    let blob = format!("blobs/{}", d.file_name());
    let wrong = format!("blobs/{}", Digest::from_bytes(b"other").file_name());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("dotdot", tar(&[("../escape", b'0', "", b"x")])),
        (
            "dotdot inside",
            tar(&[("blobs/../../escape", b'0', "", b"x")]),
        ),
        ("absolute", tar(&[("/tmp/escape", b'0', "", b"x")])),
        ("symlink", tar(&[("blobs/link", b'2', "/etc/passwd", b"")])),
        (
            "symlink to blob name",
            tar(&[(blob.as_str(), b'2', "../../../../etc/passwd", b"")]),
        ),
        (
            "hardlink",
            tar(&[(blob.as_str(), b'1', "/etc/passwd", b"")]),
        ),
        ("device", tar(&[("blobs/dev", b'3', "", b"")])),
        ("digest mismatch", tar(&[(wrong.as_str(), b'0', "", &g)])),
        (
            "bad blob name",
            tar(&[("blobs/sha256-../../x", b'0', "", b"x")]),
        ),
        ("other file", tar(&[("evil.sh", b'0', "", b"rm -rf /")])),
        (
            "manifest path escape",
            tar(&[("manifests/../../x/y/z", b'0', "", b"{}")]),
        ),
        ("no manifest", tar(&[(blob.as_str(), b'0', "", &g)])),
    ];
    for (what, bytes) in cases {
        let p = t.path().join("bundle.tar");
        std::fs::write(&p, bytes).unwrap();
        let e = st.import(&p);
        assert!(e.is_err(), "{what} was accepted");
        assert!(
            files_under(&st.blobs_dir()).is_empty(),
            "{what}: {:?}",
            files_under(&st.blobs_dir())
        );
        assert!(files_under(&st.manifests_dir()).is_empty(), "{what}");
        assert!(!t.path().join("escape").exists() && !t.path().join("store/escape").exists());
    }
    // A manifest whose model layer is not a valid GGUF is not installed.
    let junk = b"GGUF not really".to_vec();
    let jd = Digest::from_bytes(&junk);
    let cfg = b"{}".to_vec();
    let cd = Digest::from_bytes(&cfg);
    let m = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "mediaType": "x",
        "config": {"mediaType": CONFIG, "digest": cd.to_string(), "size": 2},
        "layers": [{"mediaType": MODEL, "digest": jd.to_string(), "size": junk.len()}]}))
    .unwrap();
    let jb = format!("blobs/{}", jd.file_name());
    let cb = format!("blobs/{}", cd.file_name());
    let p = t.path().join("bundle.tar");
    std::fs::write(
        &p,
        tar(&[
            (
                "manifests/registry.ollama.ai/library/j/latest",
                b'0',
                "",
                &m,
            ),
            (jb.as_str(), b'0', "", &junk),
            (cb.as_str(), b'0', "", &cfg),
        ]),
    )
    .unwrap();
    assert!(matches!(
        st.import(&p).unwrap_err(),
        StoreError::InvalidModel { .. }
    ));
    assert!(
        files_under(&st.blobs_dir()).is_empty(),
        "{:?}",
        files_under(&st.blobs_dir())
    );
    assert!(files_under(&st.manifests_dir()).is_empty());
}

#[test]
fn only_model_files_under_allowed_directories_may_be_named() {
    use hearth_store::create::allowed_model_file;
    let t = tempfile::tempdir().unwrap();
    let allowed = t.path().join("models");
    std::fs::create_dir_all(&allowed).unwrap();
    let good = allowed.join("tiny.gguf");
    std::fs::write(&good, tiny_gguf()).unwrap();
    std::fs::write(allowed.join("notes.gguf"), b"GGUF but not really a model").unwrap();
    std::fs::write(t.path().join("outside.gguf"), tiny_gguf()).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", allowed.join("passwd.gguf")).unwrap();
    std::os::unix::fs::symlink(t.path().join("outside.gguf"), allowed.join("out.gguf")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", allowed.join("zero.gguf")).unwrap();
    let dirs = vec![allowed.clone()];
    let real = allowed_model_file(good.to_str().unwrap(), &dirs).unwrap();
    assert_eq!(real, std::fs::canonicalize(&good).unwrap());
    // A symlink inside an allowed directory to a model inside it is fine.
    std::os::unix::fs::symlink(&good, allowed.join("link.gguf")).unwrap();
    assert!(allowed_model_file(allowed.join("link.gguf").to_str().unwrap(), &dirs).is_some());
    let outside = t.path().join("outside.gguf");
    let traversal = format!("{}/../outside.gguf", allowed.display());
    for refused in [
        "/etc/passwd",
        "/dev/zero",
        "/nonexistent/model.gguf",
        outside.to_str().unwrap(),
        traversal.as_str(),
        allowed.join("passwd.gguf").to_str().unwrap(),
        allowed.join("out.gguf").to_str().unwrap(),
        allowed.join("zero.gguf").to_str().unwrap(),
        allowed.join("notes.gguf").to_str().unwrap(),
        allowed.join("missing.gguf").to_str().unwrap(),
        allowed.to_str().unwrap(),
        "tiny.gguf",
    ] {
        assert_eq!(allowed_model_file(refused, &dirs), None, "{refused}");
    }
    // No allowed directories: nothing is.
    assert_eq!(allowed_model_file(good.to_str().unwrap(), &[]), None);
}
