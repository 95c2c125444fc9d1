"""HTML pages for generating: the form beside a feed of the user's generations, and the
fragments generate.js fetches (one card by id, the model's info, the price line).

A script submits the form with ``Accept: application/json`` and gets the new cards (201) or
the field errors (200, ``errors``) as JSON, so the form itself is never swapped; without a
script the form posts as usual (a redirect to the generation, or the page with its errors)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_POST

from generation import page, services
from generation.forms import GenerateForm, model_choices, model_note, size_or_none
from generation.models import Generation
from generation.usage.policy import not_offered, offered_models
from generation.validation import build_request, unoffered_model_message
from imagegen.providers import DEFAULT_PROVIDER, all_providers, get_provider
from imagegen.providers.base import Operation
from projects.models import Project
from settings_app.keys import has_usable_key, missing_key_message


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _wants_fragment(request) -> bool:
    """generate.js (and htmx) ask for a card as a fragment; a plain form post gets a page."""
    return bool(request.htmx) or request.headers.get("X-Requested-With") == "fetch"


def _provider(name):
    return get_provider(name or "") or get_provider(DEFAULT_PROVIDER)


def _cards_html(request, generations) -> str:
    # Read again: a job may already have started (or, run inline, finished) since commit.
    generations = list(
        Generation.objects.filter(pk__in=[g.pk for g in generations])
        .select_related("project", "backend")
        .defer("backend__secret")
        .prefetch_related("images", "inputs")
        .order_by("-pk")
    )
    page.for_cards(request.user, generations)
    return "".join(
        render_to_string("generation/_card.html", {"generation": g}, request=request)
        for g in generations
    )


def _project_initial(user, raw) -> int | None:
    """``?project=<id>`` ("Generate into this project"): the project when the user may
    generate into it; anything else is ignored."""
    if not (raw and raw.isascii() and raw.isdigit() and len(raw) < 19):
        return None
    project = Project.objects.for_user(user, "contribute").filter(pk=int(raw)).first()
    return project.pk if project else None


@login_required
def generate_page(request):
    """GET: the form and the feed. POST: validate and queue; new cards for the feed."""
    status = 200
    operation_notice = ""
    if request.method == "POST":
        form = GenerateForm(request.POST, request.FILES, user=request.user)
        generations = []
        if form.is_valid():
            try:
                generations = services.create_generations(request.user, form.cleaned_data)
            except ValidationError as error:
                form.apply_errors(error)
        else:
            form.add_submission_errors()
        if _wants_json(request):
            if generations:
                return JsonResponse(
                    {
                        "ids": [g.pk for g in generations],
                        "cards": _cards_html(request, generations),
                    },
                    status=201,
                )
            provider = _provider(form.data.get("provider"))
            return JsonResponse(
                {
                    "errors": {field: list(msgs) for field, msgs in form.errors.items()},
                    # The page shows its linked callout instead of repeating the words.
                    "missing_key": not has_usable_key(request.user, provider),
                },
                # 200: the script shows them; a 4xx would also be logged as a console error.
                status=200,
            )
        if generations:
            return redirect("generation-detail", pk=generations[0].pk)
        status = 400
    else:
        initial = services.form_initial(request.user, remix=request.GET.get("remix"))
        project = _project_initial(request.user, request.GET.get("project"))
        if project:
            initial["project"] = project
        operation_notice = _operation_initial(request, initial)
        form = GenerateForm(user=request.user, initial=initial)
    provider_name = form.data.get("provider") or form.initial.get("provider")
    selected_model = form.data.get("model") or form.initial.get("model")
    provider = _provider(provider_name)
    context = {
        "form": form,
        "models": model_choices(provider_name, request.user),
        "selected_model": selected_model,
        # A remix of a model no longer offered: say why it is not in the picker.
        "model_notice": unoffered_model_message(provider_name, selected_model),
        "feed": page.for_cards(request.user, page.feed(request.user)),
        "has_key": has_usable_key(request.user, provider),
        "provider_label": provider.label,
        "has_enhance_key": page.has_enhance_key(request.user),
        # Models the user's groups do not allow: listed with the reason, never in the picker.
        "not_offered": not_offered(request.user, all_providers()),
    }
    context.update(_model_info_context(request, provider, selected_model))
    context.update(_operation_context(request, form, context["spec"]))
    context["operation_notice"] = operation_notice
    if context["spec"] is not None:
        width, height = size_or_none(str(form["width"].value()), str(form["height"].value()))
        context["line"] = page.price_line(provider, context["spec"], width, height, {})
    return render(request, "generation/generate.html", context, status=status)


def _operation_initial(request, initial) -> str:
    """``?operation=…&input=…`` (the action bar's Edit, Use as reference, Outpaint, Fix a
    part): that operation, on a model that does it, with those images in the input tray
    (ids the user may not view are dropped silently). Returns a notice when no model the
    user can run does the operation (the form then starts on Generate)."""
    outpaint = initial.pop("outpaint", None)  # a remix of an outpaint: its margins or ratio
    if isinstance(outpaint, dict) and outpaint.get("aspect_ratio"):
        initial.update(outpaint_mode="ratio", outpaint_ratio=str(outpaint["aspect_ratio"]))
    elif isinstance(outpaint, dict):
        initial["outpaint_mode"] = "margins"
        initial.update({f"outpaint_{side}": outpaint.get(side) or 0 for side in page.SIDES})
    operation = page.operation_or_none(request.GET.get("operation"))
    ids = page.query_ids(request.GET.getlist("input"))
    if ids:
        initial["input_images"] = [image.pk for image in page.tray_images(request.user, ids)]
    if operation in (None, Operation.GENERATE):
        return ""
    chosen = page.model_for(
        request.user, operation, initial.get("provider"), initial.get("model") or ""
    )
    if chosen is None:
        return (
            f"No model you can use does {page.LABELS[operation].lower()}; choose another provider."
        )
    initial["provider"], initial["model"] = chosen
    initial["operation"] = operation
    return ""


def _operation_context(request, form, spec) -> dict:
    """The operation selector, the input tray and the mask editor's starting state."""
    operation = form["operation"].value() or Operation.GENERATE
    if page.operation_or_none(operation) is None or (spec is not None and not spec.does(operation)):
        operation = Operation.GENERATE
    ids = page.query_ids(str(pk) for pk in form["input_images"].value() or [])
    tray = page.tray_images(request.user, ids)
    outpaint_mode = form["outpaint_mode"].value() or "ratio"
    return {
        "operations": [
            {
                "value": value,
                "label": label,
                "offered": spec is not None and spec.does(value),
                "checked": value == operation,
            }
            for value, label in page.OPERATIONS
        ],
        "operation": operation,
        # A model that only generates has nothing to choose; one that only upscales (say)
        # shows its one operation, so the form says what it will do.
        "show_picker": spec is not None and list(spec.operations) != [Operation.GENERATE],
        "show": page.sections(spec, operation),
        "tray": tray,
        "max_inputs": page.max_inputs(spec, operation),
        "takes_prompt": page.takes_prompt(spec),
        "outpaint_mode": outpaint_mode,
        "outpaint_ratios": _ratios(form["outpaint_ratio"].value()),
        "open_mask": request.method != "POST" and operation == Operation.INPAINT and bool(tray),
    }


OUTPAINT_RATIOS = ("16:9", "3:2", "4:3", "1:1", "3:4", "2:3", "9:16", "21:9")


def _ratios(chosen) -> tuple[str, ...]:
    """The outpaint ratio chips, with a remixed ratio that is not among them."""
    chosen = str(chosen or "").strip()
    if chosen and chosen not in OUTPAINT_RATIOS and page.RATIO_TEXT.fullmatch(chosen):
        return (*OUTPAINT_RATIOS, chosen)
    return OUTPAINT_RATIOS


@login_required
@require_GET
def model_options(request):
    """The model <select> options for the chosen provider (swapped in by htmx)."""
    return render(
        request,
        "generation/_model_options.html",
        {"models": model_choices(request.GET.get("provider"), request.user)},
    )


def _model_info_context(request, provider, model_id) -> dict:
    offered = offered_models(request.user, provider)
    spec = next((m for m in offered if m.id == model_id), None) or next(iter(offered), None)
    has_key = has_usable_key(request.user, provider)
    return {
        "spec": spec,
        "takes_prompt": page.takes_prompt(spec),
        "chips": page.aspect_chips(spec) if spec else [],
        "model_note": model_note(spec) if spec else "",
        "needs_key": provider.requires_key,
        "has_key": has_key,
        "missing_key": missing_key_message(provider.label),
        "none_offered": not offered,
        "provider_label": provider.label,
        "can_generate": has_key and bool(offered),
    }


@login_required
@require_GET
def model_info(request):
    """What the chosen model accepts (aspect chips, options), whether the user has a key for
    it; the model's options land in the Advanced section (an htmx out-of-band swap)."""
    provider = _provider(request.GET.get("provider"))
    context = _model_info_context(request, provider, request.GET.get("model") or "")
    context["oob"] = True
    return render(request, "generation/_model_info.html", context)


@login_required
@require_GET
def price(request):
    """The price line for the chosen model at the chosen size and quality (GET: only the
    provider, model, size and options are sent, never the prompt)."""
    provider = _provider(request.GET.get("provider"))
    offered = offered_models(request.user, provider)
    model_id = request.GET.get("model") or ""
    spec = next((m for m in offered if m.id == model_id), None) or next(iter(offered), None)
    line = None
    if spec is not None:
        params = {
            key.removeprefix("param_"): value
            for key, value in request.GET.items()
            if key.startswith("param_") and value
        }
        operation = page.operation_or_none(request.GET.get("operation")) or Operation.GENERATE
        if operation == Operation.GENERATE:
            width, height = size_or_none(request.GET.get("width"), request.GET.get("height"))
        else:
            width, height = _result_size(request)
        line = page.price_line(provider, spec, width, height, params, operation)
    return render(request, "generation/_price.html", {"line": line})


def _result_size(request) -> tuple[int | None, int | None]:
    """The size an image operation returns for the query's inputs (factor, margins): the
    size it is priced at; (None, None) while the draft is not a valid submission yet."""
    form = GenerateForm(request.GET, user=request.user, prompt_required=False)
    if not form.is_valid():
        return None, None
    try:
        _, priced = build_request(request.user, form.cleaned_data, prompt_required=False)
    except ValidationError:
        return None, None
    return priced.width, priced.height


def _card_response(request, generation):
    generation = (
        Generation.objects.select_related("backend")
        .defer("backend__secret")
        .prefetch_related("images", "inputs")
        .get(pk=generation.pk)
    )
    page.for_cards(request.user, [generation])
    return render(request, "generation/_card.html", {"generation": generation})


@login_required
@require_GET
def generation_status(request, pk):
    """One generation's card in the feed (generate.js swaps it in when it changes). An upload
    is recorded as a generation but is no card: a 404, which the feed takes as "not here"."""
    generation = get_object_or_404(Generation.objects.for_user(request.user, "view").runs(), pk=pk)
    return _card_response(request, generation)


@login_required
@require_GET
def generation_detail(request, pk):
    generation = get_object_or_404(
        Generation.objects.for_user(request.user, "view")
        .runs()
        .select_related("backend")
        .defer("backend__secret")
        .prefetch_related("images", "inputs"),
        pk=pk,
    )
    page.for_cards(request.user, [generation])
    return render(request, "generation/detail.html", {"generation": generation})


@login_required
@require_POST
def generation_cancel(request, pk):
    generation = get_object_or_404(Generation.objects.for_user(request.user, "change"), pk=pk)
    try:
        services.cancel_generation(generation)
    except services.GenerationConflict:
        generation.refresh_from_db()
    if _wants_fragment(request):
        return _card_response(request, generation)
    return redirect("generation-detail", pk=pk)


@login_required
@require_POST
def generation_retry(request, pk):
    """Queue the same request again; the script gets the new card (201), a form a redirect
    to the new generation. A refusal (a key, a budget) is a 400 with the reason."""
    generation = get_object_or_404(Generation.objects.for_user(request.user, "change"), pk=pk)
    try:
        retried = services.retry_generation(generation)
    except ValidationError as error:  # a submission's field errors, said in one sentence
        reason = " ".join(error.messages)
        if _wants_fragment(request):
            return JsonResponse({"detail": reason}, status=400)
        messages.error(request, reason)
        return redirect("generation-detail", pk=pk)
    if _wants_fragment(request):
        cards = _cards_html(request, [retried])
        return JsonResponse({"ids": [retried.pk], "cards": cards}, status=201)
    return redirect("generation-detail", pk=retried.pk)
