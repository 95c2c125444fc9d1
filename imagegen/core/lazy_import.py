"""Provider SDKs (openai, replicate: ~30 MB with pydantic) are imported on first use.

Every Django process imports the provider modules (the registry lists them), but most
processes never call a given SDK: the web workers never run a generation, the django-q
sentinel, pusher and monitor never do anything with one. Importing them eagerly cost each of
the ~8 processes `manage.py serve` starts ~30 MB of RSS (bench figure 3).
"""

import importlib
from types import ModuleType


class LazyModule:
    """Stands for a module; the first attribute read imports it (thread-safe: the import
    system holds a per-module lock)."""

    def __init__(self, name: str):
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str):
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def lazy_module(name: str) -> LazyModule:
    return LazyModule(name)
