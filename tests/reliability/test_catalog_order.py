"""Catalog sizes keep the data file's order on every database (the first is the default
size), though PostgreSQL's jsonb does not keep object key order."""

import json

import pytest

from generation.models import CatalogModel
from imagegen.providers.catalog import CATALOG_FILE, spec_from_row, sync_builtin_catalog

pytestmark = pytest.mark.django_db


def test_every_builtin_models_sizes_come_back_in_file_order():
    sync_builtin_catalog()
    for entry in json.loads(CATALOG_FILE.read_text())["models"]:
        if not isinstance(entry.get("sizes"), dict):
            continue
        row = CatalogModel.objects.get(provider=entry["provider"], model_id=entry["id"])
        spec = spec_from_row(row)
        expected = [tuple(int(n) for n in size.split("x")) for size in entry["sizes"]]
        assert list(spec.sizes) == expected, entry["id"]
        assert spec.native_sizes == entry["sizes"]


def test_an_admin_written_dict_of_sizes_still_works():
    row = CatalogModel(
        model_id="x", display_name="x", spec={"sizes": {"512x512": "1:1", "768x512": "3:2"}}
    )
    assert set(spec_from_row(row).sizes) == {(512, 512), (768, 512)}
