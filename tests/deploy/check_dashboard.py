#!/usr/bin/env python3
"""Checks the Grafana dashboard against its provisioning and against a live Prometheus.

Usage: check_dashboard.py DASHBOARD_JSON DATASOURCE_YAML PROMETHEUS_URL JOB INSTANCE [SINCE]
  SINCE: unix time the traffic began; the queries span from then (at least the last 2 minutes) to now.

Static: the JSON is well-formed, every panel and query uses the provisioned datasource (directly or
through the datasource variable, whose default is the provisioned uid), rates use $__rate_interval, and
the panels the project requires exist. Live: the template variable queries and every PromQL expression,
with the dashboard variables substituted, evaluate without error through the Prometheus HTTP API over the
last minutes, and return data (the service was scraped under traffic, so every panel must show something);
the two required panels return the series they exist for, and the Durability row (the service runs
with DATA_DIR) shows the log's writes, its error kinds and the recovery. The SLO row reads the series
recorded by grafana/prometheus-slo.yml (so Prometheus must evaluate it), per job: the SLOs are the
service's, not an instance's. The latency percentiles prefer the native histogram and fall back on the
classic buckets.

Prints one "ok"/"FAIL" line per check and exits 1 if any check failed. Standard library only.
"""
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

results = {"passed": 0, "failed": 0}


def check(ok, what, detail=""):
    results["passed" if ok else "failed"] += 1
    print(("ok   " if ok else "FAIL ") + what + ("" if ok or not detail else f": {detail}"))
    return ok


def prometheus(base, endpoint, params):
    data = urllib.parse.urlencode(params).encode()
    request = urllib.request.Request(f"{base}/api/v1/{endpoint}", data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:  # 400/422 carry the PromQL error as JSON
        try:
            return json.load(error)
        except ValueError:
            return {"status": "error", "error": f"HTTP {error.code}"}
    except (urllib.error.URLError, OSError, ValueError) as error:
        return {"status": "error", "error": str(error)}


def provisioned_uid(path):
    text = open(path, encoding="utf-8").read()
    uids = re.findall(r"^\s*uid:\s*['\"]?([\w.-]+)['\"]?\s*$", text, re.M)
    types = re.findall(r"^\s*type:\s*['\"]?([\w-]+)['\"]?\s*$", text, re.M)
    check(len(uids) == 1 and types[:1] == ["prometheus"], f"{path} provisions one Prometheus datasource with a fixed uid",
          f"uids {uids}, types {types}")
    return uids[0] if uids else None


def main():
    dashboard_path, datasource_path, base, job, instance = sys.argv[1:6]
    since = float(sys.argv[6]) if len(sys.argv) > 6 else None
    uid = provisioned_uid(datasource_path)

    try:
        dashboard = json.load(open(dashboard_path, encoding="utf-8"))
    except ValueError as error:
        check(False, f"{dashboard_path} is well-formed JSON", str(error))
        return
    check(True, f"{dashboard_path} is well-formed JSON")
    check(bool(dashboard.get("uid")) and bool(dashboard.get("title")), "the dashboard has a uid and a title")
    check(isinstance(dashboard.get("schemaVersion"), int), "the dashboard has a schemaVersion")

    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    ds_var = variables.get("datasource", {})
    check(ds_var.get("type") == "datasource" and ds_var.get("query") == "prometheus",
          "a datasource variable of type prometheus exists")
    check(ds_var.get("current", {}).get("value") == uid,
          f"the datasource variable defaults to the provisioned uid {uid}", str(ds_var.get("current")))
    allowed = {uid, "${datasource}", "$datasource"}

    def uses_provisioned(ds):
        return isinstance(ds, dict) and ds.get("type") == "prometheus" and ds.get("uid") in allowed

    for name in ("job", "instance"):
        var = variables.get(name, {})
        check(var.get("type") == "query" and uses_provisioned(var.get("datasource")),
              f"a {name} variable queries the provisioned datasource")

    panels = []

    def collect(items):
        for p in items:
            panels.append(p)
            collect(p.get("panels", []))

    collect(dashboard.get("panels", []))
    ids = [p.get("id") for p in panels]
    check(len(ids) == len(set(ids)), "panel ids are unique")
    rows = sorted((p for p in panels if p.get("type") == "row"), key=lambda r: r.get("gridPos", {}).get("y", 0))

    def row_of(panel):
        y = panel.get("gridPos", {}).get("y", 0)
        above = [r for r in rows if r.get("gridPos", {}).get("y", 0) < y]
        return above[-1].get("title") if above else None

    queries = []  # (panel title, refId, expr)
    for p in panels:
        if p.get("type") == "row":
            continue
        title = p.get("title", "?")
        check(uses_provisioned(p.get("datasource")), f"panel '{title}': datasource is the provisioned one",
              json.dumps(p.get("datasource")))
        check("gridPos" in p, f"panel '{title}': has a grid position")
        targets = p.get("targets", [])
        check(len(targets) > 0, f"panel '{title}': has queries")
        for t in targets:
            expr = t.get("expr", "")
            ref = t.get("refId", "?")
            check(uses_provisioned(t.get("datasource", p.get("datasource"))) and bool(expr.strip()),
                  f"panel '{title}' query {ref}: PromQL on the provisioned datasource")
            windows = re.findall(r"\[([^\]]+)\]", expr)
            check(all(w == "$__rate_interval" for w in windows), f"panel '{title}' query {ref}: ranges use $__rate_interval",
                  str(windows))
            if row_of(p) == "SLO":
                check("$job" in expr and "slo:" in expr,
                      f"panel '{title}' query {ref}: a series recorded by the SLO rules, filtered by $job")
            else:
                check("$job" in expr and "$instance" in expr, f"panel '{title}' query {ref}: filtered by $job and $instance")
            queries.append((title, ref, expr))

    by_title = {p.get("title"): p for p in panels}
    # Every panel the dashboard has shipped with stays (people look for them by name), and the SLO,
    # memory budget and durability rows hold their panels.
    required = ["Targets up", "Request rate", "5xx ratio", "Storage used", "Uptime", "Version", "HTTP",
                "Average HTTP Request Duration", "HTTP Status Codes", "Latency percentiles", "Request rate by route",
                "Error ratio", "p99 latency by route", "In-flight requests", "Connections", "Store", "Stored buckets",
                "Stored bytes", "Process", "Process memory", "Process CPU", "File descriptors", "Memory budget",
                "Memory budget vs used by area", "In-flight body bytes", "Refusals by reason", "Durability",
                "Log fdatasync latency", "Records per commit", "Log write rate", "Log errors by kind",
                "Data volume free space", "Recovery duration", "SLO", "SLI over 30 days",
                "Error budget remaining (30 days)", "SLI and objective", "Burn rate: availability", "Burn rate: latency"]
    missing = [t for t in required if t not in by_title]
    check(not missing, f"the dashboard has its {len(required)} required panels and rows", f"missing {missing}")
    windows = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]
    row_panels = {
        "SLO": {"SLI over 30 days": ["slo:sli_error:ratio_rate30d"],
                "Error budget remaining (30 days)": ["slo:error_budget_remaining:ratio"],
                "SLI and objective": ["slo:sli_error:ratio_rate5m", "slo:objective:ratio"],
                "Burn rate: availability": ['slo="bucket-availability"', "slo:error_budget:ratio"] +
                                           [f"slo:sli_error:ratio_rate{w}{{" for w in windows],
                "Burn rate: latency": ['slo="bucket-latency"', "slo:error_budget:ratio"] +
                                      [f"slo:sli_error:ratio_rate{w}{{" for w in windows]},
        "Memory budget": {"Memory budget vs used by area": ["storage_api_memory_budget_bytes", "storage_api_memory_used_bytes",
                                                            "by (area)"],
                          "In-flight body bytes": ["storage_api_inflight_body_bytes"],
                          "Refusals by reason": ["rate(storage_api_refusals_total", "by (reason)"]},
        "Durability": {"Log fdatasync latency": ["histogram_quantile(0.5, sum by (le) (rate(storage_api_log_sync_duration_seconds_bucket",
                                                 "histogram_quantile(0.99, sum by (le) (rate(storage_api_log_sync_duration_seconds_bucket"],
                       "Records per commit": ["rate(storage_api_log_records_per_commit_sum", "/",
                                              "rate(storage_api_log_records_per_commit_count"],
                       "Log write rate": ["rate(storage_api_log_written_bytes_total"],
                       "Log errors by kind": ["rate(storage_api_log_errors_total", "by (kind)"],
                       "Data volume free space": ["storage_api_data_dir_free_bytes", "storage_api_data_dir_size_bytes"],
                       "Recovery duration": ["storage_api_recovery_duration_seconds"]},
    }
    for row, titles in row_panels.items():
        for title, needles in titles.items():
            panel = by_title.get(title, {})
            exprs = " ".join(t.get("expr", "") for t in panel.get("targets", []))
            check(bool(panel) and row_of(panel) == row and all(n in exprs for n in needles),
                  f"panel '{title}': in the {row} row, showing {', '.join(needles)}", f"row {row_of(panel)}: {exprs}")
    check(by_title.get("Recovery duration", {}).get("type") == "stat", "panel 'Recovery duration': a stat")
    # Native histogram first, classic buckets otherwise: `native or classic`, per result series.
    for title in ("Latency percentiles", "p99 latency by route"):
        for t in by_title.get(title, {}).get("targets", []):
            expr = t.get("expr", "")
            native = re.search(r"histogram_quantile\([0-9.]+, sum(?: by \([^)]*\))? ?\(rate\(http_request_duration_seconds\{", expr)
            check(native is not None and re.search(r"\)\s+or\s+histogram_quantile\(", expr) is not None and
                  "http_request_duration_seconds_bucket{" in expr,
                  f"panel '{title}' query {t.get('refId')}: the native histogram, or else the classic buckets", expr)
    avg = by_title.get("Average HTTP Request Duration")
    avg_exprs = " ".join(t.get("expr", "") for t in (avg or {}).get("targets", []))
    check(avg is not None and "http_request_duration_seconds_sum" in avg_exprs and "http_request_duration_seconds_count" in avg_exprs
          and re.search(r"by \((path, method|method, path)\)", avg_exprs) is not None,
          "panel 'Average HTTP Request Duration': rate(_sum)/rate(_count) by path and method")
    status = by_title.get("HTTP Status Codes")
    status_exprs = " ".join(t.get("expr", "") for t in (status or {}).get("targets", []))
    check(status is not None and "by (status)" in status_exprs and "rate(http_request_duration_seconds_count" in status_exprs,
          "panel 'HTTP Status Codes': request rate by status")
    all_exprs = " ".join(e for _, _, e in queries)
    for needle, what in [("histogram_quantile(0.5,", "p50"), ("histogram_quantile(0.95,", "p95"),
                         ("histogram_quantile(0.99,", "p99"), ("http_requests_in_flight", "in-flight requests"),
                         ("storage_api_buckets", "stored buckets"), ("storage_api_stored_bytes", "stored bytes"),
                         ("process_resident_memory_bytes", "process memory"), ("process_cpu_seconds_total", "process CPU"),
                         ('status=~"5.."', "error ratio")]:
        check(needle in all_exprs, f"the dashboard shows {what}")

    # Template variable queries: label_values(selector, label) as Grafana runs them.
    substitutions = {"$__rate_interval": "1m", "$__interval": "5s", "$__range": "5m", "$job": job, "$instance": instance}

    def substitute(expr):
        for key in sorted(substitutions, key=len, reverse=True):
            expr = expr.replace("${" + key[1:] + "}", substitutions[key]).replace(key, substitutions[key])
        return expr

    for name in ("job", "instance"):
        query = variables.get(name, {}).get("query", "")
        query = query.get("query", "") if isinstance(query, dict) else query
        match = re.fullmatch(r"\s*label_values\((.+),\s*(\w+)\)\s*", query)
        if not check(match is not None, f"variable {name}: label_values() query", query):
            continue
        reply = prometheus(base, "query", {"query": f"group by ({match.group(2)}) ({substitute(match.group(1))})"})
        values = sorted({r["metric"].get(match.group(2)) for r in reply.get("data", {}).get("result", [])})
        expected = job if name == "job" else instance.replace("\\", "")
        check(reply.get("status") == "success" and (expected in values or expected == ".*" and len(values) > 0),
              f"variable {name}: {query} offers {expected}", f"{reply.get('error', '')} values {values}")

    end = time.time()
    start = min(end - 120, since) if since is not None else end - 120
    for title, ref, expr in queries:
        reply = prometheus(base, "query_range", {"query": substitute(expr), "start": f"{start:.3f}", "end": f"{end:.3f}", "step": "5"})
        ok = reply.get("status") == "success"
        check(ok, f"panel '{title}' query {ref}: evaluates", reply.get("error", ""))
        if not ok:
            continue
        series = reply["data"]["result"]
        check(any(s.get("values") for s in series), f"panel '{title}' query {ref}: returns data", substitute(expr))
        if title == "HTTP Status Codes":
            statuses = sorted({s["metric"].get("status") for s in series})
            check(len(statuses) >= 2 and "200" in statuses, f"panel '{title}': shows several statuses {statuses}")
        values = [float(v[1]) for s in series for v in s["values"] if v[1] not in ("NaN", "+Inf", "-Inf")]
        if title == "Log errors by kind" and ref == "A":
            kinds = sorted({s["metric"].get("kind") for s in series})
            check({"no_space", "write", "sync"} <= set(kinds), f"panel '{title}': a series per error kind", str(kinds))
        if title == "Log write rate" and ref == "A":
            check(bool(values) and max(values) > 0, f"panel '{title}': the traffic's writes reached the log",
                  f"max {max(values) if values else None}")
        if title == "Recovery duration":
            check(bool(values) and all(0 <= v < 60 for v in values), f"panel '{title}': a plausible duration",
                  str(values[-1:] if values else None))
        if title in ("SLI over 30 days", "Error budget remaining (30 days)", "Burn rate: availability"):
            slos = sorted({s["metric"].get("slo") for s in series})
            wanted = ["bucket-availability"] if title == "Burn rate: availability" else ["bucket-availability", "bucket-latency"]
            check(slos == wanted, f"panel '{title}' query {ref}: series for {', '.join(wanted)}", str(slos))
        # The traffic has 4xx answers but no 5xx: nothing of the availability budget is spent.
        if title in ("Error budget remaining (30 days)", "Burn rate: availability"):
            spent = [float(v[1]) for s in series if s["metric"].get("slo") == "bucket-availability" for v in s["values"]]
            ideal = 1.0 if title.startswith("Error budget") else 0.0
            check(bool(spent) and all(v == ideal for v in spent),
                  f"panel '{title}' query {ref}: bucket-availability at {ideal:g} (4xx are not errors)", str(spent[-3:]))
        if title == "Average HTTP Request Duration":
            routes = {(s["metric"].get("method"), s["metric"].get("path")) for s in series}
            wanted = {(m, "/api/buckets/{id}") for m in ("PUT", "GET", "DELETE")}
            check(wanted <= routes, f"panel '{title}': a series per bucket method", str(sorted(routes)))
            check(bool(values) and all(0 <= a < 10 for a in values), f"panel '{title}': averages are plausible durations")


if __name__ == "__main__":
    main()
    print(f"{results['passed']} passed, {results['failed']} failed")
    sys.exit(1 if results["failed"] else 0)
