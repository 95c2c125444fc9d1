"""The real settings with a storage that can simulate a full disk (see faulty_storage.py)."""

from imagegen.settings import *  # noqa: F403
from imagegen.settings import STORAGES

STORAGES = {
    **STORAGES,
    "default": {
        **STORAGES["default"],
        "BACKEND": "tests.reliability.faulty_storage.DiskFullStorage",
    },
}
