"""The official openai SDK against the live test server's /v1, with a user's API token."""

import base64
import io
import time
from datetime import timedelta
from decimal import Decimal

import httpx
import openai
import pytest
from django.db import connection
from django.utils import timezone
from PIL import Image as PILImage

from gallery.models import Image
from generation.models import Generation, ModelAlias, Status
from generation.usage.models import UserBudget
from projects.models import Project
from settings_app.models import NamedToken
from tests.dashboard.helpers import finished
from tests.gateway.helpers import decoded, mask_png, png

pytestmark = pytest.mark.django_db(transaction=True)


def test_generate_b64_json_lands_in_the_gallery_as_api(sdk, owner):
    result = sdk.images.generate(
        model="offline-shapes", prompt="a red fox", size="512x512", user="alice@webui"
    )
    assert decoded(result.data[0].b64_json).size == (512, 512)
    assert result.created > 0 and result.output_format == "png" and result.size == "512x512"
    image = Image.objects.get(owner=owner)
    assert image.origin == "api" and (image.width, image.height) == (512, 512)
    generation = image.generation
    assert generation.origin == "api" and generation.client_user == "alice@webui"
    assert generation.user_agent.startswith("OpenAI/Python")
    assert generation.status == Status.SUCCEEDED and generation.prompt == "a red fox"


def test_n_images_in_order_and_output_format_converted(sdk, owner):
    result = sdk.images.generate(
        model="offline-shapes",
        prompt="two foxes",
        n=2,
        size="256x128",
        output_format="jpeg",
        output_compression=40,
    )
    assert len(result.data) == 2 and result.output_format == "jpeg"
    for item in result.data:
        image = decoded(item.b64_json)
        assert image.format == "JPEG" and image.size == (256, 128)
    assert Image.objects.filter(owner=owner).count() == 2


def test_url_answers_are_absolute_signed_links(sdk, live_server):
    result = sdk.images.generate(
        model="offline-shapes", prompt="a fox", size="320x200", response_format="url"
    )
    url = result.data[0].url
    assert url.startswith(f"{live_server.url}/v1/files/")
    response = httpx.get(url)  # no token: the link is the permission, as OpenAI's are
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert PILImage.open(io.BytesIO(response.content)).size == (320, 200)
    forged = url[:-3] + ("abc" if not url.endswith("abc") else "xyz")
    assert httpx.get(forged).status_code == 404


def test_a_link_expires(sdk, settings, monkeypatch):
    result = sdk.images.generate(model="offline-shapes", prompt="a fox", response_format="url")
    url = result.data[0].url
    import django.core.signing as signing

    later = signing.time.time() + settings.GATEWAY_LINK_SECONDS + 5
    monkeypatch.setattr(signing.time, "time", lambda: later)
    response = httpx.get(url)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "link_expired"


def test_edit_with_one_image(sdk, owner):
    result = sdk.images.edit(
        model="offline-shapes",
        image=("fox.png", png(128, 96), "image/png"),
        prompt="make it blue",
    )
    assert decoded(result.data[0].b64_json).size == (128, 96)
    generation = Generation.objects.get(owner=owner, operation="edit")
    assert generation.origin == "api"
    uploaded = Image.objects.get(owner=owner, origin="upload")  # the input, in the gallery
    assert list(generation.inputs.values_list("image_ref", flat=True)) == [uploaded.pk]


def test_edit_with_two_images(sdk, owner):
    result = sdk.images.edit(
        model="offline-shapes",
        image=[("a.png", png(128, 128), "image/png"), ("b.png", png(96, 96), "image/png")],
        prompt="the two together",
    )
    assert decoded(result.data[0].b64_json).size == (128, 128)
    generation = Generation.objects.get(owner=owner, operation="edit")
    assert generation.inputs.filter(role="input").count() == 2


def test_edit_with_a_mask_changes_only_the_transparent_part(sdk, owner):
    first = png(128, 128, (10, 200, 10, 255))
    result = sdk.images.edit(
        model="offline-shapes",
        image=("a.png", first, "image/png"),
        mask=("mask.png", mask_png(128, 128, (0, 0, 64, 128)), "image/png"),
        prompt="a fox in the left half",
    )
    out = decoded(result.data[0].b64_json).convert("RGB")
    assert out.size == (128, 128)
    assert out.getpixel((100, 64)) == (10, 200, 10)  # kept: opaque in the mask
    changed = [out.getpixel((x, y)) != (10, 200, 10) for x in range(0, 64, 4) for y in (8, 64)]
    assert any(changed)  # painted where the mask is transparent
    generation = Generation.objects.get(owner=owner, operation="inpaint")
    assert sorted(generation.inputs.values_list("role", flat=True)) == ["input", "mask"]


def test_two_images_and_a_mask_on_a_model_that_inpaints_one_is_refused(sdk, owner):
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.images.edit(
            model="offline-shapes",
            image=[
                ("a.png", png(64, 64), "image/png"),
                ("b.png", png(64, 64, (0, 0, 200, 255)), "image/png"),
            ],
            mask=("m.png", mask_png(64, 64, (0, 0, 8, 8)), "image/png"),
            prompt="x",
        )
    assert "one input image for inpaint" in caught.value.body["message"]
    assert not Image.objects.filter(owner=owner).exists()  # the inputs went with it


def test_a_mask_of_another_size_or_without_alpha_is_refused(sdk, owner):
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.images.edit(
            model="offline-shapes",
            image=("a.png", png(128, 128), "image/png"),
            mask=("m.png", mask_png(64, 64, (0, 0, 10, 10)), "image/png"),
            prompt="x",
        )
    assert caught.value.body["param"] == "mask" and "size of the first image" in str(caught.value)
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.images.edit(
            model="offline-shapes",
            image=("a.png", png(128, 128), "image/png"),
            mask=("m.png", png(128, 128, mode="RGB"), "image/png"),
            prompt="x",
        )
    assert "alpha" in str(caught.value)
    # Nothing was kept: not the inputs, not a generation.
    assert not Image.objects.filter(owner=owner).exists()
    assert not Generation.objects.filter(owner=owner).exists()


def test_models_lists_what_the_user_may_use_with_aliases(sdk):
    ModelAlias.objects.create(name="fast", provider="offline", model="offline-shapes")
    ModelAlias.objects.create(name="gpt-image-1", provider="openai", model="gpt-image-1")
    ids = [m.id for m in sdk.models.list()]
    assert "offline-shapes" in ids and "fast" in ids
    # No OpenAI key: neither the OpenAI model nor the alias that points at it.
    assert "gpt-image-1" not in ids and "dall-e-3" not in ids
    model = sdk.models.retrieve("fast")
    assert model.id == "fast" and model.owned_by == "offline" and model.object == "model"
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("fal-ai/flux/schnell")


def test_an_alias_routes_to_its_model_and_team_default_is_used_without_a_model(sdk, owner):
    ModelAlias.objects.create(name="team-default", provider="offline", model="offline-shapes")
    ModelAlias.objects.create(name="fast", provider="offline", model="offline-shapes")
    sdk.images.generate(model="fast", prompt="quick fox", size="64x64")
    sdk.images.generate(prompt="default fox", size="64x64")
    assert set(Generation.objects.values_list("model", flat=True)) == {"offline-shapes"}
    assert Generation.objects.count() == 2


def test_errors_are_the_sdk_classes(sdk, live_server):
    bad = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        bad.images.generate(model="offline-shapes", prompt="x")
    assert caught.value.body["code"] == "invalid_api_key"
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.images.generate(model="no-such-model", prompt="x")
    assert caught.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.images.generate(model="offline-shapes", prompt="x", size="huge")
    assert caught.value.body["param"] == "size"
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.images.generate(model="offline-shapes", prompt="x", n=5)  # the model makes 1-4
    assert caught.value.body["param"] == "n" and "1 to 4" in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.images.generate(model="offline-shapes", prompt="x", extra_body={"seed": 3})
    assert "Unrecognized request argument supplied: seed" in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.images.generate(model="offline-shapes", prompt="x", background="transparent")
    assert caught.value.body["param"] == "background"
    assert "does not support background 'transparent'" in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.images.generate(model="offline-shapes", prompt="x", moderation="low")
    assert caught.value.body["param"] == "moderation"
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.images.generate(model="offline-shapes", prompt="x", size="8x8")
    assert caught.value.body["param"] == "size"
    assert not Generation.objects.exists()


def test_over_budget_is_a_rate_limit_error_saying_which_and_when(sdk, owner):
    finished(owner, timezone.now(), cost="2.00", estimate=False)
    UserBudget.objects.create(user=owner, monthly_budget_usd=Decimal("1.00"))
    with pytest.raises(openai.RateLimitError) as caught:
        sdk.images.generate(model="offline-shapes", prompt="x")
    assert caught.value.body["code"] == "insufficient_quota"
    assert "monthly budget" in caught.value.body["message"]
    assert "resets at" in caught.value.body["message"]
    assert caught.value.response.headers["x-should-retry"] == "false"


def test_daily_image_limit_is_rate_limit_exceeded_with_retry_after(sdk, owner):
    UserBudget.objects.create(user=owner, daily_image_limit=1)
    sdk.images.generate(model="offline-shapes", prompt="x", size="64x64")
    with pytest.raises(openai.RateLimitError) as caught:
        sdk.images.generate(model="offline-shapes", prompt="x", size="64x64")
    assert caught.value.body["code"] == "rate_limit_exceeded"
    assert "Daily image limit" in caught.value.body["message"]
    assert int(caught.value.response.headers["retry-after"]) > 0


def test_a_token_rate_limit_answers_429_then_lets_the_next_minute_through(sdk, owner):
    NamedToken.objects.filter(token__user=owner).update(requests_per_minute=2)
    sdk.models.list()
    sdk.models.list()
    with pytest.raises(openai.RateLimitError) as caught:
        sdk.models.list()
    assert "2 requests per minute" in caught.value.body["message"]
    assert 1 <= int(caught.value.response.headers["retry-after"]) <= 60
    NamedToken.objects.filter(token__user=owner).update(
        window_start=timezone.now() - timedelta(minutes=2)
    )
    assert sdk.models.list().data


def test_another_users_token_cannot_see_or_fetch_the_results(
    sdk, outsider_sdk, live_server, outsider_token
):
    sdk.images.generate(model="offline-shapes", prompt="private fox", size="64x64")
    image = Image.objects.get()
    headers = {"Authorization": f"Bearer {outsider_token}"}
    for path in (f"/api/gallery/{image.pk}", f"/api/images/{image.pk}/file"):
        assert httpx.get(f"{live_server.url}{path}", headers=headers).status_code == 404
    listed = httpx.get(f"{live_server.url}/api/gallery", headers=headers).json()
    assert listed["results"] == []


def test_x_project_files_the_images_by_id_or_name(sdk, owner, outsider, live_server):
    mine = Project.objects.create(owner=owner, name="Campaign")
    theirs = Project.objects.create(owner=outsider, name="Secret")
    sdk.images.generate(
        model="offline-shapes", prompt="x", size="64x64", extra_headers={"X-Project": "Campaign"}
    )
    sdk.images.generate(
        model="offline-shapes", prompt="y", size="64x64", extra_headers={"X-Project": str(mine.pk)}
    )
    assert list(Image.objects.values_list("project_id", flat=True)) == [mine.pk, mine.pk]
    for value in ("Secret", str(theirs.pk)):
        with pytest.raises(openai.NotFoundError) as caught:
            sdk.images.generate(
                model="offline-shapes", prompt="z", extra_headers={"X-Project": value}
            )
        assert caught.value.body["param"] == "X-Project"
    assert Image.objects.count() == 2


def test_quality_sets_the_steps_of_a_model_without_a_quality_setting(sdk, owner, settings):
    settings.DEFAULT_STEPS = 20  # offline-shapes has no default of its own: the team's
    for quality in ("low", "medium", "high", "hd", "auto"):
        sdk.images.generate(model="offline-shapes", prompt=quality, size="64x64", quality=quality)
    steps = dict(Generation.objects.values_list("prompt", "steps"))
    assert steps == {"low": 10, "medium": 20, "high": 30, "hd": 30, "auto": 20}
    sdk.images.generate(model="offline-shapes", prompt="o", size="64x64", background="opaque")
    assert Generation.objects.get(prompt="o").params == {}


def test_a_provider_failure_is_a_502_with_its_reason_and_no_retry(sdk, scripted):
    from imagegen.providers.base import ProviderError

    scripted.error = ProviderError("the model is overloaded, try later")
    with pytest.raises(openai.InternalServerError) as caught:
        sdk.images.generate(model="scripted-1", prompt="x", size="64x64")
    assert caught.value.status_code == 502
    assert "the model is overloaded" in caught.value.body["message"]
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert Generation.objects.get().status == Status.FAILED


def test_waiting_past_the_timeout_answers_504_and_cancels(sdk, scripted, settings):
    settings.GENERATION_TIMEOUT = 1
    scripted.hang_seconds = 3
    scripted.payloads = [png(64, 64)]
    with pytest.raises(openai.InternalServerError) as caught:
        sdk.images.generate(model="scripted-1", prompt="x", size="64x64")
    assert caught.value.status_code == 504 and caught.value.body["code"] == "timeout"
    generation = Generation.objects.get()
    assert generation.cancel_requested or generation.status == Status.CANCELED


def test_bearer_works_on_the_rest_api_too(live_server, owner_token):
    headers = {"Authorization": f"Bearer {owner_token}"}
    assert httpx.get(f"{live_server.url}/api/gallery", headers=headers).status_code == 200
    headers = {"Authorization": f"Token {owner_token}"}
    assert httpx.get(f"{live_server.url}/api/gallery", headers=headers).status_code == 200


def test_safety_identifier_is_recorded_as_the_clients_user(sdk, owner):
    sdk.images.generate(model="offline-shapes", prompt="x", size="64x64", safety_identifier="h-42")
    assert Generation.objects.get().client_user == "h-42"


def test_editing_an_image_the_studio_made_uses_it_rather_than_a_copy(sdk, owner):
    made = sdk.images.generate(model="offline-shapes", prompt="a fox", size="128x128")
    original = Image.objects.get(owner=owner)
    again = base64.b64decode(made.data[0].b64_json)
    sdk.images.edit(model="offline-shapes", image=("fox.png", again, "image/png"), prompt="blue")
    edit = Generation.objects.get(operation="edit")
    assert list(edit.inputs.values_list("image_ref", flat=True)) == [original.pk]
    assert not Image.objects.filter(origin="upload").exists()


def test_the_same_picture_twice_is_refused_and_nothing_is_kept(sdk, owner):
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.images.edit(
            model="offline-shapes",
            image=[("a.png", png(64, 64), "image/png"), ("b.png", png(64, 64), "image/png")],
            prompt="x",
        )
    assert caught.value.body["param"] == "image"
    assert "Images 1 and 2 are the same picture" in caught.value.body["message"]
    assert not Image.objects.exists() and not Generation.objects.exists()


def test_a_generation_deleted_while_waiting_is_a_404(sdk, scripted, owner):
    import threading

    scripted.hang_seconds = 2
    scripted.payloads = [png(64, 64)]

    def delete_it():
        try:
            deadline = time.monotonic() + 5
            while not Generation.objects.filter(status=Status.RUNNING).exists():
                assert time.monotonic() < deadline
                time.sleep(0.05)
            Generation.objects.all().delete()
        finally:
            connection.close()

    deleter = threading.Thread(target=delete_it)
    deleter.start()
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.images.generate(model="scripted-1", prompt="x", size="64x64")
    deleter.join()
    assert "deleted before it finished" in caught.value.body["message"]
