"""Autocomplete quality: hearth against llama.cpp's server on the public HumanEval infilling sets.

Driven by scripts/fim-quality (which finds the binaries and the data); stdlib only.

Suites (OpenAI's human-eval-infilling, MIT, in shared/data/human-eval-infilling):
  single   SingleLine (1,033 tasks): one whole line masked, the cursor at its start
  midline  the same lines with their first 40% (at least one character) already typed
  span     RandomSpanLight (164): an arbitrary span, often starting and ending inside a line
  multi    MultiLine (5,815): several whole lines masked

Paths (the same model file behind both servers):
  ollama     hearth /api/generate, prompt + suffix (what Continue's Ollama provider sends)
  openai     hearth /v1/completions, prompt + suffix
  infill     hearth /infill (llama.cpp's endpoint: input_prefix, input_suffix)
  raw        hearth /v1/completions, the PSM prompt written by the client
  llama-raw  llama.cpp (llama-cpp-python) /v1/completions, the same PSM prompt

Sampling: `explicit` sends the same greedy settings to both (temperature 0, top_k 1, top_p 1,
min_p 0, repeat_penalty 1); `defaults` sends only temperature 0, so each server applies its own
defaults, as an editor's request does.

Scoring: exact match (whitespace at line ends ignored) and pass@1: the completed program runs
its tests inside `hearth sandbox` (no network, scratch-only filesystem, time and memory limits).
For single and midline the answer is the first line of the completion (the masked text is one
line), for every server alike.
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

SUITE_FILES = {
    "single": "HumanEval-SingleLineInfilling.jsonl.gz",
    "midline": "HumanEval-SingleLineInfilling.jsonl.gz",
    "span": "HumanEval-RandomSpanInfillingLight.jsonl.gz",
    "multi": "HumanEval-MultiLineInfilling.jsonl.gz",
}
EXPLICIT = {"temperature": 0.0, "top_k": 1, "top_p": 1.0, "min_p": 0.0, "repeat_penalty": 1.0}
FIM_STOPS = ["<|endoftext|>", "<|file_sep|>", "<|fim_pad|>", "<|fim_prefix|>", "<|fim_suffix|>",
             "<|fim_middle|>", "<|repo_name|>", "<|im_end|>"]
MODEL = "fim-quality:latest"


def load(data, suite, limit):
    with gzip.open(os.path.join(data, SUITE_FILES[suite]), "rt") as f:
        tasks = [json.loads(line) for line in f if line.strip()]
    if limit and limit < len(tasks):
        # Spread over the whole set (every problem, every position), deterministically.
        tasks = [tasks[i * len(tasks) // limit] for i in range(limit)]
    out = []
    for t in tasks:
        prefix, middle = t["prompt"], t["canonical_solution"]
        if suite == "midline":
            body = middle.rstrip("\n")
            indent = len(body) - len(body.lstrip())
            n = max(1, int(0.4 * len(body[indent:])))
            typed = body[:indent + n]
            prefix, middle = prefix + typed, middle[len(typed):]
        out.append({"id": t["task_id"], "prefix": prefix, "suffix": t["suffix"], "middle": middle,
                    "test": t["test"], "entry": t["entry_point"]})
    return out


def post(url, body, timeout=600):
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{url}: HTTP {e.code}: {e.read()[:300]!r}")


def psm(prefix, suffix):
    return f"<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>"


def request(path, task, suite, sampling, bases):
    """One completion through `path`: (text to insert at the cursor, why it ended)."""
    line = suite in ("single", "midline")
    max_tokens = 48 if line else 128
    samp = dict(EXPLICIT) if sampling == "explicit" else {"temperature": 0.0}
    pre, suf = task["prefix"], task["suffix"]
    if path == "ollama":
        r = post(bases["hearth"] + "/api/generate",
                 {"model": MODEL, "prompt": pre, "suffix": suf, "stream": False,
                  "options": dict(samp, num_predict=max_tokens)})
        return r["response"], r.get("done_reason")
    if path == "openai":
        r = post(bases["hearth"] + "/v1/completions",
                 dict(samp, model=MODEL, prompt=pre, suffix=suf, max_tokens=max_tokens))
        return r["choices"][0]["text"], r["choices"][0].get("finish_reason")
    if path == "infill":
        r = post(bases["hearth"] + "/infill",
                 dict(samp, model=MODEL, input_prefix=pre, input_suffix=suf, n_predict=max_tokens))
        return r["content"], r.get("stop_type")
    # Raw PSM prompt written by the client, the same bytes to both servers.
    stops = (["\n"] if line else []) + FIM_STOPS
    base = bases["hearth"] if path == "raw" else bases["llama"]
    r = post(base + "/v1/completions",
             dict(samp, model=MODEL, prompt=psm(pre, suf), max_tokens=max_tokens, stop=stops))
    return r["choices"][0]["text"], r["choices"][0].get("finish_reason")


def norm(s):
    return "\n".join(l.rstrip() for l in s.strip("\n").split("\n")).strip()


def answer(completion, suite):
    """What is inserted: the first line for one-line suites (newline restored), else all of it."""
    if suite in ("single", "midline"):
        return completion.split("\n", 1)[0].rstrip() + "\n"
    return completion


def program(task, inserted):
    return (task["prefix"] + inserted + task["suffix"] + "\n" + task["test"]
            + f"\n\ncheck({task['entry']})\n")


def passes(hearth, code, timeout):
    r = subprocess.run([hearth, "sandbox", "--timeout", str(timeout), "--mem", str(2 << 30), "--",
                        "/usr/bin/python3", "-c", code],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return r.returncode == 0


def wait_up(url, name, log):
    for _ in range(1200):
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except Exception:
            time.sleep(0.5)
    raise SystemExit(f"{name} server did not start: see {log}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--llama-python", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--suites", default="single,span")
    ap.add_argument("--paths", default="ollama,raw,llama-raw")
    ap.add_argument("--sampling", default="explicit")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--no-exec", action="store_true")
    ap.add_argument("--exec-timeout", type=float, default=10.0)
    ap.add_argument("--hearth-url", help="use this running hearth server (model fim-quality:latest)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    suites, paths, samplings = a.suites.split(","), a.paths.split(","), a.sampling.split(",")
    for s in suites:
        if s not in SUITE_FILES:
            raise SystemExit(f"unknown suite {s}: one of {', '.join(SUITE_FILES)}")
    for p in paths:
        if p not in ("ollama", "openai", "infill", "raw", "llama-raw"):
            raise SystemExit(f"unknown path {p}")

    procs, bases = [], {}
    try:
        if any(p != "llama-raw" for p in paths):
            if a.hearth_url:
                bases["hearth"] = a.hearth_url.rstrip("/")
            else:
                store = os.path.join(a.out, "store")
                os.makedirs(store, exist_ok=True)
                env = dict(os.environ, HEARTH_MODELS=store)
                mf = os.path.join(a.out, "Modelfile")
                with open(mf, "w") as f:
                    f.write(f"FROM {os.path.abspath(a.model)}\n")
                subprocess.run([a.hearth, "create", MODEL, "-f", mf, "--link"], env=env, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                port = 20000 + os.getpid() % 20000
                log = os.path.join(a.out, "hearth-server.log")
                procs.append(subprocess.Popen(
                    [a.hearth, "serve", "--host", f"127.0.0.1:{port}", "--threads", str(a.threads),
                     "--ctx-size", str(a.ctx)], env=env, stdout=open(log, "w"),
                    stderr=subprocess.STDOUT))
                bases["hearth"] = f"http://127.0.0.1:{port}"
                wait_up(bases["hearth"] + "/api/version", "hearth", log)
        if "llama-raw" in paths:
            port = 40000 + os.getpid() % 20000
            log = os.path.join(a.out, "llamacpp-server.log")
            procs.append(subprocess.Popen(
                [a.llama_python, "-m", "llama_cpp.server", "--model", a.model, "--n_threads",
                 str(a.threads), "--n_threads_batch", str(a.threads), "--n_ctx", str(a.ctx),
                 "--port", str(port), "--host", "127.0.0.1"], stdout=open(log, "w"),
                stderr=subprocess.STDOUT))
            bases["llama"] = f"http://127.0.0.1:{port}"
            wait_up(bases["llama"] + "/v1/models", "llama.cpp", log)

        summary = []
        for suite in suites:
            tasks = load(a.data, suite, a.limit)
            results = {}
            for sampling in samplings:
                for path in paths:
                    key = f"{path}/{sampling}"
                    t0 = time.time()
                    rows = []
                    for i, t in enumerate(tasks):
                        c, finish = request(path, t, suite, sampling, bases)
                        ins = answer(c, suite)
                        rows.append({"id": t["id"], "completion": c, "finish": finish,
                                     "exact": norm(ins) == norm(t["middle"])})
                        if (i + 1) % 50 == 0:
                            print(f"  {suite} {key}: {i + 1}/{len(tasks)}", file=sys.stderr)
                    secs = time.time() - t0
                    if not a.no_exec:
                        for t, r in zip(tasks, rows):
                            r["pass"] = passes(a.hearth, program(t, answer(r["completion"], suite)),
                                               a.exec_timeout)
                    results[key] = rows
                    n = len(rows)
                    ex = sum(r["exact"] for r in rows)
                    ps = sum(r.get("pass", False) for r in rows)
                    cut = sum(r["finish"] == "length" for r in rows)
                    summary.append({"suite": suite, "path": path, "sampling": sampling, "n": n,
                                    "exact": ex, "pass": None if a.no_exec else ps,
                                    "length_cut": cut,
                                    "seconds": round(secs, 1)})
                    pas = "" if a.no_exec else f"  pass@1 {ps}/{n} ({100 * ps / n:.1f}%)"
                    print(f"{suite:8} {key:22} exact {ex}/{n} ({100 * ex / n:.1f}%){pas}  "
                          f"ended by length/time {cut}  [{secs:.0f} s]", flush=True)
            with open(os.path.join(a.out, f"{suite}.jsonl"), "w") as f:
                for i, t in enumerate(tasks):
                    row = {"id": t["id"], "middle": t["middle"]}
                    for key, rows in results.items():
                        row[key] = rows[i]
                    f.write(json.dumps(row) + "\n")
        with open(os.path.join(a.out, "summary.json"), "w") as f:
            json.dump({"model": os.path.basename(a.model), "limit": a.limit, "rows": summary}, f,
                      indent=2)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
