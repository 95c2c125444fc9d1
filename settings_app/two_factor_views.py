"""The two-factor sign-in page under Settings: set up an authenticator app (QR code and the
secret as text, confirmed with a code), see the recovery codes once, make new ones, turn it
off. The rules live in settings_app/two_factor.py; these views parse and render.

Every answer here is ``never_cache``: the set-up page carries the secret and the codes pages
the recovery codes, for their owner's eyes once."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from settings_app import two_factor
from settings_app.forms import TwoFactorCodeForm, TwoFactorDisableForm
from settings_app.middleware import must_enrol
from settings_app.signin import session_backend


def _page(
    request, *, confirm_form=None, codes_form=None, disable_form=None, error=None, status=200
):
    user = request.user
    device = two_factor.pending_enrolment(user)
    context = {
        "applies": two_factor.applies(user, session_backend(request)),
        "enabled": two_factor.is_enabled(user),
        "required": settings.MFA_REQUIRED_FOR_STAFF and must_enrol(request),
        "pending": device is not None,
        "qr_svg": two_factor.qr_svg(device) if device else "",
        "secret": two_factor.secret_text(device) if device else "",
        "codes_left": two_factor.recovery_codes_left(user),
        "confirm_form": confirm_form or TwoFactorCodeForm(),
        "codes_form": codes_form or TwoFactorCodeForm(),
        "disable_form": disable_form or TwoFactorDisableForm(),
        "error": error,
    }
    return render(request, "settings_app/two_factor.html", context, status=status)


def _codes(request, codes, *, fresh: bool):
    return render(
        request, "settings_app/two_factor_codes.html", {"codes": codes, "fresh_setup": fresh}
    )


def _apply_errors(form, error: ValidationError):
    """Field errors onto their fields; a message without a field onto the form."""
    if hasattr(error, "error_dict"):
        for field, messages_ in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages_)
    else:
        form.add_error(None, error.messages)


def _form_error(form) -> str | None:
    return " ".join(form.non_field_errors()) or None


@never_cache
@login_required
def two_factor_page(request):
    """GET: the state and what can be done. POST: start setting up an authenticator."""
    if request.method != "POST":
        return _page(request)
    try:
        two_factor.start_enrolment(request.user)
    except ValidationError as error:
        return _page(request, error=" ".join(error.messages), status=400)
    return redirect("two-factor")


@never_cache
@login_required
@require_POST
@sensitive_post_parameters("code")
def two_factor_confirm(request):
    """Confirm the new authenticator with a code from it; show the recovery codes once."""
    return _codes_for_a_code(request, two_factor.confirm_enrolment, "confirm_form", fresh=True)


@never_cache
@login_required
@require_POST
@sensitive_post_parameters("code")
def two_factor_recovery_codes(request):
    """New recovery codes for a current authenticator code; the old ones stop working."""
    return _codes_for_a_code(
        request, two_factor.regenerate_recovery_codes, "codes_form", fresh=False
    )


def _codes_for_a_code(request, make_codes, form_name: str, *, fresh: bool):
    """A code posted, then ``make_codes(user, code)`` shown once; else the page again with
    the form (``form_name``) and its error (400)."""
    form = TwoFactorCodeForm(request.POST)
    if form.is_valid():
        try:
            codes = make_codes(request.user, form.cleaned_data["code"])
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            return _codes(request, codes, fresh=fresh)
    return _page(request, **{form_name: form}, error=_form_error(form), status=400)


@never_cache
@login_required
@require_POST
@sensitive_post_parameters("password", "code")
def two_factor_disable(request):
    """Turn two-factor sign-in off, with the password and a code."""
    form = TwoFactorDisableForm(request.POST)
    if form.is_valid():
        try:
            two_factor.disable(
                request.user, form.cleaned_data["password"], form.cleaned_data["code"]
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, "Two-factor sign-in is off.")
            return redirect("two-factor")
    return _page(request, disable_form=form, error=_form_error(form), status=400)
