"""``{red|blue|green}`` variation syntax: one prompt becomes one per combination.

A group is text in braces that contains at least one ``|``; other braces (``{prompt}``, JSON
in a prompt) are left alone. Groups do not nest. Empty alternatives are allowed
(``a {big|} dog``). Combinations are counted before any is built, so a prompt that would make
millions is refused without making them.
"""

import itertools
import math
import re

GROUP = re.compile(r"\{([^{}]*\|[^{}]*)\}")
_SPACES = re.compile(r"[ \t]{2,}")


def _parts(text: str) -> tuple[list[str], list[list[str]]]:
    """Split into literal pieces and the alternatives between them."""
    literals, groups, last = [], [], 0
    for match in GROUP.finditer(text):
        literals.append(text[last : match.start()])
        groups.append([alt.strip() for alt in match.group(1).split("|")])
        last = match.end()
    literals.append(text[last:])
    return literals, groups


def count_combinations(text: str) -> int:
    """How many prompts the text expands to (1 when it has no variation groups)."""
    return math.prod(len(alternatives) for alternatives in _parts(text)[1])


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
