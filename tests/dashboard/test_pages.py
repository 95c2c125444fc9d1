"""The Dashboard page and the Generate page's budget notice."""

import re
from decimal import Decimal

import pytest
from django.utils import timezone

from generation.models import Status
from tests.dashboard.helpers import finished, live

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("priced")]  # $0.40 an image
RANGE = "from=2025-03-01&to=2025-03-05"


@pytest.fixture
def history(owner, member):
    finished(owner, "2025-03-01 10:00", cost="0.10", estimate=False, images=2)
    finished(owner, "2025-03-03 09:00", status=Status.FAILED, error="Timed out after 120 s.")
    finished(
        member,
        "2025-03-02 10:00",
        cost="1.00",
        estimate=False,
        provider="scripted",
        model="scripted-1",
    )


def test_dashboard_shows_cards_chart_models_and_failures(client, owner, history):
    client.force_login(owner)
    body = client.get(f"/dashboard/?{RANGE}").content.decode()
    assert '<svg class="chart"' in body
    assert body.count('class="slot"') == 5  # one per day, zero days included
    assert "2025-03-01: 1 generations, 2 images, 0 failed, $0.10" in body
    assert 'id="usage-models"' in body and "offline-shapes" in body
    assert "scripted-1" not in body  # the member's model
    assert "Timed out" in body
    assert 'id="usage-users"' not in body and 'id="usage-projects"' not in body
    assert (
        "/api/dashboard/usage?from=2025-03-01&amp;to=2025-03-05&amp;by=model&amp;format=csv" in body
    )


def test_staff_see_the_team_per_user_and_per_project(client, admin_user, history):
    client.force_login(admin_user)
    body = client.get(f"/dashboard/?{RANGE}&scope=team").content.decode()
    assert 'id="usage-users"' in body and 'id="usage-projects"' in body
    assert ">member<" in body and ">owner<" in body
    assert "scripted-1" in body and "offline-shapes" in body


def test_member_cannot_open_the_team_dashboard(client, owner):
    client.force_login(owner)
    assert client.get("/dashboard/?scope=team").status_code == 403


def test_member_gets_404_for_another_users_dashboard(client, owner, member):
    client.force_login(owner)
    assert client.get(f"/dashboard/?user={member.pk}").status_code == 404


def test_bad_range_shows_the_error_and_the_default_range(client, owner):
    client.force_login(owner)
    response = client.get("/dashboard/?from=2025-03-05&to=2025-03-01")
    assert response.status_code == 200
    assert "Must not be after" in response.content.decode()


def test_dashboard_page_query_count_does_not_grow(
    client, admin_user, owner, member, django_assert_max_num_queries
):
    for day in range(1, 6):
        for user in (owner, member):
            finished(user, f"2025-03-0{day} 10:00", cost="0.01")
    client.force_login(admin_user)
    with django_assert_max_num_queries(20):
        assert client.get(f"/dashboard/?{RANGE}&scope=team").status_code == 200


def test_anonymous_is_sent_to_log_in(client):
    assert client.get("/dashboard/").status_code == 302
    assert client.post("/dashboard/budget-notice/").status_code == 302


NOTICE = "/dashboard/budget-notice/"


def test_generate_page_loads_the_budget_notice(client, owner):
    client.force_login(owner)
    body = client.get("/generate/").content.decode()
    assert 'id="budget-notice"' in body and "/dashboard/budget-notice/" in body


def test_budget_notice_shows_the_estimate_and_warns_above_80_percent(settings, client, owner):
    settings.DEFAULT_MONTHLY_BUDGET_USD = Decimal("1.00")
    finished(owner, timezone.now(), cost="0.30", estimate=False)
    client.force_login(owner)
    body = client.post(NOTICE, {"provider": "priced", "num_images": 1}).content.decode()
    assert "$0.4" in body and "warning" not in body  # 70% with this request
    body = client.post(NOTICE, {"provider": "priced", "num_images": 2}).content.decode()
    assert "$0.8" in body
    assert "This request would exceed 110% of your monthly budget." in body


def test_budget_notice_counts_running_generations_and_says_free(settings, client, owner):
    settings.DEFAULT_DAILY_IMAGE_LIMIT = 5
    live(owner, images=4)
    client.force_login(owner)
    body = client.post(NOTICE, {"provider": "offline", "num_images": 1}).content.decode()
    assert "free" in body and "Images today: 4 of 5." in body
    assert "This request reaches 100% of your daily image limit." in body


def test_budget_notice_with_unknown_input_shows_no_estimate(client, owner):
    client.force_login(owner)
    body = client.post(NOTICE, {"provider": "nope", "width": "x"}).content.decode()
    assert "unknown for this model" in body


def test_budget_notice_refuses_get(client, owner):
    # The form's values (the prompt, the CSRF token) must not travel in a URL.
    client.force_login(owner)
    assert client.get(NOTICE, {"prompt": "a secret plan"}).status_code == 405


def test_budget_notice_posts_the_form_it_reads(client, owner):
    client.force_login(owner)
    body = client.get("/generate/").content.decode()
    (notice,) = re.findall(r'<div id="budget-notice"[^>]*>', body)
    assert f'hx-post="{NOTICE}"' in notice and "hx-get" not in notice
    assert 'hx-include="#generate-area form"' in notice


def test_budget_notice_needs_the_csrf_token(owner):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner)
    assert strict.post(NOTICE, {"provider": "offline"}).status_code == 403


def test_no_read_on_the_generate_page_carries_the_prompt_in_a_url(client, owner):
    """Every htmx GET on the rendered Generate page: none includes the prompt field (or the
    whole form, which holds it and the CSRF token)."""
    client.force_login(owner)
    body = client.get("/generate/").content.decode()
    for tag in re.findall(r"<[a-z]+\b[^>]*\bhx-get=[^>]*>", body):
        include = re.search(r'hx-include="([^"]*)"', tag)
        if include:
            # Each selector names fields, never a whole form (which holds the prompt and the
            # CSRF token): "#generate-form [name=operation]" is one field of it.
            for selector in include.group(1).split(","):
                selector = selector.strip()
                assert "prompt" not in selector, tag
                assert not re.search(r"(^|[\s>])([#.][\w-]*)?form$", selector), tag
        assert "prompt" not in re.search(r'hx-get="([^"]*)"', tag).group(1), tag
