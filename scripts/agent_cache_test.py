"""The prompt cache across agent turns: an agent's recorded first request (Claude Code's
/v1/messages, Codex's /v1/responses) sent twice to hearth; the second may evaluate at most 10%
of the prompt tokens of the first. Then the two agents take turns on the one slot: each turn
must still find its prefix (the RAM prompt cache keeps what the slot let go).
Usage: agent_cache_test.py URL MODEL CAPTURE_DIR"""
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


def prepared(suffix, path):
    f = largest(suffix)
    if f is None:
        return None
    body = json.load(open(f))
    body.update(model=model, stream=False)
    if path == "/v1/messages":
        body["max_tokens"] = 1
    else:
        body["max_output_tokens"] = 1
    return f, body


def turn(path, body):
    """(prompt tokens, evaluated tokens, seconds) of one request."""
    t = time.time()
    u = send(path, body)["usage"]
    if path == "/v1/messages":
        cached = u.get("cache_read_input_tokens") or 0
        total = u["input_tokens"] + cached
    else:
        cached = u["input_tokens_details"]["cached_tokens"]
        total = u["input_tokens"]
    return total, total - cached, time.time() - t


status = 0
agents = []
for name, suffix, path in [("Claude Code", "v1_messages.json", "/v1/messages"),
                           ("Codex", "v1_responses.json", "/v1/responses")]:
    p = prepared(suffix, path)
    if p is None:
        print(f"skip {name} prompt cache: no recorded request")
        continue
    f, body = p
    agents.append((name, path, body))
    (t1, e1, s1), (t2, e2, s2) = turn(path, body), turn(path, body)
    line = (f"{name} first request ({os.path.getsize(f)} bytes, {t1} prompt tokens): "
            f"evaluated {e1} then {e2} ({100 * e2 / t1:.1f}%), {s1:.1f} s then {s2:.1f} s")
    if e2 <= 0.10 * t1:
        print(f"ok   {line}")
    else:
        print(f"FAIL {line}")
        status = 1

# Taking turns on one slot: each agent's prefix was pushed out of the slot by the other's.
for _ in range(2 if len(agents) == 2 else 0):
    for name, path, body in agents:
        t, e, secs = turn(path, body)
        line = f"{name} turn after the other agent: evaluated {e} of {t} prompt tokens, {secs:.1f} s"
        if e <= 0.10 * t:
            print(f"ok   {line}")
        else:
            print(f"FAIL {line}")
            status = 1
sys.exit(status)
