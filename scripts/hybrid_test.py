"""Checks of scripts/hybrid-test, with the official clients against a running hearth.

    hybrid_test.py hybrid       # hearth in hybrid mode, alias `smart` -> the stand-in
    hybrid_test.py local-only   # the same policy in local-only mode (on_forbidden = local)

Environment: HEARTH_URL, RECORDED (the recorder's log), and for `hybrid` AUDIT, ENV_FILE and
STANDIN_PID. Prints one line per check; exits 1 when one fails.
"""
import json
import os
import random
import signal
import string
import sys
import time

import anthropic
import openai

URL = os.environ["HEARTH_URL"]
RECORDED = os.environ["RECORDED"]
failed = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        failed.append(name)


def recorded():
    try:
        with open(RECORDED, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def planted():
    """One secret of each kind the redactor knows by shape, in the text it would sit in."""
    rnd = random.Random(16)
    an = string.ascii_letters + string.digits

    def pick(n, chars=an):
        return "".join(rnd.choice(chars) for _ in range(n))

    secrets = [
        "AKIA" + pick(16, string.ascii_uppercase + "234567"),
        "ghp_" + pick(36),
        "glpat-" + pick(20),
        "sk-proj-" + pick(48),
        "sk-ant-api03-" + pick(40),
        "xoxb-" + pick(30),
        "sk_live_" + pick(24),
        "AIza" + pick(35),
        "hf_" + pick(34, string.ascii_letters),
        "npm_" + pick(36),
        "dop_v1_" + pick(64, "0123456789abcdef"),
        "gsk_" + pick(52),
    ]
    pw = pick(16)
    text = "\n".join(f"token_{i} = \"{s}\"" for i, s in enumerate(secrets))
    text += f"\nDB_PASSWORD={pw}\nurl = postgres://admin:{pw}x@db.corp.example.com/app\n"
    return secrets + [pw, "db.corp.example.com"], text


def hybrid():
    audit = os.environ["AUDIT"]
    ac = anthropic.Anthropic(base_url=URL, api_key="unused", max_retries=0, timeout=300)
    oc = openai.OpenAI(base_url=URL + "/v1", api_key="unused", max_retries=0, timeout=300)

    # 1. Chat through the alias: the stand-in answers; what it received is redacted.
    secrets, text = planted()
    before = len(recorded())
    raw = ac.messages.with_raw_response.create(
        model="smart", max_tokens=24, extra_body={"temperature": 0},
        messages=[{"role": "user", "content":
                   "Here is my config:\n" + text + "\nWhat is 2+2? Answer with one number."}])
    msg = raw.parse()
    answer = "".join(b.text for b in msg.content if b.type == "text")
    route = raw.headers.get("x-hearth-route", "")
    check("anthropic SDK chat via alias comes from the stand-in",
          route.startswith("cloud; upstream=standin; model=qwen1.5b"), route)
    check("the stand-in's answer", "4" in answer, answer)
    got = recorded()[before:]
    check("the stand-in received exactly one request", len(got) == 1, len(got))
    sent = "".join(r["body"] for r in got)
    leaked = [s for s in secrets if s in sent]
    check(f"none of {len(secrets)} planted secrets left the machine", not leaked, leaked)
    check("placeholders went instead", "HEARTH_GITHUB_TOKEN_" in sent, sent[:300])
    check("no key of hearth's own went out", "authorization" not in
          {k.lower() for r in got for k in r["headers"]}, got[0]["headers"] if got else None)

    # 2. Streaming through the alias, restored: the model repeats a placeholder back.
    key = secrets[1]
    with ac.messages.stream(
            model="smart", max_tokens=48, extra_body={"temperature": 0},
            messages=[{"role": "user", "content":
                       f"Repeat this token exactly, nothing else: {key}"}]) as s:
        streamed = "".join(s.text_stream)
    check("streamed answer restores the placeholder the model repeated", key in streamed,
          streamed)

    # 3. Autocomplete of the same session stays local, even when asked for the cloud.
    before = len(recorded())
    fim_routes = set()
    for i in range(20):
        r = oc.completions.with_raw_response.create(
            model="qwen2.5-coder:0.5b", prompt=f"def add_{i}(a, b):\n    return ",
            suffix="\n\nprint(add(1, 2))\n", max_tokens=8, temperature=0,
            extra_headers={"X-Hearth-Route": "cloud:smart", "X-Hearth-Session": "editor-1"})
        r.parse()
        fim_routes.add(r.headers.get("x-hearth-route", "").split(";")[0])
    check("20 FIM requests with a forced cloud header answered locally", fim_routes == {"local"},
          fim_routes)
    check("the stand-in saw none of them", len(recorded()) == before, len(recorded()) - before)

    # 4. A known .env value keeps the request local.
    with open(os.environ["ENV_FILE"], encoding="utf-8") as f:
        known = f.readline().split("=", 1)[1].strip()
    before = len(recorded())
    raw = oc.chat.completions.with_raw_response.create(
        model="smart", max_tokens=8, temperature=0,
        messages=[{"role": "user", "content": f"Why does {known} refuse connections?"}])
    raw.parse()
    route = raw.headers.get("x-hearth-route", "")
    check("a known .env value stays local", route.startswith("local; rule=redact:known-value"),
          route)
    check("the stand-in saw nothing of it", len(recorded()) == before)

    # 5. The audit log: one record per upstream attempt, counts never values.
    with open(audit, encoding="utf-8") as f:
        log = f.read()
    recs = [json.loads(line) for line in log.splitlines()]
    check("audit records the attempts", len(recs) >= 2 and all(r["status"] == "ok" for r in recs),
          recs)
    check("audit holds no secret", not [s for s in secrets if s in log])
    r0 = recs[0]
    if r0["prompt_tokens"] is None:
        # llama-cpp-python's server sends no usage in a stream: no usage, no cost.
        check("no usage reported, no cost logged", r0["cost_usd"] is None, r0)
    else:
        expect = (r0["prompt_tokens"] * 3.0 + r0["completion_tokens"] * 15.0) / 1e6
        check("cost = price x the upstream's usage",
              abs(r0["cost_usd"] - expect) < 1e-12 and r0["prompt_tokens"] > 0, r0)
    if os.environ.get("STANDIN", "hearth") == "hearth":
        check("the stand-in reported its usage", r0["prompt_tokens"] is not None, r0)
    check("audit log is private (0600)", (os.stat(audit).st_mode & 0o777) == 0o600)

    # 6. An Anthropic-protocol upstream (the stand-in's /v1/messages), asked through OpenAI's.
    if os.environ.get("STANDIN", "hearth") == "hearth":
        before = len(recorded())
        raw = oc.chat.completions.with_raw_response.create(
            model="smart-anthropic", max_tokens=16, temperature=0,
            messages=[{"role": "system", "content": "Answer with one number."},
                      {"role": "user", "content": f"What is 3+4? ({secrets[3]})"}])
        c = raw.parse()
        route = raw.headers.get("x-hearth-route", "")
        got = recorded()[before:]
        check("an Anthropic upstream answers through the OpenAI API",
              route.startswith("cloud; upstream=standin-anthropic")
              and "7" in (c.choices[0].message.content or ""), (route, c.choices[0].message.content))
        check("it was sent to /v1/messages, redacted",
              [r["path"] for r in got] == ["/v1/messages"]
              and secrets[3] not in got[0]["body"], [r["path"] for r in got])

    # 7. The upstream dies: the next request falls back to local before the first byte.
    os.kill(int(os.environ["STANDIN_PID"]), signal.SIGKILL)
    time.sleep(0.5)
    t = time.time()
    raw = oc.chat.completions.with_raw_response.create(
        model="smart", max_tokens=8, temperature=0,
        messages=[{"role": "user", "content": "Say hi."}])
    c = raw.parse()
    route = raw.headers.get("x-hearth-route", "")
    check("a dead upstream falls back to local", route.startswith("local;")
          and "fallback=local" in route and c.choices[0].message.content is not None, route)
    print(f"     fallback answered in {time.time() - t:.1f} s")


def local_only():
    ac = anthropic.Anthropic(base_url=URL, api_key="unused", max_retries=0, timeout=300)
    oc = openai.OpenAI(base_url=URL + "/v1", api_key="unused", max_retries=0, timeout=300)
    before = len(recorded())
    _, text = planted()
    huge = text * 40
    routes = set()
    for headers in [{"X-Hearth-Route": "cloud:smart"}, {"X-Hearth-Route": "cloud"}, {}]:
        # Far over the local context: refused here (400), never sent anywhere.
        try:
            raw = ac.messages.with_raw_response.create(
                model="smart", max_tokens=8, extra_headers=headers,
                messages=[{"role": "user", "content": huge + "\nSay ok."}])
            raw.parse()
            routes.add(raw.headers.get("x-hearth-route", ""))
        except anthropic.BadRequestError as e:
            routes.add(e.response.headers.get("x-hearth-route", ""))
        raw = oc.chat.completions.with_raw_response.create(
            model="smart", max_tokens=8, temperature=0, extra_headers=headers,
            messages=[{"role": "user", "content": "Say ok."}])
        raw.parse()
        routes.add(raw.headers.get("x-hearth-route", ""))
    check("forced cloud asks, aliases and huge prompts answered locally",
          routes == {"local; rule=mode:local-only"}, routes)
    check("the recorder accepted nothing", len(recorded()) == before, len(recorded()) - before)


{"hybrid": hybrid, "local-only": local_only}[sys.argv[1]]()
sys.exit(1 if failed else 0)
