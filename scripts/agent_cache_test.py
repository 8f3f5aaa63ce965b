"""The prompt cache across agent turns: an agent's recorded first request (Claude Code's
/v1/messages, Codex's /v1/responses) sent twice to hearth; the second may evaluate at most 10%
of the prompt tokens of the first. Usage: agent_cache_test.py URL MODEL CAPTURE_DIR"""
import json
import os
import sys
import time
import urllib.request

url, model, capture = sys.argv[1], sys.argv[2], sys.argv[3]


def send(path, body):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=1800) as r:
        return json.load(r)


def largest(suffix):
    files = [os.path.join(capture, f) for f in os.listdir(capture) if f.endswith(suffix)]
    return max(files, key=os.path.getsize) if files else None


status = 0
for name, suffix, path in [("Claude Code", "v1_messages.json", "/v1/messages"),
                           ("Codex", "v1_responses.json", "/v1/responses")]:
    f = largest(suffix)
    if f is None:
        print(f"skip {name} prompt cache: no recorded request")
        continue
    body = json.load(open(f))
    body.update(model=model, stream=False)
    if path == "/v1/messages":
        body["max_tokens"] = 1
    else:
        body["max_output_tokens"] = 1
    runs = []
    for _ in range(2):
        t = time.time()
        u = send(path, body)["usage"]
        if path == "/v1/messages":
            cached = u.get("cache_read_input_tokens") or 0
            total = u["input_tokens"] + cached
        else:
            cached = u["input_tokens_details"]["cached_tokens"]
            total = u["input_tokens"]
        runs.append((total, total - cached, time.time() - t))
    (t1, e1, s1), (t2, e2, s2) = runs
    line = (f"{name} first request ({os.path.getsize(f)} bytes, {t1} prompt tokens): "
            f"evaluated {e1} then {e2} ({100 * e2 / t1:.1f}%), {s1:.1f} s then {s2:.1f} s")
    if e2 <= 0.10 * t1:
        print(f"ok   {line}")
    else:
        print(f"FAIL {line}")
        status = 1
sys.exit(status)
