"""Usage of image operations (docs/image-operations.md, "Budgets and usage"): every operation
is counted like a generation and grouped by operation in the dashboard's API, CSV and page;
uploads are no generations (left out of the counts, spend, failure rates, the daily image
limit and budgets) but their bytes count as storage; an operation is estimated and refused
over a budget or the daily image limit exactly as a generation is."""

import csv
import io
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dashboard import services
from gallery.models import GenerationInput, Image
from generation.models import Generation, Status
from generation.usage import windows
from generation.usage.models import DailyUsage, TeamBudget, UserBudget
from generation.usage.rollup import rebuild_rollups
from imagegen.providers.offline import OfflineProvider
from tests.dashboard.helpers import finished
from tests.gallery.factories import image_bytes, make_image
from tests.operations.helpers import mask_uri, noise_png, succeeded
from tests.users import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def upload(django_capture_on_commit_callbacks):
    """Upload files through the API, running what the upload does after its commit."""

    def send(client, *files):
        parts = [SimpleUploadedFile(name, data) for name, data in files]
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/api/gallery/upload", {"file": parts}, format="multipart")
        assert response.status_code == 201, response.content
        return response.json()["images"]

    return send


# --- Every operation is usage, grouped by operation ------------------------------------------


def test_every_operation_is_counted_like_a_generation_and_grouped_by_it(owner, owner_api, run_jobs):
    source = make_image(owner, data=noise_png(40, 30))  # not a pipeline run: not counted
    base = {"provider": "offline", "input_images": [source.pk]}
    succeeded(
        run_jobs(owner_api, {"provider": "offline", "prompt": "a fox", "width": 64, "height": 64})
    )
    succeeded(run_jobs(owner_api, {**base, "operation": "upscale", "scale": 2}))
    succeeded(run_jobs(owner_api, {**base, "operation": "upscale", "scale": 4}))
    succeeded(
        run_jobs(
            owner_api,
            {**base, "operation": "inpaint", "prompt": "a door", "mask": mask_uri(40, 30)},
        )
    )
    succeeded(run_jobs(owner_api, {**base, "operation": "edit", "prompt": "make it blue"}))
    succeeded(
        run_jobs(owner_api, {**base, "operation": "outpaint", "outpaint": {"left": 8, "right": 8}})
    )

    body = owner_api.get("/api/dashboard/usage?by=operation&sort=name").json()
    assert body["by"] == "operation"
    rows = {row["operation"]: row for row in body["rows"]}
    assert {op: (r["label"], r["generations"], r["images"]) for op, r in rows.items()} == {
        "edit": ("Edit", 1, 1),
        "generate": ("Generate", 1, 1),
        "inpaint": ("Inpaint", 1, 1),
        "outpaint": ("Outpaint", 1, 1),
        "upscale": ("Upscale", 2, 2),
    }
    assert [row["label"] for row in body["rows"]] == [
        "Edit",
        "Generate",
        "Inpaint",
        "Outpaint",
        "Upscale",
    ]
    stats = owner_api.get("/api/dashboard/stats").json()
    assert (stats["generations"], stats["succeeded"], stats["images"]) == (6, 6, 6)
    # The provider and model groupings count the operations too.
    by_model = owner_api.get("/api/dashboard/usage?by=model").json()["rows"]
    assert [(r["provider"], r["generations"]) for r in by_model] == [("offline", 6)]

    response = owner_api.get("/api/dashboard/usage?by=operation&sort=name&format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert 'filename="usage-operation-' in response["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert list(table[0])[:3] == ["operation", "label", "generations"]
    assert [(r["operation"], r["generations"]) for r in table][-1] == ("upscale", "2")


def test_the_dashboard_page_shows_usage_per_operation(owner, owner_client, run_jobs):
    source = make_image(owner, data=noise_png(40, 30))
    succeeded(
        run_jobs(
            client_for(owner),
            {"provider": "offline", "operation": "upscale", "input_images": [source.pk]},
        )
    )
    html = owner_client.get("/dashboard/").content.decode()
    table = html.split('id="usage-operations"', 1)[1].split("</table>", 1)[0]
    assert "<td>Upscale</td>" in table and "<td>Generate</td>" not in table
    assert "by=operation" in html and "format=csv" in html


def test_an_empty_range_has_no_operation_rows_and_a_csv_header(owner_api):
    body = owner_api.get("/api/dashboard/usage?by=operation").json()
    assert body["rows"] == []
    response = owner_api.get("/api/dashboard/usage?by=operation&format=csv")
    assert response.content.decode().splitlines()[0].startswith("operation,label,generations")


def test_an_input_deleted_before_the_run_fails_with_a_reason_of_its_own(
    owner, owner_api, django_capture_on_commit_callbacks
):
    source = make_image(owner, data=noise_png(40, 30))
    with django_capture_on_commit_callbacks() as queued:
        response = owner_api.post(
            "/api/generate",
            {"provider": "offline", "operation": "upscale", "input_images": [source.pk]},
            format="json",
        )
    assert response.status_code == 202
    with django_capture_on_commit_callbacks(execute=True):  # its file goes after the commit
        assert owner_api.delete(f"/api/gallery/{source.pk}").status_code == 204
    for callback in queued:
        callback()
    generation = Generation.objects.get(pk=response.json()["id"])
    assert generation.status == Status.FAILED
    stats = owner_api.get("/api/dashboard/stats").json()
    assert stats["failures_by_reason"] == [
        {"kind": "input_missing", "label": "Input deleted", "count": 1}
    ]
    rows = owner_api.get("/api/dashboard/usage?by=operation").json()["rows"]
    assert [(r["operation"], r["generations"], r["failures"]) for r in rows] == [("upscale", 1, 1)]


# --- Uploads: storage, not usage --------------------------------------------------------------


def test_uploads_count_in_storage_and_nowhere_else(owner, member, owner_api, run_jobs, upload):
    generated = succeeded(
        run_jobs(owner_api, {"provider": "offline", "prompt": "a fox", "width": 64, "height": 64})
    )
    made_bytes = generated.images.get().bytes
    uploaded = upload(owner_api, ("a.png", image_bytes(size=(40, 30))), ("b.webp", noise_png()))
    upload_bytes = sum(Image.objects.get(pk=item["id"]).bytes for item in uploaded)
    upload(client_for(member), ("c.png", image_bytes()))  # a member who only uploads

    stats = owner_api.get("/api/dashboard/stats").json()
    assert (stats["generations"], stats["succeeded"], stats["failed"]) == (1, 1, 0)
    assert (stats["images"], stats["uploads"]) == (1, 2)
    assert stats["storage_bytes"] == made_bytes + upload_bytes
    assert stats["success_rate"] == 1.0
    assert stats["spend"]["range"]["total_usd"] == "0.000000"
    assert stats["in_progress"] == 0
    assert stats["budget"]["daily_images"]["made"] == 1

    for by in ("provider", "model", "operation", "project"):
        rows = owner_api.get(f"/api/dashboard/usage?by={by}").json()["rows"]
        assert sum(r["generations"] for r in rows) == 1, by
        assert all("upload" not in (r.get("provider"), r.get("operation")) for r in rows), by
    points = owner_api.get("/api/dashboard/trends").json()["points"]
    assert sum(p["generations"] for p in points) == sum(p["images"] for p in points) == 1

    member_stats = client_for(member).get("/api/dashboard/stats").json()
    assert (member_stats["generations"], member_stats["images"]) == (0, 0)
    assert member_stats["uploads"] == 1 and member_stats["storage_bytes"] > 0
    assert member_stats["success_rate"] is None


def test_the_team_figures_leave_uploaders_out_of_usage(admin_user, member, upload):
    upload(client_for(member), ("c.png", image_bytes()))
    staff = client_for(admin_user)
    assert staff.get("/api/dashboard/usage?scope=team&by=user").json()["rows"] == []
    team = staff.get("/api/dashboard/stats?scope=team").json()
    assert (team["generations"], team["uploads"]) == (0, 1)


def test_uploads_do_not_count_toward_the_daily_image_limit(owner, owner_api, run_jobs, upload):
    UserBudget.objects.create(user=owner, daily_image_limit=2)
    upload(owner_api, *[(f"{n}.png", image_bytes()) for n in range(3)])
    generate = {"provider": "offline", "prompt": "a fox", "width": 64, "height": 64}
    run_jobs(owner_api, generate)
    run_jobs(owner_api, generate)
    response = owner_api.post("/api/generate", generate, format="json")
    assert response.status_code == 429, response.content
    assert "your limit is 2 images a day, 2 are made" in response.json()["num_images"][0]


def uploaded(user, at, **fields):
    """An upload as the dashboard's usage records it (no generation: operation, provider and
    model "upload")."""
    return finished(user, at, operation="upload", provider="upload", model="upload", **fields)


def test_rebuild_counts_operations_and_uploads_as_the_pipeline_does(owner, member):
    finished(owner, "2025-03-04 10:00", operation="upscale", cost="0.02", images=1)
    finished(owner, "2025-03-04 11:00", operation="edit", status=Status.FAILED, error="x")
    uploaded(owner, "2025-03-04 12:00", cost="0", estimate=False, images=2, image_bytes=500)
    uploaded(member, "2025-03-05 09:00")
    columns = [f.attname for f in DailyUsage._meta.concrete_fields if f.attname != "id"]
    incremental = sorted(DailyUsage.objects.values_list(*columns))
    upload_row = DailyUsage.objects.get(owner=owner, operation="upload")
    assert (upload_row.generations, upload_row.succeeded, upload_row.images) == (0, 0, 0)
    assert (upload_row.uploads, upload_row.image_bytes) == (2, 1000)
    assert upload_row.spend_estimated_micros == upload_row.latency_count == 0

    assert rebuild_rollups(date(2025, 3, 1), date(2025, 3, 31))["generations"] == 4
    assert sorted(DailyUsage.objects.values_list(*columns)) == incremental


@pytest.mark.parametrize(
    "fields",
    [
        ("generations", "succeeded", "failed", "images", "uploads", "image_bytes"),  # by SQL
        windows.COUNTERS,  # row by row (latency is not summed by SQL)
    ],
)
def test_a_viewer_in_another_zone_gets_the_same_upload_and_operation_figures(owner, fields):
    finished(owner, "2025-03-04 10:00", operation="upscale", images=1, image_bytes=300)
    finished(owner, "2025-03-04 10:30", operation="inpaint", status=Status.FAILED, error="x")
    uploaded(owner, "2025-03-04 11:00", images=3, image_bytes=50)
    team = services.make_scope(start=date(2025, 3, 1), end=date(2025, 3, 7), owner_id=owner.pk)
    kolkata = services.make_scope(
        start=date(2025, 3, 1),
        end=date(2025, 3, 7),
        owner_id=owner.pk,
        zone=ZoneInfo("Asia/Kolkata"),
    )
    # Daily buckets in a zone whose midnight is not the team's: every figure is added up from
    # the generations, not the rollup.
    assert windows.plan(windows.day_buckets(kolkata.start, kolkata.end, kolkata.zone))[0] == {}

    compared = ("generations", "succeeded", "failed", "images", "uploads", "image_bytes")

    def per_operation(scope):
        sums, _ = scope.collect(("operation",), fields)
        out = {}
        for (_, operation), values in sums.items():
            total = out.setdefault(operation, dict.fromkeys(compared, 0))
            for name in compared:
                total[name] += values[name]
        return out

    expected = per_operation(team)
    assert expected["upload"]["uploads"] == 3 and expected["upload"]["generations"] == 0
    assert expected["upload"]["image_bytes"] == 150 and expected["upscale"]["images"] == 1
    assert expected["inpaint"]["failed"] == 1
    assert per_operation(kolkata) == expected


# --- Operations are estimated and gated like generations --------------------------------------


@pytest.fixture
def priced(monkeypatch):
    """The offline provider, priced at $0.50 an image."""
    monkeypatch.setattr(
        OfflineProvider, "estimate_cost", lambda self, request: Decimal("0.50") * request.num_images
    )


def assert_nothing_stored(owner, before_generations, isolated_storage, files_before):
    assert Generation.objects.filter(owner=owner).count() == before_generations
    assert not GenerationInput.objects.exists()
    assert sorted(p for p in isolated_storage.rglob("*") if p.is_file()) == files_before


def test_an_upscale_is_estimated_like_a_generation(owner, owner_api, priced):
    source = make_image(owner, data=noise_png(40, 30))
    body = owner_api.post(
        "/api/generate/estimate",
        {"provider": "offline", "operation": "upscale", "input_images": [source.pk], "scale": 4},
        format="json",
    ).json()
    assert body["estimate_usd"] == "0.500000"
    assert (body["width"], body["height"]) == (160, 120)


@pytest.mark.parametrize("whose", ["user", "team"])
def test_an_upscale_over_a_monthly_budget_is_refused_and_stores_nothing(
    owner, owner_api, priced, isolated_storage, whose
):
    if whose == "user":
        UserBudget.objects.create(user=owner, monthly_budget_usd=Decimal("0.40"))
    else:
        TeamBudget.objects.create(monthly_budget_usd=Decimal("0.40"))
    source = make_image(owner, data=noise_png(40, 30))
    files = sorted(p for p in isolated_storage.rglob("*") if p.is_file())
    response = owner_api.post(
        "/api/generate",
        {"provider": "offline", "operation": "upscale", "input_images": [source.pk], "scale": 2},
        format="json",
    )
    assert response.status_code == 400, response.content
    message = response.json()["budget"][0]
    budget = "your monthly budget" if whose == "user" else "the team's monthly budget"
    assert f"would exceed {budget} of $0.40" in message and "estimated at $0.50" in message
    assert_nothing_stored(owner, 1, isolated_storage, files)


def test_an_inpaint_with_a_drawn_mask_over_budget_stores_no_mask(
    owner, owner_api, priced, isolated_storage
):
    UserBudget.objects.create(user=owner, monthly_budget_usd=Decimal("0.10"))
    source = make_image(owner, data=noise_png(40, 30))
    files = sorted(p for p in isolated_storage.rglob("*") if p.is_file())
    response = owner_api.post(
        "/api/generate",
        {
            "provider": "offline",
            "operation": "inpaint",
            "input_images": [source.pk],
            "prompt": "a door",
            "mask": mask_uri(40, 30),
        },
        format="json",
    )
    assert response.status_code == 400 and "budget" in response.json()
    assert_nothing_stored(owner, 1, isolated_storage, files)


def test_an_upscale_over_the_daily_image_limit_is_a_429(
    owner, owner_api, run_jobs, isolated_storage
):
    UserBudget.objects.create(user=owner, daily_image_limit=1)
    source = make_image(owner, data=noise_png(40, 30))
    run_jobs(owner_api, {"provider": "offline", "prompt": "a fox", "width": 64, "height": 64})
    generations = Generation.objects.filter(owner=owner).count()
    files = sorted(p for p in isolated_storage.rglob("*") if p.is_file())
    response = owner_api.post(
        "/api/generate",
        {"provider": "offline", "operation": "upscale", "input_images": [source.pk]},
        format="json",
    )
    assert response.status_code == 429, response.content
    assert "Daily image limit reached" in response.json()["num_images"][0]
    assert_nothing_stored(owner, generations, isolated_storage, files)
