"""How long the text a user types may be: the one place for these numbers.

Every text field has a limit that holds before anything parses it (docs/security.md,
"Unbounded work per request"): serializers (``max_length``), HTML forms (``max_length``, which
also renders ``maxlength``) and the services, for callers that reach them without either.
Where a column or a model has a smaller limit of its own (a project name's column, a model's
``max_prompt_length`` in the catalog) that one is checked too; these are the outer bounds.
"""

# A prompt as typed: the largest ``max_prompt_length`` a catalog model accepts (32,000);
# each model's own limit is checked by generation.validation once the model is known.
MAX_PROMPT = 32_000
MAX_NEGATIVE_PROMPT = 10_000
# A prompt sent to a chat model to be enhanced.
MAX_ENHANCE_PROMPT = 10_000
# A style preset: its template (with {prompt}) and negative prompt, and any short name.
MAX_STYLE_TEMPLATE = 2_000
MAX_STYLE_NEGATIVE_PROMPT = 2_000
MAX_STYLE_NAME = 100  # StylePreset.name's column
# Long free text (a project's description, an image's notes).
MAX_LONG_TEXT = 10_000
# A title or a name (a project's, an image's title): their columns hold 200.
MAX_TITLE = 200
# Identifiers a user names (provider, model, a chat model for enhancement).
MAX_IDENTIFIER = 200
# A search box or filter text (gallery search, prompt history search).
MAX_SEARCH = 500
# A gallery cursor as encode_cursor writes it.
MAX_CURSOR = 500
# A username (Django's column) and a password (no hasher needs more).
MAX_USERNAME = 150
MAX_PASSWORD = 4_096
# An API key as pasted (settings_app.services.clean_key words the error).
MAX_API_KEY_INPUT = 1_000


def too_long(value: str, limit: int) -> str | None:
    """The field error for ``value`` over ``limit`` characters, or None when it fits."""
    if len(value) > limit:
        return f"At most {limit:,} characters ({len(value):,} given)."
    return None
