// The sharded cluster, offline: the router's HAProxy configuration (manifests/cluster/haproxy.cfg), its
// Deployment, PDB and Service, Prometheus' pod discovery (simulated over the workloads' pods) and its
// RBAC, and the compose cluster (manifests/cluster/docker-compose.yml).
//   checkCluster({ repo, find, check, envValue, namespace })
//       the ring: balance uri, hash-type consistent, SHARDS servers storage-api-<ordinal> with explicit
//       unique ids and nothing that takes a server out of the ring (check, track, observe, resolvers,
//       backup, option redispatch, hash-balance-factor); each ring server a local socket whose one-server
//       proxy reaches that shard's pod name; 2 router replicas, a PDB, the ConfigMap mounted where the
//       image reads it; the scrape jobs keep exactly the shards' admin ports and the routers' exporters
//   checkRbac({ objects, byKind, check, namespace })
//       prints every verb and resource granted, and requires exactly get, list, watch on pods for the
//       prometheus ServiceAccount, in the namespace, and no cluster-wide grant
//   checkClusterCompose({ repo, check, composeDefault })  returns the parsed compose file
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { SHARDS } from "./storage_api.mjs";

const shardName = (i) => `storage-api-${i}`;
const DATA_PORT = 5000;
const ADMIN_PORT = 5001;
const METRICS_PORT = 8404;

// HAProxy configuration: sections (global, defaults, frontend, backend, listen, resolvers) of lines.
export function parseHaproxy(text) {
  const sections = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/(^|\s)#.*$/, "").trim();
    if (!line) continue;
    const words = line.split(/\s+/);
    if (/^\S/.test(raw) && ["global", "defaults", "frontend", "backend", "listen", "resolvers", "peers", "userlist"].includes(words[0])) {
      sections.push({ kind: words[0], name: words[1] ?? "", lines: [] });
    } else if (sections.length > 0) {
      sections.at(-1).lines.push(words);
    }
  }
  return sections;
}

const has = (section, ...words) => section.lines.some((l) => words.every((w, i) => l[i] === w));
const servers = (section) => section.lines.filter((l) => l[0] === "server").map((l) => ({ name: l[1], address: l[2], args: l.slice(3) }));
// The defaults section a proxy inherits: the last one before it.
const defaultsOf = (sections, proxy) => sections.slice(0, sections.indexOf(proxy)).filter((s) => s.kind === "defaults").at(-1);

function checkRing(text, check) {
  const sections = parseHaproxy(text);
  const at = "haproxy.cfg";
  const frontend = sections.find((s) => s.kind === "frontend" && s.lines.some((l) => l[0] === "bind" && l[1] === `:${DATA_PORT}`));
  check(Boolean(frontend), `${at}: a frontend binds :${DATA_PORT}, the router's data port`);
  const ringName = frontend?.lines.find((l) => l[0] === "default_backend")?.[1];
  check(!frontend?.lines.some((l) => l[0] === "use_backend"), `${at}: the frontend sends every request to one backend (no use_backend)`);
  const ring = sections.find((s) => (s.kind === "backend" || s.kind === "listen") && s.name === ringName);
  if (!check(Boolean(ring), `${at}: the frontend's default_backend ${ringName} is defined`)) return;
  check(has(ring, "balance", "uri") && ring.lines.filter((l) => l[0] === "balance").length === 1,
    `${at}: backend ${ringName} hashes the path (balance uri)`);
  check(has(ring, "hash-type", "consistent"), `${at}: backend ${ringName} uses consistent hashing (hash-type consistent)`);
  // Nothing may move an id to another server: no redispatch anywhere, no bounded loads, no server state.
  const everywhere = sections.flatMap((s) => s.lines.map((l) => ({ s, l })));
  check(!everywhere.some(({ l }) => l.includes("redispatch")), `${at}: no option redispatch anywhere`);
  check(!everywhere.some(({ l }) => l[0] === "hash-balance-factor"), `${at}: no hash-balance-factor (bounded loads move keys)`);
  const ringDefaults = defaultsOf(sections, ring);
  check(!(ringDefaults?.lines || []).some((l) => l[0] === "default-server") && !has(ring, "default-server"),
    `${at}: backend ${ringName} inherits no default-server settings`);
  const list = servers(ring);
  check(list.length === SHARDS && list.every((srv, i) => srv.name === shardName(i)),
    `${at}: backend ${ringName} has ${SHARDS} servers, ${shardName(0)} to ${shardName(SHARDS - 1)} (the StatefulSet's pods)`,
    list.map((x) => x.name).join(", "));
  const ids = list.map((srv) => srv.args[srv.args.indexOf("id") + 1]);
  check(list.every((srv) => srv.args.includes("id")) && new Set(ids).size === list.length && ids.every((id) => /^[1-9][0-9]*$/.test(id)),
    `${at}: every ring server has an explicit, unique id (its ring position: the same map in every replica)`, ids.join(", "));
  const weights = list.map((srv) => srv.args[srv.args.indexOf("weight") + 1]);
  check(list.every((srv) => srv.args.includes("weight")) && new Set(weights).size === 1 && Number(weights[0]) >= 100,
    `${at}: every ring server has the same explicit weight, at least 100 (enough ring points for an even spread)`, weights.join(", "));
  const forbidden = ["check", "track", "observe", "resolvers", "backup", "disabled", "agent-check", "redir"];
  for (const srv of list) {
    const found = srv.args.filter((a) => forbidden.includes(a));
    check(found.length === 0, `${at}: ring server ${srv.name} cannot leave the ring (no ${forbidden.join(", ")})`, found.join(", "));
    check(srv.address === `abns@${srv.name}`, `${at}: ring server ${srv.name} is the local socket abns@${srv.name}`, srv.address);
    // Its one-server proxy: binds that socket, reaches exactly this shard, health-checked.
    const proxy = sections.find((s) => s.kind === "listen" && s.lines.some((l) => l[0] === "bind" && l[1] === `abns@${srv.name}`));
    if (!check(Boolean(proxy), `${at}: a listen section binds abns@${srv.name}`)) continue;
    const inner = servers(proxy);
    check(inner.length === 1 && inner[0].name === srv.name && inner[0].address === `${srv.name}.\${SHARD_DOMAIN}:${DATA_PORT}`,
      `${at}: proxy ${proxy.name} has one server, ${srv.name}.\${SHARD_DOMAIN}:${DATA_PORT} (no other shard to fall back on)`,
      inner.map((x) => `${x.name} ${x.address}`).join("; "));
    const defaults = [...(defaultsOf(sections, proxy)?.lines || []), ...proxy.lines].filter((l) => l[0] === "default-server").flat();
    const innerArgs = [...defaults, ...(inner[0]?.args || [])];
    check(innerArgs.includes("check") && innerArgs.includes("resolvers"),
      `${at}: proxy ${proxy.name} resolves its shard at run time and health-checks it`);
    check(!innerArgs.includes("backup") && !has(proxy, "balance", "uri"), `${at}: proxy ${proxy.name} neither hashes nor has a backup`);
    check(has(proxy, "http-request", "set-header", "X-Storage-Shard", srv.name),
      `${at}: proxy ${proxy.name} names its shard in X-Storage-Shard (a shard with another SHARD_NAME answers 421)`);
  }
  const metrics = sections.find((s) => s.kind === "frontend" && s.lines.some((l) => l[0] === "bind" && l[1] === `:${METRICS_PORT}`));
  check(Boolean(metrics) && metrics.lines.some((l) => l.includes("prometheus-exporter")),
    `${at}: a frontend on :${METRICS_PORT} serves HAProxy's Prometheus exporter`);
}

// Prometheus relabelling, as far as these configs use it (keep, drop, replace), over the pods of the
// namespace as kubernetes_sd_configs role pod presents them (one target per container port).
function podTargets(workloads) {
  const targets = [];
  for (const w of workloads) {
    const names = w.kind === "StatefulSet" ? Array.from({ length: w.spec.replicas ?? 1 }, (_, i) => `${w.metadata.name}-${i}`)
      : Array.from({ length: w.spec.replicas ?? 1 }, (_, i) => `${w.metadata.name}-5d4f8-${i}`);
    for (const pod of names) {
      for (const c of w.spec.template.spec.containers) {
        for (const port of c.ports || []) {
          const labels = { __address__: `10.0.0.1:${port.containerPort}`, __meta_kubernetes_pod_name: pod,
            __meta_kubernetes_pod_container_port_name: port.name ?? "", __meta_kubernetes_namespace: w.metadata.namespace };
          for (const [k, v] of Object.entries(w.spec.template.metadata.labels || {})) {
            labels[`__meta_kubernetes_pod_label_${k.replace(/[^a-zA-Z0-9_]/g, "_")}`] = v;
          }
          targets.push(labels);
        }
      }
    }
  }
  return targets;
}
function relabel(labels, configs) {
  const out = { ...labels };
  for (const rc of configs || []) {
    const value = (rc.source_labels || []).map((l) => out[l] ?? "").join(rc.separator ?? ";");
    const re = new RegExp(`^(?:${rc.regex ?? "(.*)"})$`);
    const action = rc.action ?? "replace";
    if (action === "keep" && !re.test(value)) return null;
    if (action === "drop" && re.test(value)) return null;
    if (action === "replace") {
      const m = re.exec(value);
      if (m) out[rc.target_label] = (rc.replacement ?? "$1").replace(/\$\{?(\d+)\}?/g, (_, n) => m[Number(n)] ?? "");
    }
  }
  return out;
}

export function checkCluster({ repo, find, check, envValue, namespace }) {
  const cfgPath = path.join(repo, "manifests/cluster/haproxy.cfg");
  const cfg = fs.readFileSync(cfgPath, "utf8");
  checkRing(cfg, check);

  const router = find("Deployment", "storage-api-router");
  const shards = find("StatefulSet", "storage-api");
  if (!check(Boolean(router && shards), "Deployment storage-api-router and StatefulSet storage-api are defined")) return;
  const at = "Deployment storage-api-router";
  check(router.spec.replicas === 2, `${at}: 2 replicas`, String(router.spec.replicas));
  check(router.spec.strategy?.type === "RollingUpdate" && router.spec.strategy.rollingUpdate?.maxUnavailable === 0,
    `${at}: rolling updates keep every replica until its successor is ready (maxUnavailable 0)`);
  const podLabels = router.spec.template.metadata.labels;
  const subset = (small, big) => Object.entries(small || {}).every(([k, v]) => (big || {})[k] === v);
  const pdb = find("PodDisruptionBudget", "storage-api-router");
  check(Boolean(pdb) && Object.keys(pdb.spec.selector?.matchLabels || {}).length > 0 && subset(pdb.spec.selector.matchLabels, podLabels),
    "PodDisruptionBudget storage-api-router selects the router's pods");
  const minAvailable = pdb?.spec.minAvailable;
  check(Number.isInteger(minAvailable) && minAvailable >= 1 && minAvailable < router.spec.replicas && pdb.spec.maxUnavailable === undefined,
    `PodDisruptionBudget storage-api-router: minAvailable ${minAvailable} (one router always serves, a drain can proceed)`);
  const c = router.spec.template.spec.containers[0];
  const mount = (c.volumeMounts || []).find((m) => m.mountPath === "/usr/local/etc/haproxy");
  const volume = mount && router.spec.template.spec.volumes.find((v) => v.name === mount.name);
  check(volume?.configMap?.name === "storage-api-router" && (volume.configMap.items || []).some((i) => i.key === "haproxy.cfg" && i.path === "haproxy.cfg"),
    `${at}: ConfigMap storage-api-router's haproxy.cfg is at /usr/local/etc/haproxy/haproxy.cfg (the image's default)`);
  const cm = find("ConfigMap", "storage-api-router");
  check(cm?.data?.["haproxy.cfg"] === cfg, "ConfigMap storage-api-router holds manifests/cluster/haproxy.cfg, byte for byte (the compose routers mount the same file)");
  const domain = `${shards.spec.serviceName}.${namespace}.svc.cluster.local`;
  check(envValue(c, "SHARD_DOMAIN") === domain, `${at}: SHARD_DOMAIN is ${domain}, the StatefulSet's headless Service`,
    String(envValue(c, "SHARD_DOMAIN")));
  const portOf = (name) => (c.ports || []).find((p) => p.name === name)?.containerPort;
  check(portOf("http") === DATA_PORT && portOf("metrics") === METRICS_PORT, `${at}: ports http ${DATA_PORT} and metrics ${METRICS_PORT}, as haproxy.cfg binds`);
  const shardContainer = shards.spec.template.spec.containers[0];
  const shardNameEnv = (shardContainer.env || []).find((e) => e.name === "SHARD_NAME");
  check(shardNameEnv?.valueFrom?.fieldRef?.fieldPath === "metadata.name",
    "StatefulSet storage-api: SHARD_NAME is the pod's name (storage-api-<ordinal>), the name the router's proxies send",
    JSON.stringify(shardNameEnv));
  check((shardContainer.ports || []).some((p) => p.name === "http" && p.containerPort === DATA_PORT) &&
    (shardContainer.ports || []).some((p) => p.name === "admin" && p.containerPort === ADMIN_PORT),
    `StatefulSet storage-api: data port ${DATA_PORT} (the ring's servers) and admin port ${ADMIN_PORT}`);
  const service = find("Service", "storage-api");
  check(Boolean(service) && subset(service.spec.selector, podLabels) && !subset(service.spec.selector, shards.spec.template.metadata.labels) &&
    service.spec.ports.length === 1 && service.spec.ports[0].port === DATA_PORT && service.spec.ports[0].targetPort === "http",
    `Service storage-api (the clients' address) selects the routers, port ${DATA_PORT}, and no shard`);

  // Prometheus discovery: which targets its jobs keep, with which labels.
  const promConfig = YAML.parse(find("ConfigMap", "prometheus-config")?.data?.["prometheus.yml"] ?? "{}");
  const pods = podTargets([shards, router, find("Deployment", "prometheus"), find("Deployment", "grafana")].filter(Boolean));
  for (const [jobName, wantPort, wantPods] of [["storage_api", ADMIN_PORT, Array.from({ length: SHARDS }, (_, i) => shardName(i))],
    ["storage_api_router", METRICS_PORT, null]]) {
    const job = (promConfig.scrape_configs || []).find((j) => j.job_name === jobName);
    const sd = job?.kubernetes_sd_configs || [];
    check(sd.length === 1 && sd[0].role === "pod" && JSON.stringify(sd[0].namespaces?.names) === JSON.stringify([namespace]) && !job.static_configs,
      `Prometheus job ${jobName}: kubernetes_sd_configs role pod, namespace ${namespace} only`);
    const kept = pods.map((t) => relabel(t, job?.relabel_configs)).filter(Boolean);
    check(kept.length > 0 && kept.every((t) => t.__address__.endsWith(`:${wantPort}`)),
      `Prometheus job ${jobName}: keeps only port ${wantPort} targets`, kept.map((t) => `${t.__meta_kubernetes_pod_name} ${t.__address__}`).join(", "));
    check(kept.every((t) => t.instance === t.__meta_kubernetes_pod_name), `Prometheus job ${jobName}: instance is the pod name`);
    if (wantPods) {
      check(JSON.stringify(kept.map((t) => t.__meta_kubernetes_pod_name).sort()) === JSON.stringify(wantPods) &&
        kept.every((t) => t.shard === t.__meta_kubernetes_pod_name),
      `Prometheus job ${jobName}: one target per shard (${wantPods.join(", ")}), each with shard = its pod name = its ring server name`);
    } else {
      check(kept.length === router.spec.replicas && kept.every((t) => t.__meta_kubernetes_pod_name.startsWith("storage-api-router-")),
        `Prometheus job ${jobName}: one target per router replica`);
    }
  }
}

export function checkRbac({ objects, byKind, check, namespace }) {
  check(byKind("ClusterRole").length === 0 && byKind("ClusterRoleBinding").length === 0, "no ClusterRole or ClusterRoleBinding (nothing cluster-wide)");
  const grants = [];
  for (const { object: binding } of byKind("RoleBinding")) {
    const role = objects.find((o) => o.object.kind === binding.roleRef.kind && o.object.metadata.name === binding.roleRef.name)?.object;
    check(binding.roleRef.kind === "Role" && Boolean(role), `RoleBinding ${binding.metadata.name}: binds a Role of this namespace`);
    for (const subject of binding.subjects || []) {
      const who = `${subject.kind}/${subject.namespace ?? namespace}/${subject.name}`;
      for (const rule of role?.rules || []) {
        for (const group of rule.apiGroups || [""]) {
          for (const resource of rule.resources || []) {
            for (const verb of rule.verbs || []) {
              grants.push(`${who} ${verb} ${group === "" ? "" : `${group}/`}${resource}${rule.resourceNames ? ` ${rule.resourceNames}` : ""}`);
            }
          }
        }
        check(!rule.nonResourceURLs, `Role ${role.metadata.name}: no nonResourceURLs`);
      }
    }
  }
  console.log(`     RBAC grants (${grants.length}):`);
  for (const g of grants.sort()) console.log(`       ${g}`);
  const want = ["get", "list", "watch"].map((v) => `ServiceAccount/${namespace}/prometheus ${v} pods`).sort();
  check(JSON.stringify(grants.sort()) === JSON.stringify(want),
    `RBAC grants exactly: ${want.map((g) => g.split(" ").slice(1).join(" ")).join(", ")}, to ServiceAccount prometheus (pod discovery)`,
    grants.join("; "));
  check(byKind("ServiceAccount").map((o) => o.object.metadata.name).join(",") === "prometheus", "the one ServiceAccount is prometheus");
}

export function checkClusterCompose({ repo, check, composeDefault }) {
  const file = "manifests/cluster/docker-compose.yml";
  const compose = YAML.parse(fs.readFileSync(path.join(repo, file), "utf8"), { merge: true });
  const services = compose.services || {};
  const at = `compose cluster`;
  const hardened = (name, s) => s.read_only === true && (s.cap_drop || []).includes("ALL") &&
    (s.security_opt || []).includes("no-new-privileges:true") && Number(s.pids_limit) > 0 && Boolean(s.mem_limit);
  const volumesSeen = new Set();
  for (let i = 0; i < SHARDS; i++) {
    const name = shardName(i);
    const s = services[name];
    if (!check(Boolean(s), `${at}: service ${name}`)) continue;
    const dataDir = s.environment?.DATA_DIR;
    const volume = (s.volumes || []).map(String).find((v) => v.split(":")[1] === dataDir)?.split(":")[0];
    check(Boolean(volume) && volume in (compose.volumes || {}) && !volumesSeen.has(volume),
      `${at}: ${name} keeps its log in a named volume of its own at DATA_DIR ${dataDir}`, String(volume));
    volumesSeen.add(volume);
    check(composeDefault(String(s.environment?.FSYNC)) === "always" && ["always", "unless-stopped", "on-failure"].includes(s.restart) &&
      JSON.stringify(s.healthcheck?.test) === JSON.stringify(["CMD", "/storage_api", "--healthcheck"]),
    `${at}: ${name}: FSYNC=always, a restart policy and the --healthcheck probe`);
    check(hardened(name, s), `${at}: ${name} is read-only, without capabilities, with pids and memory limits`);
    check(s.environment?.SHARD_NAME === name, `${at}: ${name} has SHARD_NAME ${name}, the name its router proxy sends`,
      String(s.environment?.SHARD_NAME));
    check((s.networks?.default?.aliases || []).includes(`${name}.storage-api-headless`),
      `${at}: ${name} answers to ${name}.storage-api-headless, as the router resolves it (SHARD_DOMAIN)`);
  }
  const routers = ["router-a", "router-b"].map((n) => [n, services[n]]);
  for (const [name, s] of routers) {
    if (!check(Boolean(s), `${at}: service ${name}`)) continue;
    check((s.volumes || []).map(String).includes("./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro"),
      `${at}: ${name} mounts manifests/cluster/haproxy.cfg read-only (the file the ConfigMap carries)`);
    check(s.environment?.SHARD_DOMAIN === "storage-api-headless", `${at}: ${name}: SHARD_DOMAIN storage-api-headless`);
    check(!s.depends_on, `${at}: ${name} starts whichever shard is down (no depends_on)`);
    check(hardened(name, s), `${at}: ${name} is read-only, without capabilities, with pids and memory limits`);
  }
  check(routers.every(([, s]) => s?.image === services["router-a"]?.image), `${at}: both routers run the same image`);
  check((services["router-a"]?.ports || []).some((p) => /^\$\{BIND_ADDRESS:-127\.0\.0\.1\}:\$\{ROUTER_PORT:-5000\}:5000$/.test(String(p))),
    `${at}: router-a is published on port 5000`);
  for (const [name, s] of Object.entries(services)) {
    for (const port of s.ports || []) {
      check(String(port).startsWith("${BIND_ADDRESS:-127.0.0.1}:"), `${at}: ${name} port ${port} binds to \${BIND_ADDRESS:-127.0.0.1}`);
    }
    const image = composeDefault(String(s.image ?? ""));
    check(/:[\w][\w.-]*$/.test(image) && !image.endsWith(":latest"), `${at}: ${name} image ${image} pinned`);
  }
  // Prometheus: the mounted config scrapes every shard's admin port and both routers' exporter, and
  // its rule files (relative to it) are mounted where it looks.
  const prom = services.prometheus || {};
  const configArg = (prom.command || []).find((a) => String(a).startsWith("--config.file="))?.split("=")[1];
  const mounts = (prom.volumes || []).map(String).map((v) => v.split(":"));
  const configSource = mounts.find((m) => m[1] === configArg)?.[0];
  check(configSource === "./prometheus.yml", `${at}: prometheus reads manifests/cluster/prometheus.yml (at ${configArg})`);
  const promConfig = YAML.parse(fs.readFileSync(path.join(repo, "manifests/cluster/prometheus.yml"), "utf8"));
  for (const rule of promConfig.rule_files || []) {
    const inContainer = path.posix.normalize(path.posix.join(path.posix.dirname(configArg ?? "/"), rule));
    const source = mounts.find((m) => m[1] === inContainer)?.[0];
    check(Boolean(source) && path.normalize(path.join(repo, "manifests/cluster", source)) === path.normalize(path.join(repo, "manifests/cluster", rule)),
      `${at}: prometheus rule file ${rule} is mounted at ${inContainer}`);
  }
  const targetsOf = (job) => (promConfig.scrape_configs || []).find((j) => j.job_name === job)?.static_configs?.flatMap((s) => s.targets) || [];
  check(JSON.stringify(targetsOf("storage_api")) === JSON.stringify(Array.from({ length: SHARDS }, (_, i) => `${shardName(i)}:${ADMIN_PORT}`)),
    `${at}: Prometheus job storage_api scrapes every shard's admin port`);
  check(JSON.stringify(targetsOf("storage_api_router")) === JSON.stringify(routers.map(([n]) => `${n}:${METRICS_PORT}`)),
    `${at}: Prometheus job storage_api_router scrapes both routers' exporter`);
  return compose;
}
