"""A virtual screen for desktop.py's window: Debian's Xvfb, xdotool to find the window, and
libX11 (through ctypes) to close it the way a window manager's close button does."""

import ctypes
import ctypes.util
import os
import subprocess
import time
from contextlib import contextmanager

from PIL import ImageGrab

SCREEN = "1366x900x24"


@contextmanager
def virtual_screen():
    """Xvfb on a display number it picks itself (``-displayfd``); yields ":N"."""
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", SCREEN, "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end) as pipe:
            number = pipe.readline().strip()
        assert number, "Xvfb did not start"
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def visible_windows(display: str, name: str) -> list[int]:
    """Ids of the mapped windows whose title matches ``name`` (a regular expression)."""
    found = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", name],
        env={**os.environ, "DISPLAY": display},
        capture_output=True,
        text=True,
    ).stdout.split()
    return [int(window) for window in found]


def find_window(display: str, name: str, timeout: float = 60) -> int:
    """The id of the first mapped window whose title matches ``name``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = visible_windows(display, name)
        if found:
            return found[0]
        time.sleep(0.3)
    raise AssertionError(f"no window named {name!r} appeared")


def window_title(display: str, window: int) -> str:
    return subprocess.run(
        ["xdotool", "getwindowname", str(window)],
        env={**os.environ, "DISPLAY": display},
        capture_output=True,
        text=True,
    ).stdout.strip()


def geometry(display: str, window: int) -> tuple[int, int, int, int]:
    """(x, y, width, height) of the window."""
    out = subprocess.run(
        ["xdotool", "getwindowgeometry", "--shell", str(window)],
        env={**os.environ, "DISPLAY": display},
        capture_output=True,
        text=True,
    ).stdout
    values = dict(line.split("=", 1) for line in out.split())
    return tuple(int(values[key]) for key in ("X", "Y", "WIDTH", "HEIGHT"))


def move_and_resize(display: str, window: int, x: int, y: int, width: int, height: int):
    env = {**os.environ, "DISPLAY": display}
    subprocess.run(["xdotool", "windowmove", str(window), str(x), str(y)], env=env, check=True)
    subprocess.run(
        ["xdotool", "windowsize", str(window), str(width), str(height)], env=env, check=True
    )


def type_into(display: str, window: int, text: str) -> None:
    """Replace the focused field's text in ``window`` with ``text``, then press Return."""
    env = {**os.environ, "DISPLAY": display}
    for args in (["key", "ctrl+a"], ["type", text], ["key", "Return"]):
        subprocess.run(["xdotool", args[0], "--window", str(window), *args[1:]], env=env)


def screenshot(display: str, path) -> None:
    ImageGrab.grab(xdisplay=display).save(path)


class _ClientMessage(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", ctypes.c_ulong),
        ("message_type", ctypes.c_ulong),
        ("format", ctypes.c_int),
        ("data", ctypes.c_long * 5),
    ]


class _XEvent(ctypes.Union):
    _fields_ = [("client", _ClientMessage), ("pad", ctypes.c_long * 24)]


CLIENT_MESSAGE = 33
_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


def close_window(display: str, window: int) -> None:
    """Ask the window to close (WM_DELETE_WINDOW), as a window manager's close button does:
    the application decides, exactly as when a user clicks the button."""
    x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_int,
        ctypes.c_long,
        ctypes.POINTER(_XEvent),
    ]
    x11.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    x11.XSetErrorHandler.argtypes = [_ERROR_HANDLER]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    # Xlib's default error handler ends the process: report errors instead.
    errors = []
    handler = _ERROR_HANDLER(lambda dpy, event: errors.append(event) or 0)
    x11.XSetErrorHandler(handler)
    dpy = x11.XOpenDisplay(display.encode())
    assert dpy, f"cannot open display {display}"
    try:
        event = _XEvent()
        event.client.type = CLIENT_MESSAGE
        event.client.window = window
        event.client.message_type = x11.XInternAtom(dpy, b"WM_PROTOCOLS", False)
        event.client.format = 32
        event.client.data[0] = x11.XInternAtom(dpy, b"WM_DELETE_WINDOW", False)
        event.client.data[1] = 0  # CurrentTime
        x11.XSendEvent(dpy, window, False, 0, ctypes.byref(event))
        x11.XSync(dpy, False)
    finally:
        x11.XCloseDisplay(dpy)
    assert not errors, f"X refused to deliver the close request to window {window:#x}"
