"""Figure 11: what the team's own GPUs add to the pipeline's bookkeeping, each beside the
same-run reference it replaces or joins (issue #17).

    .venv/bin/python bench/bench_gpu_pool.py [--quick] [--repeat 200]

- the claim of a queued job of a self-hosted provider, which picks the backend of a pool of 4
  with the most free capacity under a row lock (generation.backends.choose), beside the claim
  of an offline job (no pool);
- the progress write the runner's watcher makes at most twice a second while a GPU job runs,
  beside the heartbeat it already wrote every 5 s;
- ``all_providers()`` with backends configured (one query: which self-hosted kinds have
  something to offer), beside the registry's plain list (the cost before this issue).
Targets: a pool claim ≤ 3× an offline claim; a progress write ≤ 2× a heartbeat. The
providers list is recorded (it runs a few times per page).
"""

import shutil
import tempfile

from common import Row, base_parser, emit, p50, samples_ms, setup_django, versus_row

CLAIM_TARGET = 3.0
PROGRESS_TARGET = 2.0
POOL = 4


def main(argv=None) -> list[Row]:
    parser = base_parser(__doc__)
    parser.add_argument("--repeat", type=int, default=None)
    args = parser.parse_args(argv)
    repeat = args.repeat or (40 if args.quick else 200)
    from common import temp_sqlite_url

    folder = tempfile.mkdtemp(prefix="bench-gpu-")
    setup_django(temp_sqlite_url(folder))
    from django.contrib.auth import get_user_model

    from generation import runner
    from generation.models import Generation, Status
    from imagegen import providers
    from imagegen.providers.backends import Backend, Workflow

    user = get_user_model().objects.create_user("bench-gpu", password="x" * 12)
    for n in range(POOL):
        Backend.objects.create(
            kind="comfyui", name=f"gpu-{n}", base_url=f"http://10.0.0.{n + 1}:8188",
            max_concurrent=repeat * 3,  # never full: every claim succeeds
        )  # fmt: skip
    graph = {
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "x", "clip": ["4", 1]}},
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "a"}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["6", 0]}},
    }
    Workflow.objects.create(
        model_id="bench", label="Bench", workflow=graph,
        fields={"prompt": {"node": "6", "input": "text"}},
    )  # fmt: skip

    def queued(provider, model):
        return Generation.objects.create(
            owner=user, provider=provider, model=model, prompt="x", width=512, height=512
        )

    def claims(provider, model):
        # The claim is under the owner's concurrency cap: each claimed job is finished at
        # once so the next one fits (the finish is not timed).
        jobs = [queued(provider, model) for _ in range(repeat + 2)]
        it = iter(jobs)

        def call():
            job = next(it)
            claimed = runner.claim(job.pk)
            assert claimed is not None and (provider == "offline" or claimed.backend_id)
            Generation.objects.filter(pk=job.pk).update(status=Status.SUCCEEDED)

        return call

    running = queued("comfyui", "bench")
    Generation.objects.filter(pk=running.pk).update(status=Status.RUNNING, attempts=1)
    running.refresh_from_db()
    values = iter(x / (repeat * 10) for x in range(1, repeat * 10))

    measures = {
        "offline claim": claims("offline", "offline-shapes"),
        "pool claim": claims("comfyui", "bench"),
        "heartbeat": lambda: runner._heartbeat(running),
        "progress write": lambda: runner._store_progress(running, next(values)),
        "registry list": lambda: list(providers._REGISTRY.values()),
        "all_providers": providers.all_providers,
    }
    times = {name: [] for name in measures}
    for _ in range(repeat):  # interleaved: every measure sees the same machine state
        for name, call in measures.items():
            times[name] += samples_ms(call, 1, warmup=0)
    value = {name: p50(samples) for name, samples in times.items()}

    def row(number, what, name, reference, target=None):
        return versus_row(number, f"{what}, p50 of {repeat}", value, name, reference, target)

    rows = [
        row("11a", f"claim of a ComfyUI job, pool of {POOL}", "pool claim", "offline claim",
            CLAIM_TARGET),
        row("11b", "progress write of a running GPU job", "progress write", "heartbeat",
            PROGRESS_TARGET),
        row("11c", "all_providers() with backends configured", "all_providers",
            "registry list"),
    ]  # fmt: skip
    shutil.rmtree(folder, ignore_errors=True)
    emit("Figure 11: the GPU pool's bookkeeping", rows, args.json)
    return rows


if __name__ == "__main__":
    main()
