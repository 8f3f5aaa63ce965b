#!/usr/bin/env python3
"""Reference embeddings for hearth's embedding test (crates/hearth-engine/testdata/).

For each sentence: the token ids and the L2-normalised embedding llama.cpp computes (through
llama-cpp-python, the field's reference engine) on the GGUF that `hearth convert` writes, and,
as an independent check of the conversion, the cosine between that vector and a float64 numpy
forward pass of the original safetensors (Hugging Face tokenizer, BERT encoder, mean pooling).

  python scripts/embedding-reference.py MODEL.gguf SAFETENSORS_DIR > minilm-llama-cpp.json

Needs llama-cpp-python (see ../shared/reference/README.md for the build flags), numpy and
tokenizers. Not run by CI: its output is the committed golden file.
"""
import json
import struct
import sys

import numpy as np
from llama_cpp import Llama, __version__ as llama_cpp_version
from tokenizers import Tokenizer

SENTENCES = [
    "This is an example sentence",
    "Each sentence is converted",
    "The cat sits on the mat.",
    "A feline rests on a rug.",
    "How do I reverse a linked list in Rust?",
    'fn main() { println!("hello, world"); }',
    "def fibonacci(n):\n    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)",
    "Crème brûlée à la française — naïve café, ÉCOLE",
    "日本語のテキストも埋め込みます",
    " ".join(
        f"line {i}: let value_{i} = compute(input[{i}]) * {i + 1}; // keep the running total"
        for i in range(18)
    ),
]


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__" or e["dtype"] != "F32":
            continue
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(data[b:end], dtype="<f4").reshape(e["shape"]).astype(np.float64)
    return out


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu(x):
    from math import erf, sqrt

    return 0.5 * x * (1.0 + np.vectorize(erf)(x / sqrt(2.0)))


def bert_f64(t, cfg, ids):
    eps = cfg["layer_norm_eps"]
    heads = cfg["num_attention_heads"]
    n = len(ids)
    x = t["embeddings.word_embeddings.weight"][ids]
    x = x + t["embeddings.position_embeddings.weight"][:n] + t["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"], eps)
    d = x.shape[1] // heads
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        lin = lambda v, name: v @ t[p + name + ".weight"].T + t[p + name + ".bias"]
        q = lin(x, "attention.self.query").reshape(n, heads, d).transpose(1, 0, 2)
        k = lin(x, "attention.self.key").reshape(n, heads, d).transpose(1, 0, 2)
        v = lin(x, "attention.self.value").reshape(n, heads, d).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / np.sqrt(d)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        a = (s @ v).transpose(1, 0, 2).reshape(n, -1)
        x = layer_norm(x + lin(a, "attention.output.dense"),
                       t[p + "attention.output.LayerNorm.weight"], t[p + "attention.output.LayerNorm.bias"], eps)
        h = gelu(lin(x, "intermediate.dense"))
        x = layer_norm(x + lin(h, "output.dense"), t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"], eps)
    v = x.mean(0)
    return v / np.linalg.norm(v)


def main():
    gguf, src = sys.argv[1], sys.argv[2]
    cfg = json.load(open(f"{src}/config.json"))
    tensors = load_safetensors(f"{src}/model.safetensors")
    tok = Tokenizer.from_file(f"{src}/tokenizer.json")
    tok.no_truncation()
    tok.no_padding()
    llm = Llama(model_path=gguf, embedding=True, n_ctx=512, n_batch=512, n_ubatch=512,
                n_threads=2, n_threads_batch=2, verbose=False)
    cases = []
    for s in SENTENCES:
        ids = llm.tokenize(s.encode(), add_bos=True, special=False)
        hf_ids = tok.encode(s).ids
        vec = np.array(llm.embed(s, normalize=True), dtype=np.float64)
        ref = bert_f64(tensors, cfg, hf_ids)
        cos = float(vec @ ref / np.linalg.norm(vec))
        print(f"{len(ids):4} tokens  same ids as HF: {ids == hf_ids}  cosine vs f64: {cos:.7f}  {s[:40]!r}",
              file=sys.stderr)
        cases.append({"text": s, "tokens": ids, "hf_tokens_match": ids == hf_ids,
                      "cosine_vs_f64": round(cos, 7), "embedding": [round(float(x), 7) for x in vec]})
    head = {"engine": f"llama-cpp-python {llama_cpp_version}", "model": gguf.rsplit("/", 1)[-1],
            "normalized": True}
    # One case per line: the file stays diffable without a line per vector component.
    out = json.dumps(head)[:-1] + ', "cases": [\n'
    out += ",\n".join(json.dumps(c, ensure_ascii=False) for c in cases)
    sys.stdout.write(out + "\n]}\n")


main()
