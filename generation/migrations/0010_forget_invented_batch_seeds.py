"""Forget the per-image seeds earlier versions invented for fal and Replicate batches.

Those providers report one seed per request; the old code stored ``seed + i`` on image i of a
batch as if it were that image's own seed, so the gallery showed it, files embedded it and a
remix reused it. An image seed that is exactly ``batch seed + its index`` on a fal or
Replicate batch is such an invention: it is cleared (the generation keeps the batch seed,
which the gallery shows as the batch's). Seeds that do not follow the pattern are kept.
"""

from django.db import migrations

PROVIDERS = ("fal", "replicate")


def forget_invented_seeds(apps, schema_editor):
    Generation = apps.get_model("generation", "Generation")
    Image = apps.get_model("gallery", "Image")
    batches = Generation.objects.filter(
        provider__in=PROVIDERS, num_images__gt=1, seed__isnull=False
    ).values_list("pk", "seed")
    for generation_id, seed in batches.iterator(chunk_size=500):
        images = Image.objects.filter(generation_id=generation_id).order_by("pk")
        invented = [
            image_id
            for index, (image_id, image_seed) in enumerate(images.values_list("pk", "seed"))
            if image_seed == seed + index
        ]
        if invented:
            Image.objects.filter(pk__in=invented).update(seed=None)


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0009_catalog_price_edited"),
        ("gallery", "0005_image_project_rating"),
    ]

    operations = [migrations.RunPython(forget_invented_seeds, migrations.RunPython.noop)]
