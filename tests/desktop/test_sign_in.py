"""Desktop mode's sign-in (imagegen/core/desktop.py): the window's one-time ticket signs the
one local user in once; nothing else does, and outside desktop mode the route is a 404."""

import os
import time

import pytest
from django.test import Client
from django.urls import reverse

from imagegen.core.desktop import digest, issue_ticket, redeem_ticket, sign_in_form
from tests.users import make_user

URL = reverse("desktop-sign-in")


@pytest.fixture
def desktop(settings, tmp_path, db):
    """Desktop mode as desktop.py configures it, with its user ("me") and a fresh ticket."""
    settings.DESKTOP = True
    settings.DESKTOP_USER = "me"
    settings.DESKTOP_TICKET_FILE = str(tmp_path / "sign-in-ticket")
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    user = make_user("me", is_staff=True, is_superuser=True)
    user.set_unusable_password()
    user.save()
    return issue_ticket(tmp_path / "sign-in-ticket")


def window():
    return Client(HTTP_HOST="127.0.0.1")


def signed_in_as(client) -> str | None:
    response = client.get(reverse("generate"))
    return response.context["user"].username if response.status_code == 200 else None


def test_the_ticket_signs_the_desktop_user_in_and_opens_the_studio(desktop):
    client = window()
    response = client.post(URL, {"ticket": desktop})
    assert response.status_code == 302
    assert response["Location"] == reverse("generate")
    assert response["Cache-Control"].startswith("max-age=0")
    assert signed_in_as(client) == "me"


def test_a_ticket_works_once(desktop):
    window().post(URL, {"ticket": desktop})
    again = window()
    response = again.post(URL, {"ticket": desktop})
    assert response.status_code == 403
    assert b"cannot be used" in response.content
    assert b"python desktop.py" in response.content
    assert signed_in_as(again) is None


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("ticket=", 403),
        ("ticket=x", 403),
        ("ticket=" + "a" * 43, 403),
        ("ticket=%ff%fe", 403),  # not UTF-8
        ("ticket=%00", 400),  # refused before any view (RejectNulInQueryMiddleware)
        ("ticket=x&ticket=y", 403),
    ],
)
def test_a_wrong_ticket_is_refused_and_leaves_the_real_one_usable(desktop, query, status):
    client = window()
    body = query.encode()
    response = client.post(URL, body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == (403 if status == 400 else status)
    assert client.post(f"{URL}?{query}").status_code == status  # nor in the query string
    assert signed_in_as(client) is None
    assert window().post(URL, {"ticket": desktop}).status_code == 302


def test_no_ticket_parameter_is_refused(desktop):
    assert window().post(URL).status_code == 403


def test_an_expired_ticket_is_refused(desktop, settings):
    path = settings.DESKTOP_TICKET_FILE
    old = time.time() - settings.DESKTOP_TICKET_SECONDS - 1
    os.utime(path, (old, old))
    assert window().post(URL, {"ticket": desktop}).status_code == 403
    assert not os.path.exists(path)  # spent all the same


def test_an_inactive_or_missing_desktop_user_is_not_signed_in(desktop, settings, django_user_model):
    django_user_model.objects.filter(username="me").update(is_active=False)
    assert window().post(URL, {"ticket": desktop}).status_code == 403
    settings.DESKTOP_USER = "somebody-else"
    assert window().post(URL, {"ticket": desktop}).status_code == 403


def test_only_a_post_signs_in_so_the_ticket_is_in_no_url(desktop):
    assert window().get(URL, {"ticket": desktop}).status_code == 405
    assert window().post(URL, {"ticket": desktop}).status_code == 302


def test_the_post_needs_no_csrf_token_the_ticket_is_the_proof(desktop):
    client = Client(HTTP_HOST="127.0.0.1", enforce_csrf_checks=True)
    assert client.post(URL, {"ticket": desktop}).status_code == 302


def test_the_launchers_form_posts_the_ticket_escaped():
    page = sign_in_form("http://127.0.0.1:1234/desktop/sign-in/", 'a"b<c')
    assert 'method="post" action="http://127.0.0.1:1234/desktop/sign-in/"' in page
    assert 'value="a&quot;b&lt;c"' in page
    assert "document.forms[0].submit()" in page


def test_other_clients_see_the_login_page_with_a_word_on_desktop_mode(desktop):
    response = window().get("/", follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("login"))
    assert b"desktop mode" in response.content


def test_a_host_other_than_the_loopback_address_is_refused(desktop):
    for host in ("evil.example", "localhost", "127.0.0.1.nip.io", "[::1]"):
        response = Client(HTTP_HOST=host).post(URL, {"ticket": desktop})
        assert response.status_code == 400, host
    assert window().post(URL, {"ticket": desktop}).status_code == 302


def test_the_signed_in_window_has_no_log_out(desktop):
    client = window()
    client.post(URL, {"ticket": desktop})
    page = client.get(reverse("generate")).content.decode()
    assert 'action="/logout/"' not in page


def test_outside_desktop_mode_the_route_does_not_exist(desktop, settings):
    settings.DESKTOP = False
    assert window().post(URL, {"ticket": desktop}).status_code == 404
    settings.DESKTOP = True
    assert window().post(URL, {"ticket": desktop}).status_code == 302


def test_the_ticket_file_holds_only_a_digest_readable_by_its_owner(tmp_path):
    path = tmp_path / "ticket"
    ticket = issue_ticket(path)
    assert path.read_text() == digest(ticket)
    assert ticket not in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(ticket) >= 43  # 32 random bytes
    assert issue_ticket(path) != ticket  # each start draws a new one


def test_redeeming_spends_the_file_so_a_racing_second_request_fails(tmp_path):
    path = tmp_path / "ticket"
    ticket = issue_ticket(path)
    assert redeem_ticket(ticket, path, 60)
    assert not path.exists()
    assert not redeem_ticket(ticket, path, 60)
