"""Submit through the API and run the job inline; return the finished generation as JSON."""

from gallery.models import Image


def generate(client, run_jobs, **payload):
    body = run_jobs(client, payload).json()
    return client.get(f"/api/generation/{body['id']}").json()


def stored_image_count(generation_id) -> int:
    return Image.objects.filter(generation_id=generation_id).count()
