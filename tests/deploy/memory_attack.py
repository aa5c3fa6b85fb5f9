#!/usr/bin/env python3
"""Attack a running storage_api the way a hostile client would, and check that it keeps its promises.

All at once, for at least --seconds and then until every budget has been seen to refuse (bounded by
--give-up, which only a broken budget reaches):
  - uploads held open: PUTs announcing the largest body, sending a little of it, then stalling;
  - a flood of empty PUTs with long ids (ids and per-entry overhead must count against the cap);
  - GETs of a large object whose clients never read (responses must not be copied per reader);
  - slow uploads hoarding connection slots (1 byte every couple of seconds);
  - a probe of the admin port's /healthz every 250 ms, which must always answer.
Before the attack it stores objects of known content; afterwards every one must read back identical.

Exit status 0 when every check holds, 1 otherwise; a JSON summary goes to stdout. Loopback or the
project's own containers only; every socket has a timeout and the whole run is bounded by --give-up.
"""
import argparse
import hashlib
import json
import os
import random
import socket
import sys
import threading
import time


def parse_address(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


def connect(address, timeout=5.0, rcvbuf=None):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(timeout)
    sock.connect(address)
    return sock


class ResponseReader:
    """Reads responses off one socket, keeping what arrived beyond the current one (pipelining)."""

    def __init__(self, sock):
        self.sock = sock
        self.data = b""

    def _fill(self, limit=65536):
        chunk = self.sock.recv(limit)
        if not chunk:
            raise ConnectionError("closed before a complete response")
        self.data += chunk

    def read(self):
        """One response: (status, body bytes). Raises on timeout or a closed connection."""
        while b"\r\n\r\n" not in self.data:
            self._fill()
        head, _, rest = self.data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        self.data = rest
        while len(self.data) < length:
            self._fill(min(1 << 20, max(65536, length - len(self.data))))
        body, self.data = self.data[:length], self.data[length:]
        return status, body


def read_response(sock):
    return ResponseReader(sock).read()


def request(address, method, path, body=b"", timeout=10.0):
    with connect(address, timeout) as sock:
        head = f"{method} {path} HTTP/1.1\r\nHost: attack\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        sock.sendall(head.encode() + body)
        return read_response(sock)


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}

    def add(self, key):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def add_value(self, key, value):
        with self.lock:
            self.counts[key] = value

    def get(self, key):
        with self.lock:
            return self.counts.get(key, 0)


def seed(address, big_bytes):
    """Stores objects of known content; returns {path: sha256}."""
    rng = random.Random(42)
    objects = {}
    sizes = [big_bytes] + [rng.randint(1, 4 << 20) for _ in range(7)] + [0, 1, 1024]
    for i, size in enumerate(sizes):
        body = os.urandom(size)
        path = "/api/buckets/" + ("big" if i == 0 else f"seed-{i}")
        status, _ = request(address, "PUT", path, body, timeout=30)
        if status != 200:
            raise RuntimeError(f"seeding {path} ({size} bytes) answered {status}")
        objects[path] = hashlib.sha256(body).hexdigest()
    return objects


def held_uploads(address, count, announce, stop, tally, sockets):
    """PUTs that announce `announce` bytes, send 64 KiB of them and stall."""
    for i in range(count):
        if stop.is_set():
            return
        try:
            sock = connect(address, timeout=0.5)
            sock.sendall(f"PUT /api/buckets/held-{i} HTTP/1.1\r\nHost: attack\r\nContent-Length: {announce}\r\n\r\n"
                         .encode() + b"h" * 65536)
            sockets.append(sock)
            tally.add("held_opened")
        except OSError:
            tally.add("held_connect_refused")
    # Collect the answers the server gives them (503 once the in-flight budget is spent, 408 later).
    while not stop.is_set():
        for sock in list(sockets):
            try:
                sock.settimeout(0.05)
                status, _ = read_response(sock)
                tally.add(f"held_{status}")
                sockets.remove(sock)
                sock.close()
            except (socket.timeout, TimeoutError):
                pass
            except (OSError, ValueError, IndexError):
                tally.add("held_closed")
                sockets.remove(sock)
                sock.close()
        stop.wait(0.1)


def id_flood(address, id_bytes, stop, tally):
    """Pipelined keep-alive PUTs of empty values under long unique ids, as fast as the server answers."""
    sock = None
    n = 0
    batch = 32
    while not stop.is_set():
        try:
            if sock is None:
                sock = connect(address, timeout=5)
                reader = ResponseReader(sock)
            requests = []
            for _ in range(batch):
                path = "/api/buckets/" + f"{n:012d}" + "i" * (id_bytes - 12)
                requests.append(f"PUT {path} HTTP/1.1\r\nHost: attack\r\nContent-Length: 0\r\n\r\n")
                n += 1
            sock.sendall("".join(requests).encode())
            for _ in range(batch):
                status, _ = reader.read()
                tally.add(f"flood_{status}")
            if tally.get("flood_507") > 2000:
                stop.wait(0.2)  # the cap has long been shown to hold; keep the pressure without spinning
        except OSError:
            tally.add("flood_connection_error")
            if sock is not None:
                sock.close()
            sock = None
            stop.wait(0.05)
    if sock is not None:
        sock.close()


def stalled_readers(address, count, path, tally, sockets):
    for _ in range(count):
        try:
            sock = connect(address, timeout=2, rcvbuf=4096)
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: attack\r\n\r\n".encode())
            sockets.append(sock)  # and never read
            tally.add("readers_opened")
        except OSError:
            tally.add("readers_connect_refused")


def hoarders(address, count, stop, tally, sockets):
    """Slow uploads: a PUT head, then one byte every two seconds."""
    for i in range(count):
        if stop.is_set():
            return
        try:
            sock = connect(address, timeout=0.5)
            sock.sendall(f"PUT /api/buckets/slow-{i} HTTP/1.1\r\nHost: attack\r\nContent-Length: 1000000\r\n\r\n".encode())
            sockets.append(sock)
            tally.add("hoarders_opened")
        except OSError:
            tally.add("hoarders_connect_refused")
    while not stop.wait(2.0):
        for sock in list(sockets):
            try:
                sock.send(b"s")
            except OSError:
                tally.add("hoarders_cut_off")
                sockets.remove(sock)
                sock.close()


def probe(admin, stop, tally, failures):
    while not stop.is_set():
        started = time.monotonic()
        try:
            status, _ = request(admin, "GET", "/healthz", timeout=2)
            tally.add(f"probe_{status}")
            if status != 200:
                failures.append(f"/healthz answered {status}")
        except OSError as error:
            tally.add("probe_failed")
            failures.append(f"/healthz failed after {time.monotonic() - started:.2f}s: {error}")
        stop.wait(0.25)


def metric(admin, name):
    try:
        status, body = request(admin, "GET", "/metrics", timeout=5)
    except OSError:
        return None
    if status != 200:
        return None
    total = 0.0
    found = False
    for line in body.decode(errors="replace").splitlines():
        if line.startswith(name) and (line[len(name)] in " {"):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    return total if found else None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="HOST:PORT of the data listener")
    parser.add_argument("--admin", required=True, help="HOST:PORT of the admin listener")
    parser.add_argument("--seconds", type=float, default=20, help="the least time the attack lasts")
    parser.add_argument("--give-up", type=float, default=600,
                        help="the most time it lasts while waiting for every budget to refuse something")
    parser.add_argument("--big-bytes", type=int, default=32 << 20)
    parser.add_argument("--announce", type=int, default=64 << 20, help="Content-Length of the held uploads")
    parser.add_argument("--uploads", type=int, default=12)
    parser.add_argument("--readers", type=int, default=24)
    parser.add_argument("--hoarders", type=int, default=300)
    parser.add_argument("--id-bytes", type=int, default=1000)
    parser.add_argument("--pid", type=int, help="the server's pid, to check it is still the same process")
    args = parser.parse_args()
    data, admin = parse_address(args.data), parse_address(args.admin)

    problems = []
    objects = seed(data, args.big_bytes)
    tally = Tally()
    stop = threading.Event()
    probe_failures = []
    held, readers, slow = [], [], []
    threads = [
        threading.Thread(target=probe, args=(admin, stop, tally, probe_failures)),
        threading.Thread(target=held_uploads, args=(data, args.uploads, args.announce, stop, tally, held)),
        threading.Thread(target=id_flood, args=(data, args.id_bytes, stop, tally)),
        threading.Thread(target=hoarders, args=(data, args.hoarders, stop, tally, slow)),
    ]
    for thread in threads:
        thread.start()
    stalled_readers(data, args.readers, "/api/buckets/big", tally, readers)
    started = time.monotonic()

    def every_budget_refused():
        return tally.get("flood_507") > 0 and (tally.get("held_503") > 0 or tally.get("held_closed") > 0)

    while time.monotonic() - started < args.seconds or not every_budget_refused():
        if time.monotonic() - started > args.give_up:
            problems.append(f"after {args.give_up:.0f} s not every budget had refused anything")
            break
        stop.wait(0.5)
    tally.add_value("attack_seconds", round(time.monotonic() - started, 1))
    refusals = metric(admin, "storage_api_refusals_total")
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    for sock in held + readers + slow:
        sock.close()

    # Everything stored before the attack is still there, byte for byte.
    for path, digest in objects.items():
        try:
            status, body = request(data, "GET", path, timeout=30)
        except OSError as error:
            problems.append(f"GET {path} failed after the attack: {error}")
            continue
        if status != 200 or hashlib.sha256(body).hexdigest() != digest:
            problems.append(f"GET {path} after the attack: status {status}, {len(body)} bytes, content differs")
    if args.pid is not None and not os.path.exists(f"/proc/{args.pid}"):
        problems.append(f"the server (pid {args.pid}) is gone")
    if probe_failures:
        problems.append(f"the admin port failed {len(probe_failures)} probes: {probe_failures[:3]}")
    if tally.get("probe_200") == 0:
        problems.append("no probe of the admin port succeeded")
    if tally.get("flood_507") == 0:
        problems.append("the long-id flood never got 507: ids and entry overhead are not counted against the cap")
    if tally.get("held_503") == 0 and tally.get("held_closed") == 0:
        problems.append("no held upload was refused: bodies in flight are not budgeted")
    summary = {"counts": dict(sorted(tally.counts.items())), "refusals_total": refusals, "problems": problems}
    print(json.dumps(summary, indent=2))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
