"""Server-Sent Events through the proxy with real client libraries:
sseclient-py over requests, and gripcontrol publishing to a stream read
from a raw socket."""

import socket
import time
import uuid

import requests
import sseclient
from gripcontrol import GripPubControl, HttpStreamFormat


def channel():
    return "e2e-" + uuid.uuid4().hex[:12]


def test_sseclient_reads_initial_and_published_events(pushpin):
    ch = channel()
    resp = requests.get(
        f"{pushpin.url}/events?ch={ch}",
        headers={"Accept": "text/event-stream"},
        stream=True,
        timeout=(5, 10),
    )
    try:
        assert resp.status_code == 200
        assert resp.headers["Content-Type"] == "text/event-stream"
        assert "Grip-Hold" not in resp.headers
        events = sseclient.SSEClient(resp).events()
        first = next(events)
        assert (first.event, first.data) == ("hello", "start")
        pushpin.publish_stream(ch, "event: update\nid: 1\ndata: one\n\n")
        pushpin.publish_stream(ch, "data: two\ndata: lines\n\n")
        got = [next(events), next(events)]
        assert [(e.event, e.id, e.data) for e in got] == [
            ("update", "1", "one"),
            ("message", None, "two\nlines"),
        ]
    finally:
        resp.close()


def read_until(sock, buf, needle, timeout=5):
    deadline = time.monotonic() + timeout
    while needle not in buf:
        left = deadline - time.monotonic()
        assert left > 0, f"{needle!r} not received; got {bytes(buf)!r}"
        sock.settimeout(left)
        data = sock.recv(65536)
        assert data, f"connection closed before {needle!r}; got {bytes(buf)!r}"
        buf += data
    return buf


def test_gripcontrol_publishes_to_a_raw_stream(pushpin):
    ch = channel()
    sock = socket.create_connection(("127.0.0.1", pushpin.http_port), timeout=5)
    try:
        sock.sendall(
            f"GET /events?ch={ch} HTTP/1.1\r\nHost: example.com\r\n\r\n".encode()
        )
        buf = bytearray()
        read_until(sock, buf, b"data: start\n\n")
        head = bytes(buf).split(b"\r\n\r\n", 1)[0].decode().lower()
        assert head.startswith("http/1.1 200")
        assert "transfer-encoding: chunked" in head

        pub = GripPubControl({"control_uri": pushpin.publish_url})
        pub.publish_http_stream(ch, "event: update\ndata: via gripcontrol\n\n", blocking=True)
        read_until(sock, buf, b"data: via gripcontrol\n\n")
        # a published close ends the response cleanly
        pub.publish_http_stream(ch, HttpStreamFormat(close=True), blocking=True)
        read_until(sock, buf, b"\r\n0\r\n\r\n")
        body = bytes(buf).split(b"\r\n\r\n", 1)[1]
        assert body.index(b"data: start") < body.index(b"via gripcontrol")
    finally:
        sock.close()
