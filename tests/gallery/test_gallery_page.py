"""The gallery page: filters in the URL, chips, the result count, day headers, empty states,
what htmx gets, and that another user's images never appear."""

import datetime
import re

import pytest
from django.utils import timezone

from tests.gallery.factories import make_image

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def tile_ids(body: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<li class="tile[^"]*" data-id="(\d+)"', body)]


def test_filters_in_the_url_fill_the_form_and_show_as_chips(owner_client, owner):
    make_image(owner, prompt="a harbour", favorite=True, rating=4, tags=["sea", "blue"])
    body = owner_client.get("/gallery/?q=harbour&favorite=true&rating_min=3&tag=sea&tag=blue")
    body = body.content.decode()
    assert 'value="harbour"' in body
    assert '<option value="true" selected>Only favorites</option>' in body
    for label in ("Favorites", "Rating ≥ 3★", "Tag: sea", "Tag: blue"):
        assert f'aria-label="Remove filter {label}"' in body, label
    assert '<span class="count-badge">4</span>' in body  # q is the search box, not a chip
    assert "Apply" not in body  # filters apply as they change


def test_the_count_is_of_the_filtered_visible_images(owner_client, owner, outsider):
    for n in range(3):
        make_image(owner, prompt=f"fox {n}", rating=n)
    make_image(outsider, prompt="fox of someone else")
    assert ">3 images</p>" in owner_client.get("/gallery/").content.decode()
    assert ">1 image</p>" in owner_client.get("/gallery/?rating_min=2").content.decode()


def test_above_the_cap_the_count_says_more_than(owner_client, owner, monkeypatch):
    monkeypatch.setattr("gallery.pages.COUNT_CAP", 2)
    for _ in range(3):
        make_image(owner)
    assert ">More than 2 images</p>" in owner_client.get("/gallery/").content.decode()


def test_the_count_query_is_bounded(owner, monkeypatch, django_assert_num_queries):
    from gallery.listing import count_visible
    from gallery.models import Image

    for _ in range(3):
        make_image(owner)
    with django_assert_num_queries(1) as captured:
        assert count_visible(owner, Image.objects.all(), {"sort": "newest"}, cap=1) == 2
    assert "LIMIT 2" in captured.captured_queries[0]["sql"]


def test_newest_first_has_day_headers_without_repeats_across_pages(owner_client, owner, settings):
    settings.ITEMS_PER_PAGE = 2
    now = timezone.now()
    long_ago = make_image(owner, created_at=now - datetime.timedelta(days=30))
    yesterday = [make_image(owner, created_at=now - datetime.timedelta(days=1)) for _ in range(2)]
    today = make_image(owner)
    body = owner_client.get("/gallery/").content.decode()
    assert re.findall(r"<h2>([^<]+)</h2>", body.split('id="grid"')[1]) == ["Today", "Yesterday"]
    assert tile_ids(body) == [today.pk, yesterday[1].pk]
    next_url = re.search(r'hx-get="(/gallery/\?[^"]+)"', body).group(1).replace("&amp;", "&")
    assert "after_day=" in next_url
    rest = owner_client.get(next_url, **HTMX).content.decode()
    assert tile_ids(rest) == [yesterday[0].pk, long_ago.pk]
    day = timezone.localtime(long_ago.created_at).date()
    assert re.findall(r"<h2>([^<]+)</h2>", rest) == [f"{day.day} {day:%B %Y}"]
    assert "gallery-summary" not in rest  # a later page: no count, no chips
    # Another sort has no day headers.
    body = owner_client.get("/gallery/?sort=rating").content.decode()
    assert "day-header" not in body


def test_htmx_first_page_brings_the_count_and_chips_out_of_band(owner_client, owner):
    make_image(owner, prompt="a harbour", favorite=True)
    body = owner_client.get("/gallery/?favorite=true", **HTMX).content.decode()
    assert "<html" not in body
    assert 'id="gallery-summary" class="gallery-summary" hx-swap-oob="true"' in body
    assert ">1 image</p>" in body and "Remove filter Favorites" in body
    assert "js/image_actions.js" not in body  # the page has it already


def test_empty_states(owner_client, owner):
    body = owner_client.get("/gallery/").content.decode()
    assert "Generate your first image" in body and "No images match" not in body
    make_image(owner, prompt="a fox")
    body = owner_client.get("/gallery/?q=zebra").content.decode()
    assert "No images match these filters" in body and "data-clear-filters" in body
    assert "Generate your first image" not in body


def test_another_users_images_never_appear_and_are_404(client, owner, outsider):
    mine = make_image(owner, prompt="mine")
    theirs = make_image(outsider, prompt="theirs")
    client.force_login(owner)
    for url in ("/gallery/", f"/gallery/?owner={outsider.username}", "/gallery/?q=theirs"):
        body = client.get(url).content.decode()
        assert theirs.pk not in tile_ids(body) and 'data-prompt="theirs"' not in body
    assert tile_ids(client.get("/gallery/").content.decode()) == [mine.pk]
    assert client.get(f"/gallery/images/{theirs.pk}/panel/").status_code == 404
    assert client.get(f"/gallery/images/{theirs.pk}/projects/").status_code == 404


def test_tiles_keep_their_aspect_and_carry_the_action_bar(owner_client, owner):
    wide = make_image(owner, width=96, height=48)
    tall = make_image(owner, width=30, height=90)
    body = owner_client.get("/gallery/").content.decode()
    assert f'class="tile ar-20" data-id="{wide.pk}"' in body
    assert f'class="tile ar-4" data-id="{tall.pk}"' in body  # 0.33, clamped to 0.4
    assert body.count('role="toolbar"') == 2 and 'style="' not in body


def test_the_page_costs_a_fixed_number_of_queries(
    owner_client, owner, django_assert_max_num_queries
):
    for _ in range(3):
        make_image(owner)
    owner_client.get("/gallery/")
    with django_assert_max_num_queries(16):
        owner_client.get("/gallery/")
    for _ in range(10):
        make_image(owner)
    with django_assert_max_num_queries(16):
        owner_client.get("/gallery/")
