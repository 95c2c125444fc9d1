"""Self-check of FakeOpenAICompatible (LocalAI-style), driven by the official openai SDK."""

from __future__ import annotations

import base64
import io
import threading
import time

import httpx
import openai
import pytest
from PIL import Image

from .openai_compatible_server import FakeOpenAICompatible
from .selfcheck_support import fake_fixtures, png_size

pytestmark = pytest.mark.fakes

compat_server, compat = fake_fixtures("compat", FakeOpenAICompatible)


def client(fake, key="none"):
    return openai.OpenAI(base_url=fake.base_url + "/v1", api_key=key, max_retries=0)


def png(w, h, mode="RGB", color=(0, 0, 255)):
    buf = io.BytesIO()
    Image.new(mode, (w, h), color).save(buf, format="PNG")
    return buf.getvalue()


def test_models_list(compat):
    ids = [m.id for m in client(compat).models.list()]
    assert ids == ["sd-1.5", "flux-schnell", "llama"]


def test_generate_b64_prompt_split_and_seed(compat):
    r = client(compat).images.generate(
        model="flux-schnell",
        prompt="a fox|blurry",
        n=2,
        size="64x32",
        response_format="b64_json",
        extra_body={"seed": 42, "step": 4},
    )
    assert len(r.data) == 2
    assert all(png_size(base64.b64decode(d.b64_json)) == (64, 32) for d in r.data)
    gens = compat.generations
    assert gens[0] == {
        "model": "flux-schnell",
        "prompt": "a fox",
        "negative": "blurry",
        "width": 64,
        "height": 32,
        "step": 4,
        "seed": 42,
    }


def test_default_response_is_url_and_default_model(compat):
    r = client(compat).images.generate(prompt="a fox", size="48x48")
    assert r.data[0].b64_json is None
    data = httpx.get(r.data[0].url).content
    assert png_size(data) == (48, 48)
    assert compat.generations[0]["model"] == "sd-1.5" and compat.generations[0]["step"] == 15


def test_unknown_model_and_bad_types(compat):
    with pytest.raises(openai.NotFoundError) as exc:
        client(compat).images.generate(model="dall-e-3", prompt="x")
    assert exc.value.body["message"] == (
        'model "dall-e-3" not found. To see available models, call GET /v1/models'
    )
    assert exc.value.body["type"] == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as exc:
        client(compat).images.generate(model="sd-1.5", prompt="x", extra_body={"n": "two"})
    assert "Unmarshal type error: expected=int, got=string, field=n" in exc.value.body["message"]
    with pytest.raises(openai.InternalServerError) as exc:
        client(compat).images.generate(model="sd-1.5", prompt="x", size="axb")
    assert exc.value.body["message"] == "invalid value for 'size'"
    assert compat.generations == []


def test_size_without_x_falls_back_and_empty_prompt_gives_no_data(compat):
    r = httpx.post(
        compat.base_url + "/v1/images/generations",
        json={"prompt": "x", "size": "big", "response_format": "b64_json"},
    )
    assert png_size(base64.b64decode(r.json()["data"][0]["b64_json"])) == (512, 512)
    r = httpx.post(compat.base_url + "/v1/images/generations", json={"model": "sd-1.5"})
    assert r.status_code == 200 and "data" not in r.json()


def test_edits_with_mask(compat):
    image = png(40, 20)
    mask = Image.new("RGBA", (40, 20), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 20, 20))
    buf = io.BytesIO()
    mask.save(buf, format="PNG")
    r = client(compat).images.edit(
        model="sd-1.5",
        image=("i.png", image, "image/png"),
        mask=("m.png", buf.getvalue(), "image/png"),
        prompt="paint",
        size="40x20",
    )
    out = Image.open(io.BytesIO(base64.b64decode(r.data[0].b64_json))).convert("RGB")
    assert out.getpixel((30, 10)) == (0, 0, 255) and out.getpixel((5, 10)) != (0, 0, 255)
    with pytest.raises(openai.BadRequestError):
        client(compat).images.edit(
            model="sd-1.5",
            image=("i.png", image, "image/png"),
            mask=("m.png", png(10, 10, "RGBA"), "image/png"),
            prompt="paint",
        )


def test_edits_off_is_404():
    with FakeOpenAICompatible(edits=False) as fake:
        with pytest.raises(openai.NotFoundError) as exc:
            client(fake).images.edit(
                model="sd-1.5", image=("i.png", png(8, 8), "image/png"), prompt="p"
            )
        assert exc.value.body == {"code": 404, "message": "Resource not found", "type": ""}


def test_api_key():
    with FakeOpenAICompatible(api_key="secret") as fake:
        with pytest.raises(openai.AuthenticationError) as exc:
            client(fake, "wrong").models.list()
        assert exc.value.body["message"] == "An authentication key is required"
        assert exc.value.response.headers["www-authenticate"] == "Bearer"
        assert [m.id for m in client(fake, "secret").models.list()][0] == "sd-1.5"
        r = httpx.get(fake.base_url + "/v1/models", headers={"x-api-key": "secret"})
        assert r.status_code == 200


def test_scenarios_slow_and_server_error(compat):
    compat.set_scenario("slow", seconds=0.3)
    start = time.monotonic()
    client(compat).images.generate(model="sd-1.5", prompt="x", size="8x8")
    assert time.monotonic() - start >= 0.3
    compat.set_scenario("server_error")
    with pytest.raises(openai.InternalServerError) as exc:
        client(compat).images.generate(model="sd-1.5", prompt="x")
    assert exc.value.body["code"] == 500


def test_die_and_come_back():
    with FakeOpenAICompatible() as fake:
        fake.set_scenario("slow", seconds=5)
        url = fake.base_url
        errors = []

        def run():
            try:
                client(fake).images.generate(model="sd-1.5", prompt="x", size="8x8", timeout=5)
            except openai.APIError as exc:
                errors.append(exc)

        t = threading.Thread(target=run)
        t.start()
        time.sleep(0.2)
        fake.die()
        t.join(6)
        assert errors and isinstance(errors[0], openai.APIConnectionError)
        with pytest.raises(openai.APIConnectionError):
            client(fake).models.list()
        fake.come_back()
        assert fake.base_url == url
        fake.set_scenario("success")
        assert client(fake).images.generate(model="sd-1.5", prompt="x", size="8x8").data
        assert fake.server_errors == []
