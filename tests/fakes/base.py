"""Shared machinery for the local fake provider servers.

``FakeServer`` is a ``ThreadingHTTPServer`` on ``127.0.0.1`` (random free port) that:

* logs every API request in ``.requests`` (a snapshot list of dicts with ``method``, ``path``,
  ``query`` (last value per key), ``query_multi`` (all values), ``headers`` (lower-case keys),
  ``json`` (parsed body or ``None``) and ``body`` (raw bytes)); downloads of ``/files/...`` and
  ``/redirect`` are logged separately in ``.downloads`` so they don't disturb API-call counts;
* records cancel calls in ``.cancels`` (filled by the provider fakes);
* holds a *scenario*: ``fake.set_scenario("rate_limited", retry_after=2)`` or
  ``fake.set_scenario("rate_limited", {"retry_after": 2})``; ``fake.scenario`` / ``fake.options``
  read it back; ``reset()`` clears logs, provider state and returns to ``"success"``;
* serves registered blobs (``add_file(name, data, content_type)`` -> absolute URL) under
  ``/files/<name>`` plus hostile download routes:

  ===========================  ===========================================================
  ``/files/not-an-image.png``  HTML body with ``Content-Type: image/png``
  ``/files/huge.png``          ``huge_size`` bytes (default 11 MiB) with Content-Length,
                               streamed in 64 KiB chunks
  ``/files/huge-chunked.png``  same, but chunked transfer encoding (no Content-Length)
  ``/files/slow.png``          a small PNG dripped one byte per second (stops after
                               ``slow_seconds``, default 60, or when the server stops)
  ``/files/bomb.png``          a tiny PNG whose IHDR declares 20000x20000
  ``/redirect?to=<url>``       302 to ``to`` (``&status=301`` etc. to change the code)
  ===========================  ===========================================================

Common scenario options, read by every fake through :meth:`FakeServer.scenario_error`:

``stage``     where an error scenario fires: a stage name, a comma list, or ``"all"``;
              each fake documents its stages and defaults.
``seconds``   for ``slow``: sleep before answering (capped at 30 s).
``retry_after`` for ``rate_limited`` (default ``"1"``) / ``rate_limited_once`` (``"0"``).
``status``    override the HTTP status of ``server_error`` (e.g. 503) and friends.
``message``   override the error message text.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import struct
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from PIL import Image

MIB = 1024 * 1024
NOT_AN_IMAGE = b"<!doctype html><html><body><h1>Totally a PNG</h1></body></html>\n"
ERROR_SCENARIOS = (
    "slow",
    "unauthorized",
    "no_credit",
    "rate_limited_once",
    "rate_limited",
    "content_policy",
    "validation",
    "server_error",
    "malformed",
)
MALFORMED_BODY = b'{"id": "oops", "data": [ {"truncated": tr'


@lru_cache(maxsize=64)
def make_image(width: int, height: int, color: tuple = (200, 60, 40), fmt: str = "PNG") -> bytes:
    """Return a solid-colour image of ``width``x``height`` encoded as ``fmt`` (PNG/JPEG/WEBP)."""
    fmt = {"JPG": "JPEG"}.get(fmt.upper(), fmt.upper())
    img = Image.new("RGB", (max(1, int(width)), max(1, int(height))), tuple(color))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def make_png(width: int = 8, height: int = 8, color: tuple = (200, 60, 40)) -> bytes:
    """Return a small valid PNG (solid colour)."""
    return make_image(width, height, tuple(color), "PNG")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def make_bomb_png(width: int = 20000, height: int = 20000) -> bytes:
    """A few hundred bytes of PNG whose IHDR claims ``width``x``height`` RGB pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + 3 * width) * 4, 9)  # a handful of filtered rows
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", rows)
        + _png_chunk(b"IEND", b"")
    )


MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "JPG": "image/jpeg", "WEBP": "image/webp"}


@dataclass
class Resp:
    """A response to send: ``body`` may be a dict/list (sent as JSON) or bytes."""

    status: int = 200
    body: Any = None
    headers: dict = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass
class Req:
    method: str
    path: str
    query: dict
    query_multi: dict
    headers: dict
    json: Any
    body: bytes

    @property
    def parts(self) -> list[str]:
        return [p for p in self.path.split("/") if p]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeProvider/1.0"
    fake: FakeServer  # set on the per-server subclass

    def log_message(self, format, *args):  # noqa: A002 - silence stderr logging
        pass

    def setup(self):
        super().setup()
        self.fake._track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.fake._track(self.connection, False)

    def _dispatch(self):
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        multi = parse_qs(url.query, keep_blank_values=True)
        req = Req(
            self.command,
            url.path,
            {k: v[-1] for k, v in multi.items()},
            multi,
            {k.lower(): v for k, v in self.headers.items()},
            parsed,
            raw,
        )
        self.fake._serve(self, req)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _dispatch


class FakeServer:
    """Base class; subclasses implement :meth:`handle_api` (and optionally ``_reset_state``)."""

    #: default ``stage`` for error scenarios; subclasses override
    default_stage = "all"

    def __init__(
        self,
        *,
        scenario: str = "success",
        options: dict | None = None,
        huge_size: int = 11 * MIB,
        slow_seconds: float = 60.0,
    ):
        self.huge_size = huge_size
        self.slow_seconds = slow_seconds
        self.base_url = ""
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._conns: set = set()
        self._files: dict[str, tuple[bytes, str]] = {}
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.server_errors: list[str] = []
        self.reset()
        self.set_scenario(scenario, options)

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> FakeServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        # The port it had before (a free one the first time): a fake that ``die``s and comes
        # back listens where its clients know it.
        self._httpd = ThreadingHTTPServer(("127.0.0.1", getattr(self, "_port", 0)), handler)
        self._httpd.daemon_threads = True
        self._port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self._port}"
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if not self._httpd:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _track(self, conn, add: bool) -> None:
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)

    # ----------------------------------------------------------------- state & scenario
    def reset(self) -> None:
        """Clear logs and provider state; go back to the ``success`` scenario."""
        with self._lock:
            self._requests: list[dict] = []
            self._downloads: list[dict] = []
            self._cancels: list[dict] = []
            self._files.clear()
            self.scenario = "success"
            self.options: dict = {}
            self._once_fired = False
            self._reset_state()

    def _reset_state(self) -> None:
        """Hook for subclasses to clear their own state (predictions, queues...)."""

    def set_scenario(self, name: str, options: dict | None = None, **kwargs) -> FakeServer:
        """Switch behaviour; options may be a dict and/or keyword arguments."""
        with self._lock:
            self.scenario = name
            self.options = {**(options or {}), **kwargs}
            self._once_fired = False
        return self

    def opt(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)

    def _snapshot(self, attr: str) -> list[dict]:
        with self._lock:
            return list(getattr(self, attr))

    requests = property(lambda self: self._snapshot("_requests"), doc="API calls (copy)")
    downloads = property(lambda self: self._snapshot("_downloads"), doc="/files + /redirect hits")
    cancels = property(lambda self: self._snapshot("_cancels"), doc="cancel calls seen")

    def record_cancel(self, **info) -> None:
        with self._lock:
            self._cancels.append(info)

    # ----------------------------------------------------------------- files
    def add_file(self, name: str, data: bytes, content_type: str = "image/png") -> str:
        """Register a blob served at ``/files/<name>``; returns its absolute URL."""
        with self._lock:
            self._files[name] = (data, content_type)
        return f"{self.base_url}/files/{name}"

    def absolute(self, url: str) -> str:
        """Make ``/files/x`` style paths absolute against this server."""
        return self.base_url + url if url.startswith("/") else url

    # ----------------------------------------------------------------- scenario helper
    def stage_matches(self, stage: str, scenario_default: str | None = None) -> bool:
        wanted = self.opt("stage", scenario_default or self.default_stage)
        if isinstance(wanted, str):
            wanted = [w.strip() for w in wanted.split(",")]
        return "all" in wanted or stage in wanted

    def scenario_error(self, stage: str) -> Resp | None:
        """Apply the generic error scenarios for a request at ``stage``.

        ``slow`` sleeps and returns ``None``; ``rate_limited_once`` fires only once; the others
        return ``self.error_response(kind)`` when the stage matches (``None`` = no error here).
        """
        name = self.scenario
        if name not in ERROR_SCENARIOS or not self.stage_matches(stage, self.stage_for(name)):
            return None
        if name == "slow":
            self._stopping.wait(min(float(self.opt("seconds", 1.0)), 30.0))
            return None
        if name == "malformed":
            return Resp(200, MALFORMED_BODY)
        if name == "rate_limited_once":
            with self._lock:
                if self._once_fired:
                    return None
                self._once_fired = True
        return self.error_response(name)

    def stage_for(self, scenario: str) -> str | None:
        """Per-scenario default stage (``None`` = ``default_stage``); subclasses override."""
        return None

    def retry_headers(self, once: bool) -> dict:
        value = str(self.opt("retry_after", "0" if once else "1"))
        headers = {"Retry-After": value}
        if once:
            headers["retry-after-ms"] = str(self.opt("retry_after_ms", 10))
        return headers

    def error_response(self, kind: str) -> Resp | None:
        raise NotImplementedError

    def handle_api(self, req: Req) -> Resp:
        raise NotImplementedError

    # ----------------------------------------------------------------- serving
    def _serve(self, h: _Handler, req: Req) -> None:
        entry = {
            "method": req.method,
            "path": req.path,
            "query": req.query,
            "query_multi": req.query_multi,
            "headers": req.headers,
            "json": req.json,
            "body": req.body,
            "time": time.time(),
        }
        is_download = req.path.startswith("/files/") or req.path == "/redirect"
        with self._lock:
            (self._downloads if is_download else self._requests).append(entry)
        try:
            if is_download:
                self._serve_download(h, req)
                return
            resp = self.handle_api(req)
        except (BrokenPipeError, ConnectionResetError):
            return
        except Exception as exc:  # surface bugs in the fake to the test
            import traceback

            self.server_errors.append(traceback.format_exc())
            resp = Resp(500, {"fake_server_bug": repr(exc)})
        self._write(h, resp)

    def _write(self, h: _Handler, resp: Resp) -> None:
        body = resp.body
        if not isinstance(body, (bytes, bytearray)):
            body = b"" if body is None else json.dumps(body).encode()
        try:
            h.send_response(resp.status)
            if body or resp.status not in (204, 304):
                h.send_header("Content-Type", resp.content_type)
            for key, value in resp.headers.items():
                h.send_header(key, str(value))
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _serve_download(self, h: _Handler, req: Req) -> None:
        name = req.path[len("/files/") :]
        if req.path == "/redirect":
            target = req.query.get("to", "")
            status = int(req.query.get("status", 302))
            self._write(h, Resp(status, b"", {"Location": target}, "text/plain"))
        elif name == "not-an-image.png":
            self._write(h, Resp(200, NOT_AN_IMAGE, content_type="image/png"))
        elif name == "bomb.png":
            self._write(h, Resp(200, make_bomb_png(), content_type="image/png"))
        elif name in ("huge.png", "huge-chunked.png"):
            self._stream_huge(h, chunked=name == "huge-chunked.png")
        elif name == "slow.png":
            self._drip(h, make_png(4, 4))
        else:
            with self._lock:
                blob = self._files.get(name)
            if blob is None:
                self._write(h, Resp(404, b"Not Found", content_type="text/plain"))
            else:
                self._write(h, Resp(200, blob[0], content_type=blob[1]))

    def _stream_huge(self, h: _Handler, chunked: bool) -> None:
        chunk = b"\x89PNG\r\n\x1a\n" + b"\x00" * (64 * 1024 - 8)
        remaining = self.huge_size + 1
        h.send_response(200)
        h.send_header("Content-Type", "image/png")
        if chunked:
            h.send_header("Transfer-Encoding", "chunked")
        else:
            h.send_header("Content-Length", str(remaining))
        h.end_headers()
        try:
            while remaining > 0 and not self._stopping.is_set():
                piece = chunk[:remaining]
                remaining -= len(piece)
                if chunked:
                    h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                else:
                    h.wfile.write(piece)
                chunk = b"\x00" * len(chunk)
            if chunked:
                h.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, OSError):
            h.close_connection = True

    def _drip(self, h: _Handler, data: bytes) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "image/png")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        deadline = time.monotonic() + self.slow_seconds
        try:
            for i in range(len(data)):
                h.wfile.write(data[i : i + 1])
                h.wfile.flush()
                if time.monotonic() >= deadline or self._stopping.wait(1.0):
                    break
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        h.close_connection = True


def new_id(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex


def bearer_token(req: Req, schemes: tuple = ("bearer",)) -> str | None:
    """Return the credential from ``Authorization: <scheme> <token>`` or ``None``."""
    scheme, _, token = req.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() in schemes and token.strip() else None


def parse_size(size: str, default: tuple = (1024, 1024)) -> tuple[int, int]:
    try:
        w, h = size.lower().split("x")
        return int(w), int(h)
    except (AttributeError, ValueError):
        return default


def palette(i: int) -> tuple:
    colors = [(200, 60, 40), (40, 120, 200), (60, 180, 90), (230, 200, 40), (150, 70, 190)]
    return colors[i % len(colors)]
