"""Races the load test found: a request acting on an image that another request deletes
between its lookup and its change answers 404, not 500."""

import pytest

from gallery import services
from gallery.models import Image
from tests.gallery.factories import make_image

pytestmark = pytest.mark.django_db


def deleted_meanwhile(monkeypatch, name):
    """Make services.<name> find its image already deleted, as a concurrent DELETE does."""
    original = getattr(services, name)

    def late(image, *args, **kwargs):
        Image.objects.filter(pk=image.pk).delete()
        return original(image, *args, **kwargs)

    monkeypatch.setattr(services, name, late)


def test_favorite_of_an_image_deleted_meanwhile_is_404(owner, owner_api, monkeypatch):
    image = make_image(owner)
    deleted_meanwhile(monkeypatch, "toggle_favorite")
    response = owner_api.post(f"/api/gallery/{image.pk}/favorite")
    assert response.status_code == 404


def test_toggle_favorite_of_a_deleted_image_raises_does_not_exist(owner):
    image = make_image(owner)
    Image.objects.filter(pk=image.pk).delete()
    with pytest.raises(Image.DoesNotExist):
        services.toggle_favorite(image)


def test_toggle_favorite_still_flips(owner):
    image = make_image(owner)
    assert services.toggle_favorite(image) is True
    assert services.toggle_favorite(image) is False
    image.refresh_from_db()
    assert image.favorite is False


@pytest.mark.parametrize("change", [{"title": "late"}, {"tags": ["late"]}, {"rating": 3}])
def test_edit_of_an_image_deleted_meanwhile_is_404(owner, owner_api, monkeypatch, change):
    image = make_image(owner)
    original = services.update_image

    def late(user, image, data):
        Image.objects.filter(pk=image.pk).delete()
        return original(user, image, data)

    monkeypatch.setattr(services, "update_image", late)
    response = owner_api.patch(f"/api/gallery/{image.pk}", change, format="json")
    assert response.status_code == 404
    assert not Image.objects.exists()
