"""Prompt history: the distinct prompts a user has generated with, derived from their
generations, minus the ones they deleted (``HiddenPrompt``).

An entry is what the user typed (``prompt_text``/``negative_prompt_text``; for generations
made before the prompt tools, the prompt as sent). Its ``id`` is a hash of the two texts, so
the API can name an entry that has no row of its own.
"""

import hashlib

from django.core.exceptions import ValidationError
from django.db.models import Case, Count, Exists, F, Max, OuterRef, When
from django.utils import timezone

from generation.models import Generation, HiddenPrompt
from imagegen.core import limits

MAX_ENTRIES = 100


def entry_id(prompt: str, negative_prompt: str) -> str:
    """The stable id of a history entry."""
    return hashlib.sha256(f"{prompt}\0{negative_prompt}".encode()).hexdigest()[:32]


def _entries(user):
    generations = Generation.objects.for_user(user, "view").annotate(
        typed=Case(When(prompt_text="", then=F("prompt")), default=F("prompt_text")),
        typed_negative=Case(
            When(prompt_text="", then=F("negative_prompt")), default=F("negative_prompt_text")
        ),
    )
    hidden = HiddenPrompt.objects.filter(
        owner=user,
        prompt=OuterRef("typed"),
        negative_prompt=OuterRef("typed_negative"),
        hidden_at__gte=OuterRef("created_at"),
    )
    return (
        generations.exclude(Exists(hidden))
        .values("typed", "typed_negative")
        .annotate(count=Count("id"), last_used=Max("created_at"))
        .order_by("-last_used", "typed")
    )


def prompt_history(user, query: str = "", limit: int = 20) -> list[dict]:
    """The user's distinct prompts, most recently used first, optionally only those
    containing ``query`` (case-insensitive): id, prompt, negative_prompt, count, last_used."""
    too_long = limits.too_long(query, limits.MAX_SEARCH)
    if too_long:
        raise ValidationError({"q": [too_long]})
    entries = _entries(user)
    query = query.strip()
    if query:
        entries = entries.filter(typed__icontains=query)
    return [
        {
            "id": entry_id(row["typed"], row["typed_negative"]),
            "prompt": row["typed"],
            "negative_prompt": row["typed_negative"],
            "count": row["count"],
            "last_used": row["last_used"],
        }
        for row in entries[: max(1, min(limit, MAX_ENTRIES))]
    ]


def delete_history_entry(user, key: str) -> bool:
    """Hide one of the user's entries (by ``entry_id``) from their history; False when the
    user has no such entry. Generating with the prompt again brings it back."""
    for row in _entries(user).values_list("typed", "typed_negative").iterator():
        if entry_id(*row) == key:
            HiddenPrompt.objects.create(
                owner=user, prompt=row[0], negative_prompt=row[1], hidden_at=timezone.now()
            )
            return True
    return False


def clear_history(user) -> int:
    """Hide every entry of the user's history; returns how many were hidden."""
    now = timezone.now()
    rows = [
        HiddenPrompt(owner=user, prompt=typed, negative_prompt=negative, hidden_at=now)
        for typed, negative in _entries(user).values_list("typed", "typed_negative")
    ]
    HiddenPrompt.objects.bulk_create(rows)
    return len(rows)
