"""Every parser of text a user types runs in time linear in its input.

Each parser gets adversarial inputs of 1 MB (the shapes that make backtracking regular
expressions, nesting or big numbers blow up) and must finish within FACTOR times a baseline
measured in the same run on the same input: one pure-Python pass over its characters. No
absolute number of seconds: a slow machine slows both. A parser over its budget is
interrupted (CPython's regex engine checks signals), so a quadratic one fails in a second
instead of hanging the run.

The inputs are bigger than any limit in imagegen/core/limits.py on purpose: the parsers are
the last line, for callers that reach them without a serializer or form.
"""

import base64
import contextlib
import signal
import threading
import time

import pytest
from django.core.exceptions import ValidationError

from gallery.listing import GalleryQuerySerializer, InvalidCursor, decode_cursor
from gallery.metadata import _xml_text
from gallery.models import normalize_tag
from gallery.search import search_terms
from generation.prompts import services as prompt_tools
from generation.prompts.variations import count_combinations, expand
from generation.usage.failures import failure_kind

SIZE = 1_000_000
FACTOR = 50


class TooSlow(Exception):
    pass


def _scan(text) -> int:
    """The baseline: one pure-Python pass over the input."""
    found = 0
    for char in text:
        if char == "{":
            found += 1
    return found


def _seconds(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def _call(parse, text, refusals):
    with contextlib.suppress(refusals):
        parse(text)


def assert_linear(parse, text, refusals=()):
    """``parse(text)`` finishes within FACTOR times one Python pass over ``text`` (an
    exception in ``refusals`` counts as an answer)."""
    baseline = min(_seconds(_scan, text) for _ in range(3))
    budget = baseline * FACTOR
    # The best of up to three runs: a busy machine (parallel test workers) can stall one run,
    # while a super-linear parser is over budget every time.
    elapsed = float("inf")
    for _ in range(3):
        elapsed = min(elapsed, _timed_run(parse, text, refusals, budget))
        if elapsed <= budget:
            break
    assert elapsed <= budget, (
        f"{getattr(parse, '__name__', parse)} took {elapsed:.3f}s on {len(text):,} characters "
        f"({text[:20]!r}…); budget {budget:.3f}s = {FACTOR} x a linear scan ({baseline:.4f}s)"
    )


def _timed_run(parse, text, refusals, budget) -> float:
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:

        def interrupt(signum, frame):
            raise TooSlow

        previous = signal.signal(signal.SIGALRM, interrupt)
        signal.setitimer(signal.ITIMER_REAL, budget * 2)
    try:
        elapsed = _seconds(_call, parse, text, refusals)
    except TooSlow:
        elapsed = float("inf")
    finally:
        if in_main:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    return elapsed


def _fill(pattern: str, prefix: str = "", suffix: str = "") -> str:
    room = SIZE - len(prefix) - len(suffix)
    return prefix + (pattern * (room // len(pattern) + 1))[:room] + suffix


VARIATION_INPUTS = {
    "open brace then bars": _fill("|", prefix="{"),
    "open brace, text, one bar": _fill("a", prefix="{", suffix="|"),
    "bars then close brace": _fill("|", suffix="}"),
    "open braces": _fill("{"),
    "close braces": _fill("}"),
    "open braces then one close": _fill("{", suffix="|}"),
    "brace bar pairs": _fill("{|"),
    "nested groups": _fill("{{a|b}"),
    "unbalanced nesting": _fill("{a{b|"),
    "empty groups": _fill("{}"),
    "many small groups": _fill("{a|b}"),
    "alternating": _fill("|}{"),
}


@pytest.mark.parametrize("text", VARIATION_INPUTS.values(), ids=VARIATION_INPUTS.keys())
def test_variation_count_is_linear(text, settings):
    settings.PROMPT_VARIATIONS_MAX = 16
    assert_linear(prompt_tools.check_variation_count, text, ValidationError)
    assert_linear(lambda t: count_combinations(t, at_most=16), text)


@pytest.mark.parametrize(
    "text",
    [
        _fill("|", prefix="{"),
        _fill("a", prefix="{", suffix="|}"),
        _fill("{", suffix="a|b}"),
        _fill("}", prefix="{a|b}"),
        _fill(" ", prefix="{a|}"),
    ],
    ids=["one group of bars", "one long alternative", "open braces", "closes", "spaces"],
)
def test_variation_expansion_is_linear(text):
    """expand on texts that make few combinations (the count is checked before)."""
    assert_linear(expand, text)


TAG_INPUTS = {
    "letters": _fill("a"),
    "words": _fill("a "),
    "hyphens": _fill("-"),
    "dots and underscores": _fill("._"),
    "one bad character at the end": _fill("a", suffix="!"),
    "non-ascii": _fill("é"),
    "whitespace": _fill(" \t\n"),
}


@pytest.mark.parametrize("text", TAG_INPUTS.values(), ids=TAG_INPUTS.keys())
def test_tag_normalization_is_linear(text):
    assert_linear(normalize_tag, text, ValidationError)


SEARCH_INPUTS = {
    "words": _fill("lighthouse "),
    "underscores": _fill("_"),
    "snake case": _fill("a_"),
    "query syntax": _fill('"*:&|!()'),
    "non-ascii": _fill("é"),
    "one long word": _fill("a"),
}


@pytest.mark.parametrize("text", SEARCH_INPUTS.values(), ids=SEARCH_INPUTS.keys())
def test_search_term_parsing_is_linear(text):
    assert_linear(search_terms, text)
    assert len(search_terms(text)) <= 16


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


CURSOR_INPUTS = {
    "plain letters": _fill("A"),
    "nested json": _b64("[" * (SIZE * 3 // 4)),
    "big number": _b64('{"s":"newest","v":[' + "9" * (SIZE // 2) + '],"b":false}'),
    "not base64": _fill("!"),
}


@pytest.mark.parametrize("text", CURSOR_INPUTS.values(), ids=CURSOR_INPUTS.keys())
def test_cursor_decoding_is_linear_and_refused(text):
    assert_linear(lambda t: decode_cursor(t, "newest"), text, InvalidCursor)
    with pytest.raises(InvalidCursor):
        decode_cursor(text, "newest")
    assert_linear(lambda t: GalleryQuerySerializer.quick({"cursor": t}), text)
    assert GalleryQuerySerializer.quick({"cursor": text}) is None


@pytest.mark.parametrize("text", [_fill("timed out "), _fill("a"), _fill("rate ")])
def test_failure_classification_is_linear(text):
    assert_linear(failure_kind, text)


@pytest.mark.parametrize("text", [_fill("\x00a"), _fill("<&>")])
def test_metadata_text_is_linear(text):
    assert_linear(_xml_text, text)
