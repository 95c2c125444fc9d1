"""HTML pages for generating: the form, live status (htmx polling) and cancel."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from generation import services
from generation.forms import GenerateForm, model_choices
from generation.models import Generation


def _recent(user):
    return Generation.objects.visible_to(user).prefetch_related("images")[:8]


@login_required
def generate_page(request):
    """GET: the form. POST: validate, queue, and show the live status panel beside it."""
    generation = None
    status = 200
    if request.method == "POST":
        form = GenerateForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                generation = services.create_generation(request.user, form.cleaned_data)
            except ValidationError as error:
                form.apply_errors(error)
        if generation is not None and not request.htmx:
            return redirect("generation-detail", pk=generation.pk)
        if generation is None and not request.htmx:
            status = 400  # htmx swaps only 2xx answers, so it gets the errors with a 200
    else:
        initial = {
            "provider": "offline",
            "steps": settings.DEFAULT_STEPS,
            "cfg_scale": settings.DEFAULT_CFG_SCALE,
        }
        if request.GET.get("remix"):  # "use these settings" from the gallery
            from gallery.services import remix_initial

            initial.update(remix_initial(request.user, request.GET["remix"]))
        form = GenerateForm(user=request.user, initial=initial)
    provider = form.data.get("provider") or form.initial.get("provider")
    context = {
        "form": form,
        "models": model_choices(provider),
        "selected_model": form.data.get("model") or form.initial.get("model"),
        "generation": generation,
        "recent": _recent(request.user),
    }
    template = "generation/_area.html" if request.htmx else "generation/generate.html"
    return render(request, template, context, status=status)


@login_required
@require_GET
def model_options(request):
    """The model <select> options for the chosen provider (swapped in by htmx)."""
    return render(request, "generation/_model_options.html",
                  {"models": model_choices(request.GET.get("provider"))})


@login_required
@require_GET
def generation_status(request, pk):
    """The status panel; it keeps polling itself until the generation has finished."""
    generation = get_object_or_404(
        Generation.objects.visible_to(request.user).prefetch_related("images"), pk=pk
    )
    return render(request, "generation/_status.html", {"generation": generation})


@login_required
@require_GET
def generation_detail(request, pk):
    generation = get_object_or_404(
        Generation.objects.visible_to(request.user).prefetch_related("images"), pk=pk
    )
    return render(request, "generation/detail.html", {"generation": generation})


@login_required
@require_POST
def generation_cancel(request, pk):
    generation = get_object_or_404(Generation.objects.visible_to(request.user), pk=pk)
    try:
        services.cancel_generation(generation)
    except services.GenerationConflict:
        generation.refresh_from_db()
    if request.htmx:
        return render(request, "generation/_status.html", {"generation": generation})
    return redirect("generation-detail", pk=pk)
