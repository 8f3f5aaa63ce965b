//! Hostile chat templates (they come from downloaded model files): every one must end with an
//! error or harmless output, within the default limits, and never hang or crash the process.
//! Each case runs on its own thread; a case still running after 60 s counts as a hang (a
//! generous bound that only catches a missing limit, not a performance check).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::mpsc;
use std::time::Duration;

use hearth_prompt::{ChatTemplate, Message, RenderInput, TemplateError};

enum Want {
    /// Must fail; the closure checks the error.
    Err(fn(&TemplateError) -> bool),
    /// May render, but the output must not contain the text.
    Harmless(&'static str),
}

fn run_case(name: &'static str, source: &'static str, want: Want) {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let result = ChatTemplate::new(source).and_then(|t| {
                t.render(&RenderInput {
                    messages: vec![Message::user("hi")],
                    add_generation_prompt: true,
                    ..Default::default()
                })
            });
            let _ = tx.send(result);
        })
        .unwrap();
    let result = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| {
            panic!("{name}: no result after 60 s (hang) or the render thread died")
        });
    match (want, result) {
        (Want::Err(check), Err(e)) => {
            assert!(check(&e), "{name}: unexpected error kind: {e:?}");
            assert!(
                e.to_string().contains("tokenizer.chat_template"),
                "{name}: error must name the template: {e}"
            );
        }
        (Want::Err(_), Ok(out)) => {
            panic!("{name}: rendered {} bytes instead of failing", out.len())
        }
        (Want::Harmless(bad), Ok(out)) => assert!(
            !out.contains(bad),
            "{name}: output contains {bad:?}: {out:?}"
        ),
        (Want::Harmless(_), Err(_)) => {}
    }
}

fn fuel_or_output(e: &TemplateError) -> bool {
    matches!(
        e,
        TemplateError::OutOfFuel { .. } | TemplateError::OutputTooLarge { .. }
    )
}

fn any_render_error(e: &TemplateError) -> bool {
    matches!(
        e,
        TemplateError::Render { .. } | TemplateError::OutOfFuel { .. }
    )
}

#[test]
fn nested_huge_loops_run_out_of_fuel() {
    run_case(
        "nested loops",
        "{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}",
        Want::Err(fuel_or_output),
    );
}

#[test]
fn silent_loops_run_out_of_fuel() {
    // No output at all, so only fuel can stop it.
    run_case(
        "silent loops",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% set x = i + j %}{% endfor %}{% endfor %}",
        Want::Err(fuel_or_output),
    );
}

#[test]
fn string_repetition_is_refused_before_allocating() {
    run_case(
        "x * 10**10",
        "{{ 'x' * 10**10 }}",
        Want::Err(fuel_or_output),
    );
}

#[test]
fn doubling_string_runs_out_of_fuel() {
    run_case(
        "doubling",
        "{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
        Want::Err(fuel_or_output),
    );
}

#[test]
fn huge_range_is_refused() {
    run_case(
        "range 10**9",
        "{% for i in range(10**9) %}{% endfor %}",
        Want::Err(any_render_error),
    );
}

#[test]
fn infinite_macro_recursion_hits_the_limit() {
    run_case(
        "macro recursion",
        "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
        Want::Err(|e| {
            matches!(
                e,
                TemplateError::Render { .. } | TemplateError::OutOfFuel { .. }
            )
        }),
    );
}

#[test]
fn recursive_loop_hits_the_limit() {
    run_case(
        "loop recursion",
        "{% for x in [[1]] recursive %}{{ loop([[1]]) }}{% endfor %}",
        Want::Err(|e| {
            matches!(
                e,
                TemplateError::Render { .. } | TemplateError::OutOfFuel { .. }
            )
        }),
    );
}

#[test]
fn deeply_nested_expression_is_a_syntax_error_not_a_stack_overflow() {
    let src: &'static str = Box::leak(
        format!("{{{{ {}1{} }}}}", "(".repeat(20_000), ")".repeat(20_000)).into_boxed_str(),
    );
    run_case(
        "nested parens",
        src,
        Want::Err(|e| matches!(e, TemplateError::Syntax { .. })),
    );
}

#[test]
fn python_introspection_reaches_nothing() {
    run_case(
        "__class__",
        "{{ ''.__class__ }}{{ ''.__class__.__mro__ }}",
        Want::Harmless("class"),
    );
    run_case(
        "subclasses",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        Want::Harmless("subprocess"),
    );
    run_case(
        "globals",
        "{{ raise_exception.__globals__ }}{{ namespace.__init__.__globals__['os'] }}",
        Want::Harmless("os"),
    );
    run_case(
        "popen",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        Want::Harmless("uid="),
    );
    run_case(
        "config",
        "{{ config }}{{ self }}{{ request }}{{ lipsum }}",
        Want::Harmless("<"),
    );
}

#[test]
fn no_loader_for_other_templates() {
    for (name, src) in [
        ("include", "{% include 'other.j2' %}"),
        ("import", "{% import 'other.j2' as o %}{{ o.x }}"),
        ("extends", "{% extends '/etc/passwd' %}"),
        ("from import", "{% from 'x' import y %}"),
    ] {
        run_case(
            name,
            src,
            Want::Err(|e| {
                matches!(
                    e,
                    TemplateError::Render { .. } | TemplateError::Syntax { .. }
                )
            }),
        );
    }
}

#[test]
fn oversized_output_is_capped() {
    // Within fuel (about 64 bytes per unit), but over a small output cap.
    let limits = hearth_prompt::Limits {
        max_output: 1 << 16,
        ..Default::default()
    };
    let t = ChatTemplate::with_options(
        "cap",
        "{% for i in range(100000) %}0123456789{% endfor %}",
        limits,
    )
    .unwrap();
    let err = t.render(&RenderInput::default()).unwrap_err();
    assert!(
        matches!(err, TemplateError::OutputTooLarge { limit: 65536, .. }),
        "{err:?}"
    );
}

#[test]
fn deeply_nested_input_data_errors_instead_of_overflowing() {
    let mut v = serde_json::json!(1);
    for _ in 0..400 {
        v = serde_json::json!([v]);
    }
    let t = ChatTemplate::new("{{ tools | tojson }}").unwrap();
    let err = t
        .render(&RenderInput {
            tools: Some(vec![v.clone()]),
            ..Default::default()
        })
        .unwrap_err();
    assert!(matches!(err, TemplateError::Render { .. }), "{err:?}");
    let t = ChatTemplate::new("{{ tools }}").unwrap();
    let err = t
        .render(&RenderInput {
            tools: Some(vec![v]),
            ..Default::default()
        })
        .unwrap_err();
    assert!(matches!(err, TemplateError::Render { .. }), "{err:?}");
}

#[test]
fn a_template_is_reusable_after_a_failed_render() {
    let t =
        ChatTemplate::new("{% if messages | length > 1 %}{{ 'x' * 10**10 }}{% endif %}ok").unwrap();
    let one = RenderInput {
        messages: vec![Message::user("a")],
        ..Default::default()
    };
    let two = RenderInput {
        messages: vec![Message::user("a"), Message::user("b")],
        ..Default::default()
    };
    assert!(t.render(&two).is_err());
    assert_eq!(t.render(&one).unwrap(), "ok");
}
