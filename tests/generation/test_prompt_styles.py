"""Style presets: built-in ones, a user's own (isolated), shared only through projects, and
applied and recorded on generations."""

import pytest

from generation.models import Generation, StylePreset
from generation.prompts.styles import BUILTIN_STYLES, sync_builtin_styles
from projects.models import Project
from tests.users import client_for

pytestmark = pytest.mark.django_db

URL = "/api/prompts/styles"


def make_style(owner, **fields):
    values = {
        "name": "Noir",
        "template": "{prompt}, film noir, black and white",
        "negative_prompt": "color",
    }
    values.update(fields)
    return StylePreset.objects.create(owner=owner, **values)


def builtin(key):
    return StylePreset.objects.get(key=key)


def test_at_least_twelve_builtin_presets_exist_after_migrate():
    keys = set(StylePreset.objects.filter(owner=None).values_list("key", flat=True))
    assert len(keys) >= 12
    assert {
        "photographic",
        "cinematic",
        "anime",
        "digital-art",
        "watercolor",
        "line-art",
        "3d-render",
        "pixel-art",
        "isometric",
        "product-shot",
        "logo",
    } <= keys
    assert all("{prompt}" in s.template for s in BUILTIN_STYLES)


def test_builtin_sync_restores_deleted_and_edited_presets():
    StylePreset.objects.filter(key="anime").delete()
    StylePreset.objects.filter(key="logo").update(template="broken")
    assert sync_builtin_styles() == 2
    assert builtin("logo").template.startswith("minimalist vector logo of {prompt}")
    assert StylePreset.objects.filter(key="anime").exists()
    assert sync_builtin_styles() == 0


def test_list_shows_builtins_and_own_but_not_other_users(owner, outsider, owner_api):
    mine = make_style(owner)
    theirs = make_style(outsider, name="Secret")
    response = owner_api.get(URL)
    assert response.status_code == 200
    ids = {row["id"] for row in response.json()}
    assert mine.pk in ids and theirs.pk not in ids
    assert StylePreset.objects.filter(owner=None).count() + 1 == len(ids)
    row = next(r for r in response.json() if r["id"] == mine.pk)
    assert row["editable"] is True and row["builtin"] is False and row["owner"] == "owner"
    anime = next(r for r in response.json() if r["key"] == "anime")
    assert anime["editable"] is False and anime["builtin"] is True and anime["owner"] is None


def test_list_query_count_does_not_grow_with_presets(
    owner, owner_api, shared_project, django_assert_max_num_queries
):
    for i in range(10):
        make_style(owner, name=f"Style {i}", project=shared_project if i % 2 else None)
    with django_assert_max_num_queries(3):
        response = owner_api.get(URL)
    assert response.status_code == 200


def test_create_own_preset(owner, owner_api):
    response = owner_api.post(
        URL,
        {"name": "Noir", "template": "{prompt}, film noir", "negative_prompt": "colour"},
        format="json",
    )
    assert response.status_code == 201, response.content
    style = StylePreset.objects.get(pk=response.json()["id"])
    assert style.owner == owner and style.project is None
    assert style.apply("a detective") == "a detective, film noir"


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"template": "{prompt}"}, "name", "required"),
        ({"name": "X"}, "template", "required"),
        ({"name": "X", "template": "film noir"}, "template", "must contain {prompt}"),
        ({"name": "X", "template": "{prompt}", "project": 99999}, "project", "No such project"),
        ({"name": "X" * 101, "template": "{prompt}"}, "name", "100"),
    ],
)
def test_bad_preset_is_400_with_field_error(owner_api, payload, field, words):
    response = owner_api.post(URL, payload, format="json")
    assert response.status_code == 400, response.content
    assert words.lower() in " ".join(response.json()[field]).lower()
    assert not StylePreset.objects.filter(owner__isnull=False).exists()


def test_duplicate_name_is_400(owner, owner_api):
    make_style(owner, name="Noir")
    response = owner_api.post(URL, {"name": "Noir", "template": "{prompt}"}, format="json")
    assert response.status_code == 400
    assert "already have a preset named" in response.json()["name"][0]


def test_same_name_is_fine_for_another_user(owner, outsider_api):
    make_style(owner, name="Noir")
    response = outsider_api.post(URL, {"name": "Noir", "template": "{prompt}"}, format="json")
    assert response.status_code == 201


def test_sharing_into_another_users_project_is_refused(owner, outsider_api):
    project = Project.objects.create(owner=owner, name="Private")
    response = outsider_api.post(
        URL, {"name": "Mine", "template": "{prompt}", "project": project.pk}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["project"] == ["No such project."]


def test_owner_edits_and_deletes_own_preset(owner, owner_api):
    style = make_style(owner)
    response = owner_api.patch(f"{URL}/{style.pk}", {"template": "{prompt}, noir"}, format="json")
    assert response.status_code == 200, response.content
    style.refresh_from_db()
    assert style.template == "{prompt}, noir" and style.name == "Noir"
    assert style.negative_prompt == "color"  # PATCH leaves what was not sent

    response = owner_api.put(
        f"{URL}/{style.pk}", {"name": "Noir 2", "template": "{prompt}!"}, format="json"
    )
    assert response.status_code == 200
    style.refresh_from_db()
    assert (style.name, style.template, style.negative_prompt) == ("Noir 2", "{prompt}!", "")

    assert owner_api.delete(f"{URL}/{style.pk}").status_code == 204
    assert not StylePreset.objects.filter(pk=style.pk).exists()


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_outsider_gets_404_for_a_private_preset(owner, outsider_api, method):
    style = make_style(owner)
    body = {"name": "Stolen", "template": "{prompt}"}
    response = getattr(outsider_api, method)(f"{URL}/{style.pk}", body, format="json")
    assert response.status_code == 404
    style.refresh_from_db()
    assert style.name == "Noir"


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_builtin_presets_cannot_be_changed(owner_api, method):
    style = builtin("anime")
    response = getattr(owner_api, method)(
        f"{URL}/{style.pk}", {"name": "Mine now", "template": "{prompt}"}, format="json"
    )
    assert response.status_code == 403
    assert "Built-in presets cannot be changed" in response.json()["detail"]
    assert builtin("anime").name == "Anime"


def test_preset_shared_into_a_project_is_visible_to_its_members_only(
    owner, member, outsider, owner_api, shared_project
):
    style = make_style(owner)
    response = owner_api.patch(f"{URL}/{style.pk}", {"project": shared_project.pk}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["project"] == shared_project.pk

    member_api = client_for(member)
    listed = member_api.get(URL).json()
    row = next(r for r in listed if r["id"] == style.pk)
    assert row["editable"] is False and row["owner"] == "owner"
    assert member_api.get(f"{URL}/{style.pk}").status_code == 200
    assert client_for(outsider).get(f"{URL}/{style.pk}").status_code == 404

    # The member may use it but not change it.
    assert member_api.patch(f"{URL}/{style.pk}", {"name": "Mine"}, format="json").status_code == 403
    assert member_api.delete(f"{URL}/{style.pk}").status_code == 403

    # Unsharing takes it away again.
    owner_api.patch(f"{URL}/{style.pk}", {"project": None}, format="json")
    assert member_api.get(f"{URL}/{style.pk}").status_code == 404


def test_member_may_share_own_preset_into_a_project_they_edit(member, shared_project):
    response = client_for(member).post(
        URL,
        {"name": "Team look", "template": "{prompt}, teal", "project": shared_project.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert StylePreset.objects.get(name="Team look").project == shared_project


def test_generation_applies_and_records_the_preset(owner, owner_api, run_jobs):
    style = make_style(owner)
    response = run_jobs(
        owner_api,
        {
            "prompt": "a detective in the rain",
            "style": style.pk,
            "negative_prompt": "blurry",
            "width": 64,
            "height": 64,
        },
    )
    body = response.json()
    assert body["prompt"] == "a detective in the rain, film noir, black and white"
    assert body["prompt_text"] == "a detective in the rain"
    assert body["negative_prompt"] == "blurry, color"
    assert body["negative_prompt_text"] == "blurry"
    assert body["style"] == style.pk
    generation = Generation.objects.get(pk=body["id"])
    assert generation.style == style and generation.status == "succeeded"


def test_generation_with_a_builtin_preset(owner_api, run_jobs):
    watercolor = builtin("watercolor")
    body = run_jobs(
        owner_api, {"prompt": "a fox", "style": watercolor.pk, "width": 64, "height": 64}
    ).json()
    assert body["prompt"].startswith("watercolor painting of a fox,")
    assert body["negative_prompt"] == watercolor.negative_prompt


def test_generation_without_style_records_the_typed_prompt(owner_api, run_jobs):
    body = run_jobs(owner_api, {"prompt": "a fox", "width": 64, "height": 64}).json()
    assert body["prompt"] == body["prompt_text"] == "a fox"
    assert body["style"] is None


def test_another_users_preset_cannot_be_used(owner, outsider_api):
    style = make_style(owner)
    response = outsider_api.post("/api/generate", {"prompt": "x", "style": style.pk}, format="json")
    assert response.status_code == 400
    assert response.json()["style"] == ["No such style preset."]
    assert Generation.objects.count() == 0


def test_style_negative_prompt_is_dropped_for_models_without_negative_prompts(owner_api, priced):
    response = owner_api.post(
        "/api/generate",
        {"prompt": "a fox", "provider": "priced", "style": builtin("anime").pk},
        format="json",
    )
    assert response.status_code == 202, response.content
    assert response.json()["negative_prompt"] == ""
    assert response.json()["prompt"].startswith("anime artwork of a fox")


def test_style_negative_prompt_follows_the_preferred_model_when_none_is_named(
    owner, owner_api, priced
):
    from settings_app.models import Preferences

    Preferences.objects.update_or_create(user=owner, defaults={"default_provider": "priced"})
    response = owner_api.post(
        "/api/generate", {"prompt": "a fox", "style": builtin("anime").pk}, format="json"
    )
    assert response.status_code == 202, response.content
    assert response.json()["provider"] == "priced"
    assert response.json()["negative_prompt"] == ""


def test_deleting_a_preset_keeps_the_generations(owner, owner_api, run_jobs):
    style = make_style(owner)
    body = run_jobs(
        owner_api, {"prompt": "a cat", "style": style.pk, "width": 64, "height": 64}
    ).json()
    owner_api.delete(f"{URL}/{style.pk}")
    generation = Generation.objects.get(pk=body["id"])
    assert generation.style is None
    assert generation.prompt == "a cat, film noir, black and white"


def test_retry_keeps_the_style_and_does_not_apply_it_twice(owner, owner_api, run_jobs):
    from generation.services import retry_generation

    style = make_style(owner)
    body = run_jobs(
        owner_api, {"prompt": "a cat", "style": style.pk, "width": 64, "height": 64}
    ).json()
    again = retry_generation(Generation.objects.get(pk=body["id"]))
    assert again.prompt == "a cat, film noir, black and white"
    assert again.style == style and again.prompt_text == "a cat"


def test_anonymous_is_refused(api):
    assert api.get(URL).status_code in (401, 403)
