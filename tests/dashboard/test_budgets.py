"""Budgets hold at submission: monthly spend (400), daily images (429), the team budget, and
two parallel submissions that together would pass the limit."""

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from generation import services
from generation.models import Generation, Status
from generation.usage.models import TeamBudget, UserBudget
from tests.dashboard.helpers import finished, live
from tests.users import client_for

pytestmark = pytest.mark.usefixtures("priced")  # the $0.40-an-image provider


def submit(client, num_images=1):
    return client.post(
        "/api/generate",
        {"prompt": "a fox", "provider": "priced", "num_images": num_images},
        format="json",
    )


@pytest.mark.django_db
class TestMonthlyBudget:
    def test_submission_over_the_monthly_budget_is_a_400_that_says_why(self, settings, owner_api):
        settings.DEFAULT_MONTHLY_BUDGET_USD = Decimal("1.00")
        assert submit(owner_api, 2).status_code == 202  # $0.80 now running
        response = submit(owner_api, 1)
        assert response.status_code == 400
        message = response.json()["budget"][0]
        assert "monthly budget of $1.00" in message
        assert "$0.80 is spent or running" in message
        assert "estimated at $0.40" in message
        assert Generation.objects.count() == 1

    def test_spend_recorded_this_month_counts(self, settings, owner, owner_api):
        settings.DEFAULT_MONTHLY_BUDGET_USD = Decimal("1.00")
        finished(owner, timezone.now(), cost="0.70", estimate=False)
        finished(owner, "2020-01-01 10:00", cost="50.00", estimate=False)  # another month
        assert submit(owner_api, 1).status_code == 400
        assert submit(owner_api, 1).json()["budget"][0].count("$0.70 is spent") == 1

    def test_failed_and_canceled_generations_do_not_count(self, settings, owner, owner_api):
        settings.DEFAULT_MONTHLY_BUDGET_USD = Decimal("1.00")
        finished(owner, timezone.now(), status=Status.FAILED, cost="0.90", error="Timed out")
        finished(owner, timezone.now(), status=Status.CANCELED, cost="0.90")
        assert submit(owner_api, 2).status_code == 202

    def test_a_users_own_limit_beats_the_default(self, settings, owner, owner_api):
        settings.DEFAULT_MONTHLY_BUDGET_USD = Decimal("100")
        UserBudget.objects.create(user=owner, monthly_budget_usd=Decimal("0.50"))
        assert submit(owner_api, 2).status_code == 400
        assert submit(owner_api, 1).status_code == 202

    def test_unlimited_user_ignores_the_defaults(self, settings, owner, owner_api):
        settings.DEFAULT_MONTHLY_BUDGET_USD = Decimal("0")
        settings.DEFAULT_DAILY_IMAGE_LIMIT = 0
        UserBudget.objects.create(user=owner, unlimited=True)
        assert submit(owner_api, 4).status_code == 202

    def test_no_budget_set_means_unlimited(self, owner_api):
        for _ in range(3):
            assert submit(owner_api, 4).status_code == 202

    def test_budgets_are_per_user(self, settings, owner_api, member):
        settings.DEFAULT_MONTHLY_BUDGET_USD = Decimal("1.00")
        live(member, cost="0.99")
        assert submit(owner_api, 2).status_code == 202


@pytest.mark.django_db
class TestDailyImageLimit:
    def test_submission_over_the_daily_image_limit_is_a_429_that_says_why(
        self, settings, owner, owner_api
    ):
        settings.DEFAULT_DAILY_IMAGE_LIMIT = 3
        finished(owner, timezone.now(), images=2)
        response = submit(owner_api, 2)
        assert response.status_code == 429
        message = response.json()["num_images"][0]
        assert "your limit is 3 images a day" in message
        assert "2 are made or running today" in message
        assert "asks for 2" in message
        assert submit(owner_api, 1).status_code == 202

    def test_yesterdays_images_do_not_count(self, settings, owner, owner_api):
        settings.DEFAULT_DAILY_IMAGE_LIMIT = 2
        finished(owner, timezone.now() - timezone.timedelta(days=1), images=2)
        assert submit(owner_api, 2).status_code == 202

    def test_generate_page_shows_the_refusal_next_to_the_field(self, settings, client, owner):
        settings.DEFAULT_DAILY_IMAGE_LIMIT = 1
        client.force_login(owner)
        response = client.post(
            "/generate/",
            {
                "prompt": "x",
                "provider": "priced",
                "model": "scripted-1",
                "width": 64,
                "height": 64,
                "num_images": 2,
            },
        )
        assert response.status_code == 400
        assert "your limit is 1 images a day" in response.content.decode()


@pytest.mark.django_db
class TestTeamBudget:
    def test_team_budget_counts_everyones_spend(self, settings, owner_api, member):
        settings.TEAM_MONTHLY_BUDGET_USD = Decimal("1.00")
        live(member, cost="0.50")
        finished(member, timezone.now(), cost="0.20", estimate=False)
        response = submit(owner_api, 1)
        assert response.status_code == 400
        message = response.json()["budget"][0]
        assert "team's monthly budget of $1.00" in message and "$0.70 is spent" in message

    def test_team_budget_row_beats_the_setting(self, settings, owner_api):
        settings.TEAM_MONTHLY_BUDGET_USD = Decimal("100")
        TeamBudget.objects.create(monthly_budget_usd=Decimal("0.30"))
        assert submit(owner_api, 1).status_code == 400

    def test_generate_page_shows_a_budget_refusal_as_a_form_error(self, settings, client, owner):
        settings.TEAM_MONTHLY_BUDGET_USD = Decimal("0.10")
        client.force_login(owner)
        response = client.post(
            "/generate/",
            {
                "prompt": "x",
                "provider": "priced",
                "model": "scripted-1",
                "width": 64,
                "height": 64,
                "num_images": 1,
            },
        )
        assert response.status_code == 400
        assert "team&#x27;s monthly budget of $0.10" in response.content.decode()


@pytest.mark.django_db
class TestBudgetEndpoint:
    def test_used_and_left_with_a_warning_above_80_percent(self, settings, owner, owner_api):
        settings.DEFAULT_MONTHLY_BUDGET_USD = Decimal("1.00")
        settings.DEFAULT_DAILY_IMAGE_LIMIT = 10
        finished(owner, timezone.now(), cost="0.60", estimate=False, images=3)
        live(owner, cost="0.25", images=2)
        body = owner_api.get("/api/dashboard/budget").json()
        assert body["monthly"] == {
            "limit_usd": "1.000000",
            "spent_usd": "0.600000",
            "running_usd": "0.250000",
            "used_usd": "0.850000",
            "left_usd": "0.150000",
            "percent": 85.0,
        }
        assert body["daily_images"] == {
            "limit": 10,
            "made": 3,
            "running": 2,
            "used": 5,
            "left": 5,
            "percent": 50.0,
        }
        assert body["team_monthly"] is None
        assert body["warning"] is True
        assert body["warnings"] == ["This request reaches 85% of your monthly budget."]

    def test_no_warning_below_80_percent_or_without_limits(self, owner_api, owner):
        finished(owner, timezone.now(), cost="5.00", estimate=False)
        body = owner_api.get("/api/dashboard/budget").json()
        assert body["monthly"]["limit_usd"] is None and body["monthly"]["left_usd"] is None
        assert body["monthly"]["used_usd"] == "5.000000"
        assert body["warning"] is False

    def test_outsider_sees_only_their_own_budget(self, settings, owner, outsider_api):
        settings.DEFAULT_MONTHLY_BUDGET_USD = Decimal("1.00")
        live(owner, cost="0.90")
        body = outsider_api.get("/api/dashboard/budget").json()
        assert body["monthly"]["used_usd"] == "0.000000"


def _parallel_submissions(user, count=2):
    """Submit ``count`` generations at once from threads; return what each got."""
    barrier = threading.Barrier(count)
    outcomes = []

    def run():
        try:
            barrier.wait(timeout=10)
            services.create_generation(user, {"prompt": "race", "provider": "priced"})
            outcomes.append("queued")
        except services.ValidationError as error:
            outcomes.append(error.message_dict)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_two_parallel_submissions_cannot_overshoot_the_budget(settings, monkeypatch, owner):
    settings.DEFAULT_MONTHLY_BUDGET_USD = Decimal("0.50")  # room for one $0.40 request
    monkeypatch.setattr(services, "enqueue_generation", lambda generation_id: None)
    outcomes = _parallel_submissions(owner)
    assert sorted(map(str, outcomes)).count("queued") == 1, outcomes
    refused = next(o for o in outcomes if o != "queued")
    assert "monthly budget of $0.50" in refused["budget"][0]
    assert Generation.objects.filter(owner=owner).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_users_in_parallel_cannot_overshoot_the_team_budget(
    settings, monkeypatch, owner, member
):
    settings.TEAM_MONTHLY_BUDGET_USD = Decimal("0.50")
    monkeypatch.setattr(services, "enqueue_generation", lambda generation_id: None)
    barrier = threading.Barrier(2)
    outcomes = []

    def run(user):
        try:
            barrier.wait(timeout=10)
            services.create_generation(user, {"prompt": "race", "provider": "priced"})
            outcomes.append("queued")
        except services.ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(u,)) for u in (owner, member)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["queued", "refused"]
    assert Generation.objects.count() == 1


def test_staff_stats_show_the_chosen_users_budget(db, settings, admin_user, owner):
    settings.DEFAULT_MONTHLY_BUDGET_USD = Decimal("2.00")
    live(owner, cost="1.00")
    body = client_for(admin_user).get(f"/api/dashboard/stats?user={owner.pk}").json()
    assert body["budget"]["monthly"]["used_usd"] == "1.000000"
    assert body["budget"]["monthly"]["left_usd"] == "1.000000"
