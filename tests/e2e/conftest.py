"""Fixtures for the end-to-end tests: a small origin (http.server in a
thread), the pushpin binary started on free ports with a generated
pushpin.conf and routes file, and a publish helper.

The binary comes from PUSHPIN_BIN (default target/debug/pushpin, built by
`cargo build`). Every process started here runs in its own process group
and is killed at the end; every wait is bounded.
"""

import http.server
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The page the browser test loads through the proxy. It opens an
# EventSource on /events (same query string, so each test picks its
# channel) and records everything it sees in window.got.
PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>pushpin e2e</title></head>
<body>
<script>
window.got = [];
window.state = { opens: 0, errors: 0 };
const es = new EventSource('/events' + location.search);
window.es = es;
es.onopen = () => { window.state.opens++; window.got.push({ type: 'open' }); };
es.onerror = () => {
  window.state.errors++;
  window.got.push({ type: 'error', readyState: es.readyState });
};
for (const name of ['hello', 'update']) {
  es.addEventListener(name, (e) => {
    window.got.push({ type: name, data: e.data, id: e.lastEventId });
  });
}
es.onmessage = (e) => {
  window.got.push({ type: 'message', data: e.data, id: e.lastEventId });
};
</script>
</body></html>
"""

# Keep-alive timeout (seconds) of the stream holds.
KEEP_ALIVE_TIMEOUT = 2


def free_port():
    """A port that was free a moment ago (bind port 0, read it, close)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def kill_group(proc, grace=5):
    """Ends a process started with start_new_session=True, and its group."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass


class Origin(http.server.BaseHTTPRequestHandler):
    """GET /events[?ch=NAME] holds a stream on channel NAME (default
    "events"); GET /page serves PAGE."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/events":
            channel = query.get("ch", ["events"])[0]
            body = b"event: hello\ndata: start\n\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Grip-Hold", "stream")
            self.send_header("Grip-Channel", channel)
            self.send_header(
                "Grip-Keep-Alive",
                f":\\n\\n; format=cstring; timeout={KEEP_ALIVE_TIMEOUT}",
            )
        elif url.path == "/page":
            body = PAGE
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
        else:
            body = b"not found\n"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def origin():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


class Pushpin:
    def __init__(self, http_port, publish_port):
        self.http_port = http_port
        self.publish_port = publish_port
        self.url = f"http://127.0.0.1:{http_port}"
        self.publish_url = f"http://127.0.0.1:{publish_port}"

    def publish(self, items):
        body = json.dumps({"items": items}).encode()
        req = urllib.request.Request(
            self.publish_url + "/publish/",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200, resp.read()

    def publish_stream(self, channel, content):
        self.publish([{"channel": channel, "formats": {"http-stream": {"content": content}}}])


def pushpin_bin():
    path = Path(os.environ.get("PUSHPIN_BIN", "target/debug/pushpin"))
    if not path.is_absolute():
        path = ROOT / path
    if not path.is_file():
        pytest.fail(f"pushpin binary not found at {path}: run `cargo build` or set PUSHPIN_BIN")
    return path


@pytest.fixture(scope="session")
def pushpin(origin, tmp_path_factory):
    binary = pushpin_bin()
    workdir = tmp_path_factory.mktemp("pushpin")
    (workdir / "routes").write_text(f"* 127.0.0.1:{origin}\n")
    log_path = workdir / "pushpin.log"
    for _attempt in range(3):
        http_port, publish_port = free_port(), free_port()
        (workdir / "pushpin.conf").write_text(
            "[runner]\n"
            f"http_port=127.0.0.1:{http_port}\n"
            "log_level=2\n"
            "[proxy]\n"
            "routesfile=routes\n"
            "sig_iss=pushpin\n"
            "sig_key=changeme\n"
            "[handler]\n"
            "push_in_http_addr=127.0.0.1\n"
            f"push_in_http_port={publish_port}\n"
        )
        log = open(log_path, "wb")
        proc = subprocess.Popen(
            [str(binary), f"--config={workdir / 'pushpin.conf'}"],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        up = lambda: proc.poll() is not None or (  # noqa: E731
            port_open(http_port) and port_open(publish_port)
        )
        try:
            wait_until(up, 15, "pushpin to listen")
        except AssertionError:
            kill_group(proc)
            raise
        if proc.poll() is None:
            break
        # most likely a port was taken in between: try other ports
    else:
        pytest.fail(f"pushpin did not start:\n{log_path.read_text(errors='replace')}")
    try:
        yield Pushpin(http_port, publish_port)
    finally:
        kill_group(proc, grace=10)
