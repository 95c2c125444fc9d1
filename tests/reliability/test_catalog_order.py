"""A model's sizes keep their listed order on PostgreSQL too (jsonb sorts object keys, which
changed the default size and the order the API lists them in)."""

import pytest

from generation.catalog import spec_from_row, sync_builtin_catalog
from generation.models import CatalogModel

pytestmark = pytest.mark.django_db


def test_sizes_follow_the_listed_order_not_the_json_key_order():
    row = CatalogModel.objects.get(model_id="dall-e-3")
    assert row.spec["size_order"] == ["1024x1024", "1792x1024", "1024x1792"]
    # What jsonb hands back: keys shorter-first, then bytewise.
    row.spec["sizes"] = dict(sorted(row.spec["sizes"].items(), key=lambda kv: kv[0]))
    assert list(row.spec["sizes"]) != row.spec["size_order"]
    spec = spec_from_row(row)
    assert spec.sizes == ((1024, 1024), (1792, 1024), (1024, 1792))


def test_rows_without_a_size_order_keep_their_key_order():
    row = CatalogModel.objects.get(model_id="dall-e-3")
    row.spec.pop("size_order")
    row.spec["sizes"] = {"512x512": {}, "256x256": {}}
    assert spec_from_row(row).sizes == ((512, 512), (256, 256))


def test_sync_writes_the_order():
    CatalogModel.objects.filter(model_id="dall-e-3").update(spec={})
    sync_builtin_catalog()
    assert CatalogModel.objects.get(model_id="dall-e-3").spec["size_order"][0] == "1024x1024"
