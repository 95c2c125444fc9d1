"""GET /api/gallery builds its items without ImageSerializer (gallery/list_rows.py); they must
stay byte for byte what the serializer (the documented shape) would answer."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from gallery.api import ImageSerializer
from gallery.list_rows import COLUMNS, image_rows
from gallery.models import Image
from generation.models import Generation, Status
from tests.gallery.factories import make_image

pytestmark = pytest.mark.django_db


def a_request():
    """A request as the API sees one, for the absolute links both outputs write."""
    return Request(APIRequestFactory().get("/api/gallery"))


def serializer_items(user, **filters):
    images = (
        Image.objects.for_user(user, "view")
        .filter(**filters)
        .select_related("generation", "owner")
        .prefetch_related("tags")
        .order_by("-id")
    )
    return ImageSerializer(images, many=True, context={"request": a_request()}).data


def assert_same_bytes(listed, expected):
    render = JSONRenderer().render
    assert render(listed) == render(expected)
    # and the same Python types before rendering (7.5 vs "7.5", 1 vs True, None vs "")
    for got, want in zip(listed, expected, strict=True):
        assert list(got) == list(want)  # same keys in the same order
        assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in want.items()}


@pytest.fixture
def varied_images(owner, viewer, shared_project):
    """Images covering every branch of ImageSerializer."""
    made = [
        make_image(
            owner,
            prompt="tagged",
            tags=["Zebra", "apple", "mango"],
            rating=5,
            favorite=True,
            title="Title ü",
            notes="a\nnote",
        ),
        make_image(owner, prompt="no tags, cost null", cost_usd=None),
        make_image(
            owner, prompt="three images share a cost", num_images=3, cost_usd=Decimal("0.100000")
        ),
        make_image(owner, prompt="rounds half up", num_images=8, cost_usd=Decimal("0.000004")),
        make_image(owner, prompt="no steps, cfg, seed", steps=None, cfg_scale=None, seed=None),
        make_image(owner, prompt="integral cfg", cfg_scale=7.0, seed=2**40),
        make_image(owner, prompt="in a project", project=shared_project, tags=["shared"]),
        make_image(
            owner, prompt="exact second", created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        ),
        make_image(
            owner,
            prompt="microseconds",
            created_at=datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        ),
        # another owner's image in the shared project: visible to the project's owner
        make_image(viewer, prompt="viewer's own", project=shared_project, negative_prompt=""),
    ]
    # the image's own seed wins over the generation's; a generation seed shows when it is null
    Image.objects.filter(pk=made[1].pk).update(seed=None)
    Image.objects.filter(pk=made[2].pk).update(seed=7)
    # a second image of one generation (index 1)
    second = Image.objects.create(
        generation=made[2].generation,
        owner=owner,
        index=1,
        file=made[2].file,
        thumbnail=made[2].thumbnail,
        width=10,
        height=20,
        format="PNG",
        bytes=1,
        sha256=made[2].sha256,
        seed=None,
        search_prompt=made[2].generation.prompt,
    )
    return [*made, second]


def test_list_items_are_byte_for_byte_the_serializers(owner, owner_api, varied_images):
    body = owner_api.get("/api/gallery", {"page_size": 100})
    assert body.status_code == 200
    listed = body.data["results"]
    expected = serializer_items(owner)
    assert [row["id"] for row in listed] == [row["id"] for row in expected]
    assert len(listed) == len(varied_images)
    assert_same_bytes(listed, expected)
    by_id = {row["id"]: row for row in listed}
    assert by_id[varied_images[0].pk]["tags"] == ["apple", "mango", "zebra"]
    assert by_id[varied_images[1].pk]["cost_usd"] is None
    assert by_id[varied_images[1].pk]["seed"] == 42  # from the generation
    assert by_id[varied_images[2].pk]["seed"] == 7  # the image's own
    assert by_id[varied_images[2].pk]["cost_usd"] == "0.033333"
    assert by_id[varied_images[3].pk]["cost_usd"] == "0.000001"  # 0.0000005 rounds up
    assert by_id[varied_images[4].pk]["steps"] is None
    assert by_id[varied_images[5].pk]["cfg_scale"] == 7.0
    assert by_id[varied_images[7].pk]["created_at"] == "2026-01-02T03:04:05Z"
    assert by_id[varied_images[9].pk]["owner"] == "viewer"


def test_items_match_for_a_project_member_and_across_pages(viewer, viewer_api, varied_images):
    seen = []
    body = viewer_api.get("/api/gallery", {"page_size": 2, "sort": "rating"}).data
    pages = [body]
    while body["next"]:
        body = viewer_api.get(body["next"]).data
        pages.append(body)
    for page in pages:
        seen += page["results"]
    expected = {row["id"]: row for row in serializer_items(viewer)}
    assert sorted(row["id"] for row in seen) == sorted(expected)
    assert_same_bytes(seen, [expected[row["id"]] for row in seen])


def test_items_match_in_another_time_zone(settings, owner, owner_api, varied_images):
    settings.TIME_ZONE = "Asia/Kolkata"
    listed = owner_api.get("/api/gallery", {"page_size": 100}).data["results"]
    assert listed[0]["created_at"].endswith("+05:30")
    assert_same_bytes(listed, serializer_items(owner))


def test_items_match_under_a_script_prefix(owner, varied_images):
    from django.urls import set_script_prefix

    set_script_prefix("/studio/")
    try:
        rows = list(Image.objects.for_user(owner, "view").values(*COLUMNS).order_by("-id"))
        listed = image_rows(rows, a_request())
        expected = serializer_items(owner)
    finally:
        set_script_prefix("/")
    assert listed[0]["url"].startswith("http://testserver/studio/files/images/")
    assert_same_bytes(listed, expected)


def test_a_page_costs_three_queries_whatever_its_size(owner, owner_api, varied_images):
    owner_api.get("/api/gallery")  # warm up anything cached per process
    with CaptureQueriesContext(connection) as queries:
        response = owner_api.get("/api/gallery", {"page_size": 100})
    assert response.status_code == 200
    # user-preference lookups aside, the listing itself is: the page, and its tags
    page_queries = [q["sql"] for q in queries.captured_queries if "gallery_image" in q["sql"]]
    assert len(page_queries) == 2, page_queries


def test_columns_cover_only_what_the_list_shows():
    # a guard against reading the file/sha/metadata columns into the list by accident
    assert not {
        "file",
        "thumbnail",
        "sha256",
        "generation__params",
        "generation__provider_metadata",
    } & set(COLUMNS)


def test_a_generation_without_prompt_text_still_serialises_like_the_serializer(owner, owner_api):
    generation = Generation.objects.create(
        owner=owner,
        provider="offline",
        model="m",
        prompt="",
        width=8,
        height=8,
        status=Status.SUCCEEDED,
    )
    Image.objects.create(
        generation=generation,
        owner=owner,
        file="f",
        thumbnail="t",
        width=8,
        height=8,
        format="PNG",
        bytes=1,
        sha256="0" * 64,
    )
    listed = owner_api.get("/api/gallery").data["results"]
    assert_same_bytes(listed, serializer_items(owner))


def test_browsable_api_renders_the_lean_list(owner_client, varied_images):
    response = owner_client.get("/api/gallery", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"thumbnail_url" in response.content and b"Title \xc3\xbc" in response.content


def test_the_schema_still_documents_image_serializer_items(owner_client):
    schema = owner_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    document = schema.json()
    listing = document["paths"]["/api/gallery"]["get"]
    page = listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page_schema = document["components"]["schemas"][page.rsplit("/", 1)[1]]
    items = page_schema["properties"]["results"]["items"]["$ref"]
    image = document["components"]["schemas"][items.rsplit("/", 1)[1]]
    assert list(image["properties"]) == list(ImageSerializer.Meta.fields)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "page_size=50",
        "page_size=1",
        "page_size=100",
        "page_size=050",
        "sort=rating",
        "sort=oldest&page_size=7",
        "cursor=eyJzIjoibmV3ZXN0In0",
        "page_size=",
        "sort=",
        "cursor=",
        "page_size=10&page_size=20",
        "sort=newest&sort=rating",
        # not plain: the serializer decides (and may refuse)
        "page_size=0",
        "page_size=101",
        "page_size=1000",
        "page_size=abc",
        "page_size= 5",
        "page_size=5.0",
        "page_size=%D9%A3",
        "page_size=-1",
        "sort=best",
        "sort=Newest",
        "cursor=a%20b",
        "cursor=" + "a" * 501,
        "cursor=%00",
        "q=x",
        "favorite=true",
        "page_size=5&q=",
        "tag=a",
        "unknown=1",
    ],
)
def test_quick_query_validation_agrees_with_the_serializer(query):
    from django.http import QueryDict

    from gallery.listing import GalleryQuerySerializer

    query_dict = QueryDict(query)
    form = GalleryQuerySerializer.from_query(query_dict)
    valid = form.is_valid()
    quick = GalleryQuerySerializer.quick(query_dict)
    if quick is not None:
        assert valid and quick == dict(form.validated_data), (query, quick)
    plain = set(query_dict) <= {"page_size", "sort", "cursor"}
    if plain and valid and query in ("", "page_size=50", "sort=rating", "page_size=050"):
        assert quick is not None  # the common cases do take the quick path
