"""Desktop mode's sign-in: the one-time ticket that lets desktop.py's window in.

desktop.py (the launcher) draws a random ticket at each start, writes only its SHA-256 to
``DESKTOP_TICKET_FILE`` (mode 0600, in the data folder) and hands the ticket itself to the
window it opens, in a form (:func:`sign_in_form`) that posts it to :func:`sign_in`. Redeeming
the ticket deletes the file, so it signs in one client once: a second request with the same
ticket, a guess, another client, or the window after ``DESKTOP_TICKET_SECONDS`` gets a 403.
The file, not process memory, holds it because `--dev`'s autoreloader restarts the web
process, and a ticket must not come back to life with it. Outside desktop mode (``DESKTOP``
unset) the route is a 404.

The server itself listens on 127.0.0.1 only and ``ALLOWED_HOSTS`` is that address alone, so
a page on another site that resolves its own name to 127.0.0.1 (DNS rebinding) is refused
with a 400 before any view runs.
"""

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.html import escape
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters

# The backend sign_in() names: the ticket, not a password, proved who this is.
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode("utf-8", "surrogatepass")).hexdigest()


def issue_ticket(path: Path) -> str:
    """Draw a ticket, store its digest at ``path`` (readable by this OS user only) and
    return the ticket. A ticket left from an earlier start is replaced."""
    ticket = secrets.token_urlsafe(32)
    temporary = path.with_name(path.name + ".new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(digest(ticket))
    os.replace(temporary, path)
    return ticket


def redeem_ticket(ticket: str, path: Path, max_age: float) -> bool:
    """True once for the ticket stored at ``path`` while it is younger than ``max_age``
    seconds; it is spent by deleting the file, which only one of two racing requests can."""
    try:
        stored = path.read_text().strip()
        issued = path.stat().st_mtime
    except (FileNotFoundError, UnicodeDecodeError):
        return False
    if not ticket or not hmac.compare_digest(stored, digest(ticket)):
        return False
    try:
        path.unlink()
    except FileNotFoundError:  # another request redeemed it between the read and here
        return False
    return time.time() - issued <= max_age


@never_cache
@csrf_exempt  # the ticket is the proof: a page that does not hold it cannot use this
@sensitive_post_parameters("ticket")
def sign_in(request):
    """Sign the desktop's one user in with the window's ticket, then open the studio.

    The ticket comes in a POST body (the launcher's page submits a form), so it is in no
    URL: not in the access log, the window's history or a Referer."""
    if not settings.DESKTOP or not settings.DESKTOP_TICKET_FILE or not settings.DESKTOP_USER:
        raise Http404
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    ticket = request.POST.get("ticket", "")
    user = get_user_model().objects.filter(username=settings.DESKTOP_USER, is_active=True).first()
    if user is None or not redeem_ticket(
        ticket, Path(settings.DESKTOP_TICKET_FILE), settings.DESKTOP_TICKET_SECONDS
    ):
        return render(request, "registration/desktop_ticket_refused.html", status=403)
    login(request, user, backend=MODEL_BACKEND)
    return redirect(settings.LOGIN_REDIRECT_URL)


def sign_in_form(action: str, ticket: str) -> str:
    """The page the launcher gives its window (or, with --browser, the browser): a form that
    posts the ticket to ``action`` at once, with a button should scripts be off."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>imagegen</title>'
        "</head><body><main>"
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="ticket" value="{escape(ticket)}">'
        '<p>Signing in to the studio…</p><button type="submit">Continue</button></form>'
        "</main><script>document.forms[0].submit()</script></body></html>"
    )
