"""refresh_catalog: the catalog follows the providers' own listings (issue #14).

Each test registers stub providers (``imagegen.providers.register``) whose ``list_models``
returns the Listing the test chooses, and takes every other provider out of the registry for
the test (restored afterwards), so no test reaches a real provider.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from generation import signals, tasks
from generation.models import CatalogModel
from imagegen import providers
from imagegen.providers.base import ListedModel, Listing, ProviderError
from imagegen.providers.catalog import specs_for
from imagegen.providers.cloud import CloudProvider
from imagegen.providers.models import CatalogSource
from tests.providers.test_schema import FAL_FLUX_DEV, REPLICATE_FLUX_SCHNELL

pytestmark = pytest.mark.django_db


class StubProvider(CloudProvider):
    """A catalog provider whose listing the test sets (or an exception to raise)."""

    def __init__(self, name="stub", label="Stub"):
        self.name, self.label = name, label
        self.listing: Listing | None = Listing([])
        self.error: Exception | None = None
        self.calls: list[tuple] = []

    def generate(self, request, ctx):  # pragma: no cover - refresh tests never generate
        raise AssertionError("not used")

    def list_models(self, api_key, known):
        self.calls.append((api_key, sorted(known)))
        if self.error is not None:
            raise self.error
        return self.listing


@pytest.fixture
def registry():
    """Only the offline provider and the stubs the test registers; restored afterwards."""
    saved = dict(providers._REGISTRY)
    providers._REGISTRY.clear()
    providers.register(saved["offline"])
    try:
        yield providers.register
    finally:
        providers._REGISTRY.clear()
        providers._REGISTRY.update(saved)


@pytest.fixture
def stub(registry):
    return registry(StubProvider())


def row(model_id, provider="stub", **fields):
    values = {
        "display_name": model_id,
        "source": CatalogSource.BUILTIN,
        "builtin": True,
        "spec": {"max_images": 1, "sizes": [["1024x1024", "1:1"]], "inputs": {"size": "ar"}},
    }
    values.update(fields)
    return CatalogModel.objects.create(provider=provider, model_id=model_id, **values)


def refresh() -> list[str]:
    return tasks.refresh_catalog()


def test_a_newly_listed_model_is_added_disabled_with_schema_derived_parameters(stub):
    row("stub/old")
    stub.listing = Listing(
        [
            ListedModel(id="stub/old"),
            ListedModel(id="acme/new", label="Acme New", input_schema=REPLICATE_FLUX_SCHNELL),
        ]
    )
    [line] = refresh()
    assert line == ("Stub: 2 listed; added 1 (disabled until an admin enables it): acme/new.")
    new = CatalogModel.objects.get(provider="stub", model_id="acme/new")
    assert (new.enabled, new.source, new.display_name) == (False, "listed", "Acme New")
    assert new.spec["sizes"][0] == ["1024x1024", "1:1"] and new.spec["steps"] == [1, 4]
    assert new.spec["inputs"]["num_images"] == "num_outputs"
    assert new.listed_schema["title"] == "Input" and new.last_listed_at is not None
    assert [s.id for s in specs_for("stub")] == ["stub/old"]  # not offered until enabled
    new.enabled = True
    new.save()
    offered = {s.id: s for s in specs_for("stub")}
    assert offered["acme/new"].native_sizes["1360x768"] == "16:9"


def test_a_listing_spec_is_used_when_the_provider_gives_one(stub):
    stub.listing = Listing(
        [ListedModel(id="vendor/img", label="Img", spec={"max_images": 2, "bogus": 1})]
    )
    refresh()
    new = CatalogModel.objects.get(model_id="vendor/img")
    assert new.spec == {"max_images": 2}


def test_a_complete_listing_retires_a_model_it_no_longer_names(stub):
    row("stub/kept")
    gone = row("stub/gone")
    stub.listing = Listing([ListedModel(id="stub/kept")], complete=True)
    [line] = refresh()
    assert line == "Stub: 1 listed; retired 1: stub/gone."
    gone.refresh_from_db()
    assert gone.available is False and gone.missing_since is not None  # kept for history
    assert [s.id for s in specs_for("stub")] == ["stub/kept"]
    # Listed again later: available again.
    stub.listing = Listing([ListedModel(id="stub/kept"), ListedModel(id="stub/gone")])
    assert "listed again 1: stub/gone" in refresh()[0]
    gone.refresh_from_db()
    assert gone.available is True and gone.missing_since is None


def test_an_incomplete_listing_retires_nothing(stub):
    row("stub/kept")
    other = row("stub/not-looked-up")
    stub.listing = Listing([ListedModel(id="stub/kept")], complete=False)
    [line] = refresh()
    assert line == "Stub: 1 listed; the listing is partial, so nothing was retired."
    other.refresh_from_db()
    assert other.available is True


def test_a_complete_listing_that_names_no_model_retires_nothing(stub):
    kept = [row(f"stub/m{n}") for n in range(4)]
    for listing in (Listing([], complete=True), Listing([ListedModel(id="")], complete=True)):
        stub.listing = listing
        [line] = refresh()
        assert "the listing names no model: nothing was retired" in line, line
        assert "retired" not in line.replace("nothing was retired", "")
    for each in kept:
        each.refresh_from_db()
        assert each.available is True and each.missing_since is None


def test_a_listing_that_would_retire_more_than_half_retires_nothing(stub):
    kept = row("stub/kept", price_unit="image", price_usd=Decimal("0.02"))
    others = [row(f"stub/m{n}") for n in range(3)]
    stub.listing = Listing(
        [
            ListedModel(id="stub/kept", price_unit="image", price_usd=Decimal("0.03")),
            ListedModel(id="stub/new"),
        ],
        complete=True,
    )
    [line] = refresh()
    assert "would retire 3 of 4: not applied; check the provider's listing/key" in line
    for each in others:
        each.refresh_from_db()
        assert each.available is True and each.missing_since is None
    kept.refresh_from_db()  # the rest of the listing still applies
    assert kept.price_usd == Decimal("0.03") and kept.last_listed_at is not None
    assert CatalogModel.objects.filter(model_id="stub/new", enabled=False).exists()
    # Half of them is not more than half: applied.
    stub.listing = Listing(
        [ListedModel(id=model_id) for model_id in ("stub/kept", "stub/m0", "stub/new")]
    )
    [line] = refresh()
    assert "retired 2: stub/m1, stub/m2" in line and "not applied" not in line


def test_shutdown_dates_and_deprecation_are_recorded_and_never_cleared_by_silence(stub):
    model = row("stub/old", shutdown_date=None)
    dated = row("stub/dated", shutdown_date=date(2027, 3, 1))
    stub.listing = Listing(
        [ListedModel(id="stub/old", deprecated=True, shutdown_date=date(2027, 1, 31))]
        + [ListedModel(id="stub/dated")]
    )
    [line] = refresh()
    assert "shutdown dates recorded: 1" in line
    model.refresh_from_db()
    dated.refresh_from_db()
    assert (model.deprecated, model.shutdown_date) == (True, date(2027, 1, 31))
    assert dated.shutdown_date == date(2027, 3, 1)  # the listing was silent: kept
    stub.listing = Listing([ListedModel(id="stub/old"), ListedModel(id="stub/dated")])
    refresh()
    model.refresh_from_db()
    assert (model.deprecated, model.shutdown_date) == (True, date(2027, 1, 31))


def test_admin_edits_are_never_overwritten(stub):
    listed = row(
        "stub/listed",
        source=CatalogSource.LISTED,
        builtin=False,
        enabled=True,  # an admin enabled it
        display_name="Our name",
        price_override_usd=Decimal("0.5"),
        spec={"max_images": 3, "inputs": {"width": "w", "height": "h"}},
        spec_edited=True,
    )
    custom = row(
        "stub/custom",
        source=CatalogSource.CUSTOM,
        builtin=False,
        enabled=False,  # an admin disabled it
        spec={"max_images": 2},
    )
    builtin = row("stub/builtin", display_name="Hand written")
    builtin_spec = dict(builtin.spec)
    stub.listing = Listing(
        [
            ListedModel(id=model_id, label="Provider's name", input_schema=FAL_FLUX_DEV)
            for model_id in ("stub/listed", "stub/custom", "stub/builtin")
        ]
    )
    refresh()
    for each in (listed, custom, builtin):
        each.refresh_from_db()
    assert (listed.enabled, listed.display_name, listed.price_override_usd) == (
        True,
        "Our name",
        Decimal("0.5"),
    )
    assert listed.spec == {"max_images": 3, "inputs": {"width": "w", "height": "h"}}
    assert (custom.enabled, custom.spec) == (False, {"max_images": 2})
    assert (builtin.display_name, builtin.spec) == ("Hand written", builtin_spec)
    assert listed.listed_schema["title"] == "TextToImageInput"  # shown to admins, not used


def test_an_unedited_listed_row_follows_its_schema(stub):
    stale = row("stub/listed", source=CatalogSource.LISTED, builtin=False, spec={"max_images": 1})
    stub.listing = Listing([ListedModel(id="stub/listed", input_schema=FAL_FLUX_DEV)])
    refresh()
    stale.refresh_from_db()
    assert stale.spec["inputs"]["size"] == "image_size" and stale.spec["max_images"] == 4


def test_a_listed_price_is_taken_only_in_the_rows_unit(stub):
    """fal's pricing API says "image" for some models billed per megapixel: a price in another
    unit is reported and left out, never paired with the row's unit."""
    same = row("stub/same", price_unit="image", price_usd=Decimal("0.02"))
    priced = row(
        "stub/mp", price_unit="megapixel", price_usd=Decimal("0.025"), price_date=date(2026, 5, 1)
    )
    bare = row("stub/bare", price_unit="", price_usd=None)
    stub.listing = Listing(
        [
            ListedModel(id="stub/same", price_unit="image", price_usd=Decimal("0.03")),
            ListedModel(id="stub/mp", price_unit="image", price_usd=Decimal("0.03")),
            ListedModel(id="stub/bare", price_unit="image", price_usd=Decimal("0.01")),
        ]
    )
    [line] = refresh()
    assert "prices changed: 2" in line
    assert "price not taken for stub/mp: listed per image, catalog per megapixel" in line
    for each in (same, priced, bare):
        each.refresh_from_db()
    assert (same.price_unit, same.price_usd) == ("image", Decimal("0.03"))
    assert same.price_date == timezone.localdate()
    assert (priced.price_unit, priced.price_usd) == ("megapixel", Decimal("0.025"))
    assert priced.price_date == date(2026, 5, 1)
    assert (bare.price_unit, bare.price_usd) == ("image", Decimal("0.01"))


def test_an_admins_price_is_never_replaced_by_a_listed_one(stub):
    custom = row(
        "stub/custom",
        source=CatalogSource.CUSTOM,
        builtin=False,
        price_unit="second",
        price_usd=Decimal("0.0011"),
    )
    edited = row(
        "stub/edited",
        source=CatalogSource.LISTED,
        builtin=False,
        price_unit="image",
        price_usd=Decimal("0.04"),
        price_edited=True,
    )
    unedited = row(
        "stub/unedited",
        source=CatalogSource.LISTED,
        builtin=False,
        price_unit="image",
        price_usd=Decimal("0.04"),
    )
    stub.listing = Listing(
        [
            ListedModel(id=model_id, price_unit="image", price_usd=Decimal("0.05"))
            for model_id in ("stub/custom", "stub/edited", "stub/unedited")
        ]
    )
    [line] = refresh()
    assert "prices changed: 1" in line
    for each in (custom, edited, unedited):
        each.refresh_from_db()
    assert (custom.price_unit, custom.price_usd) == ("second", Decimal("0.0011"))
    assert (edited.price_unit, edited.price_usd) == ("image", Decimal("0.04"))
    assert (unedited.price_unit, unedited.price_usd) == ("image", Decimal("0.05"))


def test_an_admins_price_edit_of_a_listed_row_is_marked(stub, admin_user, client):
    listed = row(
        "stub/listed",
        source=CatalogSource.LISTED,
        builtin=False,
        enabled=False,
        spec={"max_images": 1},
        price_unit="image",
        price_usd=Decimal("0.04"),
    )
    client.force_login(admin_user)
    url = f"/admin/generation/catalogmodel/{listed.pk}/change/"
    form = {
        "display_name": "stub/listed",
        "sort_order": 100,
        "spec": '{"max_images": 1}',
        "initial-spec": '{"max_images": 1}',  # what the page sends (a callable default)
        "price_unit": "image",
        "price_usd": "0.04",
    }
    assert client.post(url, form).status_code == 302
    listed.refresh_from_db()
    assert (listed.price_edited, listed.spec_edited) == (False, False)  # nothing changed
    assert client.post(url, {**form, "price_unit": "megapixel"}).status_code == 302
    listed.refresh_from_db()
    assert listed.price_edited is True and listed.spec_edited is False
    stub.listing = Listing(
        [ListedModel(id="stub/listed", price_unit="image", price_usd=Decimal("0.05"))]
    )
    refresh()
    listed.refresh_from_db()
    assert (listed.price_unit, listed.price_usd) == ("megapixel", Decimal("0.04"))


def test_a_provider_whose_listing_fails_changes_nothing_and_the_others_still_refresh(registry):
    broken = registry(StubProvider("broken", "Broken"))
    working = registry(StubProvider("working", "Working"))
    row("b/one", provider="broken")
    row("w/one", provider="working")
    broken.error = ProviderError("Broken is unavailable right now (HTTP 503).")
    broken.listing = Listing([])  # would retire b/one if it were read
    working.listing = Listing([ListedModel(id="w/two", input_schema=FAL_FLUX_DEV)])
    before = list(CatalogModel.objects.filter(provider="broken").values())
    lines = refresh()
    assert "Broken: not refreshed (Broken is unavailable right now (HTTP 503).)." in lines
    assert any(line.startswith("Working: 1 listed; added 1") for line in lines)
    assert list(CatalogModel.objects.filter(provider="broken").values()) == before
    assert CatalogModel.objects.filter(provider="working", model_id="w/two").exists()


def test_an_unexpected_failure_is_contained_and_never_shows_the_key(registry):
    stub = registry(StubProvider())
    stub.error = RuntimeError("boom sk-secret-key-123456")
    lines = tasks.refresh_catalog({"stub": "sk-secret-key-123456"})
    assert lines == ["Stub: not refreshed (unexpected error: RuntimeError)."]
    leaky = registry(StubProvider("leaky", "Leaky"))
    leaky.error = ProviderError("Leaky refused key sk-secret-key-123456")
    line = tasks.refresh_catalog({"leaky": "sk-secret-key-123456"})[-1]
    assert "sk-secret-key-123456" not in line and line.startswith("Leaky: not refreshed")


def test_a_malformed_listing_changes_nothing(stub):
    row("stub/old")
    stub.listing = {"models": []}  # not a Listing
    assert refresh() == ["Stub: not refreshed (the listing was not understood)."]
    assert CatalogModel.objects.get(model_id="stub/old").available


def test_junk_entries_are_skipped(stub):
    stub.listing = Listing(
        [ListedModel(id=""), "junk", ListedModel(id="ok/one", input_schema=["not", "a", "dict"])],
        complete=False,
    )
    [line] = refresh()
    assert "1 listed" in line and "2 malformed entries skipped" in line
    added = CatalogModel.objects.get(model_id="ok/one")
    assert added.enabled is False and added.spec["text_to_image"] is False


def test_a_model_that_needs_an_image_is_offered_for_its_image_operations(stub):
    needs_image = {
        "required": ["prompt", "image_url"],
        "properties": {"prompt": {"type": "string"}, "image_url": {"type": "string"}},
    }
    needs_style = {
        "required": ["prompt", "style_id"],
        "properties": {"prompt": {"type": "string"}, "style_id": {"type": "string"}},
    }
    stub.listing = Listing(
        [
            ListedModel(id="x/edit", input_schema=needs_image),
            ListedModel(id="x/styled", input_schema=needs_style),
        ]
    )
    [line] = refresh()
    assert "for image operations only: x/edit (edit)" in line
    assert "not runnable as listed (kept disabled): x/styled (its required" in line
    assert "x/edit (it" not in line
    edit = CatalogModel.objects.get(model_id="x/edit")
    assert edit.enabled is False  # cost safety: an admin enables it
    assert edit.spec["inputs"]["image"] == "image_url" and "offered for image" in edit.listing_note
    CatalogModel.objects.filter(provider="stub").update(enabled=True)
    [offered] = specs_for("stub")  # x/styled never is
    assert offered.id == "x/edit" and offered.operations == ("edit",)
    assert not offered.does("generate") and offered.max_input_images == 1
    note = CatalogModel.objects.get(model_id="x/styled").listing_note
    assert "style_id" in note


def test_a_catalog_json_removal_outranks_a_listing_that_still_names_it(stub, monkeypatch):
    from imagegen.providers import catalog

    entries = [{"provider": "stub", "id": "stub/removed", "label": "R", "available": False}]
    monkeypatch.setattr(catalog, "builtin_entries", lambda: entries)
    monkeypatch.setattr("imagegen.providers.catalog_refresh.builtin_entries", lambda: entries)
    removed = row("stub/removed", available=False)
    stub.listing = Listing([ListedModel(id="stub/removed")])
    refresh()
    removed.refresh_from_db()
    assert removed.available is False


# --- Keys: the command's flag, else the team key, else the environment ------------------------


def test_the_key_comes_from_the_flag_then_the_team_key_then_the_environment(
    registry, monkeypatch, capsys
):
    from settings_app.models import TeamKey

    fal = registry(StubProvider("fal", "fal.ai"))  # a stub in fal's place: FAL_KEY applies
    fal.listing = Listing([], complete=False)
    monkeypatch.setenv("FAL_KEY", "env-id:env-secret")
    call_command("refresh_catalog")
    assert fal.calls[-1][0] == "env-id:env-secret"
    team = TeamKey(provider="fal")
    team.set_secret("team-id:team-secret")
    team.save()
    call_command("refresh_catalog")
    assert fal.calls[-1][0] == "team-id:team-secret"
    call_command("refresh_catalog", "--fal-key", "flag-id:flag-secret")
    assert fal.calls[-1][0] == "flag-id:flag-secret"
    out = capsys.readouterr().out
    assert "fal.ai: 0 listed" in out and "secret" not in out
    assert "fal-ai/flux/dev" in fal.calls[-1][1]  # the catalog's known ids are passed


def test_the_site_key_is_the_team_key_then_the_environment_never_a_users(monkeypatch, admin_user):
    from settings_app.keys import site_key
    from settings_app.models import ApiKey, TeamKey

    monkeypatch.delenv("FAL_KEY", raising=False)
    own = ApiKey(user=admin_user, provider="fal")
    own.set_secret("user-id:user-secret")
    own.save()
    assert site_key("fal") is None
    monkeypatch.setenv("FAL_KEY", " env-id:env-secret ")
    assert site_key("fal") == "env-id:env-secret"
    team = TeamKey(provider="fal")
    team.set_secret("team-id:team-secret")
    team.save()
    assert site_key("fal") == "team-id:team-secret"
    assert site_key("local") is None


def test_the_admin_action_queues_the_refresh_and_calls_no_provider(
    stub, admin_user, client, monkeypatch
):
    from generation import admin as generation_admin

    queued = []
    monkeypatch.setattr(
        generation_admin, "async_task", lambda func, *args, **kwargs: queued.append((func, args))
    )
    row("stub/gone")
    stub.listing = Listing([ListedModel(id="stub/new")])
    client.force_login(admin_user)
    any_row = CatalogModel.objects.first()
    response = client.post(
        "/admin/generation/catalogmodel/",
        {"action": "refresh_from_providers", "_selected_action": [any_row.pk]},
        follow=True,
    )
    body = response.content.decode()
    assert "Refresh queued: its report appears under Job queue → Successful tasks" in body
    assert queued == [("generation.tasks.refresh_catalog", ())]
    assert "generation.tasks.refresh_catalog" in tasks.TASK_FUNCS
    assert stub.calls == []  # nothing was listed in the request
    assert not CatalogModel.objects.filter(model_id="stub/new").exists()


def test_the_refresh_writes_a_summary_to_the_log(stub, caplog):
    stub.listing = Listing([ListedModel(id="stub/new")])
    with caplog.at_level("INFO"):
        refresh()
    assert "catalog refresh: Stub: 1 listed; added 1" in caplog.text


# --- The daily schedule ------------------------------------------------------------------------


def test_the_daily_schedule_is_off_by_default(settings):
    from django_q.models import Schedule

    assert settings.CATALOG_REFRESH_DAILY is False
    assert not Schedule.objects.filter(func=tasks.REFRESH_FUNC).exists()


def test_the_daily_schedule_follows_the_setting(settings):
    from django.apps import apps
    from django_q.models import Schedule

    generation_app = apps.get_app_config("generation")
    settings.CATALOG_REFRESH_DAILY = True
    signals.sync_refresh_schedule_after_migrate(sender=generation_app, app_config=generation_app)
    schedule = Schedule.objects.get(name=tasks.REFRESH_SCHEDULE)
    assert (schedule.func, schedule.schedule_type, schedule.repeats) == (
        "generation.tasks.refresh_catalog",
        Schedule.DAILY,
        -1,
    )
    assert schedule.func in tasks.TASK_FUNCS
    tasks.check_schedule(schedule.func, schedule.hook, schedule.kwargs)  # allowed to run
    signals.sync_refresh_schedule_after_migrate(sender=generation_app, app_config=generation_app)
    assert Schedule.objects.filter(name=tasks.REFRESH_SCHEDULE).count() == 1
    settings.CATALOG_REFRESH_DAILY = False
    signals.sync_refresh_schedule_after_migrate(sender=generation_app, app_config=generation_app)
    assert not Schedule.objects.filter(name=tasks.REFRESH_SCHEDULE).exists()


def test_migrate_applies_the_setting(settings):
    from django_q.models import Schedule

    settings.CATALOG_REFRESH_DAILY = True
    call_command("migrate", verbosity=0)
    assert Schedule.objects.filter(name=tasks.REFRESH_SCHEDULE).exists()


def test_the_scheduled_task_runs(stub):
    """What the worker runs: the function by its dotted name, with no arguments."""
    from django.utils.module_loading import import_string

    stub.listing = Listing([ListedModel(id="stub/new")])
    lines = import_string(tasks.REFRESH_FUNC)()
    assert lines[0].startswith("Stub: 1 listed; added 1")


@pytest.mark.parametrize(("value", "expected"), [("true", "True"), (None, "False")])
def test_the_daily_setting_is_read_from_the_environment(value, expected):
    """One setting turns it on; unset it is off (a fresh process reads the environment)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k != "CATALOG_REFRESH_DAILY"}
    env["DJANGO_SETTINGS_MODULE"] = "imagegen.settings_test"
    if value is not None:
        env["CATALOG_REFRESH_DAILY"] = value
    code = "import django; django.setup(); from django.conf import settings; "
    code += "print(settings.CATALOG_REFRESH_DAILY)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == expected, result.stderr[-2000:]


def test_every_builtin_row_has_the_builtin_source():
    rows = CatalogModel.objects.filter(builtin=True)
    assert rows.exists() and set(rows.values_list("source", flat=True)) == {"builtin"}


def test_the_data_migration_sets_sources():
    import importlib

    from django.apps import apps

    migration = importlib.import_module("generation.migrations.0008_catalog_follows_providers")
    old = CatalogModel.objects.create(
        provider="fal", model_id="fal-ai/mine", display_name="Mine", source="listed"
    )
    CatalogModel.objects.filter(builtin=True).update(source="custom")
    migration.set_sources(apps, None)
    old.refresh_from_db()
    assert old.source == "custom"
    assert set(CatalogModel.objects.filter(builtin=True).values_list("source", flat=True)) == {
        "builtin"
    }


def test_past_dates_in_a_listing_are_recorded_and_the_model_is_no_longer_offered(stub):
    model = row("stub/old")
    yesterday = timezone.localdate() - timedelta(days=1)
    stub.listing = Listing([ListedModel(id="stub/old", shutdown_date=yesterday)])
    refresh()
    model.refresh_from_db()
    assert model.shutdown_date == yesterday and specs_for("stub") == []
