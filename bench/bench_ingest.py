"""Figure 1: ingest of a 1024×1024 PNG (~2 MB) against Pillow's bare decode of the same file.

    .venv/bin/python bench/bench_ingest.py [--quick] [--repeat 40]

Ingest is what the runner does with every returned image: ``validate_image`` (size, magic
bytes, declared pixels, full decode, SHA-256) then ``store_image_files`` (original and WebP
thumbnail written to a temp storage folder). The stored files are removed between rounds
(untimed), so every round really writes. Target: p50 ≤ 1.7 × the bare decode.
"""

import io
import os
import shutil

from common import Row, base_parser, emit, fmt_ms, met, p50, ratio, samples_ms, setup_django

TARGET = 1.7


def sample_png() -> bytes:
    """A 1024×1024 RGB PNG of about 2 MB: a gradient half-blended with coarse noise."""
    from PIL import Image, ImageOps

    rng = __import__("random").Random(8)
    noise = Image.frombytes("RGB", (1024, 1024), rng.randbytes(1024 * 1024 * 3))
    gradient = Image.linear_gradient("L").resize((1024, 1024)).convert("RGB")
    picture = Image.blend(gradient, ImageOps.posterize(noise, 4), 0.5)
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def main(argv=None) -> list[Row]:
    parser = base_parser(__doc__)
    parser.add_argument("--repeat", type=int, default=None)
    args = parser.parse_args(argv)
    repeat = args.repeat or (15 if args.quick else 40)
    import tempfile

    from common import temp_sqlite_url

    folder = tempfile.mkdtemp(prefix="bench-ingest-")
    storage = setup_django(temp_sqlite_url(folder), os.path.join(folder, "storage"))
    from PIL import Image

    from gallery.services import store_image_files
    from imagegen.core.imaging import validate_image

    data = sample_png()

    def bare_decode():
        image = Image.open(io.BytesIO(data))
        image.load()

    def clear():
        for sub in ("images", "thumbnails"):
            shutil.rmtree(os.path.join(storage, sub), ignore_errors=True)

    def ingest():
        store_image_files(validate_image(data))

    # Interleave the two so both see the same machine state; clear storage outside timing.
    decode_ms, ingest_ms = [], []
    bare_decode()
    ingest()
    for _ in range(repeat):
        clear()
        decode_ms += samples_ms(bare_decode, 1, warmup=0)
        ingest_ms += samples_ms(ingest, 1, warmup=0)
    ref, value = p50(decode_ms), p50(ingest_ms)
    rows = [
        Row(
            "1",
            f"ingest 1024² PNG ({len(data) / 1e6:.1f} MB), p50 of {repeat}",
            fmt_ms(value),
            f"bare decode {fmt_ms(ref)}",
            ratio(value, ref),
            f"≤ {TARGET}× decode",
            met(value <= TARGET * ref),
        )
    ]
    shutil.rmtree(folder, ignore_errors=True)
    emit("Figure 1: ingest", rows, args.json)
    return rows


if __name__ == "__main__":
    main()
