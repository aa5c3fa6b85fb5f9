// Offline checks of manifests/ (no cluster needed):
//   * every file is something `kubectl apply -f manifests` accepts: Kubernetes objects only;
//   * every object validates against the Kubernetes OpenAPI schemas (kubernetes-models), and has no
//     field the schema does not know (kubectl's strict field validation would refuse it);
//   * the deployment rules of the project: pinned images, requests and limits, probes, a locked-down
//     securityContext, one Recreate replica of storage_api whose grace period covers its drain,
//     Service selectors that match pod labels and target ports that exist, NetworkPolicies that let
//     only Prometheus and named clients reach storage_api, and references (ConfigMaps, Secrets, keys,
//     scrape targets, datasource URL) that resolve;
//   * the generated ConfigMaps hold exactly the files of grafana/ they are made from.
//
// Usage: node check_manifests.mjs [--repo DIR] [--write] [--extract DIR]
//   --write         regenerate the ConfigMaps made from grafana/ (after editing those files)
//   --extract DIR   also write the Prometheus config and rules of the manifests to DIR (for promtool)
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));

const args = process.argv.slice(2);
let repo = path.resolve(here, "../..");
let write = false;
let extractDir = null;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--repo") repo = path.resolve(args[++i]);
  else if (args[i] === "--write") write = true;
  else if (args[i] === "--extract") extractDir = path.resolve(args[++i]);
  else {
    console.error(`check_manifests.mjs: unknown argument ${args[i]}`);
    process.exit(2);
  }
}
const manifestsDir = path.join(repo, "manifests");
const NAMESPACE = "storage-api";

let passed = 0;
let failed = 0;
function check(ok, what, detail = "") {
  if (ok) {
    passed++;
    console.log(`ok   ${what}`);
  } else {
    failed++;
    console.log(`FAIL ${what}${detail ? `: ${detail}` : ""}`);
  }
  return ok;
}

// ---------------------------------------------------------------- ConfigMaps generated from grafana/
const commonLabels = (name, component) => ({
  "app.kubernetes.io/name": name,
  "app.kubernetes.io/instance": "storage-api",
  "app.kubernetes.io/component": component,
  "app.kubernetes.io/part-of": "storage-api",
  "app.kubernetes.io/managed-by": "kubectl",
});
const generated = [
  {
    file: "prometheus-rules.configmap.yaml",
    name: "prometheus-rules",
    labels: commonLabels("prometheus", "monitoring"),
    data: { "prometheus-alerts.yml": "grafana/prometheus-alerts.yml" },
  },
  {
    file: "grafana-provisioning.configmap.yaml",
    name: "grafana-provisioning",
    labels: commonLabels("grafana", "dashboards"),
    data: {
      "datasource-prometheus.yml": "grafana/provisioning/datasources/prometheus.yml",
      "dashboard-provider-storage_api.yml": "grafana/provisioning/dashboards/storage_api.yml",
    },
  },
  {
    file: "grafana-dashboards.configmap.yaml",
    name: "grafana-dashboards",
    labels: commonLabels("grafana", "dashboards"),
    data: { "storage_api.json": "grafana/dashboards/storage_api.json" },
  },
];

function renderGenerated(spec) {
  const data = {};
  for (const [key, source] of Object.entries(spec.data)) data[key] = fs.readFileSync(path.join(repo, source), "utf8");
  const object = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: spec.name, namespace: NAMESPACE, labels: spec.labels },
    data,
  };
  const sources = Object.values(spec.data).join(", ");
  return (
    `# Generated from ${sources}: edit those files, then run\n` +
    `#   node tests/deploy/check_manifests.mjs --write\n` +
    YAML.stringify(object, { lineWidth: 0, blockQuote: "literal" })
  );
}

if (write) {
  for (const spec of generated) {
    fs.writeFileSync(path.join(manifestsDir, spec.file), renderGenerated(spec));
    console.log(`wrote manifests/${spec.file}`);
  }
}

// ---------------------------------------------------------------- load every object
const objects = [];
const files = fs.readdirSync(manifestsDir).sort();
for (const file of files) {
  const full = path.join(manifestsDir, file);
  if (fs.statSync(full).isDirectory()) {
    check(false, `manifests/${file}`, "sub-directories are not applied by `kubectl apply -f manifests`");
    continue;
  }
  if (!/\.(ya?ml|json)$/.test(file)) {
    check(false, `manifests/${file}`, "only .yaml, .yml and .json files (Kubernetes objects) belong here");
    continue;
  }
  check(!/^kustomization\.ya?ml$/i.test(file), `manifests/${file} is not a kustomization file`);
  const text = fs.readFileSync(full, "utf8");
  const docs = YAML.parseAllDocuments(text);
  let count = 0;
  docs.forEach((doc, index) => {
    const where = `manifests/${file}#${index + 1}`;
    if (doc.errors.length > 0) {
      check(false, `${where} parses`, doc.errors.map((e) => e.message).join("; "));
      return;
    }
    const value = doc.toJS();
    if (value === null || value === undefined) return; // an empty document: kubectl skips it too
    const isObject =
      typeof value === "object" && !Array.isArray(value) && value.apiVersion && value.kind && value.metadata?.name;
    if (!check(isObject, `${where} is a Kubernetes object`, "apiVersion, kind and metadata.name are required")) return;
    check(value.kind !== "Kustomization", `${where} is not a Kustomization`);
    objects.push({ where: `${where} ${value.kind}/${value.metadata.name}`, file, object: value });
    count++;
  });
  check(count > 0, `manifests/${file} holds at least one object`);
}

// ---------------------------------------------------------------- schema validation
const modelsRoot = path.dirname(require.resolve("kubernetes-models"));
const schemaCache = new Map();
function schemaValidator(apiVersion, kind) {
  const key = `${apiVersion}/${kind}`;
  if (!schemaCache.has(key)) {
    let validate = null;
    try {
      const kindFile = path.join(modelsRoot, apiVersion, `${kind}.js`);
      const match = /_schemas\/(\w+)\.js/.exec(fs.readFileSync(kindFile, "utf8"));
      if (match) validate = require(path.join(modelsRoot, "_schemas", `${match[1]}.js`)).validate;
    } catch {
      validate = null;
    }
    schemaCache.set(key, validate);
  }
  return schemaCache.get(key);
}

// The generated validators read every property their schema defines, so a deep copy wrapped in
// proxies that record reads shows which fields of the input no schema knows about.
function trackReads(value, where, records) {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item, i) => trackReads(item, `${where}[${i}]`, records));
  const copy = {};
  for (const [k, v] of Object.entries(value)) copy[k] = trackReads(v, `${where}.${k}`, records);
  const read = new Set();
  records.push({ where, keys: Object.keys(copy), read });
  return new Proxy(copy, {
    get(target, prop, receiver) {
      if (typeof prop === "string") read.add(prop);
      return Reflect.get(target, prop, receiver);
    },
  });
}

function formatErrors(errors) {
  return (errors || [])
    .slice(0, 5)
    .map((e) => `${e.instancePath || "/"} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ""}`)
    .join("; ");
}

for (const { where, object } of objects) {
  let Model = null;
  try {
    const group = require(`kubernetes-models/${object.apiVersion}`);
    const candidate = group[object.kind];
    if (candidate && candidate.apiVersion === object.apiVersion && candidate.kind === object.kind) Model = candidate;
  } catch {
    Model = null;
  }
  if (!check(Model !== null, `${where}: ${object.apiVersion} ${object.kind} is a known Kubernetes kind`)) continue;
  try {
    new Model(object).validate();
    check(true, `${where}: valid against the OpenAPI schema`);
  } catch (error) {
    check(false, `${where}: valid against the OpenAPI schema`, `${error.message} ${formatErrors(error.errors)}`);
  }
  const validate = schemaValidator(object.apiVersion, object.kind);
  if (!check(validate !== null, `${where}: schema validator found`)) continue;
  const records = [];
  validate(trackReads(object, "", records));
  const unknown = [];
  for (const record of records) for (const k of record.keys) if (!record.read.has(k)) unknown.push(`${record.where}.${k}`);
  check(unknown.length === 0, `${where}: no fields unknown to the schema`, unknown.join(", "));
}

// ---------------------------------------------------------------- project rules
const byKind = (kind) => objects.filter((o) => o.object.kind === kind);
const find = (kind, name) => objects.find((o) => o.object.kind === kind && o.object.metadata.name === name)?.object;
const clusterScoped = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass",
  "CustomResourceDefinition", "PriorityClass", "IngressClass"]);
const workloadKinds = new Set(["Deployment", "StatefulSet", "DaemonSet"]);

check(Boolean(find("Namespace", NAMESPACE)), `Namespace ${NAMESPACE} is defined`);
const seen = new Set();
for (const { where, object } of objects) {
  const id = `${object.kind}/${object.metadata.namespace || ""}/${object.metadata.name}`;
  check(!seen.has(id), `${where}: defined once`);
  seen.add(id);
  if (!clusterScoped.has(object.kind)) {
    check(object.metadata.namespace === NAMESPACE, `${where}: in namespace ${NAMESPACE}`, `namespace ${object.metadata.namespace}`);
  }
  const labels = object.metadata.labels || {};
  check(Boolean(labels["app.kubernetes.io/name"]) && labels["app.kubernetes.io/part-of"] === "storage-api",
    `${where}: has app.kubernetes.io/name and app.kubernetes.io/part-of=storage-api labels`);
}

const subset = (small, big) => Object.entries(small || {}).every(([k, v]) => (big || {})[k] === v);
const parseQuantity = (q) => {
  const m = /^([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(String(q));
  if (!m) return NaN;
  const scale = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };
  return Number(m[1]) * (m[2] ? scale[m[2]] : 1);
};
const envValue = (container, name) => (container.env || []).find((e) => e.name === name)?.value;

function checkImagePinned(where, image) {
  const digest = /@sha256:[0-9a-f]{64}$/.test(image);
  const tag = /:([\w][\w.-]{0,127})$/.exec(image.replace(/^[^/]+:\d+\//, ""))?.[1];
  check(digest || (tag !== undefined && tag !== "latest"), `${where}: image ${image} is pinned (tag or digest, never latest)`);
}

function checkPort(where, container, port, what) {
  const ports = container.ports || [];
  const exists = typeof port === "string" ? ports.some((p) => p.name === port) : ports.some((p) => p.containerPort === port);
  check(exists, `${where}: ${what} port ${port} is a container port`);
}

for (const { where, object } of objects.filter((o) => workloadKinds.has(o.object.kind))) {
  const template = object.spec.template;
  const pod = template.spec;
  const podSecurity = pod.securityContext || {};
  check(subset(object.spec.selector?.matchLabels, template.metadata?.labels) &&
    Object.keys(object.spec.selector?.matchLabels || {}).length > 0,
  `${where}: selector matches the pod template labels`);
  check(template.metadata?.labels?.["app.kubernetes.io/name"] !== undefined, `${where}: pod template has app.kubernetes.io/name`);
  check(pod.automountServiceAccountToken === false, `${where}: does not mount a service account token`);
  const volumes = new Map((pod.volumes || []).map((v) => [v.name, v]));
  for (const volume of volumes.values()) {
    if (volume.configMap) {
      const cm = find("ConfigMap", volume.configMap.name);
      check(Boolean(cm), `${where}: volume ${volume.name} uses ConfigMap ${volume.configMap.name}, defined here`);
      for (const item of volume.configMap.items || []) {
        check(Boolean(cm && cm.data && item.key in cm.data), `${where}: ConfigMap ${volume.configMap.name} has key ${item.key}`);
      }
    }
    if (volume.secret) check(Boolean(find("Secret", volume.secret.secretName)), `${where}: volume ${volume.name} uses a Secret defined here`);
  }
  const containers = [...(pod.initContainers || []).map((c) => ({ c, init: true })), ...pod.containers.map((c) => ({ c, init: false }))];
  for (const { c, init } of containers) {
    const at = `${where} container ${c.name}`;
    const sc = c.securityContext || {};
    checkImagePinned(at, c.image);
    const r = c.resources || {};
    check(Boolean(r.requests?.cpu && r.requests?.memory && r.limits?.cpu && r.limits?.memory),
      `${at}: cpu and memory requests and limits`, JSON.stringify(r));
    check(parseQuantity(r.limits?.memory) >= parseQuantity(r.requests?.memory) &&
      parseQuantity(r.limits?.cpu) >= parseQuantity(r.requests?.cpu), `${at}: limits at least the requests`);
    if (!init) {
      for (const probe of ["livenessProbe", "readinessProbe"]) {
        const p = c[probe];
        if (check(Boolean(p && (p.httpGet || p.tcpSocket || p.grpc || p.exec)), `${at}: has a ${probe}`) && p.httpGet) {
          checkPort(at, c, p.httpGet.port, probe);
        }
      }
    }
    check((sc.runAsNonRoot ?? podSecurity.runAsNonRoot) === true, `${at}: runAsNonRoot`);
    check((sc.runAsUser ?? podSecurity.runAsUser) !== 0, `${at}: does not run as uid 0`);
    check(sc.readOnlyRootFilesystem === true, `${at}: readOnlyRootFilesystem`);
    check(sc.allowPrivilegeEscalation === false, `${at}: allowPrivilegeEscalation false`);
    check(sc.privileged !== true, `${at}: not privileged`);
    check((sc.capabilities?.drop || []).includes("ALL") && (sc.capabilities?.add || []).length === 0,
      `${at}: drops ALL capabilities and adds none`);
    check((sc.seccompProfile ?? podSecurity.seccompProfile)?.type === "RuntimeDefault", `${at}: seccompProfile RuntimeDefault`);
    for (const mount of c.volumeMounts || []) {
      check(volumes.has(mount.name), `${at}: volumeMount ${mount.name} names a volume of the pod`);
    }
    for (const e of c.env || []) {
      const secretRef = e.valueFrom?.secretKeyRef;
      if (secretRef) {
        const secret = find("Secret", secretRef.name);
        const keys = { ...(secret?.data || {}), ...(secret?.stringData || {}) };
        check(secretRef.key in keys, `${at}: env ${e.name} refers to Secret ${secretRef.name} key ${secretRef.key}, defined here`);
      }
      const cmRef = e.valueFrom?.configMapKeyRef;
      if (cmRef) {
        check(cmRef.key in (find("ConfigMap", cmRef.name)?.data || {}), `${at}: env ${e.name} refers to ConfigMap ${cmRef.name} key ${cmRef.key}`);
      }
    }
  }
}

// storage_api itself.
const api = find("Deployment", "storage-api");
if (check(Boolean(api), "Deployment storage-api is defined")) {
  const at = "Deployment storage-api";
  const c = api.spec.template.spec.containers.find((x) => x.name === "storage-api") || api.spec.template.spec.containers[0];
  check(api.spec.replicas === 1, `${at}: exactly 1 replica (the store is in memory)`);
  check(api.spec.strategy?.type === "Recreate", `${at}: Recreate strategy (never two copies of the data)`);
  check(c.livenessProbe?.httpGet?.path === "/healthz", `${at}: liveness probe on /healthz`);
  check(c.readinessProbe?.httpGet?.path === "/readyz", `${at}: readiness probe on /readyz`);
  const delay = Number(envValue(c, "SHUTDOWN_DELAY_MS") ?? 0);
  const grace = Number(envValue(c, "SHUTDOWN_GRACE_MS") ?? 10000);
  const period = api.spec.template.spec.terminationGracePeriodSeconds ?? 30;
  check(Number.isFinite(delay) && Number.isFinite(grace) && delay + grace + 1000 <= period * 1000,
    `${at}: terminationGracePeriodSeconds (${period}s) covers SHUTDOWN_DELAY_MS + SHUTDOWN_GRACE_MS (${delay + grace} ms) with margin`);
  check(delay > 0 || Boolean(c.lifecycle?.preStop), `${at}: keeps serving while endpoints are withdrawn (SHUTDOWN_DELAY_MS or preStop)`);
  const storageCap = parseQuantity(envValue(c, "MAX_STORAGE_BYTES") ?? "256Mi");
  check(parseQuantity(c.resources?.limits?.memory) > storageCap,
    `${at}: memory limit ${c.resources?.limits?.memory} exceeds the storage cap ${envValue(c, "MAX_STORAGE_BYTES")}`);
  check(c.resources?.requests?.memory === c.resources?.limits?.memory, `${at}: memory request equals the limit (the store may fill it)`);
  check(c.ports?.some((p) => p.containerPort === Number(envValue(c, "PORT") ?? 5000)), `${at}: PORT is the container port`);
}

// Services: the selector must pick a pod template, and every target port must exist on it.
const workloads = objects.filter((o) => workloadKinds.has(o.object.kind)).map((o) => o.object);
for (const { where, object } of byKind("Service")) {
  const selector = object.spec.selector || {};
  const matches = workloads.filter((w) => w.metadata.namespace === object.metadata.namespace &&
    Object.keys(selector).length > 0 && subset(selector, w.spec.template.metadata.labels));
  if (!check(matches.length === 1, `${where}: selector ${JSON.stringify(selector)} matches the pods of exactly one workload`,
    `matches ${matches.map((w) => w.metadata.name).join(", ") || "none"}`)) continue;
  const containers = matches[0].spec.template.spec.containers;
  for (const p of object.spec.ports) {
    const target = p.targetPort ?? p.port;
    const exists = containers.some((c) => (c.ports || []).some((cp) =>
      typeof target === "string" ? cp.name === target : cp.containerPort === target));
    check(exists, `${where}: port ${p.port} targets ${target}, a port of ${matches[0].metadata.name}'s containers`);
  }
}

// NetworkPolicies: storage_api only reachable from Prometheus and named clients.
const apiPodLabels = api?.spec.template.metadata.labels || {};
const prometheusPodLabels = find("Deployment", "prometheus")?.spec.template.metadata.labels || {};
const policies = byKind("NetworkPolicy").map((o) => o.object);
const apiPolicies = policies.filter((p) => subset(p.spec.podSelector?.matchLabels, apiPodLabels) &&
  (p.spec.policyTypes || ["Ingress"]).includes("Ingress"));
check(apiPolicies.length > 0, "a NetworkPolicy governs ingress to the storage-api pods");
let prometheusAllowed = false;
for (const p of apiPolicies) {
  for (const rule of p.spec.ingress || []) {
    const peers = rule.from || [];
    check(peers.length > 0, `NetworkPolicy ${p.metadata.name}: every ingress rule names its sources (no open rule)`);
    for (const peer of peers) {
      check(!peer.ipBlock && Boolean(peer.podSelector || peer.namespaceSelector),
        `NetworkPolicy ${p.metadata.name}: sources are pod or namespace selectors`, JSON.stringify(peer));
      const selectorLabels = peer.podSelector?.matchLabels;
      if (selectorLabels && Object.keys(selectorLabels).length === 0) {
        check(false, `NetworkPolicy ${p.metadata.name}: no empty podSelector (it would admit every pod)`);
      }
      if (!peer.namespaceSelector && selectorLabels && Object.keys(selectorLabels).length > 0 &&
        subset(selectorLabels, prometheusPodLabels)) prometheusAllowed = true;
    }
    check((rule.ports || []).length > 0 && rule.ports.every((port) => port.port === 5000 || port.port === "http"),
      `NetworkPolicy ${p.metadata.name}: opens only the service port`);
  }
}
check(prometheusAllowed, "the storage-api NetworkPolicy admits the Prometheus pods");
check(policies.some((p) => Object.keys(p.spec.podSelector || {}).length === 0 && (p.spec.policyTypes || []).includes("Ingress") &&
  (p.spec.ingress || []).length === 0), "a default-deny ingress NetworkPolicy covers the namespace");

// Prometheus: its scrape target is the storage-api Service, and it reads the rules ConfigMap.
const promConfigMap = find("ConfigMap", "prometheus-config");
let promConfig = null;
if (check(Boolean(promConfigMap?.data?.["prometheus.yml"]), "ConfigMap prometheus-config has prometheus.yml")) {
  promConfig = YAML.parse(promConfigMap.data["prometheus.yml"]);
  const job = (promConfig.scrape_configs || []).find((j) => j.job_name === "storage_api");
  const targets = (job?.static_configs || []).flatMap((s) => s.targets || []);
  const service = find("Service", "storage-api");
  check(targets.length > 0 && targets.every((t) => {
    const [host, port] = t.split(":");
    const [svcName, svcNamespace] = host.split(".");
    return svcName === service?.metadata.name && (svcNamespace === undefined || svcNamespace === NAMESPACE) &&
      (service?.spec.ports || []).some((p) => p.port === Number(port));
  }), "Prometheus job storage_api scrapes the storage-api Service on its port", JSON.stringify(targets));
  const promDeployment = find("Deployment", "prometheus");
  const container = promDeployment?.spec.template.spec.containers[0];
  const configArg = (container?.args || []).find((a) => a.startsWith("--config.file="))?.split("=")[1];
  const mounts = container?.volumeMounts || [];
  const mountFor = (file) => mounts.find((m) => file.startsWith(`${m.mountPath}/`));
  const configMount = configArg && mountFor(configArg);
  const configVolume = configMount && promDeployment.spec.template.spec.volumes.find((v) => v.name === configMount.name);
  check(configVolume?.configMap?.name === "prometheus-config", `Prometheus --config.file ${configArg} is the prometheus-config ConfigMap`);
  for (const ruleGlob of promConfig.rule_files || []) {
    const mount = mountFor(ruleGlob);
    const volume = mount && promDeployment.spec.template.spec.volumes.find((v) => v.name === mount.name);
    check(volume?.configMap?.name === "prometheus-rules", `Prometheus rule_files ${ruleGlob} is the prometheus-rules ConfigMap`);
  }
}

// Grafana: the provisioned datasource reaches the Prometheus Service; the provider path is mounted.
const grafana = find("Deployment", "grafana");
const provisioning = find("ConfigMap", "grafana-provisioning");
if (check(Boolean(grafana && provisioning), "Grafana Deployment and provisioning ConfigMap are defined")) {
  const ds = YAML.parse(provisioning.data["datasource-prometheus.yml"]).datasources[0];
  const url = new URL(ds.url);
  const promService = find("Service", url.hostname.split(".")[0]);
  check(Boolean(promService) && promService.spec.ports.some((p) => p.port === Number(url.port)),
    `Grafana datasource ${ds.url} is the Prometheus Service`);
  const provider = YAML.parse(provisioning.data["dashboard-provider-storage_api.yml"]).providers[0];
  const c = grafana.spec.template.spec.containers[0];
  const dashboardMount = (c.volumeMounts || []).find((m) => m.mountPath === provider.options.path);
  const dashboardVolume = dashboardMount && grafana.spec.template.spec.volumes.find((v) => v.name === dashboardMount.name);
  check(dashboardVolume?.configMap?.name === "grafana-dashboards", `Grafana dashboard provider path ${provider.options.path} holds the dashboards ConfigMap`);
  const home = envValue(c, "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH");
  check(Boolean(home) && path.dirname(home) === provider.options.path &&
    path.basename(home) in (find("ConfigMap", "grafana-dashboards")?.data || {}), `Grafana home dashboard ${home} is provisioned`);
  for (const [mountPath, key] of [["/etc/grafana/provisioning/datasources", "datasource-prometheus.yml"],
    ["/etc/grafana/provisioning/dashboards", "dashboard-provider-storage_api.yml"]]) {
    const m = (c.volumeMounts || []).find((x) => x.mountPath === mountPath);
    const v = m && grafana.spec.template.spec.volumes.find((x) => x.name === m.name);
    check((v?.configMap?.items || []).some((item) => item.key === key), `Grafana mounts ${key} at ${mountPath}`);
  }
}

// Generated ConfigMaps hold exactly the files they are made from.
for (const spec of generated) {
  const onDisk = objects.find((o) => o.file === spec.file && o.object.kind === "ConfigMap")?.object;
  for (const [key, source] of Object.entries(spec.data)) {
    const expected = fs.readFileSync(path.join(repo, source), "utf8");
    check(onDisk?.data?.[key] === expected, `manifests/${spec.file} ${key} equals ${source}`,
      "stale: run `node tests/deploy/check_manifests.mjs --write`");
  }
}

// The same pinned images in docker-compose.yml and manifests/, and the image tag is the project version.
const compose = YAML.parse(fs.readFileSync(path.join(repo, "docker-compose.yml"), "utf8"));
const composeDefault = (value) => /\$\{[A-Z_]+:-([^}]+)\}/.exec(value)?.[1] ?? value;
for (const [service, deployment] of [["storage_api", "storage-api"], ["prometheus", "prometheus"], ["grafana", "grafana"]]) {
  const composeImage = composeDefault(compose.services?.[service]?.image);
  const k8sImage = find("Deployment", deployment)?.spec.template.spec.containers[0].image;
  check(composeImage === k8sImage, `image of ${deployment} is the same in docker-compose.yml and manifests/`,
    `${composeImage} vs ${k8sImage}`);
}
// docker-compose.yml, statically: what check_image.sh cannot run here (Grafana) must at least be wired to
// the files it mounts, and the storage_api service must keep its hardening.
{
  const services = compose.services || {};
  const mounts = (service) => (services[service]?.volumes || []).map((v) => {
    const [source, target] = String(v).split(":");
    return { source, target };
  });
  const sourceFor = (service, target) => mounts(service).find((m) => m.target === target)?.source;
  const api = services.storage_api || {};
  check(api.read_only === true, "compose storage_api: read_only root filesystem");
  check((api.cap_drop || []).includes("ALL") && !(api.cap_add || []).length, "compose storage_api: drops ALL capabilities");
  check((api.security_opt || []).some((o) => /^no-new-privileges(:true)?$/.test(o)), "compose storage_api: no-new-privileges");
  check(JSON.stringify(api.healthcheck?.test) === JSON.stringify(["CMD", "/storage_api", "--healthcheck"]),
    "compose storage_api: healthcheck runs storage_api --healthcheck");
  const memLimit = parseQuantity(String(composeDefault(String(api.mem_limit ?? ""))).replace(/m$/, "Mi").replace(/g$/, "Gi"));
  const cap = parseQuantity(String(composeDefault(String(api.environment?.MAX_STORAGE_BYTES ?? "256Mi"))));
  check(memLimit > cap, `compose storage_api: mem_limit ${composeDefault(String(api.mem_limit))} above MAX_STORAGE_BYTES`);
  check((api.ports || []).some((p) => String(p).endsWith(":5000")), "compose storage_api: publishes port 5000");
  check(Boolean(api.build) && api.build.target === "runtime", "compose storage_api: built from the Dockerfile's runtime stage");

  const prom = services.prometheus || {};
  const configArg = (prom.command || []).find((a) => String(a).startsWith("--config.file="))?.split("=")[1] ||
    "/etc/prometheus/prometheus.yml";
  check(sourceFor("prometheus", configArg) === "./prometheus.yml", `compose prometheus: ./prometheus.yml mounted at ${configArg}`);
  const rootConfig = YAML.parse(fs.readFileSync(path.join(repo, "prometheus.yml"), "utf8"));
  for (const rule of rootConfig.rule_files || []) {
    const inContainer = path.posix.join(path.posix.dirname(configArg), rule);
    const source = sourceFor("prometheus", inContainer);
    check(source !== undefined && fs.existsSync(path.join(repo, source)),
      `compose prometheus: rule file ${rule} is mounted at ${inContainer}`);
  }
  const job = (rootConfig.scrape_configs || []).find((j) => j.job_name === "storage_api");
  check(JSON.stringify(job?.static_configs?.[0]?.targets) === JSON.stringify(["storage_api:5000"]),
    "prometheus.yml: job storage_api scrapes storage_api:5000 (the compose service)");

  const grafanaService = services.grafana || {};
  const datasourceFile = "grafana/provisioning/datasources/prometheus.yml";
  const providerFile = "grafana/provisioning/dashboards/storage_api.yml";
  check(sourceFor("grafana", "/etc/grafana/provisioning/datasources") === `./${path.dirname(datasourceFile)}`,
    "compose grafana: datasource provisioning mounted");
  check(sourceFor("grafana", "/etc/grafana/provisioning/dashboards") === `./${path.dirname(providerFile)}`,
    "compose grafana: dashboard provider mounted");
  const providerPath = YAML.parse(fs.readFileSync(path.join(repo, providerFile), "utf8")).providers[0].options.path;
  check(sourceFor("grafana", providerPath) === "./grafana/dashboards", `compose grafana: ./grafana/dashboards mounted at ${providerPath}`);
  const home = grafanaService.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
  check(Boolean(home) && path.posix.dirname(home) === providerPath &&
    fs.existsSync(path.join(repo, "grafana/dashboards", path.posix.basename(home))), `compose grafana: home dashboard ${home} exists`);
  const datasourceUrl = new URL(YAML.parse(fs.readFileSync(path.join(repo, datasourceFile), "utf8")).datasources[0].url);
  check(datasourceUrl.hostname in services && datasourceUrl.port === "9090",
    `compose grafana: datasource ${datasourceUrl.href} is a compose service`);
  check(composeDefault(String(grafanaService.environment?.GF_USERS_ALLOW_SIGN_UP)) === "false", "compose grafana: sign-up off");
  check(/\$\{GRAFANA_ADMIN_PASSWORD:-[^}]+\}/.test(String(grafanaService.environment?.GF_SECURITY_ADMIN_PASSWORD)),
    "compose grafana: admin password from the environment, with a default");

  const traffic = services.traffic || {};
  check((traffic.profiles || []).includes("traffic"), "compose traffic: only under the traffic profile");
  check(traffic.build?.target === "traffic" && /storage_api:5000/.test(String(traffic.environment?.BASE_URL)),
    "compose traffic: runs generate_traffic.sh against storage_api:5000");
  for (const [name, service] of Object.entries(services)) {
    const image = composeDefault(String(service.image ?? ""));
    check(/:[\w][\w.-]*$/.test(image) && !image.endsWith(":latest"), `compose ${name}: image ${image} pinned`);
    check(service.pull_policy !== "always", `compose ${name}: no pull_policy always`);
  }
}

const cmake = fs.readFileSync(path.join(repo, "CMakeLists.txt"), "utf8");
const projectVersion = /project\(\s*storage_api\s+VERSION\s+([0-9.]+)/.exec(cmake)?.[1];
check(api?.spec.template.spec.containers[0].image.endsWith(`:${projectVersion}`),
  `storage-api image tag is the project version ${projectVersion}`);

if (extractDir && promConfigMap) {
  fs.mkdirSync(path.join(extractDir, "rules"), { recursive: true });
  // Rule paths of the cluster (/etc/prometheus/rules) point into the extracted copy instead.
  const local = { ...promConfig, rule_files: (promConfig.rule_files || []).map((r) => path.join(extractDir, "rules", path.basename(r))) };
  fs.writeFileSync(path.join(extractDir, "prometheus.yml"), YAML.stringify(local));
  for (const [key, value] of Object.entries(find("ConfigMap", "prometheus-rules")?.data || {})) {
    fs.writeFileSync(path.join(extractDir, "rules", key), value);
  }
  console.log(`extracted the Prometheus config and rules of manifests/ to ${extractDir}`);
}

console.log(`check_manifests: ${objects.length} objects in ${files.length} files`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
