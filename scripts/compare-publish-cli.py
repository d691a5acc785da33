#!/usr/bin/env python3
"""Runs Debian's pushpin-publish (1.36) and ours over the same matrix of
command lines against a capture server, and compares what each sent (request
line, exact header list, body as parsed JSON and as bytes) and what each
printed (stdout, stderr, exit status).

    python3 scripts/compare-publish-cli.py [--ours target/debug/pushpin-publish]
        [--theirs /usr/bin/pushpin-publish] [--port 24010]

Opt-in parity check: needs Debian's pushpin package. Exits 1 if a case
differs in a way not listed as known (see KNOWN below).
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading

OK = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nPublished\n"
RESPONSES = {
    "ok": OK,
    "400": b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\n\r\n  Invalid request: bad item.\n",
    "201": b"HTTP/1.0 201 Created\r\n\r\n",
    "no-reason": b"HTTP/1.0 200\r\n\r\n",
    "trailing-space": b"HTTP/1.0 200 \r\n\r\n",
    "garbage": b"nonsense",
    "close": b"",
    "head-only": b"HTTP/1.0 200 OK\r\nA: b",
    "bad-utf8": b"HTTP/1.0 500 Oops\r\n\r\n\xff\xfe",
    "plus-code": b"HTTP/1.0 +200 OK\r\n\r\n",
}


class Capture:
    """Accepts connections, records each request, answers self.response."""

    def __init__(self, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        # also on ::1, for the IPv6 case (and "localhost" resolving there first)
        self.sock6 = socket.socket(socket.AF_INET6)
        self.sock6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock6.bind(("::1", port))
        self.sock6.listen(16)
        self.response = OK
        self.records = []
        self.lock = threading.Lock()
        for sock in (self.sock, self.sock6):
            threading.Thread(target=self.serve, args=(sock,), daemon=True).start()

    def serve(self, sock):
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        conn.settimeout(3)
        data = b""
        try:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
                if complete(data):
                    break
        except (socket.timeout, OSError):
            pass
        with self.lock:
            self.records.append(data)
        try:
            conn.sendall(self.response)
        except OSError:
            pass
        conn.close()

    def take(self):
        with self.lock:
            r, self.records = self.records, []
        return r


def complete(data):
    if b"\r\n\r\n" not in data:
        return False
    head, body = data.split(b"\r\n\r\n", 1)
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return True


def split_request(raw):
    """(request line, [(name, value)], body bytes) or None."""
    if b"\r\n\r\n" not in raw:
        return None
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.decode("latin1").split("\r\n")
    headers = [tuple(s.strip() for s in l.split(":", 1)) for l in lines[1:]]
    return lines[0], headers, body


def cases(s, port):
    """(name, argv, env, response). `s` is the capture server's URL."""
    no = {}
    return [
        ("plain", ["--spec", s, "test", "hello"], no, "ok"),
        ("localhost host header", ["--spec", f"http://localhost:{port}", "test", "x"], no, "ok"),
        ("trailing slash path", ["--spec", s + "/", "test", "x"], no, "ok"),
        ("prefix path", ["--spec", s + "/pfx", "test", "x"], no, "ok"),
        ("all options", ["--spec", s, "--id", "a", "--prev-id", "b", "--sender", "s",
                         "--code", "404", "--no-seq", "--no-eol", "test", "hello",
                         "-H", "Content-Type: text/plain", "X:  y ", "-M", "k=v", "sender=m"], no, "ok"),
        ("no-eol", ["--spec", s, "--no-eol", "test", "x"], no, "ok"),
        ("header forms", ["--spec", s, "test", "x", "-H", " A : b ", ":x", "K:", "u: v: w"], no, "ok"),
        ("header = forms", ["--spec=" + s, "-H=A:b", "--header=C: d", "test", "x"], no, "ok"),
        ("header attached", ["--spec", s, "-HA:b", "--", "test", "x"], no, "ok"),
        ("meta forms", ["--spec", s, "test", "x", "-M", " n = v ", "=e", "k=", "a=b=c"], no, "ok"),
        ("header attached greedy", ["--spec", s, "-HA:b", "test", "x"], no, "ok"),
        ("meta attached greedy", ["--spec", s, "-Ma=b", "test", "x"], no, "ok"),
        ("header greedy", ["--spec", s, "-H", "A: b", "test", "x"], no, "ok"),
        ("header then --", ["--spec", s, "-H", "A: b", "--", "test", "x"], no, "ok"),
        ("unicode content", ["--spec", s, "test", 'é ✓ "q" \\ \ntab\t'], no, "ok"),
        ("empty content", ["--spec", s, "test", ""], no, "ok"),
        ("empty channel", ["--spec", s, "", "x"], no, "ok"),
        ("dash content after --", ["--spec", s, "test", "--", "-5"], no, "ok"),
        ("empty id and sender", ["--spec", s, "--id", "", "--sender", "", "test", "x"], no, "ok"),
        ("hint", ["--spec", s, "--hint", "--id", "i", "--prev-id", "p", "--sender", "s",
                  "--no-seq", "test", "ignored", "-M", "m=1", "-H", "X: y"], no, "ok"),
        ("close", ["--spec", s, "--close", "--id", "i", "--no-seq", "test"], no, "ok"),
        ("hint beats close", ["--spec", s, "--close", "--hint", "test"], no, "ok"),
        ("hint skips content checks", ["--spec", s, "--hint", "--patch", "--code", "5000", "test", "nojson"], no, "ok"),
        ("code 0", ["--spec", s, "--code", "0", "test", "x"], no, "ok"),
        ("code 999", ["--spec", s, "--code", "999", "test", "x"], no, "ok"),
        ("code +5", ["--spec", s, "--code", "+5", "test", "x"], no, "ok"),
        ("patch", ["--spec", s, "--patch", "--no-eol", "test",
                   '[{"op":"replace","path":"/a","value":1.5},{"op":"add","path":"/b",'
                   '"value":{"content":"x","n":-3,"big":9223372036854775807,"neg":-9223372036854775809}}]',
                   "-H", "A: b"], no, "ok"),
        ("patch empty", ["--spec", s, "--patch", "test", "[]"], no, "ok"),
        ("file text", ["--spec", s, "test", "@txt.dat"], no, "ok"),
        ("file text no-eol", ["--spec", s, "--no-eol", "test", "@txt.dat"], no, "ok"),
        ("file binary", ["--spec", s, "test", "@bin.dat"], no, "ok"),
        ("GRIP_URL", ["test", "fromenv"], {"GRIP_URL": s}, "ok"),
        ("--spec beats GRIP_URL", ["--spec", s + "/flag", "test", "x"], {"GRIP_URL": s + "/env"}, "ok"),
        # errors before sending
        ("no args", [], no, "ok"),
        ("no content", ["--spec", s, "test"], no, "ok"),
        ("code abc", ["--spec", s, "--code", "abc", "test", "x"], no, "ok"),
        ("code empty", ["--spec", s, "--code", "", "test", "x"], no, "ok"),
        ("code =-5", ["--spec", s, "--code=-5", "test", "x"], no, "ok"),
        ("code -5", ["--spec", s, "--code", "-5", "test", "x"], no, "ok"),
        ("code 1000", ["--spec", s, "--code", "1000", "test", "x"], no, "ok"),
        ("code 70000 with hint", ["--spec", s, "--code", "70000", "--hint", "test"], no, "ok"),
        ("patch not json", ["--spec", s, "--patch", "test", "nope"], no, "ok"),
        ("patch not array", ["--spec", s, "--patch", "test", '{"a":1}'], no, "ok"),
        ("patch @file", ["--spec", s, "--patch", "test", "@txt.dat"], no, "ok"),
        ("patch u64", ["--spec", s, "--patch", "test", '[{"value":18446744073709551615}]'], no, "ok"),
        ("bad header", ["--spec", s, "test", "x", "-H", "nocolon"], no, "ok"),
        ("bad meta", ["--spec", s, "test", "x", "-M", "noeq"], no, "ok"),
        ("bad header and meta", ["--spec", s, "test", "x", "-M", "noeq", "-H", "nocolon"], no, "ok"),
        ("code range before header", ["--spec", s, "-H", "nocolon", "--code", "5000", "test"], no, "ok"),
        ("missing file", ["--spec", s, "test", "@/nonexistent"], no, "ok"),
        ("directory file", ["--spec", s, "test", "@/tmp"], no, "ok"),
        ("bare @", ["--spec", s, "test", "@"], no, "ok"),
        ("user over http", ["--spec", s, "-u", "a:b", "test", "x"], no, "ok"),
        ("dash content", ["--spec", s, "test", "-5"], no, "ok"),
        ("extra positional", ["--spec", s, "test", "x", "y"], no, "ok"),
        ("extra after --", ["--spec", s, "test", "x", "--", "y"], no, "ok"),
        ("unknown flag", ["--spec", s, "--bogus", "test", "x"], no, "ok"),
        ("--id twice", ["--spec", s, "--id", "1", "--id", "2", "test", "x"], no, "ok"),
        ("--hint twice", ["--spec", s, "--hint", "--hint", "test"], no, "ok"),
        ("invalid URL no //", ["--spec", "http:foo", "test", "x"], no, "ok"),
        ("invalid URL port", ["--spec", "http://127.0.0.1:abc", "test", "x"], no, "ok"),
        ("refused", ["--spec", f"http://127.0.0.1:{port + 1}", "test", "x"], no, "ok"),
        ("DNS failure", ["--spec", "http://nonexistent.invalid", "test", "x"], no, "ok"),
        # the server's answers
        ("answer 400", ["--spec", s, "test", "x"], no, "400"),
        ("answer 201", ["--spec", s, "test", "x"], no, "201"),
        ("answer no reason", ["--spec", s, "test", "x"], no, "no-reason"),
        ("answer trailing space", ["--spec", s, "test", "x"], no, "trailing-space"),
        ("answer garbage", ["--spec", s, "test", "x"], no, "garbage"),
        ("answer none", ["--spec", s, "test", "x"], no, "close"),
        ("answer head only", ["--spec", s, "test", "x"], no, "head-only"),
        ("answer not UTF-8", ["--spec", s, "test", "x"], no, "bad-utf8"),
        ("answer +200", ["--spec", s, "test", "x"], no, "plus-code"),
        # known differences
        ("zmq tcp", ["--spec", f"tcp://127.0.0.1:{port + 2}", "test", "x"], no, "ok"),
        ("zmq ipc", ["--spec", "ipc:///tmp/pushpin-publish-compare.sock", "test", "x"], no, "ok"),
        ("empty spec", ["--spec", "", "test", "x"], no, "ok"),
        ("empty GRIP_URL", ["test", "x"], {"GRIP_URL": ""}, "ok"),
        ("uppercase scheme", ["--spec", s.replace("http", "HTTP"), "test", "x"], no, "ok"),
        ("IPv6 literal", ["--spec", f"http://[::1]:{port}", "test", "x"], no, "ok"),
        ("https", ["--spec", f"https://127.0.0.1:{port}", "test", "x"], no, "ok"),
        ("--version", ["--version"], no, "ok"),
    ]


# case name -> why ours differs from Debian's 1.36 on purpose
KNOWN = {
    "patch": "same JSON; serde_json now writes exponents as e+18 where 1.36's wrote e18",
    "zmq tcp": "1.36 queues on a ZeroMQ PUSH socket and waits for a peer forever; ours: no ZeroMQ, one-line error",
    "zmq ipc": "as zmq tcp",
    "empty spec": "1.36 passes it to ZeroMQ (\"Invalid argument\"); ours: the no-ZeroMQ error",
    "empty GRIP_URL": "as empty spec",
    "uppercase scheme": "1.36 passes it to ZeroMQ (\"Protocol not supported\"); ours: the no-ZeroMQ error",
    "IPv6 literal": "1.36 says invalid URL; ours publishes (Host: [::1]:port)",
    "https": "Debian's build has no TLS (connects, then errors); ours speaks TLS (here to a plain server, so a TLS error)",
    "--version": "ours names its own version",
}


def run(binary, argv, env_extra, cwd):
    env = {k: v for k, v in os.environ.items() if k != "GRIP_URL"}
    env.update(env_extra)
    try:
        p = subprocess.run([binary] + argv, cwd=cwd, env=env, capture_output=True, timeout=5)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        return "timeout", e.stdout or b"", e.stderr or b""


def compare_requests(a, b):
    """Differences between two lists of raw requests, as strings."""
    if len(a) != len(b):
        return [f"{len(a)} vs {len(b)} requests"]
    diffs = []
    for ra, rb in zip(a, b):
        if ra == rb:
            continue
        pa, pb = split_request(ra), split_request(rb)
        if pa is None or pb is None:
            diffs.append(f"raw request differs: {ra!r} vs {rb!r}")
            continue
        if pa[0] != pb[0]:
            diffs.append(f"request line {pa[0]!r} vs {pb[0]!r}")
        if pa[1] != pb[1]:
            diffs.append(f"headers {pa[1]} vs {pb[1]}")
        try:
            if json.loads(pa[2]) != json.loads(pb[2]):
                diffs.append(f"JSON {pa[2]!r} vs {pb[2]!r}")
            elif pa[2] != pb[2]:
                diffs.append("same JSON, different bytes")
        except ValueError:
            diffs.append(f"body {pa[2]!r} vs {pb[2]!r}")
    return diffs


def is_usage_error(out):
    return out[0] == 1 and out[2].startswith(b"error:")


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--ours", default=os.path.join(here, "..", "target", "debug", "pushpin-publish"))
    ap.add_argument("--theirs", default="/usr/bin/pushpin-publish")
    ap.add_argument("--port", type=int, default=24010)
    opts = ap.parse_args()

    cap = Capture(opts.port)
    s = f"http://127.0.0.1:{opts.port}"
    unexpected = 0
    with tempfile.TemporaryDirectory() as cwd:
        with open(os.path.join(cwd, "txt.dat"), "wb") as f:
            f.write(b"line1\nline2")
        with open(os.path.join(cwd, "bin.dat"), "wb") as f:
            f.write(b"abc\xff\xfe")
        print("| case | result | notes |\n|---|---|---|")
        for name, argv, env, resp in cases(s, opts.port):
            cap.response = RESPONSES[resp]
            cap.take()
            theirs = run(opts.theirs, argv, env, cwd)
            theirs_req = cap.take()
            ours = run(opts.ours, argv, env, cwd)
            ours_req = cap.take()
            diffs = compare_requests(theirs_req, ours_req)
            notes = []
            if theirs[0] != ours[0]:
                diffs.append(f"status {theirs[0]} vs {ours[0]}")
            if theirs[1] != ours[1]:
                diffs.append(f"stdout {theirs[1]!r} vs {ours[1]!r}")
            if theirs[2] != ours[2]:
                if is_usage_error(theirs) and is_usage_error(ours):
                    notes.append("usage error, status 1 from both; clap 2 vs clap 4 wording")
                else:
                    diffs.append(f"stderr {theirs[2]!r} vs {ours[2]!r}")
            sent = f"{len(ours_req)} request(s)" if ours_req else "nothing sent"
            out = (ours[1] or ours[2]).decode("utf-8", "replace").strip().splitlines()
            notes.append(f"{sent}; status {ours[0]}; {out[0] if out else ''}")
            if not diffs:
                result = "identical" if theirs[2] == ours[2] else "same but usage wording"
            elif name in KNOWN:
                result = "different (known)"
                notes.insert(0, KNOWN[name])
                notes.append("1.36: " + "; ".join(diffs))
            else:
                result = "DIFFERENT"
                unexpected += 1
                notes.extend(diffs)
            cell = "; ".join(notes).replace("|", "\\|").replace("\n", "\\n")
            print(f"| {name} | {result} | {cell} |")
    cap.sock.close()
    cap.sock6.close()
    print(f"\n{unexpected} unexpected difference(s)")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
