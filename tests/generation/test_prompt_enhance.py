"""Prompt enhancement against the local fake OpenRouter and OpenAI servers: success, cost,
missing keys, and every provider failure in words, without ever showing the key."""

import logging
import socket
from decimal import Decimal

import pytest
from django.core.cache import cache

from generation.models import StylePreset
from generation.prompts.enhance import OPENAI_CHAT_PRICES
from generation.usage import budgets
from generation.usage.models import TeamBudget, UserBudget
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.openrouter_server import FakeOpenRouter
from tests.groups.helpers import policy_for

pytestmark = pytest.mark.django_db

URL = "/api/prompts/enhance"
OPENROUTER_KEY = "sk-or-v1-test-good"
OPENAI_KEY = "sk-test-good"


@pytest.fixture(scope="module")
def openrouter_server():
    with FakeOpenRouter(api_keys={OPENROUTER_KEY}) as fake:
        yield fake


@pytest.fixture(scope="module")
def openai_server():
    with FakeOpenAI(api_keys={OPENAI_KEY}) as fake:
        yield fake


@pytest.fixture(autouse=True)
def fresh_throttle_counts():
    """The per-user enhancement rate limit counts in the cache; keep each test's apart."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def no_environment_keys(monkeypatch):
    for name in ("OPENROUTER_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def openrouter(openrouter_server, settings, monkeypatch):
    openrouter_server.reset()
    settings.OPENROUTER_BASE_URL = openrouter_server.base_url + "/api/v1"
    monkeypatch.setenv("OPENROUTER_API_KEY", OPENROUTER_KEY)
    return openrouter_server


@pytest.fixture
def openai_fake(openai_server, settings, monkeypatch):
    openai_server.reset()
    settings.OPENAI_BASE_URL = openai_server.base_url + "/v1"
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    return openai_server


def enhance(client, expect, **payload):
    response = client.post(URL, {"prompt": "a fox in snow", **payload}, format="json")
    assert response.status_code == expect, response.content
    return response.json()


def test_openrouter_enhances_with_the_default_model_and_reports_its_cost(owner_api, openrouter):
    body = enhance(owner_api, 200)
    assert body == {
        "prompt": "a fox in snow, highly detailed, cinematic lighting, sharp focus",
        "model": "openai/gpt-4o-mini",
        "provider": "openrouter",
        "cost_usd": "0.000010",
    }
    (request,) = openrouter.requests
    assert request["path"] == "/api/v1/chat/completions"
    assert request["headers"]["authorization"] == f"Bearer {OPENROUTER_KEY}"
    assert request["json"]["model"] == "openai/gpt-4o-mini"
    system, user = request["json"]["messages"]
    assert system["role"] == "system" and "keep the user's subject" in system["content"]
    assert user == {"role": "user", "content": "a fox in snow"}


def test_the_style_is_described_to_the_model(owner_api, openrouter):
    style = StylePreset.objects.get(key="watercolor")
    enhance(owner_api, 200, style=style.pk)
    system = openrouter.requests[0]["json"]["messages"][0]["content"]
    assert style.template in system and "Watercolor" in system


def test_a_chosen_model_and_the_model_setting_are_used(owner_api, openrouter, settings):
    settings.PROMPT_ENHANCE_ALLOWED_MODELS = ["google/gemini-2.5-flash"]
    assert (
        enhance(owner_api, 200, model="google/gemini-2.5-flash")["model"]
        == "google/gemini-2.5-flash"
    )
    settings.PROMPT_ENHANCE_MODEL_OPENROUTER = "google/gemini-2.5-flash"
    enhance(owner_api, 200)
    assert [r["json"]["model"] for r in openrouter.requests] == ["google/gemini-2.5-flash"] * 2


def test_reply_is_cleaned_of_quotes_and_labels(owner_api, openrouter):
    openrouter.set_scenario("success", reply='Prompt: "a fox in deep snow at dawn"')
    assert enhance(owner_api, 200)["prompt"] == "a fox in deep snow at dawn"


def test_openai_cost_comes_from_tokens_and_the_price_table(owner_api, openai_fake):
    openai_fake.set_scenario("success", reply="a red fox in deep snow")
    body = enhance(owner_api, 200, provider="openai")
    assert body["provider"] == "openai" and body["model"] == "gpt-4o-mini"
    assert body["prompt"] == "a red fox in deep snow"
    messages = openai_fake.requests[0]["json"]["messages"]
    prompt_tokens = sum(len(m["content"].split()) for m in messages) + 3  # as the fake counts
    price_in, price_out = OPENAI_CHAT_PRICES["gpt-4o-mini"]
    expected = (prompt_tokens * price_in + 5 * price_out) / Decimal(1_000_000)
    assert Decimal(body["cost_usd"]) == expected.quantize(Decimal("0.000001"))


def test_openai_model_without_a_price_has_unknown_cost(owner_api, openai_fake, settings):
    settings.PROMPT_ENHANCE_ALLOWED_MODELS = ["gpt-9-turbo"]
    assert enhance(owner_api, 200, provider="openai", model="gpt-9-turbo")["cost_usd"] is None


def test_openrouter_is_preferred_and_openai_used_when_it_is_the_only_key(
    owner_api, openrouter, openai_fake, monkeypatch
):
    assert enhance(owner_api, 200)["provider"] == "openrouter"
    monkeypatch.delenv("OPENROUTER_API_KEY")
    assert enhance(owner_api, 200)["provider"] == "openai"


def test_no_key_is_400_saying_which_key_is_needed(owner_api, openrouter, monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY")
    body = enhance(owner_api, 400)
    assert "OpenRouter or OpenAI API key" in body["provider"][0]
    assert openrouter.requests == []


def test_named_provider_without_a_key_is_400_naming_it(owner_api, openrouter):
    body = enhance(owner_api, 400, provider="openai")
    assert body["provider"][0].startswith("No API key for OpenAI")


@pytest.mark.parametrize(
    ("scenario", "options", "status", "words"),
    [
        ("unauthorized", {}, 400, "OpenRouter rejected the API key: check it in Settings"),
        ("no_credit", {}, 400, "no credit left"),
        ("rate_limited", {}, 502, "rate limiting"),
        ("server_error", {}, 502, "having problems (HTTP 502)"),
        ("server_error", {"status": 503}, 502, "having problems (HTTP 503)"),
        ("malformed", {}, 502, "could not be read"),
        ("error_in_200", {}, 502, "could not enhance the prompt: Provider returned error"),
        ("content_policy", {}, 400, "refused the request"),
        (
            "validation",
            {"message": "Prompt too long"},
            400,
            "did not accept the request: Prompt too long",
        ),
    ],
)
def test_openrouter_failures_in_words(
    owner_api, openrouter, scenario, options, status, words, caplog
):
    openrouter.set_scenario(scenario, **options)
    with caplog.at_level(logging.DEBUG):
        response = owner_api.post(URL, {"prompt": "a fox"}, format="json")
    assert response.status_code == status, response.content
    assert words in response.json()["detail"]
    assert "Traceback" not in response.content.decode()
    assert OPENROUTER_KEY not in response.content.decode() and OPENROUTER_KEY not in caplog.text


@pytest.mark.parametrize(
    ("scenario", "status", "words"),
    [
        ("unauthorized", 400, "OpenAI rejected the API key: check it in Settings"),
        ("no_credit", 400, "no credit left"),
        ("rate_limited", 502, "rate limiting"),
        ("server_error", 502, "having problems (HTTP 500)"),
        ("malformed", 502, "could not be read"),
    ],
)
def test_openai_failures_in_words(owner_api, openai_fake, scenario, status, words, caplog):
    openai_fake.set_scenario(scenario)
    with caplog.at_level(logging.DEBUG):
        response = owner_api.post(URL, {"prompt": "a fox", "provider": "openai"}, format="json")
    assert response.status_code == status, response.content
    assert words in response.json()["detail"]
    text = response.content.decode() + caplog.text
    assert OPENAI_KEY not in text and "***good" not in text


def test_unknown_model_is_400_with_the_providers_words(owner_api, openrouter, settings):
    settings.PROMPT_ENHANCE_ALLOWED_MODELS = ["nope/not-a-model"]  # allowed, but not there
    body = enhance(owner_api, 400, model="nope/not-a-model")
    assert "nope/not-a-model is not a valid model ID" in body["detail"]


def test_slow_provider_times_out_in_words(owner_api, openrouter, settings):
    settings.PROMPT_ENHANCE_TIMEOUT = 1
    openrouter.set_scenario("slow", seconds=5)
    body = enhance(owner_api, 502)
    assert "did not answer in time" in body["detail"]


def test_unreachable_provider_in_words(owner_api, openrouter, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.OPENROUTER_BASE_URL = f"http://127.0.0.1:{port}/api/v1"
    assert "Could not reach OpenRouter" in enhance(owner_api, 502)["detail"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x", "provider": "replicate"}, "provider"),
        ({"prompt": "x", "style": 999999}, "style"),
    ],
)
def test_bad_input_is_400_and_calls_nobody(owner_api, openrouter, payload, field):
    response = owner_api.post(URL, payload, format="json")
    assert response.status_code == 400 and field in response.json()
    assert openrouter.requests == []


def test_another_users_style_is_refused(owner, outsider_api, openrouter):
    style = StylePreset.objects.create(owner=owner, name="Mine", template="{prompt}, mine")
    response = outsider_api.post(URL, {"prompt": "x", "style": style.pk}, format="json")
    assert response.status_code == 400
    assert response.json()["style"] == ["No such style preset."]
    assert openrouter.requests == []


def test_anonymous_is_refused(api, openrouter):
    assert api.post(URL, {"prompt": "x"}, format="json").status_code in (401, 403)
    assert openrouter.requests == []


# --- One gate for spending: allow-list, budgets, rate limit, recorded spend -------------------


def test_a_model_outside_the_allow_list_is_refused_naming_the_allowed_ones(
    owner_api, openrouter, settings
):
    settings.PROMPT_ENHANCE_ALLOWED_MODELS = ["google/gemini-2.5-flash"]
    body = enhance(owner_api, 400, model="anthropic/claude-opus-4")
    message = body["model"][0]
    assert "anthropic/claude-opus-4" in message
    assert "openai/gpt-4o-mini" in message and "google/gemini-2.5-flash" in message
    assert openrouter.requests == []


def test_a_zero_budget_refuses_enhancement_on_the_team_key(member_api, member, openrouter):
    UserBudget.objects.create(user=member, monthly_budget_usd=Decimal("0"))
    body = enhance(member_api, 400)
    assert "would exceed your monthly budget of $0.00" in body["budget"][0]
    assert openrouter.requests == []


def test_an_exhausted_team_budget_refuses_enhancement(owner_api, openrouter, settings):
    TeamBudget.objects.create(monthly_budget_usd=Decimal("0"))
    body = enhance(owner_api, 400)
    assert "would exceed the team's monthly budget" in body["budget"][0]
    assert openrouter.requests == []


def test_a_daily_image_limit_alone_does_not_refuse_enhancement(owner, owner_api, openrouter):
    """Enhancement makes no image: only the spend limits apply to it."""
    UserBudget.objects.create(user=owner, daily_image_limit=0)
    enhance(owner_api, 200)


def test_enhancement_spend_counts_against_the_monthly_budgets(owner, owner_api, openrouter):
    TeamBudget.objects.create(monthly_budget_usd=Decimal("5"))
    enhance(owner_api, 200)  # the fake reports $0.00001
    status = owner_api.get("/api/dashboard/budget").json()
    assert status["monthly"]["spent_usd"] == "0.000010"
    assert status["team_monthly"]["spent_usd"] == "0.000010"


def test_enhancement_is_refused_once_its_spend_exhausts_the_budget(
    owner, owner_api, openai_fake, settings
):
    """A model with no known price is recorded at the conservative per-call figure, which
    counts against the budget like any other spend."""
    settings.PROMPT_ENHANCE_ALLOWED_MODELS = ["gpt-9-turbo"]
    settings.PROMPT_ENHANCE_UNPRICED_COST_USD = Decimal("0.50")
    UserBudget.objects.create(user=owner, monthly_budget_usd=Decimal("1.00"))
    for _ in range(2):
        enhance(owner_api, 200, provider="openai", model="gpt-9-turbo")
    spend, _ = budgets.user_usage(owner)
    assert spend.used == Decimal("1.00")
    body = enhance(owner_api, 400, provider="openai", model="gpt-9-turbo")
    assert "monthly budget of $1.00" in body["budget"][0]
    assert len(openai_fake.requests) == 2


def test_a_refused_call_costs_nothing(owner, owner_api, openrouter):
    openrouter.set_scenario("unauthorized")
    enhance(owner_api, 400)
    spend, _ = budgets.user_usage(owner)
    assert spend.used == 0


def test_enhancement_is_rate_limited_per_user(owner_api, member_api, openrouter, settings):
    settings.PROMPT_ENHANCE_RATE = "2/hour"
    enhance(owner_api, 200)
    enhance(owner_api, 200)
    assert owner_api.post(URL, {"prompt": "a fox"}, format="json").status_code == 429
    enhance(member_api, 200)  # another user's count is their own
    assert len(openrouter.requests) == 3


def test_the_groups_provider_allow_list_applies_to_enhancement(
    owner, owner_api, openrouter, openai_fake
):
    policy_for("OpenAI only", owner, allowed_providers="openai\noffline")
    # The automatic choice skips OpenRouter, which the groups refuse, though it has a key.
    assert enhance(owner_api, 200)["provider"] == "openai"
    assert openrouter.requests == []
    body = enhance(owner_api, 400, provider="openrouter")
    assert body["provider"] == ["Your groups (OpenAI only) don't allow provider OpenRouter."]
    asked = len(openai_fake.requests)
    policy_for("OpenAI only", owner, allowed_providers="offline")
    body = enhance(owner_api, 400)
    assert body["provider"][0].startswith("Your groups (OpenAI only) don't allow OpenRouter")
    assert openrouter.requests == [] and len(openai_fake.requests) == asked


def test_a_team_keys_first_use_counts_only_once_the_gate_lets_the_call_go(
    member_api, member, openrouter, monkeypatch
):
    """A refused enhancement has not used the team key: no TeamKeyUse, no audit entry; the
    first admitted one records it."""
    from django.contrib.auth.models import Permission

    from imagegen.core.models import AuditEntry
    from settings_app import services as settings_services
    from settings_app.keys import TEAM_KEY_PERMISSION
    from settings_app.models import TeamKeyUse

    monkeypatch.delenv("OPENROUTER_API_KEY")
    settings_services.save_team_key("openrouter", OPENROUTER_KEY)
    member.user_permissions.add(
        Permission.objects.get(
            codename=TEAM_KEY_PERMISSION.split(".")[1], content_type__app_label="settings_app"
        )
    )
    budget = UserBudget.objects.create(user=member, monthly_budget_usd=Decimal("0"))
    enhance(member_api, 400)
    assert not TeamKeyUse.objects.exists()
    assert not AuditEntry.objects.filter(action="key.team_first_use").exists()

    budget.monthly_budget_usd = Decimal("10")
    budget.save()
    enhance(member_api, 200)
    assert TeamKeyUse.objects.filter(user=member).count() == 1
    entry = AuditEntry.objects.get(action="key.team_first_use")
    assert entry.actor_id == member.pk
