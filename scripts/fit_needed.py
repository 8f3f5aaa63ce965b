"""`scripts/fit-vs-measured --needed`: hearth fit's `needed` and `resident` against measurement.

Arguments: HEARTH (the binary whose `fit` predicts), RUN_BIN (whose `run` is measured),
MODELS_DIR, "CTX ...", "MODEL-KEYS ...". See scripts/fit-vs-measured for the method.
Exit status 1 when a prediction is outside its band, 2 when no cgroup can be used.
"""
import json
import os
import re
import subprocess
import sys
import time

HEARTH, RUN_BIN, MODELS, CTXS, KEYS = sys.argv[1:6]
FILES = {
    "0.5b": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    "1.5b": "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    "smollm2": "SmolLM2-135M-Instruct.Q4_1.gguf",
}
MIB = 1 << 20
N_PREDICT = 64
KEEP = 0.90  # share of the unconstrained decode speed that counts as full speed
FILL = 2048  # tokens of prompt aimed at (less at small contexts): long enough for full batches


def prompt(blocks):
    """Python code of about 45 tokens per block."""
    return "\n".join(
        f"def step_{i}(state, value):\n    total = state.get('total', 0) + value * {i}\n"
        f"    state['total'] = total\n    return total if total < {1000 + i} else None\n"
        for i in range(blocks)
    ) + "\ndef main():\n    state = {}\n"


def die(msg, code=2):
    print(f"fit-vs-measured: {msg}", file=sys.stderr)
    sys.exit(code)


class Cgroup:
    """A fresh child memory cgroup per run (v2 memory.max, else v1 memory.limit_in_bytes)."""

    def __init__(self):
        v2 = "/sys/fs/cgroup"
        v1 = "/sys/fs/cgroup/memory"
        self.version = None
        if os.path.exists(f"{v2}/cgroup.controllers") and "memory" in open(f"{v2}/cgroup.controllers").read():
            self.root, self.version = v2, 2
        elif os.path.isdir(v1) and os.path.exists(f"{v1}/memory.limit_in_bytes"):
            self.root, self.version = v1, 1
        else:
            die("no memory cgroup (v2 with the memory controller, or v1 /sys/fs/cgroup/memory): cannot measure")
        self.n = 0
        try:
            self.make(1 << 40)
            self.remove()
        except OSError as e:
            die(f"cannot create a memory cgroup under {self.root} (cgroup v{self.version}): {e}; run as root")

    def make(self, limit):
        self.n += 1
        self.path = f"{self.root}/hearth-fit-{os.getpid()}-{self.n}"
        os.mkdir(self.path)
        if self.version == 2:
            open(f"{self.path}/memory.max", "w").write(str(limit))
            if os.path.exists(f"{self.path}/memory.swap.max"):
                open(f"{self.path}/memory.swap.max", "w").write("0")
        else:
            open(f"{self.path}/memory.limit_in_bytes", "w").write(str(limit))
            sw = f"{self.path}/memory.memsw.limit_in_bytes"
            if os.path.exists(sw):
                open(sw, "w").write(str(limit))
        return f"{self.path}/cgroup.procs"

    def remove(self):
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except OSError:
                time.sleep(0.1)


def drop_cache(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def run(model, ctx, text, procs=None, timeout=None):
    """(ok, decode tok/s, peak RSS bytes, seconds, prompt tokens) of one answer, inside the
    cgroup when given."""
    # The model's pages, and the hearth binary's, are charged to the run that reads them, not
    # to an earlier one outside the cgroup: the code that runs a model is memory it needs
    # (~20 MiB of a release build; RSS counts it, and without this the cgroup would not).
    # Shared libraries stay where they are: other processes hold them.
    drop_cache(model)
    drop_cache(RUN_BIN)
    cmd = ["/usr/bin/time", "-v", RUN_BIN, "run", "--local", "--verbose", model, text, "--raw",
           "-c", str(ctx), "-n", str(N_PREDICT), "--temperature", "0", "-t", "2"]
    if procs:
        # Join the cgroup, then become the measured command.
        cmd = ["sh", "-c", f'echo $$ > "{procs}" && exec "$@"', "sh"] + cmd
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           env={**os.environ, "NO_COLOR": "1", "HEARTH_NO_SERVER": "1"})
    except subprocess.TimeoutExpired:
        return False, 0.0, 0, time.monotonic() - t0, 0
    took = time.monotonic() - t0
    err = p.stderr
    rate = re.search(r"^eval rate:\s+([0-9.]+) tokens/s", err, re.M)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    n_prompt = re.search(r"^prompt eval count:\s+(\d+)", err, re.M)
    ok = p.returncode == 0 and rate is not None
    return (ok, float(rate.group(1)) if rate else 0.0, int(rss.group(1)) * 1024 if rss else 0, took,
            int(n_prompt.group(1)) if n_prompt else 0)


def fit(model, ctx, fill):
    out = subprocess.run([HEARTH, "fit", model, "--ctx", str(ctx), "--fill", str(fill), "--cpu-only",
                          "--no-probe", "--json"], capture_output=True, text=True, check=True).stdout
    e = json.loads(out)["models"][0]["estimate"]
    return e["cpu_needed"], e["cpu_total"], e["repack_cpu"]


def main():
    cg = Cgroup()
    print(f"cgroup v{cg.version} at {cg.root}; a code prompt of about min({FILL}, ctx - 128) tokens, "
          f"{N_PREDICT} generated; full speed = {KEEP:.0%} of the unconstrained decode rate")
    print(f"{'MODEL':<42} {'N_CTX':>6} {'FILL':>5} {'NEEDED':>8} {'MIN':>8} {'RATIO':>6} {'RESIDENT':>9} {'PEAK':>8} {'RATIO':>6} {'REPACK':>7}  (MiB)")
    status = 0
    for key in KEYS.split():
        name = FILES.get(key) or die(f"unknown model {key}")
        model = os.path.join(MODELS, name)
        if not os.path.isfile(model):
            die(f"{model} missing (scripts/fetch-test-models)")
        for ctx in map(int, CTXS.split()):
            # Size the prompt with this model's tokenizer: a 10-block probe gives tokens/block.
            probe = run(model, ctx, prompt(10))
            if not probe[0] or probe[4] == 0:
                die(f"{name} at ctx {ctx}: the probe run failed")
            per_block = probe[4] / 10
            text = prompt(max(1, int((min(FILL, ctx - 128) - N_PREDICT) / per_block)))
            runs = [run(model, ctx, text) for _ in range(2)]
            if not all(r[0] for r in runs):
                die(f"{name} at ctx {ctx}: the unconstrained run failed")
            speed = max(r[1] for r in runs)
            peak = max(r[2] for r in runs)
            wall = max(r[3] for r in runs)
            fill = runs[0][4] + N_PREDICT
            needed, resident, repack = fit(model, ctx, fill)

            def full_speed(limit):
                # A miss on speed alone is tried once more: 2-core machines are noisy.
                for _ in range(2):
                    procs = cg.make(limit)
                    try:
                        ok, rate, _, _, _ = run(model, ctx, text, procs, timeout=2 * wall + 10)
                    finally:
                        cg.remove()
                    if ok and rate >= KEEP * speed:
                        return True
                    if not ok:
                        return False
                return False

            lo, hi = int(peak * 0.5), int(peak * 1.15)
            while hi - lo > 0.02 * hi:
                mid = (lo + hi) // 2
                if full_speed(mid):
                    hi = mid
                else:
                    lo = mid
            r_need, r_res = needed / hi, resident / peak
            bad = not (0.9 <= r_need <= 1.1) or not (0.95 <= r_res <= 1.05)
            status |= bad
            print(f"{name:<42} {ctx:>6} {fill:>5} {needed/MIB:>8.0f} {hi/MIB:>8.0f} {r_need:>6.3f} {resident/MIB:>9.0f} "
                  f"{peak/MIB:>8.0f} {r_res:>6.3f} {repack/MIB:>7.0f}{'  <- outside the band' if bad else ''}",
                  flush=True)
    sys.exit(1 if status else 0)


main()
