"""The spending gate's own rules: it runs only inside the transaction that records spend,
enhancement's estimate is an upper bound, and the rate setting is read strictly."""

from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from generation.prompts.enhance import MAX_COMPLETION_TOKENS, OPENAI_CHAT_PRICES, estimate_cost
from generation.usage.gate import admit_spending
from imagegen.core.config import env_rate


@pytest.mark.django_db(transaction=True)
def test_the_gate_refuses_to_run_outside_a_transaction(owner):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        admit_spending(owner, Decimal("1"))


def test_the_enhancement_estimate_bounds_the_most_a_call_can_cost():
    messages = [{"role": "system", "content": "é" * 100}, {"role": "user", "content": "a fox"}]
    price_in, price_out = OPENAI_CHAT_PRICES["gpt-4o"]
    # 200 bytes + 5 bytes + overheads of input tokens, the longest answer of output tokens.
    least = ((200 + 5) * price_in + MAX_COMPLETION_TOKENS * price_out) / Decimal(1_000_000)
    assert estimate_cost("openai", "gpt-4o", messages) >= least
    assert estimate_cost("openrouter", "openai/gpt-4o", messages) == estimate_cost(
        "openai", "gpt-4o", messages
    )


def test_a_model_without_a_price_is_counted_at_the_setting(settings):
    settings.PROMPT_ENHANCE_UNPRICED_COST_USD = Decimal("0.07")
    messages = [{"role": "user", "content": "x"}]
    assert estimate_cost("openrouter", "google/gemini-2.5-flash", messages) == Decimal("0.07")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", "30/hour"), ("5/minute", "5/minute"), (" 2 / day ", "2/day"), ("off", None)],
)
def test_the_rate_setting_is_read_strictly(monkeypatch, value, expected):
    monkeypatch.setenv("PROMPT_ENHANCE_RATE", value)
    assert env_rate("PROMPT_ENHANCE_RATE", "30/hour") == expected


@pytest.mark.parametrize("value", ["30", "0/hour", "x/hour", "30/fortnight"])
def test_a_bad_rate_stops_start_up_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("PROMPT_ENHANCE_RATE", value)
    with pytest.raises(ImproperlyConfigured, match="PROMPT_ENHANCE_RATE"):
        env_rate("PROMPT_ENHANCE_RATE", "30/hour")
