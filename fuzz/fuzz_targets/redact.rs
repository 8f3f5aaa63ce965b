#![no_main]
//! Secret redaction over any text (a prompt is whatever the client sent): no panic, and
//! restoring every issued placeholder (URLs included) gives the text back exactly, whole or
//! streamed in two pieces cut where the input's first byte says.
use std::sync::OnceLock;

use hearth_redact::{from_dotenv, Escape, Redactor, RestorePolicy};
use libfuzzer_sys::fuzz_target;

fn redactor() -> &'static Redactor {
    static R: OnceLock<Redactor> = OnceLock::new();
    R.get_or_init(|| {
        Redactor::builder()
            .internal_domains(["corp.example.com".to_string(), ".internal".to_string()])
            .known(from_dotenv("DB_PASS=\"hunter2-horse\"\n"))
            .deny(["Nightjar".to_string()])
            .deadline(std::time::Duration::from_secs(60))
            .build()
            .expect("the built-in rules compile")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mut req = redactor().request();
    let out = req.redact(text).expect("no deadline at this size");
    let all = RestorePolicy { in_urls: true };
    assert_eq!(req.restorer(all, Escape::None).restore_all(&out), text);
    let mut at = out.len() * usize::from(cut) / 255;
    while !out.is_char_boundary(at) {
        at += 1;
    }
    let mut back = req.restorer(all, Escape::None);
    let mut got = back.push(&out[..at]);
    got.push_str(&back.push(&out[at..]));
    got.push_str(&back.finish());
    assert_eq!(got, text);
});
