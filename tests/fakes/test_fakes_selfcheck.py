"""Self-check of the fake servers (files, OpenAI, OpenRouter) with the real SDKs; no Django."""

from __future__ import annotations

import base64
import io
import struct
import time

import httpx
import openai
import pytest
from PIL import Image

from .base import make_png
from .openai_server import FakeOpenAI
from .openrouter_server import FakeOpenRouter
from .selfcheck_support import fake_fixtures, oa_client, or_client, png_size

pytestmark = pytest.mark.fakes
oa_server, oa_fixture = fake_fixtures("oa", FakeOpenAI, slow_seconds=2)
or_server, or_fixture = fake_fixtures("orr", FakeOpenRouter)


# --------------------------------------------------------------------------- base / files
def test_base_files_and_logging(oa):
    url = oa.add_file("x.png", make_png(3, 2))
    assert png_size(httpx.get(url).content) == (3, 2)
    r = httpx.get(oa.base_url + "/files/not-an-image.png")
    assert r.headers["content-type"] == "image/png" and r.content.startswith(b"<!doctype html>")
    r = httpx.get(oa.base_url + "/redirect", params={"to": "http://169.254.169.254/latest"})
    assert r.status_code == 302 and r.headers["location"] == "http://169.254.169.254/latest"
    for name in ("huge.png", "huge-chunked.png"):
        with httpx.stream("GET", f"{oa.base_url}/files/{name}") as r:
            if name == "huge.png":
                assert int(r.headers["content-length"]) > 11 * 1024 * 1024
            else:
                assert "content-length" not in r.headers
            assert sum(len(c) for c in r.iter_bytes()) > 11 * 1024 * 1024
    bomb = httpx.get(oa.base_url + "/files/bomb.png").content
    assert len(bomb) < 2048 and struct.unpack(">II", bomb[16:24]) == (20000, 20000)
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(bomb))
    assert httpx.get(oa.base_url + "/files/nope").status_code == 404
    assert len(oa.downloads) == 7 and oa.requests == []
    auth = {"Authorization": "Bearer sk-test-good"}
    body = {"prompt": "p", "model": "gpt-image-2"}
    r = httpx.post(oa.base_url + "/v1/images/generations?x=1", json=body, headers=auth)
    assert r.status_code == 200 and r.json()["data"][0]["b64_json"]
    (entry,) = oa.requests
    assert entry["method"] == "POST" and entry["path"] == "/v1/images/generations"
    assert entry["query"] == {"x": "1"} and entry["json"] == body
    assert entry["headers"]["authorization"] == auth["Authorization"]
    assert entry["body"] == b'{"prompt":"p","model":"gpt-image-2"}'
    oa.reset()
    assert oa.requests == [] and oa.downloads == [] and oa.scenario == "success"


def test_base_slow_file_and_lifecycle(oa):
    start = time.monotonic()
    got = b""
    with (  # the body ends early after slow_seconds=2
        pytest.raises(httpx.HTTPError),
        httpx.stream("GET", oa.base_url + "/files/slow.png", timeout=10) as r,
    ):
        for chunk in r.iter_bytes():
            got += chunk
    assert 1.5 < time.monotonic() - start < 6 and 1 <= len(got) <= 4
    fake = FakeOpenAI()
    fake.set_scenario("rate_limited", {"retry_after": 3}, stage="all")
    assert fake.options == {"retry_after": 3, "stage": "all"}
    with fake:
        base = fake.base_url
        assert httpx.get(base + "/files/none").status_code == 404
    with pytest.raises(httpx.ConnectError):
        httpx.get(base + "/files/none", timeout=2)


# --------------------------------------------------------------------------- OpenAI
# (the strict request rules and the account scenarios: test_strict_openai.py)
def test_openai_gpt_image(oa):
    r = oa_client(oa).images.generate(
        model="gpt-image-1.5", prompt="a fox", n=2, size="1536x1024", quality="high"
    )
    assert len(r.data) == 2 and r.data[0].url is None
    assert png_size(base64.b64decode(r.data[0].b64_json)) == (1536, 1024)
    assert r.usage.output_tokens == 2 * 6208 and r.size == "1536x1024" and r.quality == "high"
    raw = oa_client(oa).images.with_raw_response.generate(
        model="gpt-image-2", prompt="x", size="1280x720"
    )
    assert raw.headers["x-request-id"].startswith("req_")
    oa.set_scenario("success", images=3)
    assert len(oa_client(oa).images.generate(model="gpt-image-2", prompt="x").data) == 3


def test_openai_models_chat_and_auth(oa):
    listed = {m.id for m in oa_client(oa).models.list()}
    assert {"gpt-image-2", "gpt-image-1.5", "gpt-4o-mini"} <= listed
    assert not listed & {"dall-e-2", "dall-e-3", "gpt-image-1", "gpt-image-1-mini"}
    c = oa_client(oa).chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": "improve"},
            {"role": "user", "content": "a red fox"},
        ],
    )
    assert c.choices[0].message.content.startswith("a red fox,") and c.usage.total_tokens > 0
    with pytest.raises(openai.AuthenticationError) as exc:
        oa_client(oa, key="sk-bad").models.list()
    assert exc.value.code == "invalid_api_key" and exc.value.request_id
    oa.set_scenario("unauthorized")
    with pytest.raises(openai.AuthenticationError):
        oa_client(oa).models.list()


def test_openai_error_scenarios(oa):
    cases = [
        ("no_credit", {}, openai.RateLimitError, "insufficient_quota"),
        ("rate_limited", {}, openai.RateLimitError, "rate_limit_exceeded"),
        ("content_policy", {}, openai.BadRequestError, "moderation_blocked"),
        ("validation", {"param": "quality"}, openai.BadRequestError, "invalid_value"),
        ("server_error", {"status": 503}, openai.InternalServerError, None),
    ]
    for name, opts, exc_type, code in cases:
        oa.set_scenario(name, **opts)
        with pytest.raises(exc_type) as exc:
            oa_client(oa).images.generate(model="gpt-image-2", prompt="x")
        assert exc.value.code == code, name
    assert exc.value.status_code == 503
    oa.set_scenario("rate_limited")
    with pytest.raises(openai.RateLimitError) as exc:
        oa_client(oa).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
        )
    assert exc.value.response.headers["retry-after"] == "1"
    oa.set_scenario("content_policy")
    with pytest.raises(openai.BadRequestError) as exc:
        oa_client(oa).images.generate(model="gpt-image-1.5", prompt="x")
    assert (exc.value.code, exc.value.type) == ("moderation_blocked", "image_generation_user_error")
    oa.set_scenario("malformed")
    with pytest.raises(ValueError):
        oa_client(oa).images.generate(model="gpt-image-2", prompt="x")
    oa.set_scenario("server_error", stage="chat")  # stage limits where a scenario fires
    assert oa_client(oa).images.generate(model="gpt-image-2", prompt="x").data


def test_openai_rate_limited_once_slow_result_url(oa):
    oa.set_scenario("rate_limited_once")
    with pytest.raises(openai.RateLimitError) as exc:
        oa_client(oa).images.generate(model="gpt-image-2", prompt="x")
    h = exc.value.response.headers
    assert (h["retry-after"], h["retry-after-ms"], h["x-should-retry"]) == ("0", "10", "false")
    assert oa_client(oa).images.generate(model="gpt-image-2", prompt="x").data
    oa.set_scenario("rate_limited_once", should_retry=True)  # let the SDK retry by itself
    assert oa_client(oa, retries=1).images.generate(model="gpt-image-2", prompt="x").data
    assert len(oa.requests) == 4
    oa.set_scenario("slow", seconds=0.3)
    start = time.monotonic()
    oa_client(oa).images.generate(model="gpt-image-2", prompt="x")
    assert time.monotonic() - start >= 0.3
    oa.set_scenario("result_url", url="/files/huge.png")  # a gateway that answers URLs
    r = oa_client(oa).images.generate(model="gpt-image-2", prompt="x")
    assert r.data[0].url == oa.base_url + "/files/huge.png" and r.data[0].b64_json is None
    oa.set_scenario("result_url")
    r = oa_client(oa).images.generate(model="gpt-image-2", prompt="x", size="1024x1536")
    assert png_size(httpx.get(r.data[0].url).content) == (1024, 1536)


# --------------------------------------------------------------------------- OpenRouter
def or_image(orr, model="google/gemini-3.1-flash-image", modalities=("image", "text"), **extra):
    return or_client(orr).chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "a fox"}],
        extra_body={"modalities": list(modalities), **extra},
    )


def test_openrouter_images_text_models_key(orr):
    r = or_image(orr, image_config={"aspect_ratio": "16:9"})
    url = r.choices[0].message.images[0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,") and r.usage.cost == 0.039
    assert png_size(base64.b64decode(url.split(",", 1)[1])) == (1376, 768)
    r = or_image(orr, model="google/gemini-2.5-flash-image", image_config={"aspect_ratio": "16:9"})
    url = r.choices[0].message.images[0]["image_url"]["url"]
    assert png_size(base64.b64decode(url.split(",", 1)[1])) == (1344, 768)
    r = or_image(orr, model="black-forest-labs/flux.2-pro", modalities=["image"])
    assert len(r.choices[0].message.images) == 1
    r = or_client(orr).chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "a fox"}]
    )
    assert r.choices[0].message.content.startswith("a fox,") and r.usage.cost > 0
    ids = {
        m["id"]
        for m in httpx.get(
            orr.base_url + "/api/v1/models", headers={"Authorization": "Bearer sk-or-v1-test-good"}
        ).json()["data"]
    }
    assert "black-forest-labs/flux.2-pro" not in ids and "openai/gpt-4o-mini" in ids
    img_ids = {m.id for m in or_client(orr).models.list(extra_query={"output_modalities": "image"})}
    assert img_ids == {
        "black-forest-labs/flux.2-pro",
        "google/gemini-2.5-flash-image",
        "google/gemini-3.1-flash-image",
    }
    for path in ("/api/v1/key", "/api/v1/auth/key"):
        r = httpx.get(orr.base_url + path, headers={"Authorization": "Bearer sk-or-v1-test-good"})
        assert r.json()["data"]["limit_remaining"] == 74.5
    with pytest.raises(openai.BadRequestError):
        or_image(orr, model="nope/nope")
    with pytest.raises(openai.NotFoundError):
        or_image(orr, model="openai/gpt-4o-mini")


@pytest.mark.parametrize(
    "name,opts,exc_type,status",
    [
        ("unauthorized", {}, openai.AuthenticationError, 401),
        ("no_credit", {}, openai.APIStatusError, 402),
        ("rate_limited", {}, openai.RateLimitError, 429),
        ("content_policy", {}, openai.PermissionDeniedError, 403),
        ("validation", {}, openai.BadRequestError, 400),
        ("server_error", {}, openai.InternalServerError, 502),
    ],
)
def test_openrouter_error_scenarios(orr, name, opts, exc_type, status):
    orr.set_scenario(name, **opts)
    with pytest.raises(exc_type) as exc:
        or_image(orr)
    assert exc.value.status_code == status and exc.value.body["code"] == status
    if name in ("content_policy", "rate_limited", "server_error"):
        assert exc.value.body["metadata"]
    if name == "rate_limited":
        assert exc.value.response.headers["x-ratelimit-remaining"] == "0"


def test_openrouter_misc_scenarios(orr):
    orr.set_scenario("rate_limited_once")
    with pytest.raises(openai.RateLimitError):
        or_image(orr)
    assert or_image(orr).choices[0].message.images
    orr.set_scenario("error_in_200")
    r = httpx.post(
        orr.base_url + "/api/v1/chat/completions",
        headers={"Authorization": "Bearer sk-or-v1-test-good"},
        json={
            "model": "google/gemini-3.1-flash-image",
            "modalities": ["image"],
            "messages": [{"role": "user", "content": "x"}],
        },
    )
    assert r.status_code == 200 and r.json()["error"]["code"] == 502
    orr.set_scenario("error_in_200", with_choices=True)
    assert or_image(orr).choices[0].finish_reason == "error"
    orr.set_scenario("no_image")
    msg = or_image(orr).choices[0].message
    assert msg.content and getattr(msg, "images", None) is None
    orr.set_scenario("malformed")
    with pytest.raises(ValueError):
        or_image(orr)
    orr.set_scenario("slow", seconds=0.3)
    start = time.monotonic()
    or_image(orr)
    assert time.monotonic() - start >= 0.3
    orr.set_scenario("result_url", url="/files/not-an-image.png")
    url = or_image(orr).choices[0].message.images[0]["image_url"]["url"]
    assert httpx.get(url).content.startswith(b"<!doctype html>")
