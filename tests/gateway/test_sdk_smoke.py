import base64
import io

import pytest
from PIL import Image as PILImage

from gallery.models import Image

pytestmark = pytest.mark.django_db(transaction=True)


def test_generate(sdk, owner):
    result = sdk.images.generate(model="offline-shapes", prompt="a red fox", size="512x512")
    data = base64.b64decode(result.data[0].b64_json)
    assert PILImage.open(io.BytesIO(data)).size == (512, 512)
    assert Image.objects.get(owner=owner).origin == "api"
