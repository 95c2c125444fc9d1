"""{a|b} variations: expansion, one generation per combination, the cap, and the estimate."""

from decimal import Decimal

import pytest

from generation.models import Generation, StylePreset
from generation.prompts.variations import count_combinations, expand

PREVIEW = "/api/prompts/variations/preview"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a fox", ["a fox"]),
        ("a {red|blue} fox", ["a red fox", "a blue fox"]),
        ("{a|b} {1|2}", ["a 1", "a 2", "b 1", "b 2"]),
        ("a {big|} dog", ["a big dog", "a dog"]),
        ("keep {prompt} and {json: 1}", ["keep {prompt} and {json: 1}"]),
        ("a { red | blue } fox", ["a red fox", "a blue fox"]),
    ],
)
def test_expansion(text, expected):
    assert expand(text) == expected
    assert count_combinations(text) == len(expected)


def test_counting_does_not_build_the_combinations():
    assert count_combinations("{a|b}" * 60) == 2**60


needs_db = pytest.mark.django_db


@needs_db
def test_variations_make_one_generation_per_combination(owner_api, run_jobs):
    response = run_jobs(
        owner_api,
        {"prompt": "a {red|blue|green} fox in {snow|rain}", "width": 64, "height": 64, "seed": 7},
    )
    body = response.json()
    assert body["count"] == 6
    prompts = [g["prompt"] for g in body["generations"]]
    assert prompts == [
        "a red fox in snow",
        "a red fox in rain",
        "a blue fox in snow",
        "a blue fox in rain",
        "a green fox in snow",
        "a green fox in rain",
    ]
    assert {g["prompt_text"] for g in body["generations"]} == {
        "a {red|blue|green} fox in {snow|rain}"
    }
    assert {g["seed"] for g in body["generations"]} == {7}
    assert Generation.objects.filter(status="succeeded").count() == 6


@needs_db
def test_one_combination_answers_with_the_generation_itself(owner_api, run_jobs):
    body = run_jobs(owner_api, {"prompt": "a {red} fox", "width": 64, "height": 64}).json()
    assert "count" not in body and body["prompt"] == "a {red} fox"


@needs_db
def test_variations_with_a_style(owner_api, run_jobs):
    style = StylePreset.objects.get(key="pixel-art")
    body = run_jobs(
        owner_api, {"prompt": "a {cat|dog}", "style": style.pk, "width": 64, "height": 64}
    ).json()
    assert [g["prompt"][:18] for g in body["generations"]] == [
        "pixel art of a cat",
        "pixel art of a dog",
    ]
    assert all(g["style"] == style.pk for g in body["generations"])


@needs_db
def test_beyond_the_cap_is_400_saying_how_many(owner_api):
    response = owner_api.post("/api/generate", {"prompt": "{a|b|c} {d|e|f} {g|h}"}, format="json")
    assert response.status_code == 400
    message = response.json()["prompt"][0]
    assert "18 combinations" in message and "16" in message
    assert Generation.objects.count() == 0


@needs_db
def test_cap_is_configurable(owner_api, run_jobs, settings):
    settings.PROMPT_VARIATIONS_MAX = 2
    assert owner_api.post("/api/generate", {"prompt": "{a|b|c}"}, format="json").status_code == 400
    assert run_jobs(owner_api, {"prompt": "{a|b}", "width": 64, "height": 64}).json()["count"] == 2


@needs_db
def test_one_invalid_combination_queues_none(owner_api, priced):
    # priced-1 takes no negative prompt: every combination fails the same way, none is kept.
    response = owner_api.post(
        "/api/generate",
        {"prompt": "{a|b}", "provider": "priced", "negative_prompt": "blur"},
        format="json",
    )
    assert response.status_code == 400
    assert Generation.objects.count() == 0


@needs_db
def test_too_long_combination_queues_none(owner_api, priced, monkeypatch):
    from imagegen.providers.base import ModelSpec

    monkeypatch.setattr(
        type(priced),
        "models",
        lambda self: [ModelSpec(id="priced-1", label="P", max_prompt_length=5)],
    )
    response = owner_api.post(
        "/api/generate", {"prompt": "{ab|abcdefgh}", "provider": "priced"}, format="json"
    )
    assert response.status_code == 400
    assert "at most 5" in response.json()["prompt"][0]
    assert Generation.objects.count() == 0


@needs_db
def test_preview_counts_and_estimates_every_combination(owner_api, priced):
    response = owner_api.post(
        PREVIEW,
        {"prompt": "a {red|blue|green} fox", "provider": "priced", "num_images": 2},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 3
    assert body["prompts"] == ["a red fox", "a blue fox", "a green fox"]
    assert Decimal(body["estimate_usd"]) == Decimal("0.24")
    assert [Decimal(x) for x in body["per_generation_usd"]] == [Decimal("0.08")] * 3
    assert Generation.objects.count() == 0


@needs_db
def test_submitted_variations_carry_the_same_estimate(owner_api, priced):
    response = owner_api.post(
        "/api/generate",
        {"prompt": "a {red|blue|green} fox", "provider": "priced", "num_images": 2},
        format="json",
    )
    assert response.status_code == 202
    total = sum(Decimal(g["cost_usd"]) for g in response.json()["generations"])
    assert total == Decimal("0.24")


@needs_db
def test_preview_with_a_style_on_the_free_offline_provider(owner_api):
    style = StylePreset.objects.get(key="logo")
    body = owner_api.post(
        PREVIEW, {"prompt": "a {fox|owl}", "style": style.pk}, format="json"
    ).json()
    assert body["count"] == 2 and Decimal(body["estimate_usd"]) == 0
    assert body["prompts"][1].startswith("minimalist vector logo of a owl")
    assert body["negative_prompt"] == style.negative_prompt and body["style"] == style.pk


@needs_db
def test_preview_estimate_is_null_when_the_provider_cannot_say(owner_api, scripted):
    body = owner_api.post(
        PREVIEW, {"prompt": "{a|b}", "provider": "scripted"}, format="json"
    ).json()
    assert body["count"] == 2
    assert body["estimate_usd"] is None and body["per_generation_usd"] == [None, None]


@needs_db
def test_preview_beyond_the_cap_is_400(owner_api):
    response = owner_api.post(PREVIEW, {"prompt": "{a|b}" * 5}, format="json")
    assert response.status_code == 400
    assert "32 combinations" in response.json()["prompt"][0]


@needs_db
def test_preview_with_another_users_style_is_400(owner, outsider_api):
    style = StylePreset.objects.create(owner=owner, name="Mine", template="{prompt}!")
    response = outsider_api.post(PREVIEW, {"prompt": "x", "style": style.pk}, format="json")
    assert response.status_code == 400 and response.json()["style"] == ["No such style preset."]


@needs_db
def test_generate_page_fans_out_variations(client, owner):
    client.force_login(owner)
    response = client.post(
        "/generate/",
        {
            "prompt": "a {red|blue} kite",
            "provider": "offline",
            "model": "offline-shapes",
            "width": 64,
            "height": 64,
            "num_images": 1,
            "steps": 20,
            "cfg_scale": 7.5,
            "style": StylePreset.objects.get(key="line-art").pk,
        },
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 201
    body = response.json()["cards"]
    assert body.count('<article class="card gen-card status-panel"') == 2
    prompts = sorted(Generation.objects.values_list("prompt", flat=True))
    assert prompts[0].startswith("line art drawing of a blue kite")
    assert (
        Generation.objects.filter(style__key="line-art", prompt_text="a {red|blue} kite").count()
        == 2
    )


@needs_db
def test_empty_alternatives_with_a_style_still_ask_for_a_prompt(owner_api):
    style = StylePreset.objects.get(key="anime")
    response = owner_api.post("/api/generate", {"prompt": "{|}", "style": style.pk}, format="json")
    assert response.status_code == 400
    assert response.json()["prompt"] == ["Write a prompt."]
    assert Generation.objects.count() == 0


@needs_db
def test_detail_page_shows_the_style_and_the_typed_prompt(client, owner, owner_api, run_jobs):
    style = StylePreset.objects.get(key="isometric")
    body = run_jobs(
        owner_api,
        {"prompt": "a tiny {castle|harbour}", "style": style.pk, "width": 64, "height": 64},
    ).json()
    client.force_login(owner)
    page = client.get(f"/generations/{body['generations'][0]['id']}/").content.decode()
    assert "Isometric" in page and "a tiny {castle|harbour}" in page
    assert "isometric illustration of a tiny castle" in page
