"""Gallery HTML: the browsing page (filters, endless scroll, selection, lightbox), the
lightbox's details panel, and the project page (the gallery scoped to one project). Data comes
from the same listing code as GET /api/gallery."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from gallery.listing import (
    ORIENTATIONS,
    SORTS,
    GalleryQuerySerializer,
    InvalidCursor,
    page_size_for,
    visible_page,
)
from gallery.models import Image
from gallery.services import move_targets
from imagegen.providers import all_providers
from projects.models import Project, Role


def browse_context(request, base_filters: dict | None = None) -> dict:
    """One page of tiles for the request's filters (plus ``base_filters``), the next page's
    URL, and the filter errors if any."""
    query = request.GET.copy()
    for key, value in (base_filters or {}).items():
        query[key] = str(value)
    form = GalleryQuerySerializer.from_query(query)
    images, next_url, errors = [], None, {}
    if form.is_valid():
        params = form.validated_data
        size = page_size_for(request.user, params.get("page_size"))
        try:
            page = visible_page(
                request.user, Image.objects.select_related("generation"), params, size
            )
        except InvalidCursor as exc:
            errors = exc.as_body()
        else:
            images = page.items
            if page.next_cursor:
                query["cursor"] = page.next_cursor
                next_url = f"{reverse('gallery')}?{query.urlencode()}"
    else:
        errors = form.errors
    return {
        "images": images,
        "next_url": next_url,
        "filter_errors": errors,
        "filters": request.GET,
        "tags_selected": request.GET.getlist("tag"),
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
    }


@login_required
@require_GET
def gallery_page(request):
    """The gallery; htmx requests (filter changes, endless scroll) get only the tiles."""
    context = browse_context(request)
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "gallery/_tiles.html", context)
    context.update(browser_options(request.user))
    status = 400 if context["filter_errors"] else 200
    return render(request, "gallery/index.html", context, status=status)


@login_required
@require_GET
def image_panel(request, pk):
    """The lightbox's details panel for one visible image."""
    image = get_object_or_404(
        Image.objects.for_user(request.user, "view")
        .select_related("generation", "owner", "project")
        .prefetch_related("tags"),
        pk=pk,
    )
    return render(
        request,
        "gallery/_details.html",
        {
            "image": image,
            "generation": image.generation,
            "can_change": Image.objects.allows(request.user, "change", image),
        },
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
            "grid_source": f"/gallery/?project={project.pk}",
        }
    )
    return render(request, "projects/detail.html", context)
