#!/usr/bin/env python3
"""Listen on a datagram socket as systemd's NOTIFY_SOCKET would, and append
every message to a file as one line: "<unix time> <message>", newlines
inside a message shown as "|".  Runs until killed."""
import os
import socket
import sys
import time

path, out = sys.argv[1], sys.argv[2]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    os.unlink(path)
except FileNotFoundError:
    pass
with open(out, "a", buffering=1) as f:
    sock.bind(path)
    while True:
        data = sock.recv(4096)
        f.write("%.3f %s\n" % (time.time(), data.decode(errors="replace").strip().replace("\n", "|")))
