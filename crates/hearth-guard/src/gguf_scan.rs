//! GGUF checks: structure (hearth-gguf), resource limits, vocabulary, hyper-parameters, data
//! layout (gaps, trailing bytes), metadata strings and chat templates.

use std::collections::HashSet;

use hearth_gguf::{Array, Gguf, Metadata, Value};

use crate::report::{Finding, Location, Severity};
use crate::template::{self, TemplateContext};
use crate::{gguf_walk, ScanOptions};

/// Longest vocabulary piece considered normal (real vocabularies stay under ~256 bytes).
pub(crate) const MAX_PIECE_BYTES: usize = 1024;
/// Largest context length considered sane (16 Mi tokens).
pub(crate) const MAX_CONTEXT: u64 = 1 << 24;

pub(crate) fn scan(bytes: &[u8], opts: &ScanOptions, out: &mut Vec<Finding>) {
    let walk = gguf_walk::walk(bytes, opts.max_metadata_bytes, opts.max_string_bytes);
    if let Some(l) = walk.over_limit {
        if l.field.contains("chat_template") {
            out.push(Finding::new(
                "template.too-large",
                Severity::High,
                format!("chat template: {}", l.what),
                Location::at(l.field.clone(), l.offset),
            ));
        }
        out.push(Finding::new(
            "gguf.resource-limit",
            Severity::High,
            format!("{}; the file was not loaded further", l.what),
            Location::at(l.field, l.offset),
        ));
        return;
    }
    let gguf = match hearth_gguf::parse(bytes) {
        Ok(g) => g,
        Err(e) => {
            out.push(Finding::new(
                "gguf.invalid",
                Severity::High,
                format!("invalid GGUF: {}", e.kind),
                Location::at(e.field, e.offset),
            ));
            return;
        }
    };
    let md = &gguf.metadata;
    metadata_strings(md, out);
    vocab(md, out);
    hparams(&gguf, out);
    layout(&gguf, bytes, out);
    let tok = md.tokenizer();
    let piece = |id: Option<u64>| {
        let tokens = md.tokens()?;
        tokens.get(usize::try_from(id?).ok()?).cloned()
    };
    let ctx = TemplateContext {
        family: md.architecture().map(str::to_owned),
        bos_token: piece(tok.bos_token_id),
        eos_token: piece(tok.eos_token_id),
    };
    for (key, value) in md.iter() {
        if !key.starts_with("tokenizer.chat_template") {
            continue;
        }
        match value {
            Value::String(text) => template::audit(key, text, &ctx, opts, out),
            Value::Array(_) if key == "tokenizer.chat_templates" => {}
            v => out.push(Finding::new(
                "template.wrong-type",
                Severity::Medium,
                format!("{key} is a {}, expected a string", v.value_type().name()),
                Location::field(format!("metadata[{key:?}]")),
            )),
        }
    }
}

fn metadata_strings(md: &Metadata, out: &mut Vec<Finding>) {
    for (key, value) in md.iter() {
        if key.starts_with("tokenizer.") {
            continue;
        }
        if let Value::String(s) = value {
            if s.chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
            {
                out.push(Finding::new(
                    "gguf.control-characters",
                    Severity::Low,
                    format!("{key} contains control characters (terminal escape injection)"),
                    Location::field(format!("metadata[{key:?}]")),
                ));
            }
        }
    }
}

fn vocab(md: &Metadata, out: &mut Vec<Finding>) {
    let f = |k: &str| Location::field(format!("metadata[\"tokenizer.ggml.{k}\"]"));
    let Some(tokens_v) = md.get("tokenizer.ggml.tokens") else {
        if md.get("tokenizer.ggml.model").is_some() {
            out.push(Finding::new(
                "gguf.vocab",
                Severity::Medium,
                "tokenizer.ggml.model is set but tokenizer.ggml.tokens is missing",
                f("tokens"),
            ));
        }
        return;
    };
    let Some(tokens) = tokens_v.as_array().and_then(Array::as_strings) else {
        out.push(Finding::new(
            "gguf.vocab",
            Severity::High,
            format!(
                "tokenizer.ggml.tokens is a {}, expected an array of strings",
                tokens_v.value_type().name()
            ),
            f("tokens"),
        ));
        return;
    };
    let n = tokens.len();
    if n == 0 {
        out.push(Finding::new(
            "gguf.vocab",
            Severity::High,
            "empty vocabulary",
            f("tokens"),
        ));
        return;
    }
    let types = md.get_array("tokenizer.ggml.token_type");
    if let Some(t) = types {
        if t.len() != n {
            out.push(Finding::new(
                "gguf.vocab",
                Severity::High,
                format!(
                    "token_type has {} entries but there are {n} tokens",
                    t.len()
                ),
                f("token_type"),
            ));
        }
    }
    let type_ids: Option<Vec<i64>> = types.and_then(|t| match t {
        Array::I32(v) => Some(v.iter().map(|&x| i64::from(x)).collect()),
        Array::U32(v) => Some(v.iter().map(|&x| i64::from(x)).collect()),
        Array::I8(v) => Some(v.iter().map(|&x| i64::from(x)).collect()),
        Array::U8(v) => Some(v.iter().map(|&x| i64::from(x)).collect()),
        _ => None,
    });
    if types.is_some() && type_ids.is_none() {
        out.push(Finding::new(
            "gguf.vocab",
            Severity::Medium,
            "token_type is not an integer array",
            f("token_type"),
        ));
    }
    if let Some(ids) = &type_ids {
        if let Some((i, v)) = ids.iter().enumerate().find(|(_, &v)| !(0..=6).contains(&v)) {
            out.push(Finding::new(
                "gguf.vocab",
                Severity::Medium,
                format!("token {i} has unknown token type {v} (valid: 0..=6)"),
                f("token_type"),
            ));
        }
    }
    if let Some(s) = md.get_array("tokenizer.ggml.scores") {
        if s.len() != n {
            out.push(Finding::new(
                "gguf.vocab",
                Severity::High,
                format!("scores has {} entries but there are {n} tokens", s.len()),
                f("scores"),
            ));
        }
    }
    for (key, value) in md.iter() {
        let Some(name) = key
            .strip_prefix("tokenizer.ggml.")
            .filter(|k| k.ends_with("_token_id"))
        else {
            continue;
        };
        match value.as_i64() {
            Some(id) if id >= 0 && (id as u64) < n as u64 => {}
            Some(-1) => {}
            Some(id) => out.push(Finding::new(
                "gguf.vocab",
                Severity::High,
                format!("{name} {id} is outside the vocabulary (0..{n})"),
                f(name),
            )),
            None => out.push(Finding::new(
                "gguf.vocab",
                Severity::Medium,
                format!(
                    "{name} is a {}, expected an integer",
                    value.value_type().name()
                ),
                f(name),
            )),
        }
    }
    let mut bad_bytes = Vec::new();
    let mut huge = Vec::new();
    let mut seen: HashSet<&str> = HashSet::with_capacity(n);
    let mut dups = 0usize;
    let mut first_dup = None;
    for (i, t) in tokens.iter().enumerate() {
        let is_byte_type = type_ids.as_ref().and_then(|v| v.get(i)) == Some(&6);
        let looks_byte = t.starts_with("<0x") && t.ends_with('>');
        if (looks_byte || is_byte_type) && !well_formed_byte_token(t) && bad_bytes.len() < 5 {
            bad_bytes.push(i);
        }
        if t.len() > MAX_PIECE_BYTES && huge.len() < 5 {
            huge.push((i, t.len()));
        }
        if !seen.insert(t.as_str()) {
            dups += 1;
            first_dup.get_or_insert(i);
        }
    }
    if !bad_bytes.is_empty() {
        out.push(Finding::new(
            "gguf.vocab",
            Severity::Medium,
            format!(
                "malformed byte token(s) at {bad_bytes:?} (expected `<0xXX>` with two hex digits)"
            ),
            f("tokens"),
        ));
    }
    if !huge.is_empty() {
        out.push(Finding::new(
            "gguf.vocab",
            Severity::Medium,
            format!(
                "oversized vocabulary piece(s) (index, bytes): {huge:?}; limit {MAX_PIECE_BYTES}"
            ),
            f("tokens"),
        ));
    }
    if dups > 0 {
        out.push(Finding::new(
            "gguf.vocab-duplicates",
            Severity::Low,
            format!(
                "{dups} duplicate vocabulary piece(s), first at index {}",
                first_dup.unwrap_or(0)
            ),
            f("tokens"),
        ));
    }
    if let Some(m) = md.get("tokenizer.ggml.merges") {
        match m.as_array().and_then(Array::as_strings) {
            None => out.push(Finding::new(
                "gguf.vocab",
                Severity::Medium,
                "merges is not an array of strings",
                f("merges"),
            )),
            Some(merges) => {
                if let Some(i) = merges.iter().position(|m| !m.contains(' ')) {
                    out.push(Finding::new(
                        "gguf.vocab",
                        Severity::Medium,
                        format!("merge {i} has no space separating its two pieces"),
                        f("merges"),
                    ));
                }
            }
        }
    }
}

fn well_formed_byte_token(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 6
        && t.starts_with("<0x")
        && b[5] == b'>'
        && b[3..5].iter().all(|c| c.is_ascii_hexdigit())
}

fn hparams(g: &Gguf, out: &mut Vec<Finding>) {
    let md = &g.metadata;
    let Some(arch) = md.architecture() else {
        out.push(Finding::new(
            "gguf.hparams",
            Severity::Medium,
            "general.architecture is missing",
            Location::field("metadata[\"general.architecture\"]"),
        ));
        return;
    };
    let hp = md.hparams();
    let loc = |k: &str| Location::field(format!("metadata[\"{arch}.{k}\"]"));
    let mut bad = |sev, key: &str, msg: String| {
        out.push(Finding::new("gguf.hparams", sev, msg, loc(key)));
    };
    if md.arch_key("block_count").is_some() && hp.block_count == Some(0) {
        bad(Severity::High, "block_count", "block_count is 0".into());
    }
    if hp.head_count == Some(0) {
        bad(
            Severity::High,
            "attention.head_count",
            "attention.head_count is 0".into(),
        );
    }
    if hp.embedding_length == Some(0) {
        bad(
            Severity::High,
            "embedding_length",
            "embedding_length is 0".into(),
        );
    }
    if let (Some(h), Some(kv)) = (hp.head_count, hp.head_count_kv) {
        if kv > h {
            bad(
                Severity::High,
                "attention.head_count_kv",
                format!("head_count_kv {kv} is larger than head_count {h}"),
            );
        } else if kv > 0 && h % kv != 0 {
            bad(
                Severity::Medium,
                "attention.head_count_kv",
                format!("head_count {h} is not a multiple of head_count_kv {kv}"),
            );
        }
    }
    if md.arch_key("attention.key_length").is_none() {
        if let (Some(e), Some(h)) = (hp.embedding_length, hp.head_count) {
            if h > 0 && e % h != 0 {
                bad(
                    Severity::High,
                    "attention.head_count",
                    format!("embedding_length {e} is not divisible by head_count {h} and no key_length is given"),
                );
            }
        }
    }
    match hp.context_length {
        Some(0) => bad(
            Severity::Medium,
            "context_length",
            "context_length is 0".into(),
        ),
        Some(c) if c > MAX_CONTEXT => bad(
            Severity::Medium,
            "context_length",
            format!("context_length {c} is absurd (limit {MAX_CONTEXT})"),
        ),
        _ => {}
    }
    if let (Some(e), Some(u)) = (hp.expert_count, hp.expert_used_count) {
        if u > e {
            bad(
                Severity::High,
                "expert_used_count",
                format!("expert_used_count {u} exceeds expert_count {e}"),
            );
        }
    }
    if let (Some(n), Some(t)) = (
        md.tokens().map(<[String]>::len),
        g.tensor("token_embd.weight"),
    ) {
        if let Some(&rows) = t.dims.get(1) {
            if rows < n as u64 {
                out.push(Finding::new(
                    "gguf.hparams",
                    Severity::High,
                    format!("token_embd.weight has {rows} rows but the vocabulary has {n} tokens"),
                    Location::at("tensor[\"token_embd.weight\"]", t.info_offset),
                ));
            }
        }
    }
}

fn layout(g: &Gguf, bytes: &[u8], out: &mut Vec<Finding>) {
    let mut spans: Vec<(u64, u64)> = g
        .tensors
        .iter()
        .map(|t| {
            (
                g.data_offset + t.offset,
                g.data_offset + t.offset + t.n_bytes,
            )
        })
        .collect();
    spans.sort_unstable();
    let mut cursor = g.data_offset;
    let (mut gap_bytes, mut gap_nonzero) = (0u64, 0u64);
    for (start, end) in &spans {
        let padded = cursor.div_ceil(g.alignment).saturating_mul(g.alignment);
        if *start > padded {
            gap_bytes += start - padded;
            if let Some(s) = bytes.get(padded as usize..*start as usize) {
                gap_nonzero += s.iter().filter(|&&b| b != 0).count() as u64;
            }
        }
        cursor = cursor.max(*end);
    }
    if gap_nonzero > 0 {
        out.push(Finding::new(
            "gguf.hidden-data",
            Severity::Medium,
            format!(
                "{gap_bytes} bytes between tensors belong to no tensor ({gap_nonzero} non-zero)"
            ),
            Location::field("data"),
        ));
    } else if gap_bytes > 0 {
        out.push(Finding::new(
            "gguf.hidden-data",
            Severity::Low,
            format!("{gap_bytes} zero bytes between tensors belong to no tensor"),
            Location::field("data"),
        ));
    }
    let trailing = g.trailing_bytes();
    if trailing > 0 {
        let start = g.file_size - trailing;
        let head = bytes.get(start as usize..).unwrap_or(&[]);
        let what = embedded_kind(head);
        let (sev, msg) = match what {
            Some(k) => (
                Severity::High,
                format!("{trailing} bytes after the tensor data start with {k} (polyglot file)"),
            ),
            None if head.iter().all(|&b| b == 0) => (
                Severity::Low,
                format!("{trailing} zero bytes after the tensor data"),
            ),
            None => (
                Severity::Medium,
                format!("{trailing} bytes after the tensor data (polyglot file?)"),
            ),
        };
        out.push(Finding::new(
            "gguf.trailing-bytes",
            sev,
            msg,
            Location::at("data.end", start),
        ));
    }
}

/// Recognise the start of an embedded file.
pub(crate) fn embedded_kind(b: &[u8]) -> Option<&'static str> {
    let first_nonzero = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    let b = &b[first_nonzero.min(b.len())..];
    Some(match b {
        [b'P', b'K', 3, 4, ..] | [b'P', b'K', 5, 6, ..] => "a zip archive",
        [0x80, 2..=5, ..] => "a pickle stream",
        [0x7f, b'E', b'L', b'F', ..] => "an ELF executable",
        [b'M', b'Z', ..] => "a Windows executable",
        [b'#', b'!', ..] => "a script",
        [b'G', b'G', b'U', b'F', ..] => "another GGUF file",
        [0x1f, 0x8b, ..] => "gzip data",
        [b'<', b'h' | b'H' | b's' | b'S' | b'!', ..] => "HTML/script markup",
        _ => return None,
    })
}
