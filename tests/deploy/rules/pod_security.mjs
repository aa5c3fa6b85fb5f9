// The Pod Security Standards, "restricted" profile (which includes "baseline"), as Pod Security Admission
// enforces it at its latest version: podSecurityViolations(podSpec, podAnnotations) lists every rule a pod
// template breaks, so a manifest is refused here before a cluster with `enforce: restricted` refuses its pods.
// Reference: https://kubernetes.io/docs/concepts/security/pod-security-standards/

const RESTRICTED_VOLUME_TYPES = new Set(["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
  "persistentVolumeClaim", "projected", "secret"]);
const SAFE_SYSCTLS = new Set(["kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time",
  "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"]);
const SELINUX_TYPES = new Set(["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"]);
const SECCOMP_ALLOWED = new Set(["RuntimeDefault", "Localhost"]);
const APPARMOR_ALLOWED = new Set(["RuntimeDefault", "Localhost"]);

export function podSecurityViolations(pod, annotations = {}) {
  const violations = [];
  const podSc = pod.securityContext || {};
  const containers = [
    ...(pod.initContainers || []).map((c) => ["initContainer", c]),
    ...(pod.containers || []).map((c) => ["container", c]),
    ...(pod.ephemeralContainers || []).map((c) => ["ephemeralContainer", c]),
  ];
  const bad = (what) => violations.push(what);

  // baseline
  for (const field of ["hostNetwork", "hostPID", "hostIPC"]) if (pod[field] === true) bad(`${field}: true`);
  if (podSc.windowsOptions?.hostProcess === true) bad("pod windowsOptions.hostProcess: true");
  checkSeLinux(podSc.seLinuxOptions, "pod", bad);
  if (podSc.appArmorProfile && !APPARMOR_ALLOWED.has(podSc.appArmorProfile.type)) bad(`pod appArmorProfile ${podSc.appArmorProfile.type}`);
  for (const sysctl of podSc.sysctls || []) if (!SAFE_SYSCTLS.has(sysctl.name)) bad(`sysctl ${sysctl.name} is not in the safe set`);
  for (const [key, value] of Object.entries(annotations)) {
    if (key.startsWith("container.apparmor.security.beta.kubernetes.io/") && value !== "runtime/default" && !value.startsWith("localhost/")) {
      bad(`annotation ${key}: ${value}`);
    }
  }
  // restricted: volume types (hostPath, the baseline's concern, is not among them either)
  for (const volume of pod.volumes || []) {
    const types = Object.keys(volume).filter((k) => k !== "name");
    for (const type of types) if (!RESTRICTED_VOLUME_TYPES.has(type)) bad(`volume ${volume.name}: type ${type}`);
  }
  // restricted: pod-level defaults that containers may inherit
  if (podSc.runAsUser === 0) bad("pod runAsUser: 0");
  if (podSc.seccompProfile && !SECCOMP_ALLOWED.has(podSc.seccompProfile.type)) bad(`pod seccompProfile ${podSc.seccompProfile.type}`);

  for (const [kind, c] of containers) {
    const at = `${kind} ${c.name}`;
    const sc = c.securityContext || {};
    if (sc.privileged === true) bad(`${at}: privileged`);
    if (sc.windowsOptions?.hostProcess === true) bad(`${at}: windowsOptions.hostProcess`);
    if (sc.procMount !== undefined && sc.procMount !== "Default") bad(`${at}: procMount ${sc.procMount}`);
    checkSeLinux(sc.seLinuxOptions, at, bad);
    if (sc.appArmorProfile && !APPARMOR_ALLOWED.has(sc.appArmorProfile.type)) bad(`${at}: appArmorProfile ${sc.appArmorProfile.type}`);
    for (const port of c.ports || []) if (port.hostPort !== undefined && port.hostPort !== 0) bad(`${at}: hostPort ${port.hostPort}`);
    if (sc.allowPrivilegeEscalation !== false) bad(`${at}: allowPrivilegeEscalation is not false`);
    if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) !== true) bad(`${at}: runAsNonRoot is not true (container or pod)`);
    if (sc.runAsUser === 0) bad(`${at}: runAsUser 0`);
    const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type;
    if (!SECCOMP_ALLOWED.has(seccomp)) bad(`${at}: seccompProfile ${seccomp ?? "unset"} (RuntimeDefault or Localhost)`);
    if (!(sc.capabilities?.drop || []).includes("ALL")) bad(`${at}: capabilities do not drop ALL`);
    for (const cap of sc.capabilities?.add || []) if (cap !== "NET_BIND_SERVICE") bad(`${at}: adds capability ${cap}`);
  }
  return violations;
}

function checkSeLinux(options, at, bad) {
  if (!options) return;
  if (!SELINUX_TYPES.has(options.type ?? "")) bad(`${at}: seLinuxOptions.type ${options.type}`);
  if (options.user) bad(`${at}: seLinuxOptions.user`);
  if (options.role) bad(`${at}: seLinuxOptions.role`);
}
