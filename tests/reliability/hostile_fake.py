"""FakeReplicate with three more hostile download routes the shared fake does not have.

``/files/loop.png``     302 to itself, for ever
``/files/reset.png``    promises 200 000 bytes, sends a PNG start, then resets the connection
``/files/endless.png``  a chunked body that never ends (counts what it sent in ``.sent``)
"""

import socket
import struct

from tests.fakes.base import Resp, make_png
from tests.fakes.replicate_server import FakeReplicate


class HostileReplicate(FakeReplicate):
    """Replicate's fake, plus the routes above."""

    sent = 0

    def _serve_download(self, h, req):
        name = req.path[len("/files/") :]
        if name == "loop.png":
            self._write(h, Resp(302, b"", {"Location": "/files/loop.png"}, "text/plain"))
        elif name == "reset.png":
            self._reset_midway(h)
        elif name == "endless.png":
            self._endless(h)
        else:
            super()._serve_download(h, req)

    def _reset_midway(self, h):
        start = make_png(256, 256)[:2000]
        h.send_response(200)
        h.send_header("Content-Type", "image/png")
        h.send_header("Content-Length", "200000")
        h.end_headers()
        h.wfile.write(start)
        h.wfile.flush()
        # SO_LINGER 0: close() sends a TCP RST instead of a FIN.
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.connection.close()
        h.close_connection = True

    def _endless(self, h):
        piece = b"\x89PNG\r\n\x1a\n" + b"\x00" * (64 * 1024 - 8)
        frame = b"%x\r\n%s\r\n" % (len(piece), piece)
        h.send_response(200)
        h.send_header("Content-Type", "image/png")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        try:
            while not self._stopping.is_set():
                h.wfile.write(frame)
                self.sent += len(piece)
        except OSError:
            pass
        h.close_connection = True
