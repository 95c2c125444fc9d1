"""Provider test helpers: the good key of each fake (KEYS), submitting through the API and
running the job inline (generate), counting stored images."""

from gallery.models import Image

# The environment variable and the key each fake provider accepts.
KEYS = {
    "openai": ("OPENAI_API_KEY", "sk-test-good"),
    "replicate": ("REPLICATE_API_TOKEN", "r8_test_good"),
    "fal": ("FAL_KEY", "fal-key-id:fal-key-secret"),
    "openrouter": ("OPENROUTER_API_KEY", "sk-or-v1-test-good"),
}


def generate(client, run_jobs, **payload):
    body = run_jobs(client, payload).json()
    return client.get(f"/api/generation/{body['id']}").json()


def stored_image_count(generation_id) -> int:
    return Image.objects.filter(generation_id=generation_id).count()
