"""Official `ollama`, `openai` and `anthropic` Python clients against a running hearth server.

Env: HEARTH_URL (server), HEARTH_REGISTRY (host:port of a test registry holding library/smol).
Prints one line per check and a closing 'N passed, N failed' line; exits non-zero on failure.
"""
import json
import os
import sys
import traceback

import anthropic
import ollama
import openai

URL = os.environ["HEARTH_URL"]
REGISTRY = os.environ["HEARTH_REGISTRY"]
MODEL = "qwen2.5-coder:0.5b"
GREEDY = {"temperature": 0, "num_predict": 24, "seed": 1}

client = ollama.Client(host=URL)
oai = openai.OpenAI(base_url=URL + "/v1", api_key="not-needed")
claude = anthropic.Anthropic(base_url=URL, api_key="not-needed", max_retries=0)
# The SDK no longer takes `temperature` as an argument; the Messages API still accepts it.
GREEDY_A = {"temperature": 0}
results = []


def check(fn):
    try:
        fn()
        results.append(True)
        print(f"ok   {fn.__name__}")
    except Exception:  # noqa: BLE001
        results.append(False)
        print(f"FAIL {fn.__name__}")
        traceback.print_exc()
    return fn


@check
def ollama_list():
    names = [m.model for m in client.list().models]
    assert MODEL in names, names
    m = next(m for m in client.list().models if m.model == MODEL)
    assert m.details.family == "qwen2" and m.details.quantization_level == "Q4_K_M", m.details
    assert m.size > 400_000_000


@check
def ollama_show():
    s = client.show(MODEL)
    assert ".Suffix" in s.template, s.template
    assert "insert" in s.capabilities and "completion" in s.capabilities, s.capabilities
    assert s.modelinfo["general.architecture"] == "qwen2"


@check
def ollama_generate():
    r = client.generate(model=MODEL, prompt="Write a Python function add(a, b) that returns the sum.", options=GREEDY)
    assert r.done and r.eval_count == 24, r
    assert "def add" in r.response or "return" in r.response, r.response
    chunks = list(client.generate(model=MODEL, prompt="Write a Python function add(a, b) that returns the sum.",
                                  options=GREEDY, stream=True))
    assert chunks[-1].done and all(not c.done for c in chunks[:-1])
    assert "".join(c.response for c in chunks) == r.response


@check
def ollama_chat():
    msgs = [{"role": "user", "content": "What is 2+2? Answer with just the number."}]
    r = client.chat(model=MODEL, messages=msgs, options={"temperature": 0, "num_predict": 8})
    assert "4" in r.message.content, r.message
    parts = list(client.chat(model=MODEL, messages=msgs, options={"temperature": 0, "num_predict": 8}, stream=True))
    assert parts[-1].done
    assert "".join(p.message.content for p in parts) == r.message.content


@check
def ollama_generate_suffix():
    r = client.generate(model=MODEL, prompt="def add(a, b):\n    return ", suffix="\n\nprint(add(1, 2))\n",
                        options={"temperature": 0, "num_predict": 12})
    assert "a+b" in r.response.replace(" ", ""), repr(r.response)


@check
def ollama_chat_json_schema():
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
              "required": ["city", "population"]}
    r = client.chat(model=MODEL, format=schema, options={"temperature": 0, "num_predict": 64},
                    messages=[{"role": "user", "content": "Largest city of Japan and its population, as JSON."}])
    v = json.loads(r.message.content)
    assert isinstance(v["city"], str) and isinstance(v["population"], int), v


@check
def ollama_pull_with_progress():
    name = f"http://{REGISTRY}/library/smol:latest"
    events = list(client.pull(name, stream=True))
    statuses = [e.status for e in events]
    assert statuses[0] == "pulling manifest", statuses
    assert statuses[-1] == "success", statuses
    assert any(e.total and e.completed is not None for e in events), events
    assert any(m.model.endswith("smol:latest") for m in client.list().models)


@check
def ollama_copy_delete():
    client.copy(MODEL, "my-copy")
    assert "my-copy:latest" in [m.model for m in client.list().models]
    client.delete("my-copy")
    assert "my-copy:latest" not in [m.model for m in client.list().models]
    try:
        client.delete("my-copy")
        raise AssertionError("deleting a missing model succeeded")
    except ollama.ResponseError as e:
        assert e.status_code == 404


@check
def ollama_create_from_uploaded_blob():
    # What `ollama create` does with a local GGUF: upload it as a blob, then create from it.
    digest = client.create_blob(os.environ["HEARTH_SMOL_GGUF"])
    assert digest.startswith("sha256:"), digest
    r = client.create(model="smol-uploaded", files={"model.gguf": digest})
    assert r.status == "success", r
    assert "smol-uploaded:latest" in [m.model for m in client.list().models]
    client.delete("smol-uploaded")


@check
def ollama_ps():
    names = [m.model for m in client.ps().models]
    assert MODEL in names, names


@check
def ollama_errors():
    try:
        client.generate(model="no-such-model", prompt="x")
        raise AssertionError("unknown model accepted")
    except ollama.ResponseError as e:
        assert e.status_code == 404
    try:
        client.generate(model=MODEL, prompt="x", options={"num_predict": -7})
        raise AssertionError("negative num_predict accepted")
    except ollama.ResponseError as e:
        assert e.status_code == 400


@check
def openai_chat():
    r = oai.chat.completions.create(model=MODEL, temperature=0, max_tokens=8,
                                    messages=[{"role": "user", "content": "What is 2+2? Answer with just the number."}])
    assert "4" in r.choices[0].message.content, r
    assert r.usage.completion_tokens > 0


@check
def openai_chat_stream():
    stream = oai.chat.completions.create(model=MODEL, temperature=0, max_tokens=16, stream=True,
                                         stream_options={"include_usage": True},
                                         messages=[{"role": "user", "content": "Say hello."}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "hello" in text.lower(), text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


@check
def openai_completion_suffix():
    r = oai.completions.create(model=MODEL, prompt="def mul(a, b):\n    return ", suffix="\n", max_tokens=8, temperature=0)
    assert "a*b" in r.choices[0].text.replace(" ", ""), r


@check
def openai_models():
    ids = [m.id for m in oai.models.list()]
    assert MODEL in ids, ids
    assert oai.models.retrieve(MODEL).id == MODEL


@check
def anthropic_messages():
    r = claude.messages.create(model=MODEL, max_tokens=8, extra_body=GREEDY_A,
                               system="Answer with just the number.",
                               messages=[{"role": "user", "content": "What is 2+2?"}])
    assert r.type == "message" and r.role == "assistant", r
    assert "4" in r.content[0].text, r
    assert r.stop_reason in ("end_turn", "max_tokens"), r
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0, r


@check
def anthropic_messages_stream():
    with claude.messages.stream(model=MODEL, max_tokens=16, extra_body=GREEDY_A,
                                messages=[{"role": "user", "content": "Say hello."}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert "hello" in text.lower(), text
    assert final.content[0].text == text, final
    assert final.usage.output_tokens > 0, final


@check
def anthropic_tools_round_trip():
    tools = [{"name": "get_weather", "description": "Get the weather in a city",
              "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                               "required": ["city"]}}]
    msgs = [{"role": "user", "content": "What is the weather in Paris? Use the get_weather tool."}]
    r = claude.messages.create(model=MODEL, max_tokens=64, extra_body=GREEDY_A, tools=tools,
                               tool_choice={"type": "auto"}, messages=msgs)
    calls = [b for b in r.content if b.type == "tool_use"]
    assert not any("<tool_call>" in getattr(b, "text", "") for b in r.content), r
    if calls:
        assert r.stop_reason == "tool_use", r
        assert calls[0].name == "get_weather", calls
        msgs += [{"role": "assistant", "content": [c.model_dump() for c in r.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": calls[0].id,
                                               "content": "Sunny, 24 C"}]}]
        r2 = claude.messages.create(model=MODEL, max_tokens=32, extra_body=GREEDY_A, tools=tools, messages=msgs)
        assert r2.content, r2


@check
def anthropic_forced_tool_choice():
    # tool_choice naming a tool holds the model's output to a call of it, even for a 0.5B.
    tools = [{"name": "get_weather", "description": "Get the weather in a city",
              "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                               "required": ["city"]}}]
    r = claude.messages.create(model=MODEL, max_tokens=48, extra_body=GREEDY_A, tools=tools,
                               tool_choice={"type": "tool", "name": "get_weather"},
                               messages=[{"role": "user", "content": "Weather in Paris?"}])
    calls = [b for b in r.content if b.type == "tool_use"]
    assert r.stop_reason == "tool_use" and len(calls) == 1, r
    assert calls[0].name == "get_weather" and isinstance(calls[0].input.get("city"), str), r


@check
def openai_forced_tool_choice():
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    r = oai.chat.completions.create(model=MODEL, temperature=0, max_tokens=48, tools=tools,
                                    tool_choice="required",
                                    messages=[{"role": "user", "content": "Weather in Paris?"}])
    calls = r.choices[0].message.tool_calls
    assert r.choices[0].finish_reason == "tool_calls" and calls, r
    assert json.loads(calls[0].function.arguments)["city"], r


@check
def openai_responses():
    r = oai.responses.create(model=MODEL, temperature=0, max_output_tokens=8, store=False,
                             instructions="Answer with just the number.", input="What is 2+2?")
    assert r.status in ("completed", "incomplete"), r
    assert "4" in r.output_text, r
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0, r


@check
def openai_responses_stream():
    text, final, types = "", None, []
    with oai.responses.stream(model=MODEL, temperature=0, max_output_tokens=16,
                              input=[{"role": "user", "content": "Say hello."}]) as stream:
        for ev in stream:
            types.append(ev.type)
            if ev.type == "response.output_text.delta":
                text += ev.delta
        final = stream.get_final_response()
    assert types[0] == "response.created" and types[-1] in ("response.completed", "response.incomplete"), types
    assert "hello" in text.lower(), text
    assert final.output_text == text, final


@check
def openai_responses_function_tools():
    tools = [{"type": "function", "name": "get_weather", "description": "Get the weather in a city",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                             "required": ["city"]}},
             {"type": "web_search"}]
    inp = [{"role": "user", "content": "Weather in Paris?"}]
    r = oai.responses.create(model=MODEL, temperature=0, max_output_tokens=48, tools=tools,
                             tool_choice={"type": "function", "name": "get_weather"}, input=inp)
    calls = [o for o in r.output if o.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather", r
    assert json.loads(calls[0].arguments)["city"], r
    inp += [calls[0].model_dump(exclude_none=True),
            {"type": "function_call_output", "call_id": calls[0].call_id, "output": "Sunny, 24 C"}]
    r2 = oai.responses.create(model=MODEL, temperature=0, max_output_tokens=24, tools=tools, input=inp)
    assert r2.output, r2


@check
def thinking_kept_out_of_content():
    # The 0.5B steered into a thinking block by a grammar: the block comes back as
    # reasoning_content / thinking, never inside content, streamed or not.
    grammar = 'root ::= "<think>" [a-z]{2,12} (" " [a-z]{2,12}){0,5} "</think>\\n" [0-9]{1,3}'
    msgs = [{"role": "user", "content": "What is 2+2? Think, then answer with the number."}]
    r = oai.chat.completions.create(model=MODEL, temperature=0, max_tokens=40, messages=msgs,
                                    extra_body={"grammar": grammar})
    m = r.choices[0].message
    assert m.content and "think" not in m.content and m.content.strip().isdigit(), m
    thought = getattr(m, "reasoning_content", None)
    assert thought and "<" not in thought, m
    # The thinking block's tokens are counted apart, as OpenAI reports reasoning.
    reasoning = r.usage.completion_tokens_details.reasoning_tokens
    assert 0 < reasoning < r.usage.completion_tokens, r.usage
    chunks = list(oai.chat.completions.create(model=MODEL, temperature=0, max_tokens=40, messages=msgs,
                                              stream=True, extra_body={"grammar": grammar}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    think = "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices)
    assert text == m.content and think == thought, (text, think)


@check
def anthropic_count_tokens_and_errors():
    n = claude.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "Hello there"}])
    assert n.input_tokens > 3, n
    try:
        claude.messages.create(model="nope", max_tokens=4, messages=[{"role": "user", "content": "x"}])
        raise AssertionError("unknown model accepted")
    except anthropic.NotFoundError:
        pass
    try:
        claude.messages.create(model=MODEL, max_tokens=4,
                               messages=[{"role": "user", "content": "word " * 5000}])
        raise AssertionError("an over-long prompt was accepted")
    except anthropic.BadRequestError as e:
        assert "context" in str(e), e


EMBED = "all-minilm"
QUERY = "How do I read a file in Python?"
RELEVANT = "Use open(path).read() to load the contents of a file in Python."
UNRELATED = "The weather in Paris is sunny and warm today."


def cos(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (sum(x * x for x in a) ** 0.5 * sum(y * y for y in b) ** 0.5)


@check
def ollama_embed():
    assert client.show(EMBED).capabilities == ["embedding"]
    r = client.embed(model=EMBED, input=[QUERY, RELEVANT, UNRELATED])
    q, rel, unrel = r.embeddings
    assert len(q) == 384 and abs(sum(x * x for x in q) - 1) < 1e-3, len(q)
    assert cos(q, rel) > cos(q, unrel) + 0.2, (cos(q, rel), cos(q, unrel))
    assert r.prompt_eval_count > 20, r.prompt_eval_count
    old = client.embeddings(model=EMBED, prompt=QUERY).embedding
    assert cos(old, q) > 0.9999
    try:
        client.embed(model=MODEL, input="hi")
        raise AssertionError("a chat model produced embeddings")
    except ollama.ResponseError as e:
        assert e.status_code == 400 and "embeddings" in str(e), e


@check
def openai_embeddings():
    # The SDK asks for base64 and decodes it itself.
    r = oai.embeddings.create(model=EMBED, input=[QUERY, RELEVANT, UNRELATED])
    q, rel, unrel = (d.embedding for d in r.data)
    assert len(q) == 384 and [d.index for d in r.data] == [0, 1, 2]
    assert cos(q, rel) > cos(q, unrel) + 0.2
    f = oai.embeddings.create(model=EMBED, input=QUERY, encoding_format="float", dimensions=128)
    assert len(f.data[0].embedding) == 128 and f.usage.prompt_tokens > 5, f.usage
    assert cos(f.data[0].embedding, q[:128]) > 0.9999


passed, failed = results.count(True), results.count(False)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
