"""HTML pages for generating: the form, live status (htmx polling) and cancel."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from generation import services
from generation.forms import GenerateForm, model_choices, model_note
from generation.models import Generation
from generation.validation import unoffered_model_message
from imagegen.providers import DEFAULT_PROVIDER, get_provider
from imagegen.providers.models import PriceUnit
from settings_app.keys import has_usable_key, missing_key_message


def _recent(user):
    return Generation.objects.for_user(user, "view").prefetch_related("images")[:8]


@login_required
def generate_page(request):
    """GET: the form. POST: validate, queue, and show the live status panel beside it."""
    generation = None
    generations = []  # several when the prompt has {a|b} variations
    status = 200
    if request.method == "POST":
        form = GenerateForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                generations = services.create_generations(request.user, form.cleaned_data)
                generation = generations[0]
            except ValidationError as error:
                form.apply_errors(error)
        if generation is not None and not request.htmx:
            return redirect("generation-detail", pk=generation.pk)
        if generation is None and not request.htmx:
            status = 400  # htmx swaps only 2xx answers, so it gets the errors with a 200
    else:
        initial = services.form_initial(request.user, remix=request.GET.get("remix"))
        form = GenerateForm(user=request.user, initial=initial)
    provider = form.data.get("provider") or form.initial.get("provider")
    selected_model = form.data.get("model") or form.initial.get("model")
    context = {
        "form": form,
        "models": model_choices(provider),
        "selected_model": selected_model,
        # A remix of a model no longer offered: say why it is not in the picker.
        "model_notice": unoffered_model_message(provider, selected_model),
        "generation": generation,
        "generations": generations,
        "recent": _recent(request.user),
    }
    template = "generation/_area.html" if request.htmx else "generation/generate.html"
    return render(request, template, context, status=status)


@login_required
@require_GET
def model_options(request):
    """The model <select> options for the chosen provider (swapped in by htmx)."""
    return render(
        request,
        "generation/_model_options.html",
        {"models": model_choices(request.GET.get("provider"))},
    )


@login_required
@require_GET
def model_info(request):
    """What the chosen model accepts and costs, and whether the user has a key for it."""
    provider = get_provider(request.GET.get("provider") or "") or get_provider(DEFAULT_PROVIDER)
    offered = provider.models()
    model_id = request.GET.get("model") or ""
    spec = next((m for m in offered if m.id == model_id), None) or next(iter(offered), None)
    context = {
        "spec": spec,
        "model_note": model_note(spec) if spec else "",
        "needs_key": provider.requires_key,
        "has_key": has_usable_key(request.user, provider),
        "missing_key": missing_key_message(provider.label),
        "price_unit_label": dict(PriceUnit.choices).get(spec.price_unit, "") if spec else "",
        "none_offered": not offered,
        "provider_label": provider.label,
    }
    return render(request, "generation/_model_info.html", context)


@login_required
@require_GET
def generation_status(request, pk):
    """The status panel; it keeps polling itself until the generation has finished."""
    generation = get_object_or_404(
        Generation.objects.for_user(request.user, "view").prefetch_related("images"), pk=pk
    )
    return render(request, "generation/_status.html", {"generation": generation})


@login_required
@require_GET
def generation_detail(request, pk):
    generation = get_object_or_404(
        Generation.objects.for_user(request.user, "view").prefetch_related("images"), pk=pk
    )
    return render(request, "generation/detail.html", {"generation": generation})


@login_required
@require_POST
def generation_cancel(request, pk):
    generation = get_object_or_404(Generation.objects.for_user(request.user, "view"), pk=pk)
    try:
        services.cancel_generation(generation)
    except services.GenerationConflict:
        generation.refresh_from_db()
    if request.htmx:
        return render(request, "generation/_status.html", {"generation": generation})
    return redirect("generation-detail", pk=pk)
