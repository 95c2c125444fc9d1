"""The /v1 wire format where no generation runs: refusals in OpenAI's error shape, the
REST API's Bearer tokens and rate limit, and the admin's aliases."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from generation.models import Generation, ModelAlias
from settings_app.models import NamedToken

pytestmark = pytest.mark.django_db


def error_of(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()["error"]
    assert set(body) == {"message", "type", "param", "code"}
    return body


@pytest.fixture
def bearer(owner_token):
    return Client(headers={"Authorization": f"Bearer {owner_token}"})


def test_a_wrong_method_and_an_unknown_path_answer_in_openai_shape(bearer):
    response = bearer.get("/v1/images/generations")
    assert error_of(response, 405)["code"] == "method_not_allowed" and response["Allow"] == "POST"
    assert error_of(bearer.post("/v1/chat/completions"), 404)["code"] == "unknown_url"
    assert error_of(bearer.delete("/v1/models"), 405)


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        (b"{not json", None, "could not parse the JSON"),
        (b"[1, 2]", None, "JSON object"),
        (b'{"model": "offline-shapes"}', "prompt", "Missing required parameter"),
        (b'{"prompt": "x", "n": "2"}', "n", "expected an integer"),
        (b'{"prompt": "x", "n": true}', "n", "expected an integer"),
        (b'{"prompt": "x", "n": 0}', "n", "between 1 and 10"),
        (b'{"prompt": "x", "stream": true}', "stream", "Streaming"),
        (b'{"prompt": "x", "response_format": "file"}', "response_format", "Supported"),
        (b'{"prompt": "x", "output_format": "gif"}', "output_format", "Supported"),
        (b'{"prompt": "x", "output_compression": 50}', "output_compression", "'jpeg' or"),
        (
            b'{"prompt": "x", "output_format": "jpeg", "background": "transparent"}',
            "background",
            "transparent",
        ),
        (b'{"prompt": "x", "size": "1024X1024"}', "size", "WIDTHxHEIGHT"),
        (b'{"prompt": "x", "user": 5}', "user", "expected a string"),
        (b'{"prompt": "x", "negative_prompt": "y"}', None, "Unrecognized request argument"),
    ],
)
def test_bad_requests_name_the_parameter_and_queue_nothing(bearer, body, param, words):
    response = bearer.post("/v1/images/generations", body, content_type="application/json")
    error = error_of(response, 400)
    assert error["param"] == param and words in error["message"]
    assert error["type"] == "invalid_request_error"
    assert not Generation.objects.exists()


def test_edits_want_multipart_and_an_image(bearer):
    response = bearer.post("/v1/images/edits", b"{}", content_type="application/json")
    assert "multipart/form-data" in error_of(response, 400)["message"]
    response = bearer.post("/v1/images/edits", {"prompt": "x"})
    assert error_of(response, 400)["param"] == "image"
    response = bearer.post("/v1/images/edits", {"prompt": "x", "image": "not a file"})
    assert error_of(response, 400)["param"] == "image"


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Bearer a b", "Basic dXNlcjpwYXNz", "Bearer nope"]
)
def test_no_valid_token_is_401(header):
    client = Client(headers={"Authorization": header} if header else {})
    for response in (
        client.get("/v1/models"),
        client.post("/v1/images/generations", b"{}", content_type="application/json"),
    ):
        assert error_of(response, 401)["code"] in ("invalid_api_key", "missing_api_key")


def test_a_signed_in_session_is_not_a_v1_credential(owner_client):
    assert error_of(owner_client.get("/v1/models"), 401)


def test_the_rest_api_takes_bearer_and_the_tokens_rate_limit(owner, owner_token):
    client = Client(headers={"Authorization": f"Bearer {owner_token}"})
    assert client.get("/api/gallery").status_code == 200
    assert Client(headers={"Authorization": "Bearer"}).get("/api/gallery").status_code == 401
    NamedToken.objects.filter(token__user=owner).update(requests_per_minute=1)
    assert client.get("/api/gallery").status_code == 200
    refused = client.get("/api/gallery")
    assert refused.status_code == 429 and "1 requests per minute" in refused.json()["detail"]
    assert 1 <= int(refused["Retry-After"]) <= 60


def test_a_rate_limit_of_zero_refuses_everything(owner, bearer):
    NamedToken.objects.filter(token__user=owner).update(requests_per_minute=0)
    assert error_of(bearer.get("/v1/models"), 429)["code"] == "rate_limit_exceeded"


def test_an_alias_must_name_an_offered_model():
    with pytest.raises(ValidationError) as caught:
        ModelAlias(name="fast", provider="nope", model="x").full_clean()
    assert "provider" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        ModelAlias(name="fast", provider="offline", model="nope").full_clean()
    assert "model" in caught.value.message_dict
    with pytest.raises(ValidationError):
        ModelAlias(name="has space", provider="offline", model="offline-shapes").full_clean()
    ModelAlias(name="fast", provider="offline", model="offline-shapes").full_clean()


def test_the_admin_sets_a_tokens_rate_limit(admin_user, owner, owner_token):
    client = Client()
    client.force_login(admin_user)
    named = NamedToken.objects.get(token__user=owner)
    url = f"/admin/settings_app/namedtoken/{named.pk}/change/"
    page = client.get(url).content.decode()
    assert owner_token not in page and "Requests per minute" in page
    response = client.post(url, {"requests_per_minute": "30"})
    assert response.status_code == 302
    named.refresh_from_db()
    assert named.requests_per_minute == 30 and named.name == "open webui"


@pytest.mark.parametrize("field", ["prompt", "user", "model"])
def test_a_nul_in_text_is_a_400(bearer, field):
    body = {"prompt": "a fox", "model": "offline-shapes", field: "a\x00b"}
    response = bearer.post("/v1/images/generations", body, content_type="application/json")
    assert error_of(response, 400)["param"] == field


def test_the_rate_limit_counts_across_a_minute_turn_and_a_clock_ahead(owner, owner_token):
    from datetime import timedelta

    from django.utils import timezone
    from knox.models import AuthToken

    from settings_app import tokens

    token = AuthToken.objects.get(user=owner)
    named = NamedToken.objects.filter(token=token)
    start = timezone.now().replace(second=0, microsecond=0)
    # Last minute's window is full: this minute's first two requests both pass.
    named.update(requests_per_minute=2, window_start=start - timedelta(minutes=1), window_count=2)
    tokens.admit(token)
    tokens.admit(token)
    with pytest.raises(tokens.RateLimited):
        tokens.admit(token)
    assert named.get().window_count == 2
    # A window stamped by a host whose clock runs ahead is this minute's, not a fresh one.
    named.update(window_start=start + timedelta(seconds=30), window_count=2)
    with pytest.raises(tokens.RateLimited) as caught:
        tokens.admit(token)
    assert 1 <= caught.value.wait <= 60


def test_a_paused_token_says_so_and_asks_for_no_retry(owner, bearer):
    NamedToken.objects.filter(token__user=owner).update(requests_per_minute=0)
    response = bearer.get("/v1/models")
    assert "paused" in error_of(response, 429)["message"]
    assert response["x-should-retry"] == "false" and "Retry-After" not in response


def test_giving_up_on_a_generation_that_just_succeeded_answers_it(owner):
    from generation.gateway import service
    from tests.generation.helpers import make_generation

    done = make_generation(owner, status="succeeded")
    assert service.give_up(done.pk, 120) is None
    waiting = make_generation(owner, status="queued")
    error = service.give_up(waiting.pk, 120)
    assert error.status == 504 and error.retry is False
    waiting.refresh_from_db()
    assert waiting.status == "canceled"


def test_a_project_named_with_digits_is_found_by_name(owner):
    from generation.gateway import service
    from projects.models import Project

    project = Project.objects.create(owner=owner, name="2027")
    assert service.project_of(owner, "2027") == project
    assert service.project_of(owner, str(project.pk)) == project


def test_the_monthly_reset_counts_a_daylight_saving_change(settings, monkeypatch):
    from datetime import UTC, datetime

    from django.utils import timezone

    from generation.gateway import service

    settings.TIME_ZONE = "Europe/Berlin"
    # 2026-03-20 00:00 Berlin (UTC+1) to 2026-04-01 00:00 Berlin (UTC+2): 12 days less an hour.
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 3, 19, 23, 0, tzinfo=UTC))
    seconds, words = service.quota_reset("month")
    assert seconds == 12 * 86400 - 3600
    assert "2026-04-01 00:00 (Europe/Berlin)" in words


def test_the_schema_documents_the_v1_routes(client):
    schema = client.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    for path, method in (
        ("/v1/images/generations", "post"),
        ("/v1/images/edits", "post"),
        ("/v1/models", "get"),
        ("/v1/models/{model_id}", "get"),
        ("/v1/files/{signed}", "get"),
    ):
        operation = paths[path][method]
        assert operation["tags"] == ["OpenAI-compatible gateway (/v1)"]
    generations = paths["/v1/images/generations"]["post"]
    assert {"200", "400", "401", "404", "429", "502", "504"} <= set(generations["responses"])
    body = generations["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["prompt"] and body["additionalProperties"] is False
    assert schema["components"]["securitySchemes"]["tokenAuth"]["scheme"] == "bearer"


def test_a_lone_surrogate_is_a_400_not_a_500(bearer):
    body = b'{"prompt": "a\\ud800b", "model": "offline-shapes"}'
    response = bearer.post("/v1/images/generations", body, content_type="application/json")
    assert "not valid Unicode" in error_of(response, 400)["message"]


def test_a_window_stamped_far_ahead_is_stale_not_a_lock_out(owner, owner_token):
    from datetime import timedelta

    from django.utils import timezone
    from knox.models import AuthToken

    from settings_app import tokens

    token = AuthToken.objects.get(user=owner)
    named = NamedToken.objects.filter(token=token)
    named.update(
        requests_per_minute=2, window_start=timezone.now() + timedelta(hours=2), window_count=2
    )
    tokens.admit(token)  # a fresh window
    assert named.get().window_count == 1


def test_an_alias_owns_its_name_even_when_its_model_is_not_usable(bearer):
    ModelAlias.objects.create(name="offline-shapes", provider="openai", model="gpt-image-1")
    listed = [m["id"] for m in bearer.get("/v1/models").json()["data"]]
    assert "offline-shapes" not in listed  # the alias's target needs an OpenAI key
    assert error_of(bearer.get("/v1/models/offline-shapes"), 404)["code"] == "model_not_found"


def test_refusals_before_the_view_are_in_openai_shape(bearer):
    response = bearer.get("/v1/models", headers={"host": "evil.example"})
    assert error_of(response, 400)["type"] == "invalid_request_error"


def test_the_asgi_body_limit_counts_the_gateways_inputs():
    from generation.gateway.service import MAX_INPUTS
    from imagegen.asgi import GATEWAY_MAX_FILES

    assert GATEWAY_MAX_FILES == MAX_INPUTS
