// storage_api's own workload, manifests/storage-api.yaml: a StatefulSet of SHARDS replicas (the shards of
// the router's ring), each of whose volumes holds its durable log, with its two listeners, its drain, its
// memory budget and its start-up allowance.
// checkStorageApi({ find, check, envValue, parseQuantity }) returns the StatefulSet (or undefined).

// How long the startup probe must let the service replay its log before the liveness probe may kill it:
// ten minutes covers the whole 10Gi claim read at about 18 MB/s (a cold network volume).
export const RECOVERY_ALLOWANCE_SECONDS = 600;
const SERVICE_UID = 65532;
// The shards of manifests/cluster/haproxy.cfg (rules/cluster.mjs checks the ring against this count).
export const SHARDS = 3;

export function checkStorageApi({ find, check, envValue, parseQuantity }) {
  const api = find("StatefulSet", "storage-api");
  if (!check(Boolean(api), "StatefulSet storage-api is defined")) return undefined;
  const at = "StatefulSet storage-api";
  const pod = api.spec.template.spec;
  const c = pod.containers.find((x) => x.name === "storage-api") || pod.containers[0];
  check(api.spec.replicas === SHARDS, `${at}: ${SHARDS} replicas, the shards of the router's ring (each pod is its own store)`,
    String(api.spec.replicas));
  // RollingUpdate in a StatefulSet deletes the old pod and waits for it to be gone before creating the
  // new one (never two copies of a shard). Parallel: the shards are independent, and one that cannot
  // start must not hold the others back (OrderedReady would); updates still go one pod at a time.
  check((api.spec.updateStrategy?.type ?? "RollingUpdate") === "RollingUpdate", `${at}: RollingUpdate update strategy`,
    String(api.spec.updateStrategy?.type));
  check(api.spec.updateStrategy?.rollingUpdate?.maxUnavailable === undefined,
    `${at}: rolling updates replace one shard at a time (no maxUnavailable)`);
  check(api.spec.podManagementPolicy === "Parallel", `${at}: Parallel pod management (independent shards)`,
    String(api.spec.podManagementPolicy));

  // Two listeners: http serves the data, admin the metrics and health endpoints; probes use admin, so
  // clients filling the main port's connections cannot make the kubelet kill a working process.
  const portNamed = (name) => (c.ports || []).find((p) => p.name === name);
  check(portNamed("http")?.containerPort === Number(envValue(c, "PORT") ?? 5000), `${at}: container port http is PORT`);
  check(portNamed("admin") !== undefined && portNamed("admin").containerPort === Number(envValue(c, "ADMIN_PORT")),
    `${at}: container port admin is ADMIN_PORT (${envValue(c, "ADMIN_PORT")})`);
  const onAdmin = (probe) => probe?.httpGet?.port === "admin" || probe?.httpGet?.port === portNamed("admin")?.containerPort;
  check(c.livenessProbe?.httpGet?.path === "/healthz" && onAdmin(c.livenessProbe), `${at}: liveness probe on /healthz, admin port`);
  check(c.readinessProbe?.httpGet?.path === "/readyz" && onAdmin(c.readinessProbe), `${at}: readiness probe on /readyz, admin port`);

  // The durable log: DATA_DIR is the mount of a claim of the pod's own (not an emptyDir, which a
  // rescheduled pod loses), writable by the service's group on a fresh volume.
  const dataDir = envValue(c, "DATA_DIR");
  const trim = (p) => String(p).replace(/(.)\/+$/, "$1");
  check(typeof dataDir === "string" && dataDir.startsWith("/"), `${at}: DATA_DIR is an absolute path`, String(dataDir));
  const dataMount = (c.volumeMounts || []).find((m) => dataDir !== undefined && trim(m.mountPath) === trim(dataDir));
  const claim = (api.spec.volumeClaimTemplates || []).find((t) => t.metadata.name === dataMount?.name);
  check(Boolean(claim), `${at}: DATA_DIR ${dataDir} is the mount of a volumeClaimTemplate (a PersistentVolumeClaim per pod)`,
    dataMount ? `mount ${dataMount.name} is not a claim template` : "no volumeMount at DATA_DIR");
  check(Boolean(dataMount) && dataMount.readOnly !== true && !dataMount.subPath && !dataMount.subPathExpr,
    `${at}: the data volume is mounted whole and writable`);
  const modes = claim?.spec.accessModes || [];
  check(modes.length > 0 && modes.every((m) => m === "ReadWriteOnce" || m === "ReadWriteOncePod"),
    `${at}: claim ${claim?.metadata.name} is ReadWriteOnce (one node at a time)`, JSON.stringify(modes));
  check(parseQuantity(claim?.spec.resources?.requests?.storage) >= parseQuantity("1Gi"),
    `${at}: claim ${claim?.metadata.name} requests ${claim?.spec.resources?.requests?.storage} (at least 1Gi)`);
  const fsync = envValue(c, "FSYNC") ?? "always";
  check(fsync === "always", `${at}: FSYNC=always (a PUT or DELETE is answered once it is on disk)`, fsync);
  const podSc = pod.securityContext || {};
  check((c.securityContext?.runAsUser ?? podSc.runAsUser) === SERVICE_UID &&
    (c.securityContext?.runAsGroup ?? podSc.runAsGroup) === SERVICE_UID, `${at}: runs as ${SERVICE_UID}:${SERVICE_UID}, the image's user`);
  check(podSc.fsGroup === SERVICE_UID, `${at}: fsGroup ${SERVICE_UID} (a fresh volume becomes writable by the service)`,
    String(podSc.fsGroup));
  check(podSc.fsGroupChangePolicy === "OnRootMismatch",
    `${at}: fsGroupChangePolicy OnRootMismatch (no recursive ownership walk over the log at every start)`, String(podSc.fsGroupChangePolicy));
  const retention = api.spec.persistentVolumeClaimRetentionPolicy || {};
  check(retention.whenDeleted === "Retain" && retention.whenScaled === "Retain",
    `${at}: claims retained when the StatefulSet is deleted or scaled down (the data outlives them)`, JSON.stringify(retention));

  // Start-up: the log is replayed before the service listens, for a time that grows with the log.
  const startup = c.startupProbe;
  check(startup?.httpGet?.path === "/healthz" && onAdmin(startup), `${at}: startup probe on /healthz, admin port`);
  const window = (startup?.periodSeconds ?? 10) * (startup?.failureThreshold ?? 3);
  check(Boolean(startup) && window >= RECOVERY_ALLOWANCE_SECONDS,
    `${at}: the startup probe allows ${window} s for the log's replay (at least ${RECOVERY_ALLOWANCE_SECONDS} s)`);

  // Clients keep the address storage-api:5000, now the routers' ClusterIP Service (rules/cluster.mjs);
  // the shards' governing Service is headless, and none spreads requests over the shards.
  const service = find("Service", "storage-api");
  const headless = find("Service", api.spec.serviceName);
  check(Boolean(service) && service.spec.clusterIP !== "None" && (service.spec.type ?? "ClusterIP") === "ClusterIP",
    "Service storage-api is a ClusterIP Service (clients address it)");
  check(api.spec.serviceName !== "storage-api" && headless?.spec.clusterIP === "None",
    `${at}: serviceName ${api.spec.serviceName} is a headless Service of its own`);

  // Drain: the grace period covers the delay and the drain.
  const delay = Number(envValue(c, "SHUTDOWN_DELAY_MS") ?? 0);
  const grace = Number(envValue(c, "SHUTDOWN_GRACE_MS") ?? 10000);
  const period = pod.terminationGracePeriodSeconds ?? 30;
  check(Number.isFinite(delay) && Number.isFinite(grace) && delay + grace + 1000 <= period * 1000,
    `${at}: terminationGracePeriodSeconds (${period}s) covers SHUTDOWN_DELAY_MS + SHUTDOWN_GRACE_MS (${delay + grace} ms) with margin`);
  check(delay > 0 || Boolean(c.lifecycle?.preStop), `${at}: keeps serving while endpoints are withdrawn (SHUTDOWN_DELAY_MS or preStop)`);

  // The memory budget follows the cgroup limit; an explicit size must fit under it (the service refuses
  // to start otherwise, which a manifest should not find out in a crash loop).
  const limit = parseQuantity(c.resources?.limits?.memory);
  check(limit === parseQuantity("512Mi"), `${at}: memory limit ${c.resources?.limits?.memory} is 512Mi (the budget follows it)`);
  for (const name of ["MAX_MEMORY_BYTES", "MAX_STORAGE_BYTES", "MAX_INFLIGHT_BODY_BYTES", "MAX_CONNECTION_MEMORY_BYTES"]) {
    if (envValue(c, name) !== undefined) {
      check(parseQuantity(envValue(c, name)) < limit, `${at}: ${name} ${envValue(c, name)} below the memory limit`);
    }
  }
  check(c.resources?.requests?.memory === c.resources?.limits?.memory, `${at}: memory request equals the limit (the store may fill it)`);
  return api;
}
