"""The page inside desktop.py's window, driven over the Chrome DevTools Protocol that Qt
WebEngine serves when QTWEBENGINE_REMOTE_DEBUGGING names a port.

Playwright's ``connect_over_cdp`` cannot attach to Qt WebEngine (it asks for browser
contexts, which Qt does not manage), so this speaks the protocol's page target directly:
``Runtime.evaluate`` to read and act on the page, ``Page.captureScreenshot`` to see it."""

import base64
import itertools
import json
import time
import urllib.request

from websockets.sync.client import connect


def page_target(port: int, timeout: float = 60) -> str:
    """The WebSocket URL of the window's page once the devtools server lists it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=2) as reply:
                pages = [t for t in json.load(reply) if t.get("type") == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError("the window's page never showed up on the devtools port")


class Page:
    def __init__(self, port: int):
        self._connection = connect(page_target(port), max_size=None, open_timeout=20)
        self.socket = self._connection.__enter__()
        self.ids = itertools.count(1)

    def close(self):
        self._connection.__exit__(None, None, None)

    def call(self, method: str, **params):
        message_id = next(self.ids)
        self.socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.socket.recv(timeout=30))
            if reply.get("id") == message_id:
                assert "error" not in reply, reply
                return reply["result"]

    def evaluate(self, expression: str):
        result = self.call(
            "Runtime.evaluate",
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
            userGesture=True,  # as a user's click: a page's download needs one
        )
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60):
        """Poll ``expression`` until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"still false after {timeout} s: {expression}")

    def url(self) -> str:
        return self.evaluate("location.href")

    def history(self) -> list[str]:
        return [entry["url"] for entry in self.call("Page.getNavigationHistory")["entries"]]

    def screenshot(self, path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
