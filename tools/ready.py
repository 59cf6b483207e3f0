"""`python -m tools.ready --pid PID URL`: wait until a server started in the background is ready,
and make sure it is *that* server which answers.

A readiness loop such as `until curl -sf localhost:8080/ping; ...` passes against whatever
listens on the port: when ours died because the port was taken, it tests another program. This
waits until URL answers with a 2xx status AND the socket listening on its port belongs to PID or
one of its children (Linux: the socket inodes of /proc/net/tcp{,6} in LISTEN state, against the
`socket:[inode]` links of /proc/<pid>/fd). It fails (exit 1), saying why, when the process exits,
when another process holds the port, or after --timeout seconds; `--log FILE` prints the end of
the server's log then.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

LISTEN = "0A"  # the kernel's TCP_LISTEN in /proc/net/tcp


def listening_inodes(port: int) -> set[str]:
    """Inodes of the sockets listening on `port` (IPv4 and IPv6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def owns_port(pid: int, port: int) -> bool:
    """Whether `pid` or a descendant holds a socket listening on `port`."""
    inodes = listening_inodes(port)
    for member in process_tree(pid):
        try:
            links = [os.readlink(link) for link in Path(f"/proc/{member}/fd").iterdir()]
        except OSError:
            continue
        if any(link.startswith("socket:[") and link[8:-1] in inodes for link in links):
            return True
    return False


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return status != "Z"  # a zombie has exited, its parent (the shell) has not reaped it yet


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - a local URL the user gave
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


def wait(pid: int, url: str, timeout: float) -> str | None:
    """None once `url` answers from `pid`'s process tree, else why not."""
    port = urlparse(url).port or (443 if url.startswith("https") else 80)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return f"process {pid} has exited"
        if answers(url):
            if owns_port(pid, port):
                return None
            if listening_inodes(port):
                return (f"{url} answers, but not from process {pid}: another program listens on port {port}; "
                        "start the server on another port")
        time.sleep(0.5)
    return f"{url} did not answer within {timeout:.0f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.ready", description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the readiness endpoint, e.g. http://127.0.0.1:8080/ping")
    parser.add_argument("--pid", type=int, required=True, help="the server's process ($! after starting it with &)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds (default 120)")
    parser.add_argument("--log", type=Path, help="the server's log, whose end is printed on a failure")
    args = parser.parse_args(argv)
    problem = wait(args.pid, args.url, args.timeout)
    if problem is None:
        print(f"ready: {args.url} (pid {args.pid})")
        return 0
    print(f"not ready: {problem}", file=sys.stderr)
    if args.log and args.log.is_file():
        tail = args.log.read_text(errors="replace").splitlines()[-15:]
        print(f"--- the last lines of {args.log}:", *tail, sep="\n", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
