#!/usr/bin/env python3
"""Traffic and placement checks for tests/deploy/check_cluster.sh (keep-alive HTTP over loopback).

  put        --router URL --ids N --state FILE     PUT N ids through a router; record each id's bytes
                                                   (sha256) and the shard that answered (X-Storage-Shard)
  read       --router URL --state FILE [--down S]  GET every id through a router: byte-identical, from
                                                   the recorded shard; with --down, that shard's ids
                                                   answer 502/503 (never 404) and every other id 200
  placement  --state FILE --shard NAME=URL ...     ask every shard directly for every id: each id is on
                                                   exactly one shard, the recorded one, byte-identical
  spread     --state FILE --shards K --tolerance F each shard holds within F of N/K ids
  refuse     --router URL --state FILE --down S --shard NAME=URL ...
                                                   PUTs to the down shard's ids (new bytes) and to new
                                                   ids are refused with 502/503 whenever they hash to
                                                   it, and no other shard holds those new ids
  counts     --state FILE                          "SHARD IDS" per shard
  dashboard  --prometheus URL --dashboard FILE     every query of the cluster dashboard uses the
                                                   datasource variable and $__rate_interval, and returns
                                                   data from the live cluster's Prometheus (with
                                                   --allow-empty: evaluates without error)
Exit status 0 when every check holds; the reasons are printed otherwise.
"""
import argparse
import collections
import concurrent.futures
import hashlib
import http.client
import json
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request

WORKERS = 4


def body_for(index):
    """Deterministic, binary, of varied length (some empty)."""
    length = (index * 37) % 2048
    out = bytearray()
    seed = hashlib.sha256(f"cluster-{index}".encode()).digest()
    while len(out) < length:
        out += seed
        seed = hashlib.sha256(seed).digest()
    return bytes(out[:length])


class Client:
    """One keep-alive connection per thread and base URL; reconnects when the server closes."""

    def __init__(self):
        self.local = threading.local()

    def request(self, base, method, path, body=None):
        conns = self.local.__dict__.setdefault("conns", {})
        # A keep-alive connection the server has just closed fails once; so may a fresh one while
        # Docker's port proxy for a restarted container comes up: three attempts in all.
        for attempt in range(3):
            conn = conns.get(base)
            if conn is None:
                url = urllib.parse.urlsplit(base)
                conn = conns[base] = http.client.HTTPConnection(url.hostname, url.port, timeout=15)
            try:
                conn.request(method, path, body=body)
                response = conn.getresponse()
                data = response.read()
                if response.will_close:
                    conn.close()
                    conns.pop(base, None)
                return response.status, response.getheader("X-Storage-Shard"), data
            except (http.client.HTTPException, OSError):
                conn.close()
                conns.pop(base, None)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def load(path):
    with open(path) as f:
        return json.load(f)


def parallel(fn, items):
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(fn, items))


def cmd_put(args):
    client = Client()

    def put(i):
        status, shard, _ = client.request(args.router, "PUT", f"/api/buckets/cl-{i}", body_for(i))
        return i, status, shard

    results = parallel(put, range(args.ids))
    bad = [r for r in results if r[1] != 200 or not r[2]]
    state = {"ids": {f"cl-{i}": {"index": i, "sha": hashlib.sha256(body_for(i)).hexdigest(), "shard": shard}
                     for i, status, shard in results}}
    with open(args.state, "w") as f:
        json.dump(state, f)
    print(f"PUT {args.ids} ids through {args.router}: {args.ids - len(bad)} answered 200 with a shard")
    for r in bad[:5]:
        print(f"  cl-{r[0]}: status {r[1]}, shard {r[2]}")
    return 0 if not bad else 1


def cmd_read(args):
    ids = load(args.state)["ids"]
    client = Client()

    def read(item):
        name, rec = item
        status, shard, data = client.request(args.router, "GET", f"/api/buckets/{name}")
        if args.down and rec["shard"] == args.down:
            ok = status in (502, 503) and shard == args.down
            return ("down", ok, name, status, shard)
        ok = status == 200 and shard == rec["shard"] and hashlib.sha256(data).hexdigest() == rec["sha"]
        return ("up", ok, name, status, shard)

    results = parallel(read, ids.items())
    tally = collections.Counter((kind, ok) for kind, ok, *_ in results)
    statuses = collections.Counter((kind, status) for kind, _, _, status, _ in results)
    print(f"GET {len(ids)} ids through {args.router}: " + ", ".join(f"{k} {s}: {n}" for (k, s), n in sorted(statuses.items())))
    bad = [r for r in results if not r[1]]
    for kind, _, name, status, shard in bad[:5]:
        print(f"  {name} ({kind}, recorded on {ids[name]['shard']}): status {status}, answered by {shard}")
    if args.down and tally[("down", True)] == 0:
        print(f"  no id of {args.down} was asked for")
        return 1
    return 0 if not bad else 1


def shards_of(args):
    return dict(s.split("=", 1) for s in args.shard)


def cmd_placement(args):
    ids = load(args.state)["ids"]
    shards = shards_of(args)
    client = Client()

    def locate(item):
        name, rec = item
        holders = []
        for shard, base in shards.items():
            status, _, data = client.request(base, "GET", f"/api/buckets/{name}")
            if status == 200:
                holders.append((shard, hashlib.sha256(data).hexdigest() == rec["sha"]))
            elif status != 404:
                holders.append((shard, f"status {status}"))
        return name, holders

    results = parallel(locate, ids.items())
    per_shard = collections.Counter()
    bad = []
    for name, holders in results:
        if len(holders) == 1 and holders[0] == (ids[name]["shard"], True):
            per_shard[holders[0][0]] += 1
        else:
            bad.append((name, holders))
    print(f"{len(ids)} ids asked of {len(shards)} shards directly: " +
          ", ".join(f"{s} holds {per_shard[s]}" for s in sorted(shards)) + f"; {len(bad)} misplaced")
    for name, holders in bad[:5]:
        print(f"  {name} (routed to {ids[name]['shard']}): found on {holders}")
    return 0 if not bad else 1


def cmd_spread(args):
    ids = load(args.state)["ids"]
    per_shard = collections.Counter(rec["shard"] for rec in ids.values())
    even = len(ids) / args.shards
    worst = max(abs(n - even) / even for n in per_shard.values())
    print(f"spread over {len(per_shard)} shards: " + ", ".join(f"{s} {n}" for s, n in sorted(per_shard.items())) +
          f"; even is {even:.0f}, worst deviation {worst:.1%} (allowed {args.tolerance:.0%})")
    return 0 if len(per_shard) == args.shards and worst <= args.tolerance else 1


def cmd_refuse(args):
    ids = load(args.state)["ids"]
    shards = shards_of(args)
    client = Client()
    failures = []
    down_ids = [name for name, rec in ids.items() if rec["shard"] == args.down][:100]
    for name in down_ids:
        status, shard, _ = client.request(args.router, "PUT", f"/api/buckets/{name}", b"must not be stored")
        if status not in (502, 503):
            failures.append(f"PUT {name} (on {args.down}): status {status}, answered by {shard}")
    refused_new = []
    accepted_new = collections.Counter()
    for i in range(300):
        name = f"cl-new-{i}"
        status, shard, _ = client.request(args.router, "PUT", f"/api/buckets/{name}", b"new while a shard is down")
        if status in (502, 503) and shard == args.down:
            refused_new.append(name)
        elif status == 200 and shard != args.down:
            accepted_new[shard] += 1
        else:
            failures.append(f"PUT {name}: status {status}, answered by {shard}")
    for name in refused_new:
        for shard, base in shards.items():
            if shard == args.down:
                continue
            status, _, _ = client.request(base, "GET", f"/api/buckets/{name}")
            if status != 404:
                failures.append(f"{name} was refused, yet {shard} answers {status} for it")
    print(f"while {args.down} is down: {len(down_ids)} overwrites of its ids refused, "
          f"{len(refused_new)} of 300 new ids hashed to it and were refused (no other shard has them), "
          f"the other new ids stored on " + ", ".join(f"{s} ({n})" for s, n in sorted(accepted_new.items())))
    for f in failures[:5]:
        print("  " + f)
    return 0 if not failures and down_ids and refused_new else 1


def cmd_counts(args):
    ids = load(args.state)["ids"]
    for shard, n in sorted(collections.Counter(rec["shard"] for rec in ids.values()).items()):
        print(shard, n)
    return 0


def cmd_dashboard(args):
    with open(args.dashboard) as f:
        dashboard = json.load(f)
    failures = []
    queries = 0
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            queries += 1
            expr = target["expr"]
            where = f'panel "{panel["title"]}"'
            if target.get("datasource", {}).get("uid") != "${datasource}" or panel.get("datasource", {}).get("uid") != "${datasource}":
                failures.append(f"{where}: not on the datasource variable")
            if "rate(" in expr and "[$__rate_interval]" not in expr:
                failures.append(f"{where}: a rate without $__rate_interval")
            live = expr.replace("$__rate_interval", "30s").replace("$shard", ".+")
            url = f"{args.prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": live})
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    result = json.load(response)
            except urllib.error.HTTPError as error:
                result = json.load(error)
            if result.get("status") != "success":
                failures.append(f"{where}: {result.get('error')}")
            elif not result["data"]["result"] and not args.allow_empty:
                failures.append(f"{where}: no data for {live}")
    what = "evaluate" if args.allow_empty else "return data"
    print(f"{queries} queries of {args.dashboard}: {queries - len(failures)} {what} from {args.prometheus}")
    for f in failures:
        print("  " + f)
    return 0 if queries > 0 and not failures else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("put"); p.add_argument("--router", required=True); p.add_argument("--ids", type=int, required=True)
    p.add_argument("--state", required=True)
    p = sub.add_parser("read"); p.add_argument("--router", required=True); p.add_argument("--state", required=True)
    p.add_argument("--down")
    p = sub.add_parser("placement"); p.add_argument("--state", required=True); p.add_argument("--shard", action="append", required=True)
    p = sub.add_parser("spread"); p.add_argument("--state", required=True); p.add_argument("--shards", type=int, required=True)
    p.add_argument("--tolerance", type=float, required=True)
    p = sub.add_parser("refuse"); p.add_argument("--router", required=True); p.add_argument("--state", required=True)
    p.add_argument("--down", required=True); p.add_argument("--shard", action="append", required=True)
    p = sub.add_parser("counts"); p.add_argument("--state", required=True)
    p = sub.add_parser("dashboard"); p.add_argument("--prometheus", required=True); p.add_argument("--dashboard", required=True)
    p.add_argument("--allow-empty", action="store_true")
    args = parser.parse_args()
    return globals()[f"cmd_{args.command}"](args)


if __name__ == "__main__":
    sys.exit(main())
