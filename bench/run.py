"""Run every benchmark figure and print all their rows in one table at the end.

    .venv/bin/python bench/run.py [--quick] [--only ingest,pipeline,...]

Figures 4, 5 and 6 share one filled database (a temporary SQLite file, or the PostgreSQL
database BENCH_DATABASE_URL names, which is dropped and recreated). Every script runs in its
own process; a failing one is reported and the rest still run. ``--quick`` scales the data
down (50,000 generations instead of 1,000,000, 10 s of load instead of 60 s) and says so in
the table; it finishes in under two minutes on a 2-core machine.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import Row, print_table, reset_postgres  # noqa: E402

FIGURES = [
    "ingest",
    "pipeline",
    "inflight",
    "gallery_list",
    "gallery_search",
    "dashboard",
    "write_load",
    "gallery_browser",
    "live",
    "image_ops",
    "gpu_pool",
    "gateway",
    "desktop",
    "identity",
]
SHARED_DB = {"gallery_list", "gallery_search", "dashboard"}


def machine() -> str:
    import sqlite3

    mem = next(
        (
            line.split()[1]
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        "?",
    )
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    return (
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}; nproc {os.cpu_count()}; "
        f"memory {int(mem) // 1024:,} MiB; Python {platform.python_version()}; "
        f"SQLite {sqlite3.sqlite_version}; {pg or 'psql not found'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="", help=f"comma-separated, of: {', '.join(FIGURES)}")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temp folder (databases, storage, server logs)"
    )
    args = parser.parse_args()
    chosen = [f for f in FIGURES if not args.only or f in args.only.split(",")]
    unknown = set(filter(None, args.only.split(","))) - set(FIGURES)
    if unknown:
        parser.error(f"unknown figures: {', '.join(sorted(unknown))}")
    folder = tempfile.mkdtemp(prefix="bench-run-")
    results = os.path.join(folder, "rows.jsonl")
    Path(results).touch()
    shared = os.environ.get("BENCH_DATABASE_URL")
    if shared and SHARED_DB & set(chosen):
        reset_postgres(shared)
    if not shared:
        shared = f"sqlite:///{folder}/shared.db"
        # A copy of the migrated template is made below, once it exists.
    print(f"machine: {machine()}", flush=True)
    started = time.monotonic()
    # Migrate once; every script's throwaway SQLite file starts as a copy of this one.
    template = os.path.join(folder, "template.db")
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.path.insert(0, 'bench'); "
            "from common import setup_django; setup_django(sys.argv[1])",
            f"sqlite:///{template}",
        ],
        cwd=HERE.parent,
        check=True,
    )
    os.environ["BENCH_TEMPLATE_DB"] = template
    if shared.startswith("sqlite:///"):
        import shutil

        shutil.copyfile(template, shared.removeprefix("sqlite:///"))
    # Every script's temp files (databases, storage, logs) land in this one folder.
    os.environ["TMPDIR"] = folder
    print(
        f"(databases, storage and logs under {folder}"
        f"{'' if args.keep else '; removed at the end, --keep keeps them'})",
        flush=True,
    )
    failed = []
    for name in chosen:
        cmd = [sys.executable, str(HERE / f"bench_{name}.py"), "--json", results]
        if args.quick:
            cmd.append("--quick")
        if name in SHARED_DB:
            cmd += ["--db", shared]
        print(f"\n== {name} ==", flush=True)
        t0 = time.monotonic()
        code = subprocess.run(cmd, cwd=HERE.parent).returncode
        print(f"({name}: {time.monotonic() - t0:.0f} s)", flush=True)
        if code:
            failed.append(name)
    rows = [Row(**json.loads(line)) for line in Path(results).read_text().splitlines()]
    print_table(
        f"All figures{' (QUICK: scaled-down data)' if args.quick else ''}, "
        f"{time.monotonic() - started:.0f} s in all; {machine()}",
        rows,
    )
    if not args.keep:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    if failed:
        print(f"\nFAILED to run: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
