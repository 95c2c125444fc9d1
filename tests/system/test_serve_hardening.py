"""`manage.py serve` hardens the bare gunicorn it starts against slow clients (short
keep-alive, a worker timeout, the asgi worker with a thread pool for the WSGI app, request
limits) and, bound beyond loopback, says on its startup line that a reverse proxy must sit in
front."""

import json
import os

import pytest
from django.core.management import call_command

from imagegen.core.management.commands import serve

pytestmark = pytest.mark.django_db


class Execd(Exception):
    pass


@pytest.fixture
def exec_spec(monkeypatch):
    """Run `serve` up to the point where it becomes the supervisor; return that spec."""
    captured = {}

    def fake_execv(path, argv):
        captured.update(json.loads(argv[-1]))
        raise Execd

    monkeypatch.setattr(serve.os, "execv", fake_execv)
    monkeypatch.delenv("WEB_THREADS", raising=False)  # serve sets it; put back afterwards

    def run(*args):
        captured.clear()
        with pytest.raises(Execd):
            call_command("serve", *args, "--no-worker")
        return captured

    return run


def option(argv, name):
    return argv[argv.index(name) + 1]


def test_gunicorn_is_started_hardened_against_slow_clients(exec_spec):
    argv = exec_spec()["children"]["web server"]
    assert argv[argv.index("gunicorn") + 1] == "imagegen.asgi:application"
    assert option(argv, "--worker-class") == "asgi"
    assert "--threads" not in argv  # the asgi worker ignores it (and says so)
    assert int(os.environ["WEB_THREADS"]) >= 8  # imagegen/asgi.py's a2wsgi pool
    assert 100 <= int(option(argv, "--worker-connections")) <= 10_000
    assert 1 <= int(option(argv, "--keep-alive")) <= 5
    assert 0 < int(option(argv, "--timeout")) <= 120
    assert int(option(argv, "--limit-request-line")) <= 8190
    assert int(option(argv, "--limit-request-fields")) <= 100
    assert int(option(argv, "--limit-request-field_size")) <= 8190


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_the_startup_line_on_loopback_has_no_warning(exec_spec, host):
    message = exec_spec("--host", host)["message"]
    assert "reverse proxy" not in message


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "images.example.com"])
def test_the_startup_line_beyond_loopback_warns_to_use_a_reverse_proxy(exec_spec, host):
    message = exec_spec("--host", host)["message"]
    assert "reverse proxy" in message and "docs/deploy.md" in message


def test_readme_make_run_and_deploy_guide_say_so(settings):
    root = settings.BASE_DIR
    readme = (root / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "reverse proxy" in quick_start
    assert "reverse proxy" in (root / "Makefile").read_text()
    deploy = (root / "docs" / "deploy.md").read_text()
    for directive in (
        "proxy_request_buffering on",
        "proxy_buffering on",
        "client_body_timeout",
        "client_header_timeout",
        "keepalive_timeout",
        "send_timeout",
    ):
        assert directive in deploy, directive


def test_web_threads_reach_the_wsgi_pool(exec_spec):
    exec_spec("--web-threads", "3")
    assert os.environ["WEB_THREADS"] == "3"
