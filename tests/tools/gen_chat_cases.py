#!/usr/bin/env python3
"""Generate tests/data/chat_template_cases.json: expected renderings from real Jinja2.

    pip install jinja2
    python3 tests/tools/gen_chat_cases.py [FIXTURES] > tests/data/chat_template_cases.json

The environment is the one transformers' apply_chat_template compiles templates in
(chat_template_utils._compile_jinja_template): ImmutableSandboxedEnvironment with
trim_blocks, lstrip_blocks, loopcontrols, tojson = json.dumps(ensure_ascii=False, ...),
raise_exception and strftime_now; variables messages, tools, documents,
add_generation_prompt, the tokenizer's special tokens, then extra kwargs.
Each case: {name, template | fixture, messages, tools?, add_generation_prompt, kwargs?,
expected | error}. Unit cases use bos "<s>" and eos "</s>"."""
import json, os, sys
from datetime import datetime
import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols


class AssistantTracker(Extension):
    """{% generation %}...{% endgeneration %} renders its body (transformers marks assistant tokens with it)."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda f: datetime.now().strftime(f)
    return env


ENV = make_env()


def render(template, messages, tools=None, agp=False, kwargs=None, bos="<s>", eos="</s>"):
    tokens = {}
    if bos is not None: tokens["bos_token"] = bos
    if eos is not None: tokens["eos_token"] = eos
    t = ENV.from_string(template)
    return t.render(messages=messages, tools=tools, documents=None, add_generation_prompt=agp, **{**tokens, **(kwargs or {})})


U = [{"role": "user", "content": "Hi"}]
CONV = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Bye"}]

# (name, template, messages, kwargs) -- small templates, one feature each
UNIT = [
    ("text", "plain text\n", U, None),
    ("var", "{{ messages[0].content }}|{{ messages[0]['role'] }}|{{ bos_token }}{{ eos_token }}", U, None),
    ("trim_blocks", "{% if true %}\nyes\n{% endif %}\nend\n", U, None),
    ("lstrip_blocks", "a\n    {% if true %}\n    b\n    {% endif %}\n  {{ 'c' }}\n", U, None),
    ("lstrip_after_text", "x  {% if true %}y{% endif %}  z", U, None),
    ("ws_control", "a   {%- if true -%}   b   {%- endif -%}   c {{- ' d ' -}} e", U, None),
    ("ws_plus", "a\n  {%+ if true +%}\nb\n{% endif %}", U, None),
    ("comment", "a\n  {# note #}\nb{#- x -#}  c", U, None),
    ("if_elif", "{% for x in [1, 2, 3, 4] %}{% if x == 1 %}one{% elif x == 2 %}two{% elif x is even %}even{% else %}other{% endif %},{% endfor %}", U, None),
    ("loop_vars", "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}[{{ loop.previtem }}|{{ loop.nextitem }}] {% endfor %}", U, None),
    ("for_else", "{% for x in [] %}x{% else %}empty{% endfor %}{% for x in [1] %}{{ x }}{% else %}no{% endfor %}", U, None),
    ("for_items", "{% for k, v in {'a': 1, 'b': [2, 3]}.items() %}{{ k }}={{ v }};{% endfor %}", U, None),
    ("for_filter", "{% for x in range(10) if x % 3 == 0 %}{{ x }}/{{ loop.length }} {% endfor %}", U, None),
    ("for_dict", "{% for k in {'z': 1, 'a': 2} %}{{ k }}{% endfor %}", U, None),
    ("break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x > 4 %}{% break %}{% endif %}{{ x }}{% endfor %}", U, None),
    ("nested_loop", "{% for a in [1, 2] %}{% set outer = loop %}{% for b in 'xy' %}{{ outer.index }}{{ loop.index }}{{ b }} {% endfor %}{% endfor %}", U, None),
    ("scope", "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = i * 10 %}{{ x }} {% endfor %}{{ x }}", U, None),
    ("scope_if", "{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}", U, None),
    ("namespace", "{% set ns = namespace(n=0, s='') %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% set ns.s = ns.s ~ m.role[0] %}{% endfor %}{{ ns.n }} {{ ns.s }}", CONV, None),
    ("set_block", "{% set x %}a{{ 1 + 1 }}b{% endset %}[{{ x }}]", U, None),
    ("set_tuple", "{% set a, b = [1, 2] %}{{ a }}{{ b }}", U, None),
    ("macro", "{% macro f(a, b='dflt', c=none) %}<{{ a }}|{{ b }}|{{ c }}>{% endmacro %}{{ f(1) }}{{ f(1, 2) }}{{ f(b=3, a=4) }}{{ f('x', c=[1]) }}", U, None),
    ("macro_varargs", "{% macro f(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ f(1, 2, 3, k='v') }}", U, None),
    ("call_block", "{% macro box(t) %}[{{ t }}:{{ caller() }}]{% endmacro %}{% call box('T') %}inside{% endcall %}", U, None),
    ("call_block_args", "{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}{% call(v) each([1, 2]) %}<{{ v }}>{% endcall %}", U, None),
    ("filter_block", "{% filter upper %}hello {{ 'world' }}{% endfilter %}", U, None),
    ("generation", "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}{% else %}{{ m.content }}{% endif %}{% endfor %}", CONV, None),
    ("literals", "{{ 'a\\tb\\n\\'q\\'' }}{{ \"dq\\\"\" }}{{ 1_000 }} {{ 0.5 }} {{ 1e3 }} {{ 2.50 }} {{ true }} {{ False }} {{ none }} {{ None }}", U, None),
    ("escapes", "{{ 'a\\\nb' }}|{{ '\\101\\x41\\u00e9\\U0001F600' }}|{{ 'keep \\q' }}|{{ \"it's\" }}", U, None),
    ("str_concat_lit", "{{ 'a' 'b' \"c\" }}", U, None),
    ("repr", "{{ [1, 'a', none, true, 1.5, {'k': 'v', 'n': [None]}] }} {{ (1, 'x') }} {{ (1,) }} {{ {} }} {{ [] }} {{ \"it's\" }} {{ ['it\\'s', 'q\"', 'b\\\\s', 'nl\\n'] }}", U, None),
    ("float_repr", "{{ 1e16 }} {{ 1e15 }} {{ 0.0001 }} {{ 0.00001 }} {{ 1/3 }} {{ 2.0 }} {{ -0.0 }} {{ 123456789.125 }} {{ 1.5e-7 }} {{ 10 / 4 }}", U, None),
    ("arith", "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 // -2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 7 / 2 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 1 + 2 * 3 - 4 }} {{ (1 + 2) * 3 }} {{ 'ab' * 3 }} {{ [1] * 2 }} {{ [1] + [2] }} {{ -3 | abs }} {{ 2 ** 3 ** 2 }}", U, None),
    ("compare", "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' != 'b' }} {{ 2 >= 2 }} {{ none == none }} {{ {'a': 1} == {'a': 1} }}", U, None),
    ("logic", "{{ 1 and 'x' }}|{{ 0 and 'x' }}|{{ '' or 'dflt' }}|{{ 'v' or 'dflt' }}|{{ not 1 }}|{{ not none }}|{{ 'b' in 'abc' }}|{{ 2 in [1, 2] }}|{{ 'k' in {'k': 1} }}|{{ 3 not in [1] }}|{{ not 'x' in 'y' }}", U, None),
    ("ternary", "{{ 'y' if true else 'n' }}{{ 'y' if false else 'n' }}[{{ 'y' if false }}]{{ 'a' if 0 else 'b' if 1 else 'c' }}", U, None),
    ("tilde", "{{ 1 ~ 'a' ~ none ~ true ~ [1] ~ undefined_thing }}", U, None),
    ("slices", "{{ messages[::-1] | map(attribute='role') | join(',') }} {{ messages[1:] | length }} {{ 'hello'[1:3] }} {{ 'hello'[::-1] }} {{ 'hello'[-2:] }} {{ [1,2,3,4,5][::2] }} {{ [1,2,3,4,5][-1:0:-2] }} {{ [1,2,3][5:] }} {{ 'héllo'[1:3] }} {{ messages[-1].content }}", CONV, None),
    ("undefined", "[{{ nope }}][{{ messages[0].nope }}][{{ messages[9] }}][{{ nope is defined }}][{{ nope is undefined }}][{{ nope | default('d') }}][{{ '' | default('e', true) }}][{{ nope | length }}][{% for x in nope %}x{% endfor %}][{{ none.attr }}][{{ 'abc'.nope }}]", U, None),
    ("tests", "{{ 's' is string }}{{ 1 is string }}{{ {} is mapping }}{{ [] is mapping }}{{ [] is iterable }}{{ 's' is iterable }}{{ 1 is iterable }}{{ 's' is sequence }}{{ 1 is number }}{{ 1.5 is number }}{{ true is number }}{{ 1 is integer }}{{ true is integer }}{{ 1.0 is float }}{{ true is boolean }}{{ true is true }}{{ 1 is true }}{{ false is false }}{{ none is none }}{{ 3 is odd }}{{ 3 is even }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(4) }}{{ 2 is equalto 2 }}{{ 2 is eq 3 }}{{ 1 is not none }}{{ 'a' is in 'abc' }}{{ 2 is gt 1 }}{{ 'ab' is lower }}", U, None),
    ("str_methods", "{{ '  a b  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  a'.lstrip() }}|{{ 'a  '.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a-b-c'.rsplit('-', 1) }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'aBc'.upper() }}{{ 'aBc'.lower() }}|{{ 'hello world'.title() }}|{{ 'hELLO'.capitalize() }}|{{ 'aaa'.replace('a', 'b', 2) }}|{{ 'abcabc'.find('c') }}{{ 'abc'.find('z') }}|{{ 'abcabc'.rfind('c') }}|{{ 'abcabc'.count('bc') }}|{{ '-'.join(['a', 'b']) }}|{{ '{} and {}'.format(1, 'x') }}|{{ '{0}{1}{0}'.format('a', 'b') }}|{{ '{n}!'.format(n=5) }}|{{ '123'.isdigit() }}{{ 'a1'.isalpha() }}", U, None),
    ("dict_methods", "{% set d = {'a': 1, 'b': 2} %}{{ d.keys() | list }} {{ d.values() | list }} {{ d.items() | list }} {{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 9) }} {{ d['b'] }} {{ d.b }}", U, None),
    ("filters_str", "{{ '  x  ' | trim }}|{{ 'xxax' | trim('x') }}|{{ 'Hi' | lower }}{{ 'Hi' | upper }}|{{ 'hello wORLD-foo(bar' | title }}|{{ 'hELLO' | capitalize }}|{{ 'aXa' | replace('a', 'b') }}|{{ 5 | string }}{{ none | string }}|{{ '<a href=\"x\">&\\'' | e }}|{{ 'x' | safe }}|{{ 'abc' | length }}{{ 'héé' | count }}|{{ 'abc' | list }}|{{ 'abc' | first }}{{ 'abc' | last }}|{{ 'abc' | reverse }}", U, None),
    ("filters_num", "{{ '42' | int }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3.9 | int }} {{ '2.5' | float }} {{ 'x' | float }} {{ 3 | float }} {{ -2.5 | abs }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 2.675 | round(2) }} {{ 3 | round }} {{ 2.1 | round(0, 'ceil') }} {{ 2.9 | round(method='floor') }} {{ [1, 2, 3] | sum }} {{ [1, 5, 3] | max }} {{ [4, 2, 3] | min }}", U, None),
    ("filters_list", "{{ [3, 1, 2] | sort }} {{ ['b', 'A', 'c'] | sort }} {{ ['b', 'A', 'c'] | sort(case_sensitive=true) }} {{ [3, 1, 2] | sort(reverse=true) }} {{ [1, 2, 2, 'a', 'A'] | unique | list }} {{ [1, 2] | first }} {{ [1, 2] | last }} {{ [] | first }} {{ [1, 2, 3] | reverse | list }} {{ [1, 2] | join }} {{ [1, 2] | join(', ') }} {{ {'b': 1, 'a': 2} | dictsort }} {{ {'b': 1, 'a': 2} | dictsort(by='value', reverse=true) }} {{ {'a': 1} | items | list }} {{ [1, 2] | length }}", U, None),
    ("filters_select", "{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }} {{ messages | rejectattr('role', 'eq', 'user') | list | length }} {{ [0, 1, 2, 3] | select('odd') | list }} {{ [0, 1, 2, none] | select | list }} {{ [0, 1, 2] | reject('even') | list }} {{ ['a', 'b'] | map('upper') | join }} {{ messages | map(attribute='nope', default='-') | join }} {{ [1, 2, 3] | select('gt', 1) | list }} {{ messages | selectattr('content') | list | length }} {{ [{'a': {'b': 1}}] | map(attribute='a.b') | list }}", CONV, None),
    ("tojson", "{{ {'a': [1, 2.5, 'é\"\\n', none, true], 'b': {}} | tojson }}|{{ {'a': [1, {'b': []}], 'c': 'x'} | tojson(indent=2) }}|{{ 'é' | tojson(ensure_ascii=true) }}|{{ [] | tojson(indent=4) }}|{{ 1.0 | tojson }}", U, None),
    ("tojson_input", "{% for m in messages %}{{ m | tojson }}\n{% endfor %}", [{"role": "user", "content": "x", "n": 1, "f": 1.0, "g": 1e20, "u": "\u00e9\u4e2d\U0001F600\u0001", "l": [], "d": {}}], None),
    ("indent", "{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(width='> ', blank=true) }}", U, None),
    ("globals", "{{ range(3) | list }} {{ range(1, 7, 2) | list }} {{ range(3, 0, -1) | list }} {{ dict(a=1, b='x') }} {{ namespace(a=1).a }}", U, None),
    ("kwargs_vars", "{{ enable_thinking }} {{ enable_thinking is defined }} {{ custom.k }} {{ add_generation_prompt }} {{ tools }} {{ documents }}", U, {"enable_thinking": False, "custom": {"k": [1, 2]}}),
    ("content_parts", "{% for m in messages %}{% if m.content is string %}{{ m.content }}{% else %}{% for p in m.content %}{% if p.type == 'text' %}{{ p.text }}{% elif p.type == 'image' %}<img>{% endif %}{% endfor %}{% endif %}|{% endfor %}", [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is this?"}]}, {"role": "assistant", "content": "A cat."}], None),
    ("unicode", "{{ messages[0].content | upper }}|{{ messages[0].content | length }}|{{ messages[0].content[1] }}|{{ messages[0].content | tojson }}|{{ messages[0].content.split('é') }}", [{"role": "user", "content": "h\u00e9llo \u4e16\u754c \U0001F600"}], None),
    ("raise", "{% if messages[0].role != 'system' %}{{ raise_exception('first message must be system') }}{% endif %}ok", U, None),
    ("err_undefined_attr", "{{ nope.attr }}", U, None),
    ("err_type", "{{ 'a' + 1 }}", U, None),
    ("err_div0", "{{ 1 // 0 }}", U, None),
    ("err_mutate", "{% set l = [1] %}{{ l.append(2) }}", U, None),
    ("err_not_iterable", "{% for x in 5 %}{% endfor %}", U, None),
    ("err_unknown_filter", "{{ 'a' | nosuchfilter }}", U, None),
    ("err_range", "{{ range(1000000) | length }}", U, None),
    ("err_ns_assign", "{% set d = {} %}{% set d.x = 1 %}", U, None),
]

# extra conversations for the fixture templates (llama3, qwen3, gemma3)
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Get the weather for a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name, e.g. \u201cParis\u201d"},
                                                         "days": {"type": "integer", "minimum": 1}}, "required": ["city"]}}}]
TOOL_CONV = [
    {"role": "system", "content": "You are a weather bot."},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}}]},
    {"role": "tool", "content": "{\"temp\": 21.5}"},
    {"role": "tool", "content": "sunny"},
    {"role": "assistant", "content": "It is 21.5\u00b0C and sunny."},
    {"role": "user", "content": "And tomorrow?"},
]
THINK_CONV = [
    {"role": "user", "content": "2+2?"},
    {"role": "assistant", "content": "<think>\nSimple.\n</think>\n\n4"},
    {"role": "user", "content": "3+3?"},
    {"role": "assistant", "reasoning_content": "Also simple.", "content": "6"},
    {"role": "user", "content": "<tool_response>x</tool_response>"},
]
FIXTURE_CASES = [
    ("conv_system", CONV, None, True, None),
    ("conv_no_gen", CONV, None, False, None),
    ("tool_calls", TOOL_CONV, TOOLS, True, None),
    ("tool_calls_string_args", [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Calling.", "tool_calls": [{"function": {"name": "f", "arguments": "{\"a\": 1}"}}, {"function": {"name": "g", "arguments": {}}}]}], None, False, None),
    ("thinking", THINK_CONV, None, True, None),
    ("enable_thinking_false", [{"role": "user", "content": "Hi"}], None, True, {"enable_thinking": False}),
    ("content_parts", [{"role": "system", "content": [{"type": "text", "text": "Sys."}]}, {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": " Describe. "}]}], None, True, None),
    ("not_alternating", [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], None, True, None),
    ("whitespace", [{"role": "user", "content": "  padded \n\n"}, {"role": "assistant", "content": "\n ok \n"}], None, False, None),
    ("unicode", [{"role": "user", "content": "h\u00e9llo \u4e16\u754c \U0001F600 \"quoted\" back\\slash"}], TOOLS, True, None),
]


def case(name, out, **fields):
    # JSON inputs are kept as JSON text: the C side must see 1 and 1.0 as Python does
    for k in ("messages", "tools", "kwargs"):
        if k in fields: fields[k] = json.dumps(fields[k], ensure_ascii=False)
    d = {"name": name, **fields}
    try:
        d["expected"] = out()
    except Exception as e:  # transformers would raise too
        d["error"] = f"{type(e).__name__}: {e}"
    return d


def token(cfg, key):
    v = cfg.get(key)
    return v.get("content") if isinstance(v, dict) else v


def main():
    fixtures = sys.argv[1] if len(sys.argv) > 1 else "../shared/fixtures"
    cases = []
    for name, tmpl, msgs, kw in UNIT:
        cases.append(case(name, lambda: render(tmpl, msgs, None, True, kw), template=tmpl, messages=msgs,
                          add_generation_prompt=True, **({"kwargs": kw} if kw else {})))
    for fx in ("llama3", "qwen3", "gemma3"):
        cfg = json.load(open(os.path.join(fixtures, "tokenizers", fx, "tokenizer_config.json")))
        for name, msgs, tools, agp, kw in FIXTURE_CASES:
            extra = {"tools": tools} if tools else {}
            if kw: extra["kwargs"] = kw
            cases.append(case(f"{fx}/{name}", lambda: render(cfg["chat_template"], msgs, tools, agp, kw, token(cfg, "bos_token"), token(cfg, "eos_token")),
                              fixture=fx, messages=msgs, add_generation_prompt=agp, **extra))
    json.dump({"jinja2": jinja2.__version__, "cases": cases}, sys.stdout, ensure_ascii=False, indent=1)
    print()


if __name__ == "__main__":
    main()
