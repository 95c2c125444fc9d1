"""``{red|blue|green}`` variation syntax: one prompt becomes one per combination.

A group is text in braces that contains at least one ``|``; other braces (``{prompt}``, JSON
in a prompt) are left alone. Groups do not nest. Empty alternatives are allowed
(``a {big|} dog``). Combinations are counted before any is built, so a prompt that would make
millions is refused without making them.

The parser is one linear scan over the braces (no regular expression with overlapping
quantifiers: ``\\{[^{}]*\\|[^{}]*\\}`` backtracked quadratically on ``{`` followed by many
``|``): a group is a ``{`` whose next brace is a ``}``, with a ``|`` between them.
"""

import itertools
import re

# One quantifier over one character class: linear.
_SPACES = re.compile(r"[ \t]{2,}")


def _groups(text: str):
    """(start, end) of each group, ``text[start] == "{"`` and ``text[end - 1] == "}"``."""
    start = text.find("{")
    while start >= 0:
        # The next brace after this "{": str.find is a C scan, and each brace is looked at
        # once, so the whole walk is linear in the text.
        close = text.find("}", start + 1)
        if close < 0:
            return
        # "{ … { … }": only the last "{" before this "}" can open a group.
        start = max(start, text.rfind("{", start + 1, close))
        if text.find("|", start + 1, close) >= 0:
            yield start, close + 1
        start = text.find("{", close + 1)


def _parts(text: str) -> tuple[list[str], list[list[str]]]:
    """Split into literal pieces and the alternatives between them."""
    literals, groups, last = [], [], 0
    for start, end in _groups(text):
        literals.append(text[last:start])
        groups.append([alt.strip() for alt in text[start + 1 : end - 1].split("|")])
        last = end
    literals.append(text[last:])
    return literals, groups


def count_combinations(text: str, *, at_most: int | None = None) -> int:
    """How many prompts the text expands to (1 when it has no variation groups). With
    ``at_most``, counting stops as soon as the count passes it (the result is then some
    number above ``at_most``), so a prompt of thousands of groups costs no big numbers."""
    count = 1
    for start, end in _groups(text):
        count *= text.count("|", start, end) + 1
        if at_most is not None and count > at_most:
            return count
    return count


def expand(text: str) -> list[str]:
    """Every combination, in order (the first alternative of the last group varies fastest).
    Call ``count_combinations`` first: this builds them all."""
    literals, groups = _parts(text)
    if not groups:
        return [text]
    results = []
    for choice in itertools.product(*groups):
        pieces = [literals[0]]
        for alternative, literal in zip(choice, literals[1:], strict=True):
            pieces += [alternative, literal]
        results.append(_SPACES.sub(" ", "".join(pieces)).strip())
    return results
