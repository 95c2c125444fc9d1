"""GET/PUT/PATCH /api/settings: preferences with validation, limits read-only, owner-only;
the Generate page and submissions start from them."""

import pytest

from generation.models import Generation
from projects.models import Project
from settings_app.models import Preferences

pytestmark = pytest.mark.django_db

URL = "/api/settings"


def test_defaults_and_limits(owner_api, settings):
    body = owner_api.get(URL).json()
    assert body["theme"] == "dark" and body["default_steps"] == 20
    assert body["default_cfg_scale"] == 7.5 and body["items_per_page"] == settings.ITEMS_PER_PAGE
    assert body["shortcuts_enabled"] is True and body["default_project"] is None
    assert body["default_num_images"] == 1 and body["default_provider"] == ""
    assert body["limits"] == {
        "generation_max_concurrent": settings.GENERATION_MAX_CONCURRENT,
        "generation_timeout": settings.GENERATION_TIMEOUT,
        "max_image_size": settings.MAX_IMAGE_SIZE,
        "max_image_pixels": settings.MAX_IMAGE_PIXELS,
        "items_per_page_default": settings.ITEMS_PER_PAGE,
        "allow_signup": False,
        "api_token_ttl_days": settings.API_TOKEN_TTL_DAYS,
    }


def test_items_per_page_defaults_to_the_server_setting(owner, settings):
    settings.ITEMS_PER_PAGE = 37
    assert Preferences.for_user(owner).items_per_page == 37


def test_patch_changes_only_what_it_names(owner_api, owner):
    project = Project.objects.create(owner=owner, name="Posters")
    response = owner_api.patch(
        URL,
        {
            "theme": "light",
            "default_steps": 30,
            "default_project": project.pk,
            "default_provider": "offline",
            "default_model": "offline-shapes",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    prefs = Preferences.objects.get(user=owner)
    assert (prefs.theme, prefs.default_steps, prefs.default_project) == ("light", 30, project)
    assert prefs.default_cfg_scale == 7.5


def test_put_updates_preferences(owner_api, owner):
    response = owner_api.put(
        URL,
        {
            "theme": "system",
            "items_per_page": 50,
            "shortcuts_enabled": False,
            "default_width": 512,
            "default_height": 768,
        },
        format="json",
    )
    assert response.status_code == 200
    prefs = Preferences.objects.get(user=owner)
    assert (prefs.theme, prefs.items_per_page, prefs.shortcuts_enabled) == ("system", 50, False)
    assert (prefs.default_width, prefs.default_height) == (512, 768)


def test_limits_are_read_only(owner_api, settings):
    response = owner_api.patch(URL, {"limits": {"generation_max_concurrent": 99}}, format="json")
    assert response.status_code == 200
    assert (
        response.json()["limits"]["generation_max_concurrent"] == settings.GENERATION_MAX_CONCURRENT
    )


@pytest.mark.parametrize(
    "field, value",
    [
        ("theme", "neon"),
        ("items_per_page", 0),
        ("items_per_page", 101),
        ("default_steps", 0),
        ("default_cfg_scale", -1),
        ("default_cfg_scale", 51),
        ("default_num_images", 5),
        ("default_width", 10),
        ("default_height", 99999),
        ("default_provider", "nonsense"),
        ("shortcuts_enabled", "perhaps"),
        ("default_project", 999999),
    ],
)
def test_invalid_values_are_field_errors(owner_api, owner, field, value):
    response = owner_api.patch(URL, {field: value}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field] and response.json()[field][0]
    assert Preferences.objects.get(user=owner).updated_at is not None  # created, unchanged
    assert owner_api.get(URL).json()["theme"] == "dark"


def test_unknown_model_for_the_provider_is_rejected_with_the_choices(owner_api):
    response = owner_api.patch(
        URL, {"default_provider": "offline", "default_model": "nope"}, format="json"
    )
    assert response.status_code == 400
    assert "offline-shapes" in response.json()["default_model"][0]


def test_a_model_needs_a_provider(owner_api):
    response = owner_api.patch(URL, {"default_model": "offline-shapes"}, format="json")
    assert response.status_code == 400 and "provider" in response.json()["default_model"][0]


def test_someone_elses_project_is_rejected_as_missing(owner_api, outsider):
    theirs = Project.objects.create(owner=outsider, name="Private")
    response = owner_api.patch(URL, {"default_project": theirs.pk}, format="json")
    assert response.status_code == 400
    assert "does not exist" in response.json()["default_project"][0]


def test_outsider_cannot_change_the_owners_preferences(owner_api, outsider_api, owner):
    owner_api.patch(URL, {"theme": "light"}, format="json")
    outsider_api.patch(URL, {"theme": "system", "default_steps": 99}, format="json")
    assert owner_api.get(URL).json()["theme"] == "light"
    prefs = Preferences.objects.get(user=owner)
    assert (prefs.theme, prefs.default_steps) == ("light", 20)


def test_anonymous_gets_nothing(api):
    assert api.get(URL).status_code in (401, 403)


def test_generate_page_starts_from_the_preferences(client, owner):
    project = Project.objects.create(owner=owner, name="Posters")
    Preferences.objects.create(
        user=owner,
        default_width=320,
        default_height=448,
        default_steps=33,
        default_cfg_scale=4.5,
        default_num_images=3,
        default_project=project,
        default_provider="offline",
        default_model="offline-shapes",
    )
    client.force_login(owner)
    body = client.get("/generate/").content.decode()
    for expected in (
        'name="width" value="320"',
        'name="height" value="448"',
        'name="steps" value="33"',
        'name="cfg_scale" value="4.5"',
        'name="num_images" value="3"',
        f'<option value="{project.pk}" selected>',
        '<option value="offline-shapes" selected>',
    ):
        assert expected in body, expected


def test_submission_without_a_provider_uses_the_preferred_one(owner, keyed, run_jobs):
    from settings_app import services
    from tests.settings_app.helpers import GOOD_KEY
    from tests.users import client_for

    services.update_preferences(owner, {"default_provider": "keyed", "default_model": "keyed-1"})
    services.save_api_key(owner, "keyed", GOOD_KEY)
    run_jobs(client_for(owner), {"prompt": "a quiet lake"})
    generation = Generation.objects.get()
    assert (generation.provider, generation.model) == ("keyed", "keyed-1")


def test_a_named_provider_wins_over_the_preference(owner_api, owner):
    from settings_app import services

    services.update_preferences(owner, {"default_provider": "openai"})
    response = owner_api.post(
        "/api/generate",
        {"prompt": "x", "provider": "offline", "width": 64, "height": 64},
        format="json",
    )
    assert response.status_code == 202 and response.json()["provider"] == "offline"


def test_api_lists_use_the_chosen_page_size(owner, owner_api, settings):
    from tests.generation.helpers import make_generation

    for _ in range(4):
        make_generation(owner)
    settings.ITEMS_PER_PAGE = 3
    assert len(owner_api.get("/api/generations").json()["results"]) == 3
    owner_api.patch(URL, {"items_per_page": 2}, format="json")
    assert len(owner_api.get("/api/generations").json()["results"]) == 2


def test_a_saved_default_model_the_provider_retired_does_not_block_other_changes(owner_api, owner):
    """The daily catalog refresh can retire a model someone saved as their default: saving
    the theme must still work (generation falls back to the provider's default), while
    choosing the retired model anew is still refused."""
    from generation.models import CatalogModel

    assert (
        owner_api.patch(
            URL, {"default_provider": "openai", "default_model": "gpt-image-1.5"}, format="json"
        ).status_code
        == 200
    )
    CatalogModel.objects.filter(model_id="gpt-image-1.5").update(available=False)
    response = owner_api.patch(URL, {"theme": "light"}, format="json")
    assert response.status_code == 200, response.json()
    assert Preferences.objects.get(user=owner).theme == "light"
    again = owner_api.patch(
        URL, {"default_provider": "openai", "default_model": "gpt-image-1.5"}, format="json"
    )
    assert again.status_code == 200  # unchanged: nothing new was chosen
    other = owner_api.patch(URL, {"default_model": "dall-e-3"}, format="json")
    assert other.status_code == 400 and "dall-e-3" in other.json()["default_model"][0]
