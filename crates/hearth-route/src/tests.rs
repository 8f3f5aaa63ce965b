use serde_json::json;

use super::*;

const HYBRID: &str = r#"
[router]
mode = "hybrid"

[[upstream]]
name = "anthropic"
kind = "anthropic"
base_url = "https://api.anthropic.com"
api_key_env = "ANTHROPIC_API_KEY"
price = { in_per_mtok = 3.0, out_per_mtok = 15.0 }

[[upstream]]
name = "openai"
kind = "openai"
base_url = "https://api.openai.com/v1"

[[alias]]
name = "smart"
target = "anthropic:claude-x"
fallback = ["openai:gpt-x", "local:qwen2.5-coder:7b"]

[[rule]]
id = "fim-local"
when = { task = "autocomplete" }
route = "local"

[[rule]]
id = "agent"
when = { task = "chat", has_tools = true }
route = "alias:smart"

[[rule]]
id = "too-slow"
when = { est_local_prefill_s_gt = 30 }
route = "alias:smart"

[[project]]
name = "bank"
local_only = true
"#;

fn policy() -> Policy {
    Policy::parse(HYBRID, "router.toml").unwrap()
}

fn chat(tools: bool) -> Summary {
    let mut body =
        json!({"model": "qwen2.5-coder:1.5b", "messages": [{"role": "user", "content": "hi"}]});
    if tools {
        body["tools"] = json!([{"type": "function", "function": {"name": "bash"}}]);
    }
    summarize("/v1/chat/completions", &body, &[])
}

fn with_header(mut s: Summary, v: &str) -> Summary {
    s.route_header = Some(v.into());
    s
}

#[test]
fn the_default_policy_is_local_only_and_refuses_explicit_cloud() {
    let p = Policy::default();
    let d = decide(&p, &chat(true), &Conditions::default()).unwrap();
    assert_eq!(d.route, Route::Local { model: None });
    assert_eq!(d.rule, "mode:local-only");
    let err = decide(
        &p,
        &with_header(chat(false), "cloud"),
        &Conditions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Refusal::Forbidden { ref rule, .. } if rule == "mode:local-only"));
    let mut lenient = Policy::default();
    lenient.router.on_forbidden = OnForbidden::Local;
    let d = decide(
        &lenient,
        &with_header(chat(false), "cloud"),
        &Conditions::default(),
    )
    .unwrap();
    assert_eq!(d.route, Route::Local { model: None });
}

#[test]
fn agent_turns_go_to_the_alias_and_plain_chat_stays_local() {
    let p = policy();
    let d = decide(&p, &chat(true), &Conditions::default()).unwrap();
    assert_eq!(
        d.route,
        Route::Cloud {
            upstream: "anthropic".into(),
            model: "claude-x".into(),
            fallback: vec!["openai:gpt-x".into(), "local:qwen2.5-coder:7b".into()],
        }
    );
    assert_eq!(d.rule, "rule:agent");
    assert_eq!(
        d.trace,
        [
            "mode:hybrid",
            "guard:ok",
            "rule:fim-local:no (task is chat)",
            "rule:agent:yes"
        ]
    );
    let d = decide(&p, &chat(false), &Conditions::default()).unwrap();
    assert_eq!(
        (d.route, d.rule.as_str()),
        (Route::Local { model: None }, "default")
    );
}

#[test]
fn autocomplete_and_embeddings_never_leave() {
    let p = policy();
    for (endpoint, body) in [
        (
            "/api/generate",
            json!({"model": "smart", "prompt": "def f(", "suffix": ")"}),
        ),
        (
            "/v1/completions",
            json!({"model": "m", "prompt": "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>"}),
        ),
        ("/infill", json!({"input_prefix": "a", "input_suffix": "b"})),
        ("/v1/embeddings", json!({"model": "smart", "input": "x"})),
    ] {
        let s = with_header(summarize(endpoint, &body, &[]), "cloud:smart");
        let d = decide(&p, &s, &Conditions::default()).unwrap();
        assert_eq!(d.route, Route::Local { model: None }, "{endpoint}");
        assert!(d.rule.starts_with("task:"), "{endpoint}: {}", d.rule);
    }
}

#[test]
fn switches_and_the_guard_keep_it_local() {
    let p = policy();
    let c = Conditions {
        no_cloud: true,
        ..Conditions::default()
    };
    let err = decide(&p, &with_header(chat(true), "cloud:smart"), &c).unwrap_err();
    assert!(matches!(err, Refusal::Forbidden { ref rule, .. } if rule == "env:HEARTH_NO_CLOUD"));
    let s = summarize(
        "/v1/messages",
        &json!({"model": "x", "messages": [], "tools": [{"name": "t"}]}),
        &[("X-Hearth-Project".into(), "bank".into())],
    );
    let d = decide(&p, &s, &Conditions::default()).unwrap();
    assert_eq!(d.rule, "project:bank:local-only");
    let mut s = chat(true);
    s.blocked = Some("private-key".into());
    let d = decide(&p, &s, &Conditions::default()).unwrap();
    assert_eq!(
        (d.route, d.rule.as_str()),
        (Route::Local { model: None }, "guard:private-key")
    );
}

#[test]
fn explicit_intent_by_header_or_alias_model() {
    let p = policy();
    let d = decide(
        &p,
        &with_header(chat(true), "local"),
        &Conditions::default(),
    )
    .unwrap();
    assert_eq!(
        (d.route, d.rule.as_str()),
        (Route::Local { model: None }, "header")
    );
    let mut s = chat(false);
    s.model = "smart".into();
    let d = decide(&p, &s, &Conditions::default()).unwrap();
    assert!(matches!(d.route, Route::Cloud { ref upstream, .. } if upstream == "anthropic"));
    assert_eq!(d.rule, "model");
    assert_eq!(
        decide(
            &p,
            &with_header(chat(false), "cloud:nope"),
            &Conditions::default()
        ),
        Err(Refusal::UnknownAlias("nope".into()))
    );
    assert_eq!(
        decide(
            &p,
            &with_header(chat(false), "sideways"),
            &Conditions::default()
        ),
        Err(Refusal::BadHeader("sideways".into()))
    );
}

#[test]
fn slow_prompts_go_out_when_the_local_speed_is_known() {
    let p = policy();
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "x".repeat(40_000)}]});
    let mut s = summarize("/api/chat", &body, &[]);
    assert_eq!(s.prompt_tokens, 10_001);
    let d = decide(&p, &s, &Conditions::default()).unwrap();
    assert!(d
        .trace
        .contains(&"rule:too-slow:no (local prompt speed unknown)".to_string()));
    s.local_prefill_tok_s = Some(240.0);
    let d = decide(&p, &s, &Conditions::default()).unwrap();
    assert_eq!(d.rule, "rule:too-slow");
    s.local_prefill_tok_s = Some(1000.0);
    let d = decide(&p, &s, &Conditions::default()).unwrap();
    assert!(d
        .trace
        .contains(&"rule:too-slow:no (local prefill ~10.0 s)".to_string()));
}

#[test]
fn budget_and_circuits_fall_back_along_the_alias() {
    let p = policy();
    let mut c = Conditions {
        open_circuits: vec!["anthropic".into()],
        ..Conditions::default()
    };
    let d = decide(&p, &chat(true), &c).unwrap();
    assert_eq!(
        d.route,
        Route::Cloud {
            upstream: "openai".into(),
            model: "gpt-x".into(),
            fallback: vec!["local:qwen2.5-coder:7b".into()],
        }
    );
    c.open_circuits.push("openai".into());
    let d = decide(&p, &chat(true), &c).unwrap();
    assert_eq!(
        d.route,
        Route::Local {
            model: Some("qwen2.5-coder:7b".into())
        }
    );
    let c = Conditions {
        budget_exhausted: true,
        ..Conditions::default()
    };
    let d = decide(&p, &chat(true), &c).unwrap();
    assert_eq!(
        (d.route, d.rule.as_str()),
        (Route::Local { model: None }, "budget")
    );
}

#[test]
fn a_project_file_may_only_tighten() {
    let mut p = policy();
    p.tighten(
        "[[rule]]\nid = \"secret-repo\"\nwhen = { has_tools = true }\nroute = \"local\"\n",
        ".hearth/router.toml",
    )
    .unwrap();
    let d = decide(&p, &chat(true), &Conditions::default()).unwrap();
    assert_eq!(d.rule, "rule:secret-repo");
    let mut p = policy();
    p.tighten("[router]\nmode = \"local-only\"\n", "p").unwrap();
    assert_eq!(p.router.mode, Mode::LocalOnly);
    let mut p = Policy::default();
    assert!(matches!(
        p.tighten("[router]\nmode = \"hybrid\"\n", "p"),
        Err(PolicyError::Loosens { .. })
    ));
    let mut p = policy();
    assert!(matches!(
        p.tighten("[[rule]]\nid = \"x\"\nroute = \"alias:smart\"\n", "p"),
        Err(PolicyError::Loosens { .. })
    ));
    let mut p = policy();
    assert!(matches!(
        p.tighten(
            "[[upstream]]\nname = \"evil\"\nkind = \"openai\"\nbase_url = \"https://e\"\n",
            "p"
        ),
        Err(PolicyError::Parse { .. })
    ));
}

#[test]
fn bad_policies_name_the_file_and_the_problem() {
    for (text, want) in [
        ("[router]\nmode = \"sometimes\"\n", "router.toml"),
        (
            "[[alias]]\nname = \"a\"\ntarget = \"nowhere:m\"\n",
            "no upstream \"nowhere\"",
        ),
        (
            "[[upstream]]\nname = \"local\"\nkind = \"openai\"\nbase_url = \"https://x\"\n",
            "reserved",
        ),
        (
            "[[upstream]]\nname = \"u\"\nkind = \"openai\"\nbase_url = \"file:///etc\"\n",
            "not an http(s) URL",
        ),
        (
            "[[rule]]\nid = \"r\"\nroute = \"alias:none\"\n",
            "no alias \"none\"",
        ),
        (
            "[[rule]]\nid = \"r\"\nwhen = { colour = \"red\" }\nroute = \"local\"\n",
            "colour",
        ),
    ] {
        let e = Policy::parse(text, "router.toml").unwrap_err().to_string();
        assert!(e.contains("router.toml") && e.contains(want), "{e}");
    }
}
