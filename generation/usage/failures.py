"""Failure reasons in a few words: the pipeline's and the providers' error texts, grouped."""

import re

# (kind, label, pattern) in priority order: the first pattern that matches the error text
# names the kind. Patterns follow the messages written by generation/runner.py,
# generation/recovery.py, settings_app/keys.py and the provider modules.
FAILURE_KINDS: list[tuple[str, str, re.Pattern]] = [
    ("timeout", "Timed out", re.compile(r"^timed out\b|\btimed out after\b")),
    ("worker_stopped", "Worker stopped", re.compile(r"worker running this generation stopped")),
    (
        "rejected_key",
        "Rejected or missing key",
        re.compile(r"rejected the api key|\bno api key for\b|invalid api key|unauthori[sz]ed"),
    ),
    (
        "no_credit",
        "No credit left",
        re.compile(r"no credit|insufficient (credit|funds|balance)|quota exceeded|billing"),
    ),
    ("rate_limited", "Rate limited", re.compile(r"rate limit|too many requests")),
    (
        "content_policy",
        "Content policy",
        re.compile(r"content policy|safety system|refused the prompt|nsfw"),
    ),
    (
        "invalid_parameters",
        "Invalid parameters",
        re.compile(r"invalid parameter|is not supported|out of range|invalid (size|value)"),
    ),
    (
        "provider_outage",
        "Provider unavailable",
        re.compile(
            r"unavailable right now|\(http 5\d\d\)|service unavailable|"
            r"is not available|returned no images|could not reach|connection"
        ),
    ),
    (
        "invalid_image",
        "Unusable image",
        re.compile(r"unusable image|image link instead of image data|not an image"),
    ),
    ("storage", "Storage error", re.compile(r"could not store the image|disk is full")),
    # generation/inputs.py: an input image (or its mask) deleted before the operation ran.
    ("input_missing", "Input deleted", re.compile(r"was deleted before the generation ran")),
]
OTHER = ("other", "Other")
LABELS = {kind: label for kind, label, _ in FAILURE_KINDS} | {OTHER[0]: OTHER[1]}


def failure_kind(error: str) -> str:
    """The category of a generation's error text; "other" when nothing matches."""
    text = (error or "").lower()
    for kind, _label, pattern in FAILURE_KINDS:
        if pattern.search(text):
            return kind
    return OTHER[0]


def failure_label(kind: str) -> str:
    """The words shown for a failure kind."""
    return LABELS.get(kind, OTHER[1])
