"""A real browser: headless Chromium loads a page through the proxy; the
page's EventSource reads a stream hold. Chromium is driven over the
DevTools protocol (websocket-client). Fails when Chromium is missing
unless PUSHPIN_SKIP_BROWSER=1."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests
import websocket

from conftest import KEEP_ALIVE_TIMEOUT, kill_group, wait_until

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
]


def chromium_path():
    if os.environ.get("PUSHPIN_SKIP_BROWSER") == "1":
        pytest.skip("PUSHPIN_SKIP_BROWSER=1")
    path = os.environ.get("CHROMIUM_BIN") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(path, os.X_OK):
        pytest.fail(
            "Chromium not found (apt-get install -y chromium), "
            "or set PUSHPIN_SKIP_BROWSER=1 to skip the browser test"
        )
    return path


class DevTools:
    """A minimal DevTools protocol client for one page."""

    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=10, suppress_origin=True)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        msg_id = self.next_id
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise AssertionError(f"{method} failed: {msg['error']}")
                return msg["result"]
        raise AssertionError(f"no answer to {method}")

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in r:
            raise AssertionError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def close(self):
        self.ws.close()


@pytest.fixture
def browser():
    path = chromium_path()
    profile = Path(tempfile.mkdtemp(prefix="pushpin-e2e-chromium-"))
    log = open(profile.parent / (profile.name + ".log"), "wb")
    proc = subprocess.Popen(
        [path, *CHROMIUM_ARGS, f"--user-data-dir={profile}", "about:blank"],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    devtools = None
    try:
        active = profile / "DevToolsActivePort"

        def port():
            if proc.poll() is not None:
                raise AssertionError(f"chromium exited with {proc.returncode}")
            lines = active.read_text().splitlines() if active.exists() else []
            return int(lines[0]) if lines and lines[0].strip() else None

        port = wait_until(port, 30, "chromium's DevToolsActivePort")

        def page():
            try:
                targets = requests.get(f"http://127.0.0.1:{port}/json", timeout=2).json()
            except (requests.RequestException, ValueError):
                return None
            pages = [t for t in targets if t.get("type") == "page"]
            return pages[0]["webSocketDebuggerUrl"] if pages else None

        devtools = DevTools(wait_until(page, 15, "chromium's page target"))
        yield devtools
    finally:
        if devtools is not None:
            devtools.close()
        kill_group(proc)
        shutil.rmtree(profile, ignore_errors=True)
        Path(str(profile) + ".log").unlink(missing_ok=True)


def state(devtools):
    return devtools.evaluate(
        "JSON.stringify({got: window.got || null, state: window.state || null,"
        " readyState: window.es ? window.es.readyState : null})"
    )


def wait_got(devtools, count, what, timeout=10):
    def enough():
        try:
            s = json.loads(state(devtools))
        except AssertionError:
            return None  # e.g. evaluated while the page was navigating
        return s if s["got"] is not None and len(s["got"]) >= count else None

    return wait_until(enough, timeout, what, interval=0.1)


def test_browser_eventsource_through_the_proxy(pushpin, browser):
    ch = "e2e-" + uuid.uuid4().hex[:12]
    browser.call("Page.enable")
    browser.call("Page.navigate", url=f"{pushpin.url}/page?ch={ch}")

    s = wait_got(browser, 2, "the EventSource to open and get the initial event")
    assert s["got"] == [
        {"type": "open"},
        {"type": "hello", "data": "start", "id": ""},
    ]
    assert s["readyState"] == 1

    pushpin.publish_stream(ch, "event: update\nid: 7\ndata: one\n\n")
    pushpin.publish_stream(ch, "data: two\n\n")
    pushpin.publish_stream(ch, "event: update\nid: 9\ndata: three\ndata: lines\n\n")
    s = wait_got(browser, 5, "three published events")
    assert s["got"][2:] == [
        {"type": "update", "data": "one", "id": "7"},
        # without an id field the last event id carries over
        {"type": "message", "data": "two", "id": "7"},
        {"type": "update", "data": "three\nlines", "id": "9"},
    ]

    # A raw reader on the same channel shows that comment keep-alives are
    # sent meanwhile; the page must see no event for them and stay open.
    raw = socket.create_connection(("127.0.0.1", pushpin.http_port), timeout=5)
    try:
        raw.sendall(f"GET /events?ch={ch} HTTP/1.1\r\nHost: example.com\r\n\r\n".encode())
        buf = b""
        deadline = time.monotonic() + 3 * KEEP_ALIVE_TIMEOUT + 2
        while b"data: start\n\n" not in buf or not buf.endswith(b":\n\n\r\n"):
            left = deadline - time.monotonic()
            assert left > 0, f"no keep-alive seen by the raw reader: {buf!r}"
            raw.settimeout(left)
            data = raw.recv(65536)
            assert data, f"raw reader closed: {buf!r}"
            buf += data
    finally:
        raw.close()
    time.sleep(KEEP_ALIVE_TIMEOUT)
    s = json.loads(state(browser))
    assert len(s["got"]) == 5, s["got"]
    assert s["readyState"] == 1
    assert s["state"] == {"opens": 1, "errors": 0}

    pushpin.publish_stream(ch, "event: update\nid: 10\ndata: after keep-alive\n\n")
    s = wait_got(browser, 6, "an event after the keep-alives")
    assert s["got"][5] == {"type": "update", "data": "after keep-alive", "id": "10"}
    assert s["state"] == {"opens": 1, "errors": 0}
