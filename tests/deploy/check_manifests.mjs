// Offline checks of manifests/ (no cluster needed):
//   * every file is something `kubectl apply -f manifests` accepts: Kubernetes objects only;
//   * every object validates against the Kubernetes OpenAPI schemas (kubernetes-models), and has no
//     field the schema does not know (kubectl's strict field validation would refuse it);
//   * the deployment rules of the project: pinned images, requests and limits (a memory limit on every
//     container), probes, a locked-down securityContext, every pod within the Pod Security "restricted"
//     profile that the namespace enforces (rules/pod_security.mjs), storage_api as a StatefulSet of 3
//     shards, each of whose volumes holds its durable log at DATA_DIR (fsGroup 65532, a startup probe that
//     allows for the log's replay, claims kept on delete and scale-down), whose grace period covers its
//     drain and whose probes and scrapes use its admin port, StatefulSets governed by a headless Service
//     that selects their pods (rules/stateful_set.mjs), Service
//     selectors that match pod labels and target ports that exist, NetworkPolicies that deny ingress and
//     egress by default and allow exactly the intended flows (rules/network_flows.mjs), no Secret values
//     committed (the Secrets the pods use are documented with the command that creates them), and
//     references (ConfigMaps, keys, scrape targets, datasource URL) that resolve;
//   * the sharded cluster (rules/cluster.mjs): the router's HAProxy ring (no health checks, redispatch
//     or bounded loads that could move an id; explicit server ids), its Deployment, PDB and ConfigMap,
//     Prometheus' pod discovery simulated over the workloads, every RBAC grant listed and required to be
//     get, list, watch on pods, and manifests/cluster/docker-compose.yml;
//   * docker-compose.yml, docker-compose.tokens.yml and prometheus.yml, statically (rules/compose.mjs);
//   * the generated ConfigMaps hold exactly the files of grafana/ they are made from, and the rules
//     ConfigMap every rule file of prometheus.yml (both Prometheus servers evaluate the same rules).
//
// Usage: node check_manifests.mjs [--repo DIR] [--write] [--extract DIR]
//   --write         regenerate the ConfigMaps made from grafana/ (after editing those files)
//   --extract DIR   also write the Prometheus config and rules of the manifests to DIR (for promtool)
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { checkCluster, checkClusterCompose, checkRbac } from "./rules/cluster.mjs";
import { checkCompose, composeDefault } from "./rules/compose.mjs";
import { generated, renderGenerated } from "./rules/generated.mjs";
import { networkFlows, oneSidedFlows } from "./rules/network_flows.mjs";
import { podSecurityViolations } from "./rules/pod_security.mjs";
import { checkNoSecretData, documentedSecrets } from "./rules/secrets.mjs";
import { validateSchemas } from "./rules/schema.mjs";
import { checkStatefulSets, podSpecOf } from "./rules/stateful_set.mjs";
import { checkStorageApi } from "./rules/storage_api.mjs";

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

if (write) {
  for (const spec of generated) {
    fs.writeFileSync(path.join(manifestsDir, spec.file), renderGenerated(repo, NAMESPACE, spec));
    console.log(`wrote manifests/${spec.file}`);
  }
}

// ---------------------------------------------------------------- load every object
const objects = [];
const files = fs.readdirSync(manifestsDir).sort();
for (const file of files) {
  const full = path.join(manifestsDir, file);
  if (fs.statSync(full).isDirectory()) {
    // manifests/cluster/ is the compose cluster and the router's configuration (the source of the
    // storage-api-router ConfigMap): not Kubernetes objects, and `kubectl apply -f manifests` does not
    // descend into it. Any other sub-directory would be manifests that are never applied.
    const clusterFiles = ["docker-compose.yml", "haproxy.cfg", "prometheus.yml"];
    check(file === "cluster" && fs.readdirSync(full).sort().join(",") === clusterFiles.join(","),
      `manifests/${file}/ is manifests/cluster/ (${clusterFiles.join(", ")}), the one sub-directory`,
      "sub-directories are not applied by `kubectl apply -f manifests`");
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
validateSchemas(objects, check);

// ---------------------------------------------------------------- project rules
const byKind = (kind) => objects.filter((o) => o.object.kind === kind);
const find = (kind, name) => objects.find((o) => o.object.kind === kind && o.object.metadata.name === name)?.object;
const clusterScoped = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass",
  "CustomResourceDefinition", "PriorityClass", "IngressClass"]);
const workloadKinds = new Set(["Deployment", "StatefulSet", "DaemonSet"]);
const findWorkload = (name) => objects.find((o) => workloadKinds.has(o.object.kind) && o.object.metadata.name === name)?.object;

const namespaceObject = find("Namespace", NAMESPACE);
check(Boolean(namespaceObject), `Namespace ${NAMESPACE} is defined`);
for (const mode of ["enforce", "audit", "warn"]) {
  const label = `pod-security.kubernetes.io/${mode}`;
  check(namespaceObject?.metadata.labels?.[label] === "restricted", `Namespace ${NAMESPACE}: ${label}=restricted`,
    String(namespaceObject?.metadata.labels?.[label]));
}

// No credential is committed (rules/secrets.mjs); the Secrets pods use are documented (checked per pod below).
checkNoSecretData(objects, check);
const secretsDocumented = documentedSecrets(manifestsDir, files, NAMESPACE);
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
  const pod = podSpecOf(object); // with a StatefulSet's claim templates as the volumes they become
  const podSecurity = pod.securityContext || {};
  check(subset(object.spec.selector?.matchLabels, template.metadata?.labels) &&
    Object.keys(object.spec.selector?.matchLabels || {}).length > 0,
  `${where}: selector matches the pod template labels`);
  check(template.metadata?.labels?.["app.kubernetes.io/name"] !== undefined, `${where}: pod template has app.kubernetes.io/name`);
  // Only Prometheus talks to the API server (service discovery, rules/cluster.mjs checks its Role).
  if (object.metadata.name === "prometheus") {
    check(pod.automountServiceAccountToken === true && pod.serviceAccountName === "prometheus",
      `${where}: mounts the token of its own ServiceAccount prometheus (pod discovery)`);
  } else {
    check(pod.automountServiceAccountToken === false, `${where}: does not mount a service account token`);
  }
  const volumes = new Map((pod.volumes || []).map((v) => [v.name, v]));
  for (const volume of volumes.values()) {
    if (volume.configMap) {
      const cm = find("ConfigMap", volume.configMap.name);
      check(Boolean(cm), `${where}: volume ${volume.name} uses ConfigMap ${volume.configMap.name}, defined here`);
      for (const item of volume.configMap.items || []) {
        check(Boolean(cm && cm.data && item.key in cm.data), `${where}: ConfigMap ${volume.configMap.name} has key ${item.key}`);
      }
    }
    if (volume.secret) {
      check(secretsDocumented.has(volume.secret.secretName),
        `${where}: volume ${volume.name} uses Secret ${volume.secret.secretName}, whose kubectl create command is documented`);
    }
  }
  const violations = podSecurityViolations(pod, template.metadata?.annotations || {});
  check(violations.length === 0, `${where}: pods satisfy the Pod Security "restricted" profile`, violations.join("; "));
  const containers = [...(pod.initContainers || []).map((c) => ({ c, init: true })), ...pod.containers.map((c) => ({ c, init: false }))];
  for (const { c, init } of containers) {
    const at = `${where} container ${c.name}`;
    const sc = c.securityContext || {};
    checkImagePinned(at, c.image);
    const r = c.resources || {};
    check(Boolean(r.requests?.cpu && r.requests?.memory && r.limits?.cpu && r.limits?.memory),
      `${at}: cpu and memory requests and limits`, JSON.stringify(r));
    check(parseQuantity(r.limits?.memory) > 0, `${at}: memory limit set`, String(r.limits?.memory));
    check(parseQuantity(r.limits?.memory) >= parseQuantity(r.requests?.memory) &&
      parseQuantity(r.limits?.cpu) >= parseQuantity(r.requests?.cpu), `${at}: limits at least the requests`);
    if (!init) {
      for (const probe of ["livenessProbe", "readinessProbe"]) {
        const p = c[probe];
        if (check(Boolean(p && (p.httpGet || p.tcpSocket || p.grpc || p.exec)), `${at}: has a ${probe}`) && p.httpGet) {
          checkPort(at, c, p.httpGet.port, probe);
        }
      }
      if (c.startupProbe?.httpGet) checkPort(at, c, c.startupProbe.httpGet.port, "startupProbe");
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
        const documented = secretsDocumented.get(secretRef.name);
        check(Boolean(documented?.keys.has(secretRef.key)),
          `${at}: env ${e.name} uses Secret ${secretRef.name} key ${secretRef.key}, whose kubectl create command is documented`,
          documented ? `documented keys: ${[...documented.keys].join(", ")}` : "no `kubectl -n storage-api create secret generic` comment");
      }
      if (/PASSWORD|SECRET|TOKEN|API_KEY|PRIVATE_KEY/i.test(e.name) && /_FILE$/.test(e.name) && e.value !== undefined) {
        // A path to the credential (READ_TOKEN_FILE=...): a documented key of a Secret mounted read-only.
        const mount = (c.volumeMounts || []).find((m) => e.value.startsWith(`${m.mountPath.replace(/\/$/, "")}/`));
        const secretName = mount && volumes.get(mount.name)?.secret?.secretName;
        const key = mount && e.value.slice(mount.mountPath.replace(/\/$/, "").length + 1);
        check(Boolean(secretName) && mount.readOnly === true && !mount.subPath,
          `${at}: env ${e.name} names a file of a Secret volume mounted read-only (without subPath, so updates arrive)`, e.value);
        check(Boolean(secretsDocumented.get(secretName)?.keys.has(key)),
          `${at}: env ${e.name} names key ${key} of Secret ${secretName}, whose kubectl create command is documented`);
      } else if (/PASSWORD|SECRET|TOKEN|API_KEY|PRIVATE_KEY/i.test(e.name)) {
        check(e.value === undefined, `${at}: env ${e.name} is not a literal value (use a secretKeyRef)`);
      }
      const cmRef = e.valueFrom?.configMapKeyRef;
      if (cmRef) {
        check(cmRef.key in (find("ConfigMap", cmRef.name)?.data || {}), `${at}: env ${e.name} refers to ConfigMap ${cmRef.name} key ${cmRef.key}`);
      }
    }
  }
}

// storage_api itself (rules/storage_api.mjs), and every StatefulSet's governing Service and claims.
const api = checkStorageApi({ find, check, envValue, parseQuantity });
checkStatefulSets(objects, check);
// The sharded cluster: the router, its PDB and configuration, discovery and its RBAC (rules/cluster.mjs).
checkCluster({ repo, find, byKind, check, envValue, namespace: NAMESPACE });
checkRbac({ objects, byKind, check, namespace: NAMESPACE });

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

// NetworkPolicies: deny by default both ways, then exactly these flows (rules/network_flows.mjs). Any
// other flow, or a missing one, fails with the whole difference.
const policies = byKind("NetworkPolicy").map((o) => o.object);
const isDefaultDeny = (p, type, field) => Object.keys(p.spec.podSelector || {}).length === 0 &&
  (p.spec.policyTypes || []).includes(type) && (p.spec[field] || []).length === 0;
check(policies.some((p) => isDefaultDeny(p, "Ingress", "ingress")), "a default-deny ingress NetworkPolicy covers the namespace");
check(policies.some((p) => isDefaultDeny(p, "Egress", "egress")), "a default-deny egress NetworkPolicy covers the namespace");
const podsOf = workloads.map((w) => ({
  name: w.metadata.name,
  labels: w.spec.template.metadata.labels || {},
  ports: w.spec.template.spec.containers.flatMap((c) => c.ports || []),
}));
const flows = networkFlows(policies, podsOf);
const CLIENTS = "pods{storage-api/client=true}";
const DNS = "namespaces{kubernetes.io/metadata.name=kube-system} pods{k8s-app=kube-dns}";
const dnsFlows = (pod) => [`${pod} -> ${DNS} TCP/53`, `${pod} -> ${DNS} UDP/53`];
// Clients reach the routers only; the routers reach the shards' data port; Prometheus the shards' admin
// port, the routers' exporter and (for pod discovery) the API server, outside the pod network.
const intended = {
  ingress: [
    "storage-api <- storage-api-router TCP/5000",
    "storage-api <- prometheus TCP/5001",
    `storage-api-router <- ${CLIENTS} TCP/5000`,
    "storage-api-router <- namespaces{storage-api/client=true} TCP/5000",
    "storage-api-router <- prometheus TCP/8404",
    "prometheus <- grafana TCP/9090",
    "grafana <- * TCP/3000",
  ],
  egress: [
    ...dnsFlows("storage-api-router"), "storage-api-router -> storage-api TCP/5000",
    ...dnsFlows("prometheus"), "prometheus -> storage-api TCP/5001", "prometheus -> storage-api-router TCP/8404",
    "prometheus -> * TCP/443", "prometheus -> * TCP/6443",
    ...dnsFlows("grafana"), "grafana -> prometheus TCP/9090",
    ...dnsFlows(CLIENTS), `${CLIENTS} -> storage-api-router TCP/5000`,
  ],
};
for (const direction of ["ingress", "egress"]) {
  const want = [...intended[direction]].sort();
  const extra = flows[direction].filter((f) => !want.includes(f));
  const missing = want.filter((f) => !flows[direction].includes(f));
  check(extra.length === 0 && missing.length === 0, `NetworkPolicies allow exactly the intended ${direction} flows (${want.length})`,
    `not intended: [${extra.join("; ")}] missing: [${missing.join("; ")}]`);
}
const oneSided = oneSidedFlows(flows, podsOf.map((p) => p.name), [...podsOf.map((p) => p.name), CLIENTS]);
check(oneSided.length === 0, "every flow between pods of the namespace is allowed at both ends", oneSided.join("; "));
check(!policies.some((p) => [...(p.spec.ingress || []), ...(p.spec.egress || [])].some((r) =>
  [...(r.from || []), ...(r.to || [])].some((peer) => peer.ipBlock))), "no NetworkPolicy peer is an ipBlock");

// Prometheus: it discovers the shards and the routers (rules/cluster.mjs checks the relabelling and the
// RBAC), and reads the rules ConfigMaps.
const promConfigMap = find("ConfigMap", "prometheus-config");
let promConfig = null;
const rulesConfigMaps = ["prometheus-rules", "prometheus-cluster-rules"];
if (check(Boolean(promConfigMap?.data?.["prometheus.yml"]), "ConfigMap prometheus-config has prometheus.yml")) {
  promConfig = YAML.parse(promConfigMap.data["prometheus.yml"]);
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
    check(rulesConfigMaps.includes(volume?.configMap?.name), `Prometheus rule_files ${ruleGlob} is a rules ConfigMap (${volume?.configMap?.name})`);
  }
  const mountedRules = (promConfig.rule_files || []).map((g) => {
    const mount = mountFor(g);
    return mount && promDeployment.spec.template.spec.volumes.find((v) => v.name === mount.name)?.configMap?.name;
  });
  check(rulesConfigMaps.every((name) => mountedRules.includes(name)), `Prometheus loads both rules ConfigMaps (${rulesConfigMaps.join(", ")})`);
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
  const dashboardMaps = dashboardVolume?.configMap ? [dashboardVolume.configMap.name]
    : (dashboardVolume?.projected?.sources || []).map((source) => source.configMap?.name).filter(Boolean);
  check(["grafana-dashboards", "grafana-dashboards-cluster"].every((name) => dashboardMaps.includes(name)),
    `Grafana dashboard provider path ${provider.options.path} holds the dashboards ConfigMaps (single-node and cluster)`,
    JSON.stringify(dashboardMaps));
  const home = envValue(c, "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH");
  check(Boolean(home) && path.dirname(home) === provider.options.path &&
    dashboardMaps.some((name) => path.basename(home) in (find("ConfigMap", name)?.data || {})), `Grafana home dashboard ${home} is provisioned`);
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

// The cluster's Prometheus evaluates the same rule files as the compose one: every file prometheus.yml
// names is a key of the prometheus-rules ConfigMap, made from that file (checked above).
const composeRuleFiles = YAML.parse(fs.readFileSync(path.join(repo, "prometheus.yml"), "utf8")).rule_files || [];
const rulesSpec = generated.find((spec) => spec.name === "prometheus-rules");
for (const ruleFile of composeRuleFiles) {
  check(rulesSpec?.data[path.basename(ruleFile)] === ruleFile,
    `prometheus.yml rule file ${ruleFile} is in the prometheus-rules ConfigMap too (rules/generated.mjs)`);
}

// docker-compose.yml and prometheus.yml (rules/compose.mjs); the same pinned images there and here.
const compose = checkCompose({ repo, check, parseQuantity });
const clusterCompose = checkClusterCompose({ repo, check, composeDefault });
check(composeDefault(clusterCompose.services?.["router-a"]?.image) === findWorkload("storage-api-router")?.spec.template.spec.containers[0].image,
  "image of storage-api-router is the same in manifests/cluster/docker-compose.yml and manifests/");
for (const [service, workload] of [["storage_api", "storage-api"], ["prometheus", "prometheus"], ["grafana", "grafana"]]) {
  const composeImage = composeDefault(compose.services?.[service]?.image);
  const k8sImage = findWorkload(workload)?.spec.template.spec.containers[0].image;
  check(composeImage === k8sImage, `image of ${workload} is the same in docker-compose.yml and manifests/`,
    `${composeImage} vs ${k8sImage}`);
}

const cmake = fs.readFileSync(path.join(repo, "CMakeLists.txt"), "utf8");
const projectVersion = /project\(\s*storage_api\s+VERSION\s+([0-9.]+)/.exec(cmake)?.[1];
check(api?.spec.template.spec.containers[0].image.endsWith(`:${projectVersion}`),
  `storage-api image tag is the project version ${projectVersion}`);

if (extractDir && promConfigMap) {
  fs.mkdirSync(path.join(extractDir, "rules"), { recursive: true });
  // Rule paths of the cluster (/etc/prometheus/rules) point into the extracted copy instead.
  const local = { ...promConfig, rule_files: [...new Set((promConfig.rule_files || []).map((r) => path.join(extractDir, "rules", path.basename(r))))] };
  fs.writeFileSync(path.join(extractDir, "prometheus.yml"), YAML.stringify(local));
  // For a promtool built without Kubernetes discovery (Debian's): the same config with each
  // kubernetes_sd_configs replaced by a static target, so that everything else (relabelling included)
  // is still checked. rules/cluster.mjs simulates the discovery and relabelling itself.
  const withoutSd = { ...local, scrape_configs: (local.scrape_configs || []).map((job) => {
    if (!job.kubernetes_sd_configs) return job;
    const { kubernetes_sd_configs: _sd, ...rest } = job;
    return { ...rest, static_configs: [{ targets: ["discovered-pod:1"] }] };
  }) };
  fs.writeFileSync(path.join(extractDir, "prometheus-static-sd.yml"), YAML.stringify(withoutSd));
  for (const name of rulesConfigMaps) {
    for (const [key, value] of Object.entries(find("ConfigMap", name)?.data || {})) {
      fs.writeFileSync(path.join(extractDir, "rules", key), value);
    }
  }
  console.log(`extracted the Prometheus config and rules of manifests/ to ${extractDir}`);
}

console.log(`check_manifests: ${objects.length} objects in ${files.length} files`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
