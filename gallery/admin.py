from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from gallery.models import Image, Tag
from gallery.services import sync_tag_names


def thumbnail_tag(image: Image, size: int = 64):
    return format_html(
        '<img src="{}" alt="" width="{}" height="{}" class="admin-thumbnail">',
        reverse("image-thumbnail", args=[image.pk]),
        size,
        size,
    )


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "preview",
        "owner",
        "project",
        "width",
        "height",
        "format",
        "favorite",
        "rating",
        "tag_names",
        "created_at",
    ]
    list_filter = [
        "origin",
        "favorite",
        "rating",
        "format",
        "created_at",
        ("tags", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = [
        "title",
        "notes",
        "generation__prompt",
        "owner__username",
        "sha256",
        "tag_names",
    ]
    autocomplete_fields = ["tags"]
    list_select_related = ["owner", "project"]
    raw_id_fields = ["generation", "owner", "project"]
    readonly_fields = [
        "preview_large",
        "origin",
        "file",
        "thumbnail",
        "width",
        "height",
        "format",
        "bytes",
        "sha256",
        "seed",
        "tag_names",
        "created_at",
    ]
    date_hierarchy = "created_at"

    class Media:
        # A file, not a style attribute: the page CSP allows styles only from files.
        css = {"all": ["css/admin.css"]}

    @admin.display(description="Preview")
    def preview(self, obj):
        return thumbnail_tag(obj)

    @admin.display(description="Preview")
    def preview_large(self, obj):
        return thumbnail_tag(obj, 256) if obj.pk else "—"

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        sync_tag_names([form.instance.pk])  # keep the searchable copy of the tags current


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]
