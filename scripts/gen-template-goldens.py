#!/usr/bin/env python3
"""Generate the chat-template goldens of crates/hearth-prompt/tests/golden/.

The expected strings come from Hugging Face transformers itself: the chat template of each real
test model (read from the GGUF with the `gguf` package) and a few small feature templates are
rendered with `transformers.utils.chat_template_utils.render_jinja_template`, after the message
normalization that `apply_chat_template` does (`_normalize_chat_messages`), with `bos_token` and
`eos_token` as template variables (what `apply_chat_template(..., tokenize=False)` passes).
hearth's Rust test renders the same inputs and asserts byte equality.

Setup (outside the repository; torch is not needed):
    python3 -m venv /tmp/tvenv && /tmp/tvenv/bin/pip install transformers jinja2 gguf
    /tmp/tvenv/bin/python scripts/gen-template-goldens.py [MODELS_DIR]
MODELS_DIR defaults to $HEARTH_TEST_MODELS or ~/.cache/hearth/test-models.
"""

import hashlib
import json
import os
import sys
from pathlib import Path

import jinja2
import transformers
from gguf import GGUFReader
from transformers.utils.chat_template_utils import _normalize_chat_messages, render_jinja_template

MODELS = {
    "qwen2.5-coder-0.5b-instruct": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    "qwen2.5-coder-1.5b-instruct": "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    "smollm2-135m-instruct": "SmolLM2-135M-Instruct.Q4_1.gguf",
}

OUT = Path(__file__).resolve().parent.parent / "crates/hearth-prompt/tests/golden"

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city. Température en °C.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. \"Zürich\""},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city"],
        },
    },
}
SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search_code",
        "description": "Search the repository for a pattern.",
        "parameters": {
            "type": "object",
            "properties": {"pattern": {"type": "string"}, "max_results": {"type": "number", "default": 10.0}},
            "required": ["pattern"],
        },
    },
}

SYSTEM = {"role": "system", "content": "You are a careful coding assistant."}

CASES = [
    ("system_user", [SYSTEM, {"role": "user", "content": "Write a function that reverses a string."}], None, True),
    ("user_only", [{"role": "user", "content": "Hello!"}], None, True),
    ("user_only_no_generation_prompt", [{"role": "user", "content": "Hello!"}], None, False),
    (
        "multi_turn",
        [
            SYSTEM,
            {"role": "user", "content": "What is 2 + 2?"},
            {"role": "assistant", "content": "4"},
            {"role": "user", "content": "And in Python?\n\n```python\nprint(2 + 2)\n```"},
        ],
        None,
        True,
    ),
    (
        "multi_turn_ends_with_assistant",
        [
            {"role": "user", "content": "Name a prime."},
            {"role": "assistant", "content": "7"},
        ],
        None,
        False,
    ),
    (
        "unicode_and_escapes",
        [
            SYSTEM,
            {"role": "user", "content": "Zürich, 東京, emoji 🚀, quotes \" ' and \\backslash\\ \t tab {{ not a tag }} {% raw %}"},
        ],
        None,
        True,
    ),
    (
        "tools_call_and_response",
        [
            SYSTEM,
            {"role": "user", "content": "What's the weather in Zürich?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": {"city": "Zürich", "unit": "celsius", "days": 1}},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "{\"temperature\": 21.5, \"sky\": \"clear\"}"},
        ],
        [WEATHER_TOOL, SEARCH_TOOL],
        True,
    ),
    (
        "tools_parallel_calls_no_system",
        [
            {"role": "user", "content": "Weather in Paris and Oslo, then search for TODO."},
            {
                "role": "assistant",
                "content": "Let me check.",
                "tool_calls": [
                    {"id": "a", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                    {"id": "b", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo", "unit": "fahrenheit"}}},
                ],
            },
            {"role": "tool", "tool_call_id": "a", "content": "18"},
            {"role": "tool", "tool_call_id": "b", "content": "50"},
            {"role": "assistant", "content": "Paris 18 °C, Oslo 50 °F."},
            {"role": "user", "content": "Thanks. Now search."},
        ],
        [WEATHER_TOOL, SEARCH_TOOL],
        True,
    ),
    ("tools_defined_plain_chat", [{"role": "user", "content": "Just say hi."}], [SEARCH_TOOL], True),
]

# Small templates of our own that exercise the constructs real Hub templates use.
FEATURE_TEMPLATES = {
    "python_printing": "{{ none }}|{{ true }}|{{ false }}|{{ 1.5 }}|{{ 2.0 }}|{{ 10 }}|{{ [1, 'a', none, 2.5] }}|{{ {'k': 'v', 'n': none} }}|{{ messages[0] }}|{{ tools }}|{{ undefined_thing }}|{{ 'it\\'s' }}|{{ messages | length }}",
    "string_methods": "{% set c = messages[0].content %}{{ c.strip() }}|{{ c.lstrip() }}|{{ c.rstrip('! ') }}|{{ c.split(',') }}|{{ c.split() }}|{{ c.upper() }}|{{ c.lower() }}|{{ c.title() }}|{{ c.replace('a', 'A') }}|{{ c.startswith('  He') }}|{{ c.endswith('!') }}|{{ c.strip().capitalize() }}|{{ c.count('l') }}|{{ c.find('o') }}|{{ c[::-1] }}|{{ c[2:7] }}|{{ 'x' in c }}|{{ c.split('</think>')[-1].lstrip('\\n') }}",
    "tojson_variants": "{{ tools | tojson }}\n{{ tools[0] | tojson(indent=2) }}\n{{ tools[0].function.parameters | tojson(indent=4, sort_keys=true) }}\n{{ messages[0] | tojson(separators=(',', ':')) }}\n{{ messages[0].content | tojson }}\n{{ {'a': 1.0, 'b': [true, none]} | tojson }}\n{{ 'é' | tojson(ensure_ascii=true) }}",
    "loops_and_namespace": "{%- set ns = namespace(found=false, n=0) -%}\n{%- for m in messages -%}\n  {%- if m.role == 'system' -%}{%- continue -%}{%- endif -%}\n  {%- set ns.n = ns.n + 1 -%}\n  {%- if m.role == 'assistant' -%}{%- set ns.found = true -%}{%- endif -%}\n  [{{ loop.index }}/{{ loop.length }}{{ ' last' if loop.last }}:{{ m.role }}]\n  {%- if ns.n > 3 -%}{%- break -%}{%- endif -%}\n{%- endfor -%}\n{{ ns.found }} {{ ns.n }} {{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(' / ') }}",
    "whitespace_control": "{% for m in messages %}\n    {% if m.role == 'user' %}\n        <u>{{ m.content }}</u>\n    {% else %}\n  <{{ m.role }}>\n    {% endif %}\n{% endfor %}\n  {%+ if add_generation_prompt %}GEN{% endif %}\n{# comment #}\ntail\n",
    "dict_and_tests": "{% for k, v in messages[0].items() %}{{ k }}={{ v }};{% endfor %}|{{ messages[0].get('name', 'anon') }}|{{ messages[0] is mapping }}|{{ messages[0].content is string }}|{{ tools is none }}|{{ tools is defined }}|{{ bos_token }}|{{ eos_token }}|{{ (messages | last).role }}|{{ messages[1:] | map(attribute='role') | list }}|{{ range(3) | list }}|{{ '%s-%d' | format('a', 3) }}|{{ messages[0]['content'] | trim | length }}",
    "raise_on_bad_roles": "{% for m in messages %}{% if (m.role == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{{ m.content }}{% endfor %}",
    "generation_tag": "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}A: {{ m.content }}{% endgeneration %}{% else %}U: {{ m.content }}{% endif %}\n{% endfor %}",
    "string_escapes": "{%- set s = \"line one.\\\nline two\\a\\v\\/ \\U0001F600 \\x41\\101 \\u00e9\" -%}\r\n{{ s | tojson }}|{{ 'it\\'s' }}|{{ \"a\\\\b\" }}\r\n{% raw %}{{ 'kept\\\n' }}{% endraw %}",
    "macros": "{%- macro render_args(args) -%}{% for k, v in args.items() %}{{ k }}: {{ v | tojson }}{% if not loop.last %}, {% endif %}{% endfor %}{%- endmacro -%}{% for m in messages %}{% for tc in m.tool_calls or [] %}{{ tc.function.name }}({{ render_args(tc.function.arguments) }}){% endfor %}{% endfor %}",
}

FEATURE_CASES = {
    "python_printing": ("plain", [{"role": "user", "content": "hi"}], None, True),
    "string_methods": ("plain", [{"role": "user", "content": "  Hello, world, a lot!  "}], None, True),
    "tojson_variants": ("tools", [{"role": "user", "content": "Zürich \"quoted\"\n<tag> & 'x'"}], [WEATHER_TOOL, SEARCH_TOOL], True),
    "loops_and_namespace": ("multi", None, None, True),
    "whitespace_control": ("multi", None, None, True),
    "dict_and_tests": ("multi", None, None, False),
    "raise_on_bad_roles": ("bad", [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], None, True),
    "generation_tag": ("multi", None, None, True),
    "macros": ("tools", None, [WEATHER_TOOL], True),
    "string_escapes": ("plain", [{"role": "user", "content": "hi"}], None, True),
}


def render(template, messages, tools, add_generation_prompt, bos, eos):
    chat = _normalize_chat_messages(messages)
    try:
        out, _ = render_jinja_template(
            conversations=[chat],
            tools=tools,
            chat_template=template,
            add_generation_prompt=add_generation_prompt,
            bos_token=bos,
            eos_token=eos,
        )
        return {"output": out[0]}
    except Exception as e:  # the Rust side must fail too
        return {"error": f"{type(e).__name__}: {e}"}


def field_str(reader, key):
    f = reader.fields[key]
    return bytes(f.parts[f.data[0]]).decode("utf-8")


def field_int(reader, key):
    f = reader.fields[key]
    return int(f.parts[f.data[0]][0])


def token(reader, idx):
    f = reader.fields["tokenizer.ggml.tokens"]
    return bytes(f.parts[f.data[idx]]).decode("utf-8")


def generator():
    return f"transformers {transformers.__version__} render_jinja_template, jinja2 {jinja2.__version__}"


def write(name, doc):
    path = OUT / f"{name}.json"
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}")


def main():
    models_dir = Path(
        sys.argv[1] if len(sys.argv) > 1 else os.environ.get("HEARTH_TEST_MODELS") or Path.home() / ".cache/hearth/test-models"
    )
    OUT.mkdir(parents=True, exist_ok=True)
    for stem, file_name in MODELS.items():
        reader = GGUFReader(models_dir / file_name)
        template = field_str(reader, "tokenizer.chat_template")
        bos = token(reader, field_int(reader, "tokenizer.ggml.bos_token_id"))
        eos = token(reader, field_int(reader, "tokenizer.ggml.eos_token_id"))
        cases = []
        for name, messages, tools, agp in CASES:
            case = {"name": name, "messages": messages, "tools": tools, "add_generation_prompt": agp}
            case.update(render(template, messages, tools, agp, bos, eos))
            cases.append(case)
        write(
            stem,
            {
                "generator": generator(),
                "model": file_name,
                "template_key": "tokenizer.chat_template",
                "template_sha256": hashlib.sha256(template.encode()).hexdigest(),
                "bos_token": bos,
                "eos_token": eos,
                "cases": cases,
            },
        )

    multi = CASES[3][1] + [{"role": "assistant", "content": "4"}]
    tool_chat = CASES[6][1]
    cases = []
    for name, template in FEATURE_TEMPLATES.items():
        kind, messages, tools, agp = FEATURE_CASES[name]
        if messages is None:
            messages = tool_chat if kind == "tools" else multi
        case = {"name": name, "template": template, "messages": messages, "tools": tools, "add_generation_prompt": agp}
        case.update(render(template, messages, tools, agp, "<s>", "</s>"))
        cases.append(case)
    write("features", {"generator": generator(), "bos_token": "<s>", "eos_token": "</s>", "cases": cases})


if __name__ == "__main__":
    main()
