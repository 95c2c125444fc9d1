"""Provider SDKs are imported on first use, not by every Django process (memory: bench
figure 3), and the lazy names still resolve to the real SDK objects."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_CHECK = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imagegen.settings_test")
import django
django.setup()
from django.urls import resolve
resolve("/")
import generation.prompts.enhance, imagegen.providers.openai, imagegen.providers.openrouter
import imagegen.providers.replicate
from imagegen.providers import all_providers
all_providers()
loaded = sorted({m.split(".")[0] for m in sys.modules} & {"openai", "replicate"})
sys.exit(f"imported at start-up: {loaded}" if loaded else 0)
"""


def test_django_start_up_imports_no_provider_sdk():
    result = subprocess.run(
        [sys.executable, "-c", _CHECK], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_lazy_names_resolve_to_the_sdks():
    import openai
    import replicate.exceptions

    from generation.prompts import enhance as prompt_enhance
    from imagegen.providers import openai as openai_provider
    from imagegen.providers import replicate as replicate_provider

    assert openai_provider.openai_sdk.OpenAIError is openai.OpenAIError
    assert prompt_enhance.openai.APIStatusError is openai.APIStatusError
    assert replicate_provider.ModelError is replicate.exceptions.ModelError
    assert replicate_provider._sdk_errors.ReplicateError is replicate.exceptions.ReplicateError
