// StatefulSets, as their controller runs them, and the rules that give their pods stable names and
// volumes of their own:
//   podSpecOf(workload)   the pod spec a workload's pods run with: a StatefulSet's volumeClaimTemplates
//                         become persistentVolumeClaim volumes of the same names (claim
//                         <template>-<set>-<ordinal>), which the controller adds to every pod;
//   checkStatefulSets(objects, check)
//                         for every StatefulSet: serviceName names a headless Service of its namespace
//                         that selects its pods and publishes only ready ones; every claim template asks
//                         for an access mode and a size, is not also a pod volume, and is mounted by a
//                         container; the claims' retention on delete and scale-down is stated.

export function podSpecOf(workload) {
  const pod = workload.spec.template.spec;
  if (workload.kind !== "StatefulSet") return pod;
  const claims = (workload.spec.volumeClaimTemplates || []).map((t) => ({
    name: t.metadata.name,
    persistentVolumeClaim: { claimName: `${t.metadata.name}-${workload.metadata.name}-0` },
  }));
  return { ...pod, volumes: [...(pod.volumes || []), ...claims] };
}

const subset = (small, big) => Object.entries(small || {}).every(([k, v]) => (big || {})[k] === v);

export function checkStatefulSets(objects, check) {
  const services = objects.filter((o) => o.object.kind === "Service").map((o) => o.object);
  for (const { object: set } of objects.filter((o) => o.object.kind === "StatefulSet")) {
    const at = `StatefulSet ${set.metadata.name}`;
    const podLabels = set.spec.template.metadata?.labels || {};
    const governing = services.find((s) => s.metadata.name === set.spec.serviceName &&
      s.metadata.namespace === set.metadata.namespace);
    check(Boolean(governing), `${at}: serviceName ${set.spec.serviceName} is a Service of its namespace`);
    check(governing?.spec.clusterIP === "None", `${at}: Service ${set.spec.serviceName} is headless (clusterIP: None)`,
      String(governing?.spec.clusterIP));
    const selector = governing?.spec.selector || {};
    check(Object.keys(selector).length > 0 && subset(selector, podLabels),
      `${at}: Service ${set.spec.serviceName} selects its pods`, JSON.stringify(selector));
    check(governing?.spec.publishNotReadyAddresses !== true,
      `${at}: Service ${set.spec.serviceName} publishes ready pods only`);

    const templates = set.spec.volumeClaimTemplates || [];
    const podVolumes = new Set((set.spec.template.spec.volumes || []).map((v) => v.name));
    const containers = [...(set.spec.template.spec.initContainers || []), ...set.spec.template.spec.containers];
    for (const t of templates) {
      const claim = `${at} claim template ${t.metadata.name}`;
      check((t.spec.accessModes || []).length > 0, `${claim}: has an access mode`);
      check(/^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$/.test(String(t.spec.resources?.requests?.storage ?? "")),
        `${claim}: requests a storage size`, String(t.spec.resources?.requests?.storage));
      check(!podVolumes.has(t.metadata.name), `${claim}: no pod volume of the same name shadows it`);
      check(containers.some((c) => (c.volumeMounts || []).some((m) => m.name === t.metadata.name)),
        `${claim}: mounted by a container`);
    }
    if (templates.length > 0) {
      const retention = set.spec.persistentVolumeClaimRetentionPolicy || {};
      check(Boolean(retention.whenDeleted) && Boolean(retention.whenScaled),
        `${at}: persistentVolumeClaimRetentionPolicy states whenDeleted and whenScaled`, JSON.stringify(retention));
    }
  }
}
