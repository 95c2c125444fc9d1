"""The Settings page (preferences, provider keys, team-key availability, API tokens) and
the optional sign-up page. htmx swaps one section at a time; without it, forms post and
redirect. Errors appear next to their field; no page ever shows a stored key."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from settings_app import services, two_factor
from settings_app.forms import KeyForm, PreferencesForm, SignupForm, TokenForm
from settings_app.models import ApiKey, NamedToken, Preferences, Theme
from settings_app.oidc import config as oidc_config
from settings_app.oidc import linking
from settings_app.signin import session_backend


def _key_rows(user, forms=None, results=None):
    """One row per keyed provider: the stored key (masked) or none, and its form."""
    stored = {k.provider: k for k in ApiKey.objects.for_user(user, "view").defer("secret")}
    forms, results = forms or {}, results or {}
    return [
        {
            "provider": name,
            "label": services.provider_label(name),
            "key": stored.get(name),
            "form": forms.get(name) or KeyForm(prefix=name),
            "result": results.get(name),
        }
        for name in services.keyed_provider_names()
    ]


def _tokens(user):
    return NamedToken.objects.for_user(user, "view").select_related("token")


def _page(
    request,
    *,
    form=None,
    key_forms=None,
    token_form=None,
    new_token=None,
    sso_errors=None,
    status=200,
):
    user = request.user
    context = {
        "form": form or PreferencesForm(instance=Preferences.for_user(user), user=user),
        "key_rows": _key_rows(user, key_forms),
        "team_keys": services.team_key_availability(user),
        "tokens": _tokens(user),
        "token_form": token_form or TokenForm(),
        "new_token": new_token,
        "two_factor_applies": two_factor.applies(user, session_backend(request)),
        "two_factor_on": two_factor.is_enabled(user),
        "sso": _sso_section(user, sso_errors),
    }
    return render(request, "settings_app/index.html", context, status=status)


def _sso_section(user, errors=None):
    """The Single sign-on section while OIDC is on: the account's link, or how to make one."""
    conf = oidc_config.current()
    if not conf.enabled:
        return None
    return {
        "name": conf.provider_name,
        "identity": linking.identity_of(user, conf),
        "has_password": user.has_usable_password(),
        "may_unlink": linking.may_unlink(user, conf),
        "asks_code": two_factor.is_enabled(user),
        "errors": errors or {},
    }


def _sso_errors(exc: ValidationError) -> dict:
    """{"password": [...]} for the field, {"general": [...]} for the section."""
    return exc.message_dict if hasattr(exc, "error_dict") else {"general": exc.messages}


@login_required
@require_POST
@sensitive_post_parameters("password", "code")
def sso_link(request):
    """Settings → Single sign-on → Link: the password, then on to the provider (through a
    page: the form-action CSP refuses a redirect to another site after a POST)."""
    if not oidc_config.current().enabled:
        raise Http404("Single sign-on is off.")
    try:
        linking.start(request, request.POST.get("password", ""), request.POST.get("code", ""))
    except ValidationError as exc:
        return _page(request, sso_errors=_sso_errors(exc), status=400)
    return render(
        request,
        "settings_app/sso_continue.html",
        {
            "provider_name": oidc_config.current().provider_name,
            "continue_url": reverse("oidc_authentication_init") + "?link=1",
        },
    )


@login_required
@require_POST
@sensitive_post_parameters("password")
def sso_unlink(request):
    """Settings → Single sign-on → Unlink, after the password."""
    conf = oidc_config.current()
    if not conf.enabled:
        raise Http404("Single sign-on is off.")
    try:
        linking.unlink(request, request.POST.get("password", ""))
    except ValidationError as exc:
        return _page(request, sso_errors=_sso_errors(exc), status=400)
    messages.success(request, f"Your account is no longer linked to {conf.provider_name}.")
    return redirect(reverse("settings") + "#single-sign-on")


@login_required
def settings_page(request):
    """GET: every section. POST: save the preferences."""
    if request.method != "POST":
        return _page(request)
    prefs = Preferences.for_user(request.user)
    form = PreferencesForm(request.POST, instance=prefs, user=request.user)
    if form.is_valid():
        services.update_preferences(
            request.user, {name: form.cleaned_data[name] for name in form.changed_data}
        )
        messages.success(request, "Preferences saved.")
        return redirect("settings")
    return _page(request, form=form, status=400)


def _key_row_response(request, provider, form=None, result=None, status=200):
    row = next(
        r
        for r in _key_rows(
            request.user, {provider: form} if form else None, {provider: result} if result else None
        )
        if r["provider"] == provider
    )
    if request.htmx:
        # htmx swaps only 2xx answers, so errors come back with a 200 too.
        return render(request, "settings_app/_key_row.html", {"row": row})
    if form is not None and form.errors:
        return _page(request, key_forms={provider: form}, status=status)
    return redirect("settings")


def _known_provider(provider):
    if provider not in services.keyed_provider_names():
        raise Http404("No such provider.")
    return provider


@login_required
@require_POST
def key_save(request, provider):
    """Add or replace the user's key for one provider."""
    provider = _known_provider(provider)
    form = KeyForm(request.POST, prefix=provider)
    if form.is_valid():
        try:
            services.save_api_key(request.user, provider, form.cleaned_data["api_key"])
        except ValidationError as error:
            form.add_error("api_key", error.message_dict.get("api_key") or error.messages)
    if form.errors:
        return _key_row_response(request, provider, form=form, status=400)
    if not request.htmx:
        messages.success(request, f"{services.provider_label(provider)} key saved.")
    return _key_row_response(request, provider)


@login_required
@require_POST
def key_delete(request, provider):
    """Remove the user's key for one provider."""
    provider = _known_provider(provider)
    services.delete_api_key(request.user, provider)
    if not request.htmx:
        messages.success(request, f"{services.provider_label(provider)} key removed.")
    return _key_row_response(request, provider)


@login_required
@require_POST
def key_test(request, provider):
    """Test the key this user would generate with; show the answer in words."""
    provider = _known_provider(provider)
    try:
        result = services.check_connection(request.user, provider)
        text = result.message
        if result.latency_ms is not None:
            text += f" ({result.latency_ms} ms, {result.source} key)"
        outcome = {"ok": result.ok, "message": text, "status": result.status}
    except ValidationError as error:
        outcome = {"ok": False, "message": " ".join(error.messages)}
    if not request.htmx:
        (messages.success if outcome["ok"] else messages.error)(request, outcome["message"])
    return _key_row_response(request, provider, result=outcome)


def _tokens_response(request, token_form=None, new_token=None, status=200):
    if request.htmx:
        return render(
            request,
            "settings_app/_tokens.html",
            {
                "tokens": _tokens(request.user),
                "token_form": token_form or TokenForm(),
                "new_token": new_token,
            },
        )
    if new_token is None and token_form is None:
        return redirect("settings")
    return _page(request, token_form=token_form, new_token=new_token, status=status)


@login_required
@require_POST
def token_create(request):
    """Create a named API token and show its plaintext this once."""
    form = TokenForm(request.POST)
    if form.is_valid():
        try:
            named, plaintext = services.create_named_token(request.user, form.cleaned_data["name"])
        except ValidationError as error:
            form.add_error("name", error.message_dict.get("name") or error.messages)
        else:
            return _tokens_response(request, new_token={"name": named.name, "token": plaintext})
    return _tokens_response(request, token_form=form, status=400)


@login_required
@require_POST
def token_revoke(request, pk):
    services.revoke_token(get_object_or_404(_tokens(request.user), pk=pk))
    if not request.htmx:
        messages.success(request, "Token revoked.")
    return _tokens_response(request)


@login_required
@require_POST
def toggle_theme(request):
    """Flip between dark and light and remember it; answers the page to return to."""
    prefs = Preferences.for_user(request.user)
    prefs.theme = Theme.LIGHT if prefs.theme == Theme.DARK else Theme.DARK
    prefs.save(update_fields=["theme", "updated_at"])
    target = request.POST.get("next")
    # Only back to a page of this site: an off-site "next" would make this an open redirect.
    if not target or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "generate"
    return redirect(target)


def signup(request):
    """Self sign-up, only when ALLOW_SIGNUP is on (and OIDC_ONLY off); otherwise the page
    does not exist."""
    if not settings.ALLOW_SIGNUP or settings.OIDC_ONLY:
        raise Http404("Sign-up is off.")
    if request.user.is_authenticated:
        return redirect("generate")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("generate")
    return render(
        request, "registration/signup.html", {"form": form}, status=400 if form.errors else 200
    )
