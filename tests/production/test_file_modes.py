"""Data files are private to the account the app runs as: every process (manage.py and its
commands, gunicorn through imagegen.wsgi, the supervisor's children) works under umask 077,
so the SQLite database and its WAL/SHM files, backup archives and stored files are 0600."""

import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from imagegen.core import supervisor
from imagegen.core.umask import PRIVATE_UMASK

ROOT = Path(__file__).resolve().parents[2]


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    """The test process starts with a permissive umask, as a login shell would give."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def child_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "imagegen.settings",
            "ENV_FILE": os.devnull,
            "SECRET_KEY": "s" * 50,
            "ENCRYPTION_KEY": "e" * 50,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
            "STORAGE_DIR": str(tmp_path / "storage"),
        }
    )
    return env


def test_manage_py_creates_the_sqlite_database_and_its_wal_private(tmp_path, open_umask):
    script = (
        "import os, stat\n"
        "from django.db import connection\n"
        "with connection.cursor() as c:\n"
        "    c.execute('CREATE TABLE t (x int)'); c.execute('INSERT INTO t VALUES (1)')\n"
        "    name = connection.settings_dict['NAME']\n"
        "    for suffix in ('', '-wal', '-shm'):\n"
        "        print(suffix, oct(stat.S_IMODE(os.stat(str(name) + suffix).st_mode)))\n"
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=child_env(tmp_path),
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    modes = done.stdout.split()[-5:]  # after the shell's own greeting
    assert modes == ["0o600", "-wal", "0o600", "-shm", "0o600"], done.stdout


def test_wsgi_sets_the_private_umask(tmp_path, open_umask):
    script = "import os, imagegen.wsgi; print(oct(os.umask(0)))"
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=child_env(tmp_path),
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.strip() == oct(PRIVATE_UMASK)


def test_the_supervisors_children_run_under_the_private_umask(tmp_path, open_umask):
    out = tmp_path / "child-umask"
    child = [sys.executable, "-c", f"import os; open(r'{out}', 'w').write(oct(os.umask(0)))"]
    sleeper = [sys.executable, "-c", "import time; time.sleep(30)"]
    supervisor.supervise({"web server": sleeper, "job worker": child})
    assert out.read_text() == oct(PRIVATE_UMASK)


@pytest.mark.django_db(transaction=True)
def test_a_backup_archive_is_private(tmp_path, open_umask):
    archive = tmp_path / "backups" / "site.tar.gz"
    call_command("backup", str(archive), stdout=io.StringIO())
    assert mode(archive) == 0o600


def test_stored_files_are_private(open_umask):
    name = default_storage.save("images/ab/cd/file.png", ContentFile(b"x" * 10))
    assert mode(default_storage.path(name)) == 0o600
    assert mode(os.path.dirname(default_storage.path(name))) == 0o700
