"""Groups carry permissions, enforced: a model the member's groups do not allow is a 400 that
says why (API, Generate page, /v1 gateway) and is never listed (GET /api/providers, the
Generate page's pickers, /v1/models); the page lists it under "Not offered" with the reason;
the queue and running caps, the budgets and the team keys follow the groups, a per-user
value beats them."""

import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from generation import runner
from generation.models import Generation, Status
from generation.usage.models import UserBudget
from settings_app import services as settings_services
from tests.generation.helpers import make_generation
from tests.groups.helpers import policy_for
from tests.users import client_for

pytestmark = pytest.mark.django_db

OFFLINE = {"provider": "offline", "model": "offline-shapes", "width": 64, "height": 64}
REFUSED = {"provider": "openai", "model": "gpt-image-1.5", "prompt": "a fox"}
ALLOWED = {"provider": "openai", "model": "gpt-image-2", "prompt": "a fox"}
SCRIPT = {"HTTP_ACCEPT": "application/json", "HTTP_X_REQUESTED_WITH": "fetch"}


@pytest.fixture
def openai_key(monkeypatch):
    """An OpenAI key everyone may use (the environment's), so key checks pass."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-test-0000000000000000")


@pytest.fixture
def designer(outsider):
    """A member of Designers, who may use the offline model and OpenAI's gpt-image-2 only."""
    policy_for("Designers", outsider, allowed_models="offline/offline-shapes\nopenai/gpt-image-2")
    return outsider


@pytest.fixture
def designer_api(designer):
    return client_for(designer)


@pytest.fixture
def designer_page(designer):
    client = Client()
    client.force_login(designer)
    return client


# --- Submissions ------------------------------------------------------------------------------


def test_the_api_refuses_a_model_the_groups_do_not_allow_naming_why(designer_api, openai_key):
    response = designer_api.post("/api/generate", REFUSED, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["model"] == [
        "Your groups (Designers) don't allow model gpt-image-1.5 of OpenAI."
    ]
    assert not Generation.objects.exists()
    allowed = designer_api.post("/api/generate", ALLOWED, format="json")
    assert allowed.status_code == 202, allowed.content


def test_the_api_refuses_a_provider_the_groups_do_not_allow(designer_api):
    replicate = {"provider": "replicate", "model": "stability-ai/sdxl", "prompt": "a fox"}
    response = designer_api.post("/api/generate", replicate, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["provider"] == [
        "Your groups (Designers) don't allow provider Replicate."
    ]


def test_an_unknown_model_is_still_unknown_not_refused(designer_api, openai_key):
    response = designer_api.post(
        "/api/generate", {**REFUSED, "model": "no-such-model"}, format="json"
    )
    assert response.status_code == 400
    assert "Unknown model" in response.json()["model"][0]


def test_the_generate_page_refuses_it_with_the_reason(designer_page, openai_key):
    form = {**REFUSED, "width": 1024, "height": 1024, "num_images": 1}
    response = designer_page.post("/generate/", form)
    assert response.status_code == 400
    assert (
        "Your groups (Designers) don&#x27;t allow model gpt-image-1.5" in response.content.decode()
    )
    scripted = designer_page.post("/generate/", form, **SCRIPT)
    assert scripted.json()["errors"]["model"] == [
        "Your groups (Designers) don't allow model gpt-image-1.5 of OpenAI."
    ]
    refused = designer_page.post("/generate/", {**form, "provider": "fal"}, **SCRIPT)
    assert refused.json()["errors"]["provider"] == [
        "Your groups (Designers) don't allow provider fal.ai."
    ]
    assert not Generation.objects.exists()


def test_the_gateway_refuses_it_with_the_reason_and_never_lists_it(designer, openai_key):
    token = settings_services.create_named_token(designer, "webui")[1]
    bearer = Client(headers={"Authorization": f"Bearer {token}"})
    response = bearer.post(
        "/v1/images/generations",
        json.dumps({"model": "gpt-image-1.5", "prompt": "a fox"}),
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["message"] == "Your groups (Designers) don't allow model gpt-image-1.5 of OpenAI."
    assert (error["param"], error["code"]) == ("model", "model_not_allowed")
    listed = [m["id"] for m in bearer.get("/v1/models").json()["data"]]
    assert "gpt-image-2" in listed and "offline-shapes" in listed
    assert "gpt-image-1.5" not in listed
    assert bearer.get("/v1/models/gpt-image-1.5").status_code == 404
    assert not Generation.objects.exists()


# --- Lists ------------------------------------------------------------------------------------


def test_the_providers_api_never_lists_a_refused_model(designer_api, owner_api):
    by_name = {p["name"]: p for p in designer_api.get("/api/providers").json()["providers"]}
    assert [m["id"] for m in by_name["openai"]["models"]] == ["gpt-image-2"]
    assert [m["id"] for m in by_name["offline"]["models"]] == ["offline-shapes"]
    assert by_name["replicate"]["models"] == [] and by_name["fal"]["models"] == []
    # Someone in no group with a policy sees them all.
    everyone = {p["name"]: p for p in owner_api.get("/api/providers").json()["providers"]}
    assert "gpt-image-1.5" in [m["id"] for m in everyone["openai"]["models"]]


def test_the_generate_page_offers_only_allowed_models_and_says_why_not_the_rest(
    designer_page, designer
):
    page = designer_page.get("/generate/").content.decode()
    provider_select = page.split('id="id_provider"', 1)[1].split("</select>", 1)[0]
    assert 'value="openai"' in provider_select and 'value="replicate"' not in provider_select
    note = page.split('id="not-offered"', 1)[1].split("</details>", 1)[0]
    assert "Not offered to you" in note
    assert "gpt-image-1.5" in note and "not allowed for your groups (Designers)" in note
    assert "gpt-image-2)" not in note  # the allowed one is offered, not listed here
    options = designer_page.get("/generate/models/?provider=openai").content.decode()
    assert 'value="gpt-image-2"' in options and "gpt-image-1.5" not in options


def test_no_note_for_someone_whose_groups_restrict_nothing(owner_client):
    assert 'id="not-offered"' not in owner_client.get("/generate/").content.decode()


# --- Caps ---------------------------------------------------------------------------------


def test_the_groups_queue_cap_refuses_with_a_429_naming_it(outsider, settings):
    settings.MAX_QUEUED_GENERATIONS_PER_USER = 20
    policy_for("Interns", outsider, max_queued=2)
    api = client_for(outsider)
    make_generation(outsider)
    make_generation(outsider, status=Status.RUNNING)
    response = api.post("/api/generate", {**OFFLINE, "prompt": "a"}, format="json")
    assert response.status_code == 429, response.content
    assert response.json()["queued"] == [
        "Too many generations at once: you may have 2 queued or running (the limit of your "
        "group Interns), 2 are, and this request adds 1. Wait for some to finish or cancel them."
    ]
    # A per-user value beats the group.
    UserBudget.objects.create(user=outsider, max_queued=3)
    assert api.post("/api/generate", {**OFFLINE, "prompt": "a"}, format="json").status_code == 202


def test_the_gateway_counts_the_groups_queue_cap(outsider, settings):
    policy_for("Interns", outsider, max_queued=1)
    make_generation(outsider)
    token = settings_services.create_named_token(outsider, "webui")[1]
    bearer = Client(headers={"Authorization": f"Bearer {token}"})
    response = bearer.post(
        "/v1/images/generations",
        json.dumps({"model": "offline-shapes", "prompt": "a fox"}),
        content_type="application/json",
    )
    assert response.status_code == 429, response.content
    assert "1 queued or running" in response.json()["error"]["message"]


def test_the_runner_claims_up_to_the_groups_running_cap(outsider, settings):
    settings.GENERATION_MAX_CONCURRENT = 1
    policy_for("Render farm", outsider, max_running=2)
    make_generation(outsider, status=Status.RUNNING)
    second, third = make_generation(outsider), make_generation(outsider)
    assert runner.claim(second.pk) is not None  # 2 running: the group's cap, not the setting's
    assert runner.claim(third.pk) is None
    assert Generation.objects.get(pk=third.pk).status == Status.QUEUED
    UserBudget.objects.create(user=outsider, max_running=3)  # per user beats the group
    assert runner.claim(third.pk) is not None


def test_the_feed_says_the_groups_running_cap(outsider, settings):
    settings.GENERATION_MAX_CONCURRENT = 1
    policy_for("Render farm", outsider, max_running=2)
    make_generation(outsider, status=Status.RUNNING)
    make_generation(outsider, status=Status.RUNNING)
    queued = make_generation(outsider)
    body = client_for(outsider).get(f"/api/generations/{queued.pk}").json()
    assert body["waiting_reason"] == "waiting: 2 of 2 of your generations running"


# --- Budgets ------------------------------------------------------------------------------


def test_the_groups_daily_limit_applies_and_a_per_user_value_beats_it(outsider):
    policy_for("Interns", outsider, daily_image_limit=1)
    api = client_for(outsider)
    two = {**OFFLINE, "prompt": "a", "num_images": 2}
    response = api.post("/api/generate", two, format="json")
    assert response.status_code == 429
    assert "your limit is 1 images a day" in response.json()["num_images"][0]
    UserBudget.objects.create(user=outsider, daily_image_limit=5)
    assert api.post("/api/generate", two, format="json").status_code == 202


def test_an_unlimited_group_beats_the_default_budget(outsider, settings):
    settings.DEFAULT_DAILY_IMAGE_LIMIT = 1
    api = client_for(outsider)
    two = {**OFFLINE, "prompt": "a", "num_images": 2}
    assert api.post("/api/generate", two, format="json").status_code == 429
    policy_for("Leads", outsider, unlimited=True)
    assert api.post("/api/generate", two, format="json").status_code == 202


def test_the_budget_figures_show_the_effective_limits(outsider, settings):
    settings.DEFAULT_MONTHLY_BUDGET_USD = Decimal("10")
    policy_for("Designers", outsider, monthly_budget_usd=Decimal("75"), daily_image_limit=30)
    body = client_for(outsider).get("/api/dashboard/budget").json()
    assert body["monthly"]["limit_usd"] == "75.000000"
    assert body["daily_images"]["limit"] == 30
    assert body["limits"]["groups"] == ["Designers"]
    assert body["limits"]["sources"]["monthly_budget_usd"] == "group Designers"
    client = Client()
    client.force_login(outsider)
    page = client.get("/dashboard/").content.decode()
    assert "of $75.00 (group Designers)" in page


# --- Team keys ----------------------------------------------------------------------------


def test_team_keys_follow_the_groups_permission(outsider, admin_user):
    settings_services.save_team_key("openai", "sk-team-0000000000000000000000", admin_user)
    policy = policy_for("Designers", outsider)
    api = client_for(outsider)
    refused = api.post("/api/generate", ALLOWED, format="json")
    assert refused.status_code == 400
    assert "No API key for OpenAI" in refused.json()["provider"][0]
    policy.group.permissions.add(Permission.objects.get(codename="use_team_keys"))
    api = client_for(type(outsider).objects.get(pk=outsider.pk))  # no cached permissions
    assert api.post("/api/generate", ALLOWED, format="json").status_code == 202
    assert Generation.objects.get().provider == "openai"


def test_the_page_starts_on_a_provider_the_groups_allow(outsider):
    policy_for("Replicate only", outsider, allowed_providers="replicate")
    client = Client()
    client.force_login(outsider)
    page = client.get("/generate/").content.decode()
    provider_select = page.split('id="id_provider"', 1)[1].split("</select>", 1)[0]
    assert 'value="replicate" selected' in provider_select
    assert 'value="offline"' not in provider_select
    model_select = page.split('id="id_model"', 1)[1].split("</select>", 1)[0]
    assert 'value="black-forest-labs/flux-schnell"' in model_select


def test_a_generation_queued_before_its_model_was_refused_fails_with_the_reason(outsider):
    queued = make_generation(outsider, provider="offline", model="offline-shapes")
    policy_for("Designers", outsider, allowed_models="openai/gpt-image-2")
    assert runner.claim(queued.pk) is None
    queued.refresh_from_db()
    assert queued.status == Status.FAILED
    assert (
        queued.error
        == "Your groups (Designers) don't allow provider Offline (built-in, no network)."
    )


def test_the_generate_page_resolves_the_limits_once(outsider, client):
    # Its pickers, the not-offered note and the budget notice all ask; one GET resolves once.
    for n in range(3):
        policy_for(f"Group {n}", outsider, allowed_providers="offline\nopenai")
    client.force_login(outsider)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/generate/").status_code == 200
    policy_reads = [q for q in queries.captured_queries if "grouppolicy" in q["sql"]]
    assert len(policy_reads) == 1


def test_a_generation_refused_at_its_claim_lets_the_next_queued_one_start(
    outsider, monkeypatch, django_capture_on_commit_callbacks
):
    refused = make_generation(outsider, provider="offline", model="offline-shapes")
    policy_for("Designers", outsider, allowed_models="openai/gpt-image-2")
    allowed = make_generation(outsider, provider="openai", model="gpt-image-2")
    enqueued = []
    monkeypatch.setattr(runner, "enqueue_generation", enqueued.append)
    with django_capture_on_commit_callbacks(execute=True):
        assert runner.claim(refused.pk) is None
    # No run ended to dispatch the next one: the refusal does it.
    assert enqueued == [allowed.pk]
