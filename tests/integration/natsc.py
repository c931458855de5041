#!/usr/bin/env python3
"""natsc.py: a minimal NATS client for shell tests (the text protocol over
a plain socket; no client library is installed).

  natsc.py req  URL SUBJECT DATA [TIMEOUT_S]   print the reply's payload;
                                               exit 2 on timeout, 3 on
                                               "no responders"
  natsc.py pub  URL SUBJECT DATA               publish and flush
  natsc.py sub  URL SUBJECT SECONDS [MAX]      print each message's payload,
                                               one per line, for SECONDS
                                               (or until MAX messages)
  natsc.py wait URL SUBJECT SECONDS PYEXPR     print each message until one
                                               whose JSON payload j makes
                                               PYEXPR true; exit 2 if none
                                               came.  "natsc: subscribed" on
                                               stderr once listening

URL is nats://host:port.  Payloads are UTF-8 text (JSON here).
"""
import json
import os
import socket
import sys
import time


class Nats:
    def __init__(self, url, timeout=10.0):
        hostport = url.split("://", 1)[-1].split(",")[0]
        host, port = hostport.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout)
        self.buf = b""
        self.sid = 0
        self.pending = []
        info = self._line(time.monotonic() + timeout)
        if not info.startswith(b"INFO"):
            raise IOError("not a NATS server: %r" % info[:80])
        connect = {"verbose": False, "pedantic": False, "headers": True,
                   "no_responders": True, "name": "natsc.py"}
        self._send(b"CONNECT " + json.dumps(connect).encode() + b"\r\n")
        self.flush(timeout)

    def _send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError()
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError()
        if not chunk:
            raise IOError("connection closed by the server")
        self.buf += chunk

    def _line(self, deadline):
        while b"\r\n" not in self.buf:
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _bytes(self, n, deadline):
        while len(self.buf) < n + 2:
            self._fill(deadline)
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _op(self, deadline):
        """Read one protocol operation; a message is queued."""
        line = self._line(deadline)
        if line == b"PING":
            self._send(b"PONG\r\n")
        elif line.startswith(b"-ERR"):
            raise IOError(line.decode(errors="replace"))
        elif line.startswith(b"MSG "):
            p = line.split()
            reply = p[3] if len(p) == 5 else b""
            data = self._bytes(int(p[-1]), deadline)
            self.pending.append((p[1].decode(), reply.decode(), b"", data))
        elif line.startswith(b"HMSG "):
            p = line.split()
            reply = p[3] if len(p) == 6 else b""
            hlen, total = int(p[-2]), int(p[-1])
            raw = self._bytes(total, deadline)
            self.pending.append((p[1].decode(), reply.decode(), raw[:hlen],
                                 raw[hlen:]))
        return line

    def next(self, deadline):
        """The next message: (subject, reply, headers bytes, payload)."""
        while not self.pending:
            self._op(deadline)
        return self.pending.pop(0)

    def flush(self, timeout=10.0):
        """Round trip to the server: everything sent before is processed."""
        self._send(b"PING\r\n")
        deadline = time.monotonic() + timeout
        while self._op(deadline) != b"PONG":
            pass

    def sub(self, subject):
        self.sid += 1
        self._send(("SUB %s %d\r\n" % (subject, self.sid)).encode())
        return self.sid

    def pub(self, subject, data, reply=None):
        head = "PUB %s %s%d\r\n" % (subject, reply + " " if reply else "",
                                     len(data))
        self._send(head.encode() + data + b"\r\n")


def cmd_req(url, subject, data, timeout=30.0):
    n = Nats(url)
    inbox = "_INBOX.natsc%d%d" % (os.getpid(), int(time.time() * 1000))
    n.sub(inbox)
    n.flush()
    n.pub(subject, data.encode(), inbox)
    deadline = time.monotonic() + timeout
    try:
        while True:
            subj, _, hdr, payload = n.next(deadline)
            if subj != inbox:
                continue
            if b"503" in hdr.split(b"\r\n", 1)[0]:
                print("natsc: no responders on %s" % subject, file=sys.stderr)
                return 3
            sys.stdout.write(payload.decode(errors="replace") + "\n")
            return 0
    except TimeoutError:
        print("natsc: no reply on %s within %gs" % (subject, timeout),
              file=sys.stderr)
        return 2


def cmd_pub(url, subject, data):
    n = Nats(url)
    n.pub(subject, data.encode())
    n.flush()
    return 0


def cmd_sub(url, subject, seconds, limit=0):
    n = Nats(url)
    n.sub(subject)
    n.flush()
    deadline = time.monotonic() + seconds
    count = 0
    try:
        while limit == 0 or count < limit:
            _, _, _, payload = n.next(deadline)
            sys.stdout.write(payload.decode(errors="replace") + "\n")
            sys.stdout.flush()
            count += 1
    except TimeoutError:
        pass
    return 0


def cmd_wait(url, subject, seconds, expr):
    n = Nats(url)
    n.sub(subject)
    n.flush()
    # Tell the caller we are listening (it may now trigger the event).
    sys.stderr.write("natsc: subscribed\n")
    sys.stderr.flush()
    deadline = time.monotonic() + seconds
    try:
        while True:
            _, _, _, payload = n.next(deadline)
            sys.stdout.write(payload.decode(errors="replace") + "\n")
            sys.stdout.flush()
            try:
                j = json.loads(payload)
            except ValueError:
                continue
            if eval(expr, {}, {"j": j}):
                return 0
    except TimeoutError:
        return 2


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 64
    verb, url, subject = argv[1], argv[2], argv[3]
    if verb == "req":
        return cmd_req(url, subject, argv[4] if len(argv) > 4 else "",
                       float(argv[5]) if len(argv) > 5 else 30.0)
    if verb == "pub":
        return cmd_pub(url, subject, argv[4] if len(argv) > 4 else "")
    if verb == "sub":
        return cmd_sub(url, subject, float(argv[4]),
                       int(argv[5]) if len(argv) > 5 else 0)
    if verb == "wait":
        return cmd_wait(url, subject, float(argv[4]), argv[5])
    sys.stderr.write(__doc__)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))
