"""Figure 10: image operations of the offline provider and upload preparation, each beside
the bare decode of the same input (the same-run reference).

    .venv/bin/python bench/bench_image_ops.py [--quick] [--repeat 10]

- upscale ×2 and ×4 of a 1024² PNG (Lanczos, then the PNG encode of the 2048² / 4096²
  result): what "make it print size" costs a worker thread with no GPU;
- inpaint of a 1024² PNG with a half-white mask (the prompt's pattern drawn, composited, the
  result encoded);
- prepare_upload of a 12 MP JPEG carrying EXIF with GPS (validate, full decode, lossless
  metadata strip, re-validate): what an upload costs before it is stored.
Target: prepare_upload ≤ 2.5× the decode of its input (one decode is the validation every
provider result gets; the strip re-validates). The offline operations are recorded: their
cost is the encode of a result four or sixteen times the input's pixels (a PNG while it fits
MAX_IMAGE_SIZE, else a JPEG of quality 95).
"""

import io
import shutil

from bench_ingest import sample_png  # figure 1's 1024² PNG: the same picture
from common import Row, base_parser, emit, p50, samples_ms, setup_django, versus_row

UPLOAD_TARGET = 2.5


def sample_jpeg() -> bytes:
    """4000×3000 (figure 1's picture stretched), quality 90, EXIF with a GPS block and a
    camera model."""
    from PIL import Image

    picture = Image.open(io.BytesIO(sample_png())).resize((4000, 3000))
    exif = Image.Exif()
    exif[0x010F] = "BenchCamera"
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0)}
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def main(argv=None) -> list[Row]:
    parser = base_parser(__doc__)
    parser.add_argument("--repeat", type=int, default=None)
    args = parser.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 10)
    import tempfile

    from common import temp_sqlite_url

    folder = tempfile.mkdtemp(prefix="bench-ops-")
    setup_django(temp_sqlite_url(folder))
    from PIL import Image

    from imagegen.core.imaging import prepare_upload
    from imagegen.providers.base import GenerationRequest, InputImage, Operation
    from imagegen.providers.offline import inpaint, upscale

    png = sample_png()
    jpeg = sample_jpeg()
    source = InputImage(data=png, format="PNG", width=1024, height=1024)
    half = Image.new("L", (1024, 1024), 0)
    half.paste(255, (0, 0, 512, 1024))
    out = io.BytesIO()
    half.save(out, format="PNG")
    mask = InputImage(data=out.getvalue(), format="PNG", width=1024, height=1024)
    request = GenerationRequest(
        prompt="a lighthouse at dusk",
        model="offline-shapes",
        width=1024,
        height=1024,
        seed=7,
        operation=Operation.INPAINT,
        input_images=[source],
        mask=mask,
    )

    def decode(data):
        def run():
            Image.open(io.BytesIO(data)).load()

        return run

    measures = {
        "png decode": decode(png),
        "jpeg decode": decode(jpeg),
        "upscale ×2": lambda: upscale(png, 2),
        "upscale ×4": lambda: upscale(png, 4),
        "inpaint": lambda: inpaint(request, 7),
        "prepare_upload": lambda: prepare_upload(jpeg),
    }
    times = {name: [] for name in measures}
    for call in measures.values():
        call()  # warm up
    for _ in range(repeat):  # interleaved: every measure sees the same machine state
        for name, call in measures.items():
            times[name] += samples_ms(call, 1, warmup=0)
    value = {name: p50(samples) for name, samples in times.items()}

    def row(number, what, name, reference, target=None):
        return versus_row(
            number, f"{what}, p50 of {repeat}", value, name, reference, target, "decode"
        )

    size = f"{len(png) / 1e6:.1f} MB"
    rows = [
        row("10a", f"offline upscale ×2 of a 1024² PNG ({size})", "upscale ×2", "png decode"),
        row("10b", "offline upscale ×4 of a 1024² PNG", "upscale ×4", "png decode"),
        row("10c", "offline inpaint of a 1024² PNG, half masked", "inpaint", "png decode"),
        row(
            "10d",
            f"prepare_upload of a 12 MP JPEG with GPS ({len(jpeg) / 1e6:.1f} MB)",
            "prepare_upload",
            "jpeg decode",
            UPLOAD_TARGET,
        ),
    ]
    shutil.rmtree(folder, ignore_errors=True)
    emit("Figure 10: image operations", rows, args.json)
    return rows


if __name__ == "__main__":
    main()
