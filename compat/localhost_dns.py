#!/usr/bin/env python3
"""Run a Python client script with every `*.localhost` name resolving to loopback.

RFC 6761 §6.3 reserves `localhost` and its subdomains for loopback; browsers and curl resolve
them so, but glibc (without nss-myhostname) does not, so `bucket.localhost` is unknown to a
Python client. This resolves them as the RFC says and changes nothing else: the client
still builds `bucket.localhost:PORT` URLs, Host headers and signatures itself, which is what
a virtual-hosted-style lane exercises. No /etc/hosts edit is needed.

    python localhost_dns.py SCRIPT [ARGS...]

LOCALHOST_DNS_LOG, when set, names a file each resolved `*.localhost` name is appended to,
so a lane can prove the client really addressed the bucket by host name.
"""

import os
import runpy
import socket
import sys

_real = socket.getaddrinfo


def _getaddrinfo(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if isinstance(name, str) and name.lower().rstrip(".").endswith(".localhost"):
        log = os.environ.get("LOCALHOST_DNS_LOG")
        if log:
            with open(log, "a") as f:
                f.write(name + "\n")
        host = "127.0.0.1"
    return _real(host, *args, **kwargs)


socket.getaddrinfo = _getaddrinfo

if __name__ == "__main__":
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    runpy.run_path(script, run_name="__main__")
