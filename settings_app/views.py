"""The Settings page: preferences (theme for now)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from settings_app.forms import PreferencesForm
from settings_app.models import Preferences, Theme


@login_required
def settings_page(request):
    prefs = Preferences.for_user(request.user)
    form = PreferencesForm(request.POST or None, instance=prefs)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Preferences saved.")
        return redirect("settings")
    return render(request, "settings_app/index.html", {"form": form},
                  status=400 if form.errors else 200)


@login_required
@require_POST
def toggle_theme(request):
    """Flip between dark and light and remember it; answers the page to return to."""
    prefs = Preferences.for_user(request.user)
    prefs.theme = Theme.LIGHT if prefs.theme == Theme.DARK else Theme.DARK
    prefs.save(update_fields=["theme", "updated_at"])
    return redirect(request.POST.get("next") or "generate")
