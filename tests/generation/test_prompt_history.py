"""Prompt history: distinct prompts with counts and last use, search, deletion, isolation."""

from datetime import timedelta

import pytest
from django.utils import timezone

from generation.models import HiddenPrompt
from tests.generation.helpers import make_generation

pytestmark = pytest.mark.django_db

URL = "/api/prompts/history"


def used(owner, prompt, negative="", minutes_ago=0, **fields):
    return make_generation(
        owner,
        prompt=prompt,
        negative_prompt=negative,
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
        **fields,
    )


def history(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_distinct_prompts_with_counts_newest_first(owner, owner_api):
    used(owner, "a fox", minutes_ago=30)
    used(owner, "a fox", minutes_ago=10)
    used(owner, "a fox", "blurry", minutes_ago=20)
    used(owner, "an owl", minutes_ago=5)
    entries = history(owner_api)
    assert [(e["prompt"], e["negative_prompt"], e["count"]) for e in entries] == [
        ("an owl", "", 1),
        ("a fox", "", 2),
        ("a fox", "blurry", 1),
    ]
    assert entries[1]["last_used"] > entries[2]["last_used"]
    assert len({e["id"] for e in entries}) == 3


def test_history_lists_what_the_user_typed_not_the_styled_prompt(owner, owner_api, run_jobs):
    from generation.models import StylePreset

    style = StylePreset.objects.get(key="cinematic")
    run_jobs(
        owner_api,
        {
            "prompt": "a {red|blue} car",
            "negative_prompt": "rust",
            "style": style.pk,
            "width": 64,
            "height": 64,
        },
    )
    used(owner, "an old prompt", "old negative", minutes_ago=60)  # from before prompt tools
    entries = history(owner_api)
    assert [(e["prompt"], e["negative_prompt"], e["count"]) for e in entries] == [
        ("a {red|blue} car", "rust", 2),
        ("an old prompt", "old negative", 1),
    ]


def test_search_is_case_insensitive(owner, owner_api):
    used(owner, "A red Fox")
    used(owner, "an owl")
    assert [e["prompt"] for e in history(owner_api, q="fox")] == ["A red Fox"]
    assert history(owner_api, q="zebra") == []


def test_limit(owner, owner_api):
    for i in range(5):
        used(owner, f"prompt {i}", minutes_ago=i)
    assert [e["prompt"] for e in history(owner_api, limit=2)] == ["prompt 0", "prompt 1"]
    assert owner_api.get(URL, {"limit": "many"}).status_code == 400


def test_search_by_post_keeps_the_typed_text_out_of_the_url(owner, outsider, owner_api):
    """The studio searches with POST: what a person types never reaches a URL or a log."""
    used(owner, "A red Fox", minutes_ago=1)
    used(owner, "a fox cub")
    used(owner, "an owl")
    used(outsider, "the outsider's fox")
    response = owner_api.post(URL, {"q": "fox", "limit": 5}, format="json")
    assert response.status_code == 200, response.content
    assert [e["prompt"] for e in response.json()["results"]] == ["a fox cub", "A red Fox"]
    assert response.json()["results"] == history(owner_api, q="fox", limit=5)
    for bad in ({"limit": "many"}, {"limit": None}, {"q": ["fox"]}, {"q": {"a": 1}}, [None], "q"):
        assert owner_api.post(URL, bad, format="json").status_code == 400, bad
    assert owner_api.post(URL, {"q": "x" * 10_000}, format="json").status_code == 400


def test_history_is_isolated_per_user(owner, outsider, owner_api, outsider_api):
    used(owner, "owner's secret idea")
    used(outsider, "outsider's idea")
    assert [e["prompt"] for e in history(outsider_api)] == ["outsider's idea"]
    assert history(outsider_api, q="secret") == []


def test_deleting_an_entry_hides_it_and_reuse_brings_it_back(owner, owner_api):
    used(owner, "a fox", minutes_ago=2)
    used(owner, "a fox", minutes_ago=1)
    used(owner, "an owl")
    fox = next(e for e in history(owner_api) if e["prompt"] == "a fox")
    assert owner_api.delete(f"{URL}/{fox['id']}").status_code == 204
    assert [e["prompt"] for e in history(owner_api)] == ["an owl"]
    assert owner_api.delete(f"{URL}/{fox['id']}").status_code == 404

    used(owner, "a fox", minutes_ago=-1)  # generated again after the deletion
    entries = history(owner_api)
    assert [(e["prompt"], e["count"]) for e in entries] == [("a fox", 1), ("an owl", 1)]


def test_outsider_cannot_delete_another_users_entry(owner, owner_api, outsider_api):
    used(owner, "a fox")
    entry = history(owner_api)[0]
    assert outsider_api.delete(f"{URL}/{entry['id']}").status_code == 404
    assert not HiddenPrompt.objects.exists()
    assert [e["prompt"] for e in history(owner_api)] == ["a fox"]


def test_deleting_for_one_user_leaves_the_same_prompt_of_another(
    owner, outsider, owner_api, outsider_api
):
    used(owner, "a fox")
    used(outsider, "a fox")
    entry = history(owner_api)[0]
    assert owner_api.delete(f"{URL}/{entry['id']}").status_code == 204
    assert history(owner_api) == []
    assert [e["prompt"] for e in history(outsider_api)] == ["a fox"]


def test_clear_history(owner, outsider, owner_api, outsider_api):
    used(owner, "a fox")
    used(owner, "an owl")
    used(outsider, "a bat")
    assert owner_api.delete(URL).json() == {"deleted": 2}
    assert history(owner_api) == []
    assert len(history(outsider_api)) == 1


def test_history_is_one_query(owner, owner_api, django_assert_max_num_queries):
    for i in range(30):
        used(owner, f"prompt {i % 10}", minutes_ago=i)
    HiddenPrompt.objects.create(owner=owner, prompt="prompt 3")
    with django_assert_max_num_queries(2):
        entries = history(owner_api)
    assert len(entries) == 9
