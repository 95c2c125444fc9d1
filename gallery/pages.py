"""Gallery HTML: the browsing page (search, filters as chips, result count, justified tiles
grouped by day, selection mode, lightbox, uploads), the lightbox's details panel with the
image's lineage, the action bar's project picker and its "Edit and more" menu, and the project
page (the gallery scoped to one project). Data comes from the same listing code as
GET /api/gallery."""

import datetime

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import formats, timezone
from django.views.decorators.http import require_GET

from gallery import lineage
from gallery.listing import (
    COUNT_CAP,
    ORIENTATIONS,
    SORTS,
    GalleryQuerySerializer,
    InvalidCursor,
    count_visible,
    page_size_for,
    visible_page,
)
from gallery.models import Image, Origin
from gallery.services import move_targets
from gallery.templatetags.image_actions import assets_loaded
from imagegen.providers import DEFAULT_PROVIDER, all_providers
from imagegen.providers.base import Operation
from projects.models import Project, Role
from settings_app.keys import has_usable_key
from settings_app.models import Preferences, policies_allow, restricting_policies

# The filters a user sets in the Filters panel (and removes as chips); q is the search box.
FILTERS = (
    "project",
    "provider",
    "model",
    "favorite",
    "rating_min",
    "tag",
    "created_after",
    "created_before",
    "orientation",
    "owner",
    "origin",
)
# Not filters: where a page starts, how it is sorted, and the day the previous page ended on.
AFTER_DAY = "after_day"


def day_label(day: datetime.date, today: datetime.date) -> str:
    """ "Today", "Yesterday", else "3 December 2026"."""
    if day == today:
        return "Today"
    if day == today - datetime.timedelta(days=1):
        return "Yesterday"
    return formats.date_format(day, "j F Y")


def tile_entries(images, sort: str, after_day: str | None) -> list[dict]:
    """The page's tiles, each with the header of its day when a new day starts there (newest
    first only); ``after_day``: the day the previous page ended on (no header repeated)."""
    today = timezone.localdate()
    previous = after_day
    entries = []
    for image in images:
        day = timezone.localtime(image.created_at).date()
        entry = {"image": image, "day": day.isoformat(), "header": None}
        if sort == "newest" and day.isoformat() != previous:
            entry["header"] = day_label(day, today)
        previous = day.isoformat()
        entries.append(entry)
    return entries


def mark_permissions(user, images) -> None:
    """Set ``can_change`` and ``can_move`` on each image (two queries for the page), which the
    action bar reads instead of asking per image."""
    ids = [image.pk for image in images]
    change = set(
        Image.objects.for_user(user, "change").filter(pk__in=ids).values_list("pk", flat=True)
    )
    move = set(Image.objects.for_user(user, "move").filter(pk__in=ids).values_list("pk", flat=True))
    for image in images:
        image.can_change = image.pk in change
        image.can_move = image.pk in move


def count_text(count: int) -> str:
    if count > COUNT_CAP:
        return f"More than {COUNT_CAP:,} images"
    return f"{count:,} image{'' if count == 1 else 's'}"


def filter_chips(user, params: dict) -> list[dict]:
    """One removable chip per active filter: {name, value, label}."""
    chips = []
    labels = {
        "provider": "Provider",
        "model": "Model",
        "rating_min": "Rating",
        "created_after": "From",
        "created_before": "Before",
        "orientation": "Orientation",
        "owner": "Owner",
    }
    providers = {p.name: p.label for p in all_providers()}
    for name in FILTERS:
        raw = params.getlist(name) if name == "tag" else [params.get(name, "")]
        for value in raw:
            if not value.strip():
                continue
            if name == "project":
                if value == "none":
                    label = "No project"
                else:
                    project = (
                        Project.objects.for_user(user, "view").filter(pk=value).only("name").first()
                        if value.isascii() and value.isdigit()
                        else None
                    )
                    label = f"Project: {project.name if project else value}"
            elif name == "favorite":
                label = "Favorites" if value == "true" else "Not favorites"
            elif name == "origin":
                label = dict(Origin.choices).get(value, f"Origin: {value}")
            elif name == "tag":
                label = f"Tag: {value}"
            elif name == "rating_min":
                label = f"Rating ≥ {value}★"
            elif name == "provider":
                label = f"Provider: {providers.get(value, value)}"
            else:
                label = f"{labels[name]}: {value}"
            chips.append({"name": name, "value": value, "label": label})
    return chips


def browse_context(request, base_filters: dict | None = None) -> dict:
    """One page of tiles for the request's filters (plus ``base_filters``), the next page's
    URL, the filter errors if any, and on a first page the count and the active filters."""
    query = request.GET.copy()
    after_day = query.pop(AFTER_DAY, [None])[-1]
    for key, value in (base_filters or {}).items():
        query[key] = str(value)
    form = GalleryQuerySerializer.from_query(query)
    images, next_url, errors, count, sort = [], None, {}, None, "newest"
    first_page = not request.GET.get("cursor")
    if form.is_valid():
        params = form.validated_data
        sort = params["sort"]
        size = page_size_for(request.user, params.get("page_size"))
        try:
            page = visible_page(
                request.user, Image.objects.select_related("generation"), params, size
            )
        except InvalidCursor as exc:
            errors = exc.as_body()
        else:
            images = page.items
            mark_permissions(request.user, images)
            for image in images:
                image.label = display_name(image)
            if page.next_cursor:
                query["cursor"] = page.next_cursor
                if images:
                    query[AFTER_DAY] = timezone.localtime(images[-1].created_at).date().isoformat()
                next_url = f"{reverse('gallery')}?{query.urlencode()}"
            if first_page:
                count = count_visible(request.user, Image.objects.all(), params, cap=COUNT_CAP)
    else:
        errors = form.errors
    active = [name for name in (*FILTERS, "q") if any(v.strip() for v in request.GET.getlist(name))]
    chips = filter_chips(request.user, request.GET) if first_page else []
    return {
        "entries": tile_entries(images, sort, after_day),
        "images": images,
        "next_url": next_url,
        "filter_errors": errors,
        "filters": request.GET,
        "tags_selected": [t for t in request.GET.getlist("tag") if t.strip()],
        "chips": chips,
        "filtered": bool(active),
        "filters_active": len(chips),
        "first_page": first_page,
        "count": count,
        "count_text": count_text(count) if count is not None else "",
        "sort": sort,
    }


def browser_options(user) -> dict:
    """What the filter bar and the bulk bar offer: projects, providers, sorts."""
    visible = list(Project.objects.for_user(user, "view").only("pk", "name", "owner_id"))
    writable = set(Project.objects.for_user(user, "contribute").values_list("pk", flat=True))
    return {
        "projects": visible,
        "writable_projects": [p for p in visible if p.pk in writable],
        "providers": [(p.name, p.label) for p in all_providers()],
        "sorts": list(SORTS),
        "orientations": ORIENTATIONS,
        "origins": Origin.choices,
    }


@login_required
@require_GET
def gallery_page(request):
    """The gallery; htmx requests (filter changes, endless scroll, new images) get only the
    tiles, plus on a first page the count and the chips (out of band)."""
    context = browse_context(request)
    if request.htmx and not request.htmx.history_restore_request:
        assets_loaded(request)  # the page has the action bar's files already
        context["oob"] = context["first_page"]
        return render(request, "gallery/_tiles.html", context)
    context.update(browser_options(request.user))
    status = 400 if context["filter_errors"] else 200
    return render(request, "gallery/index.html", context, status=status)


# Operations whose result owes nothing to a prompt, a seed, steps or guidance (nor an upload).
PROMPTLESS = (Operation.UPSCALE, Operation.REMOVE_BACKGROUND, Origin.UPLOAD)

# What made an image, in words: the details panel, the lineage and the tiles' names.
MADE_BY = {
    Operation.GENERATE: "Generated",
    Operation.EDIT: "Edited",
    Operation.INPAINT: "Part repainted (inpaint)",
    Operation.OUTPAINT: "Extended (outpaint)",
    Operation.UPSCALE: "Upscaled",
    Operation.REMOVE_BACKGROUND: "Background removed",
    Origin.UPLOAD: "Uploaded",
}


def made_by(generation) -> str:
    """ "Uploaded", "Upscaled ×2", "Edited"…: the operation of the image's generation."""
    operation = generation.operation or Operation.GENERATE
    label = MADE_BY.get(operation, str(operation).replace("_", " ").capitalize())
    scale = (generation.operation_params or {}).get("scale")
    if operation == Operation.UPSCALE and scale:
        label += f" ×{scale}"
    return label


def display_name(image: Image, *, plain: bool = False) -> str:
    """What a tile or a lineage link calls the image: its title, else its prompt, else what
    made it and its number ("Upscaled ×2, image 41"; ``plain``: "Image 41", where what made
    it is shown beside the name)."""
    if image.title:
        return image.title
    if image.generation.prompt:
        return image.generation.prompt
    return f"Image {image.pk}" if plain else f"{made_by(image.generation)}, image {image.pk}"


def lineage_context(user, image: Image) -> dict:
    """The details panel's lineage: ``made_from`` (the generation's inputs, in order: each
    {state, role, id, image, name}; ``image`` only for one the user may view) and ``used_in``
    (the visible images made from it: {image, name, made_by}), from gallery.lineage."""
    parents = lineage.parents(user, image)
    children = lineage.children(user, image)
    ids = {p["image"] for p in parents if p["state"] == "present"}
    ids |= {c["image"] for c in children}
    found = (
        Image.objects.for_user(user, "view").select_related("generation").in_bulk(list(ids))
        if ids
        else {}
    )
    made_from = []
    for parent in parents:
        state = parent["state"]
        shown = found.get(parent["image"]) if state == "present" else None
        if state == "present" and shown is None:
            state = "deleted"  # gone since lineage.parents read it
        made_from.append(
            {
                "state": state,
                "role": parent["role"],
                "id": parent["image"],
                "image": shown,
                "name": display_name(shown, plain=True) if shown else "",
            }
        )
    used_in, seen = [], set()
    for child in children:
        shown = found.get(child["image"])
        if shown is None or shown.pk in seen:
            continue
        seen.add(shown.pk)
        used_in.append(
            {
                "image": shown,
                "name": display_name(shown, plain=True),
                "made_by": made_by(shown.generation),
            }
        )
    return {"made_from": made_from, "used_in": used_in}


@login_required
@require_GET
def image_panel(request, pk):
    """The lightbox's details panel for one visible image: its action bar, what made it
    (an upload, an upscale…), its parameters and its lineage ("Made from", "Used in")."""
    image = get_object_or_404(
        Image.objects.for_user(request.user, "view")
        .select_related("generation", "owner", "project")
        .prefetch_related("tags"),
        pk=pk,
    )
    assets_loaded(request)
    generation = image.generation
    uploaded = image.origin == Origin.UPLOAD
    metadata = generation.provider_metadata
    metadata = metadata if isinstance(metadata, dict) else {}
    return render(
        request,
        "gallery/_details.html",
        {
            "image": image,
            "generation": generation,
            "can_change": Image.objects.allows(request.user, "change", image),
            "uploaded": uploaded,
            "file_name": metadata.get("file_name", "") if uploaded else "",
            # Made through the /v1 gateway: the client (its User-Agent) for anyone who sees
            # the image, the client's own ``user`` field for its owner only.
            "from_api": image.origin == Origin.API,
            "client_user": generation.client_user if image.owner_id == request.user.pk else "",
            "made_by": made_by(generation),
            "operation": generation.operation or Operation.GENERATE,
            # Upscaling and background removal take no prompt, seed, steps or guidance.
            "prompted": generation.operation not in PROMPTLESS,
            "title": image.title or ("" if generation.prompt else display_name(image)),
            **lineage_context(request.user, image),
        },
    )


# What the action bar's "Edit and more" menu runs at once (after showing the price): the
# operation, the upscale factor, and the item's words.
RUNS = (
    (Operation.UPSCALE, 2, "Upscale ×2"),
    (Operation.UPSCALE, 4, "Upscale ×4"),
    (Operation.REMOVE_BACKGROUND, None, "Remove background"),
)


def run_choices(user) -> list[dict]:
    """For each of RUNS, the provider and model it runs on (ui-contract: the user's default
    provider's first model that does it, else the first provider with a usable key that
    does), or why it cannot run: {operation, scale, label, provider, model, model_label,
    provider_label, reason}."""
    prefs = Preferences.objects.filter(user=user).first()
    default = (prefs.default_provider if prefs else "") or DEFAULT_PROVIDER
    providers = sorted(all_providers(), key=lambda p: p.name != default)  # stable: registry order
    usable = {p.name: has_usable_key(user, p) for p in providers}
    policies = restricting_policies(user)  # the models the user's groups allow, as everywhere
    everything = {p.name: p.models_for(user) for p in providers}
    offered = {
        name: [m for m in models if policies_allow(policies, name, m.id)]
        for name, models in everything.items()
    }
    choices = []
    for operation, scale, label in RUNS:

        def able(spec, operation=operation, scale=scale):
            return spec.does(operation) and (scale is None or scale in spec.scales)

        item = {"operation": str(operation), "scale": scale, "label": label, "reason": ""}
        found = next(
            ((p, m) for p in providers if usable[p.name] for m in offered[p.name] if able(m)),
            None,
        )
        if found:
            provider, spec = found
            item.update(
                provider=provider.name,
                provider_label=provider.label,
                model=spec.id,
                model_label=spec.label or spec.id,
            )
        else:
            # Only providers without a usable key can be left here; named alphabetically
            # (the registry's order changes as providers are registered).
            keyless = sorted(
                (p.label for p in providers if any(able(m) for m in offered[p.name])),
                key=str.casefold,
            )
            refused = any(able(m) for models in everything.values() for m in models)
            groups = ", ".join(policy.group.name for policy in policies)
            if keyless:
                item["reason"] = (
                    f"Needs an API key for {' or '.join(keyless)} (Settings → Provider keys)."
                )
            elif refused:
                item["reason"] = f"Your groups ({groups}) don't allow a model that does this."
            else:
                item["reason"] = "No model here does this yet."
        choices.append(item)
    return choices


@login_required
@require_GET
def image_tools(request, pk):
    """The action bar's "Edit and more" menu for one visible image: links to the Generate
    page with the image as input (edit, reference, inpaint, outpaint), and upscale and
    background removal with the provider and model they run on (image_actions.js asks
    POST /api/generate/estimate for their price when the menu opens). A result goes into the
    image's project when the user may add to it."""
    image = get_object_or_404(Image.objects.for_user(request.user, "view"), pk=pk)
    writable = Project.objects.for_user(request.user, "contribute")
    project = (
        image.project_id
        if image.project_id and writable.filter(pk=image.project_id).exists()
        else None
    )
    return render(
        request,
        "gallery/_tools_menu.html",
        {"image": image, "project": project, "runs": run_choices(request.user)},
    )


@login_required
@require_GET
def image_projects(request, pk):
    """The action bar's project picker for one visible image: the projects the move accepts
    (``services.move_targets``), and "No project" when the user may move it at all."""
    image = get_object_or_404(Image.objects.for_user(request.user, "view"), pk=pk)
    return render(
        request,
        "gallery/_project_menu.html",
        {
            "image": image,
            "targets": move_targets(request.user, image),
            "movable": Image.objects.allows(request.user, "move", image),
        },
    )


@login_required
def project_page(request, pk):
    """One project: its images (the gallery scoped to it) beside the project's settings
    panel (members, roles, edit and delete forms, which post to projects' own pages)."""
    project = get_object_or_404(Project.objects.for_user(request.user, "view").with_stats(), pk=pk)
    context = browse_context(request, {"project": project.pk})
    context.update(browser_options(request.user))
    context.update(
        {
            "project": project,
            "role": project.role_of(request.user),
            "roles": Role.choices,
            "grid_source": f"{reverse('gallery')}?project={project.pk}",
        }
    )
    return render(request, "projects/detail.html", context)
