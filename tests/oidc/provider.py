"""The test OpenID provider (tests/oidc_provider/server.js, panva's oidc-provider) as a
process, a person signing in at it over HTTP, and a proxy that alters the provider's token
answers (a broken or hostile provider) by re-signing ID tokens with the provider's own key.

Helpers for tests/oidc/conftest.py and the tests; no fixtures here.
"""

import json
import os
import queue
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[2]
SERVER_DIR = ROOT / "tests" / "oidc_provider"
CLIENT_ID = "imagegen"
CLIENT_SECRET = "imagegen-test-secret"
PASSWORD = "correct horse"  # every test user's password at the provider (server.js)
KID = "test-signing-key"
CALLBACK_PREFIX = "http://testserver/oidc/callback/"
START_SECONDS = 20


def new_rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_jwk(key, kid=KID) -> dict:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key))
    jwk.pop("key_ops", None)  # PyJWT says "sign" only; the provider also verifies with it
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


@dataclass
class RunningProvider:
    issuer: str
    key: object  # the RSA private key the provider signs with
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# Set by the Makefile's test targets: there a provider that cannot start fails the run
# instead of skipping the OpenID Connect tests (`make test` must run the real flow).
REQUIRED_VARIABLE = "OIDC_TESTS_REQUIRED"


def missing_requirement() -> str | None:
    """Why the provider cannot start here, or None."""
    if shutil.which("node") is None:
        return "node is not installed (the OpenID provider of tests/oidc_provider needs it)"
    return None


def skip_or_fail(reason: str) -> None:
    """Skip the test for ``reason``; fail it instead when OIDC_TESTS_REQUIRED=1."""
    if os.environ.get(REQUIRED_VARIABLE) == "1":
        pytest.fail(f"{reason}; {REQUIRED_VARIABLE}=1 requires the OpenID Connect tests to run")
    pytest.skip(reason)


def start_provider(workdir: Path) -> RunningProvider:
    """Start server.js on a free loopback port with a signing key written for it; return once
    its discovery document answers."""
    if not (SERVER_DIR / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError(
            "tests/oidc_provider/node_modules is missing: run `make oidc-deps` "
            "(npm ci --prefix tests/oidc_provider)"
        )
    key = new_rsa_key()
    jwks_file = workdir / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [private_jwk(key)]}))
    env = {
        **os.environ,
        "OIDC_TEST_JWKS_FILE": str(jwks_file),
        "OIDC_TEST_CLIENT_ID": CLIENT_ID,
        "OIDC_TEST_CLIENT_SECRET": CLIENT_SECRET,
    }
    process = subprocess.Popen(
        ["node", "server.js", "0"],
        cwd=SERVER_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue = queue.Queue()

    def read():
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + START_SECONDS
    output = []
    issuer = None
    while issuer is None:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            line = None
        if line is None:
            process.kill()
            raise RuntimeError("the OpenID provider did not start:\n" + "".join(output))
        output.append(line)
        if line.startswith("listening "):
            issuer = line.split()[1]
    provider = RunningProvider(issuer=issuer, key=key, process=process)
    with httpx.Client(trust_env=False, timeout=5) as http:
        while True:
            try:
                if http.get(f"{issuer}/.well-known/openid-configuration").status_code == 200:
                    return provider
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                provider.stop()
                raise RuntimeError("the OpenID provider never answered its discovery URL")
            time.sleep(0.05)


def closed_port_url() -> str:
    """http://127.0.0.1:<a port nothing listens on>."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- A person at the provider ------------------------------------------------------------


def login_at_provider(authorization_url: str, login: str, *, password=PASSWORD, cancel=False):
    """Follow the studio's redirect to the provider, sign in there as ``login`` (or press
    Cancel) and return the URL the provider sends the browser back to (the callback)."""
    with httpx.Client(trust_env=False, timeout=10) as browser:
        response = browser.get(authorization_url)
        while response.is_redirect:
            response = browser.get(urljoin(str(response.url), response.headers["location"]))
        assert response.status_code == 200, response.text
        form_url = str(response.url)
        if cancel:
            response = browser.post(f"{form_url}/abort")
        else:
            form = {"login": login, "password": password}
            response = browser.post(f"{form_url}/login", data=form)
        while response.is_redirect:
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(CALLBACK_PREFIX):
                return location
            response = browser.get(location)
        raise AssertionError(f"the provider did not send the browser back: {response.text}")


def callback_path(url: str) -> tuple[str, dict]:
    """The path and query of a callback URL, for Django's test client."""
    parts = urlsplit(url)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


# --- A provider whose token answers are altered ---------------------------------------------


class TamperingProxy:
    """Serves the real provider's discovery document with its token endpoint replaced by its
    own, which forwards the request and alters the ID token of the answer:
    ``alter(claims) -> claims`` and, with ``signing_key``, a signature by another key."""

    def __init__(self, provider: RunningProvider, alter=None, signing_key=None, token_url=None):
        self.provider = provider
        self.alter = alter or (lambda claims: claims)
        self.signing_key = signing_key or provider.key
        self.token_url = token_url  # where discovery points the token endpoint instead
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body: bytes, content_type="application/json"):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != "/.well-known/openid-configuration":
                    return self._send(404, b"{}")
                with httpx.Client(trust_env=False) as http:
                    document = http.get(
                        f"{proxy.provider.issuer}/.well-known/openid-configuration"
                    ).json()
                document["token_endpoint"] = proxy.token_url or f"{proxy.url}/token"
                return self._send(200, json.dumps(document).encode())

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() in ("authorization", "content-type", "accept")
                }
                with httpx.Client(trust_env=False) as http:
                    answer = http.post(
                        f"{proxy.provider.issuer}/token", content=body, headers=headers
                    )
                data = answer.json()
                if answer.status_code == 200 and "id_token" in data:
                    data["id_token"] = proxy.resign(data["id_token"])
                return self._send(answer.status_code, json.dumps(data).encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def resign(self, token: str) -> str:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
        claims = self.alter(dict(claims))
        kid = {"kid": header["kid"]}
        return jwt.encode(claims, self.signing_key, algorithm="RS256", headers=kid)

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


# --- The studio's side, through Django's test client ------------------------------------------


def start_sign_in(client, query: str = "") -> str:
    """GET /oidc/authenticate/: the provider URL the studio sends the browser to."""
    response = client.get(f"/oidc/authenticate/{query}")
    assert response.status_code == 302, response.content
    return response["Location"]


def finish_sign_in(client, callback_url: str):
    """The browser's return to the studio's callback."""
    path, query = callback_path(callback_url)
    return client.get(path, query)


def sign_in(client, login: str, **options):
    """A whole sign-in as ``login``: the callback's response."""
    return finish_sign_in(client, login_at_provider(start_sign_in(client), login, **options))


class Signals:
    """Counts user_logged_in and user_login_failed (with their credentials) while active."""

    def __init__(self):
        self.logged_in = []
        self.failed = []

    def _in(self, sender, user, **kwargs):
        self.logged_in.append(user)

    def _failed(self, sender, credentials, **kwargs):
        self.failed.append(credentials)

    def __enter__(self):
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        user_logged_in.connect(self._in)
        user_login_failed.connect(self._failed)
        return self

    def __exit__(self, *exc):
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        user_logged_in.disconnect(self._in)
        user_login_failed.disconnect(self._failed)
