// What the NetworkPolicies of one namespace let through, as flow lines a person can read and a test can
// compare with the intended list:
//   ingress  "<pod> <- <source> <PROTO>/<port>"        egress  "<pod> -> <destination> <PROTO>/<port>"
// Pods are the workloads (named by their Deployment or StatefulSet) plus, for each policy selector that
// matches no workload (e.g. client pods), that selector, plus "other pods" (unlabelled), so that a pod the
// policies forget shows up as "<- * any". A peer is named by the one workload its podSelector picks, else by its
// selectors (namespaces{...} pods{...}), "ipBlock <cidr>", or "*" for any source or destination.
// Semantics as in networking.k8s.io/v1: a pod is isolated for a direction once any policy selecting it
// has that policyType, and then allows the union of the rules of the policies that select it.

function matches(selector, labels) {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels || {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions || []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    if (e.operator === "In" && !(has && e.values.includes(labels[e.key]))) return false;
    if (e.operator === "NotIn" && has && e.values.includes(labels[e.key])) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

function canonical(kind, selector) {
  const parts = Object.entries(selector?.matchLabels || {}).sort().map(([k, v]) => `${k}=${v}`);
  for (const e of selector?.matchExpressions || []) parts.push(`${e.key} ${e.operator}${e.values ? ` (${[...e.values].sort()})` : ""}`);
  return `${kind}{${parts.sort().join(",")}}`;
}

const policyTypes = (p) => p.spec.policyTypes || (p.spec.egress ? ["Ingress", "Egress"] : ["Ingress"]);

// workloads: [{ name, labels, ports: [{ name, containerPort }] }] of the namespace's pod templates.
export function networkFlows(policies, workloads) {
  const subjects = workloads.map((w) => ({ ...w }));
  for (const p of policies) {
    const selector = p.spec.podSelector || {};
    const empty = Object.keys(selector.matchLabels || {}).length === 0 && (selector.matchExpressions || []).length === 0;
    if (empty || workloads.some((w) => matches(selector, w.labels))) continue;
    const name = canonical("pods", selector);
    if (!subjects.some((s) => s.name === name)) subjects.push({ name, labels: { ...(selector.matchLabels || {}) }, ports: [] });
  }
  subjects.push({ name: "other pods", labels: {}, ports: [] });

  const peerName = (peer) => {
    if (peer.ipBlock) return `ipBlock ${peer.ipBlock.cidr}${peer.ipBlock.except ? ` except ${peer.ipBlock.except}` : ""}`;
    if (peer.podSelector && !peer.namespaceSelector) {
      const picked = workloads.filter((w) => matches(peer.podSelector, w.labels));
      const synthetic = subjects.slice(workloads.length, -1); // the selector-named pods, not "other pods"
      if (picked.length === 1 && !synthetic.some((s) => matches(peer.podSelector, s.labels))) return picked[0].name;
      return canonical("pods", peer.podSelector);
    }
    const ns = canonical("namespaces", peer.namespaceSelector);
    return peer.podSelector ? `${ns} ${canonical("pods", peer.podSelector)}` : ns;
  };
  const peerWorkload = (peer) => workloads.find((w) => w.name === peerName(peer));
  const portText = (port, owner) => {
    const protocol = port.protocol || "TCP";
    let number = port.port;
    if (typeof number === "string") number = owner?.ports.find((p) => p.name === number)?.containerPort ?? number;
    if (number === undefined) return `${protocol}/any`;
    return `${protocol}/${number}${port.endPort ? `-${port.endPort}` : ""}`;
  };

  const flows = { ingress: [], egress: [] };
  for (const subject of subjects) {
    for (const [type, key, field, arrow] of [["Ingress", "ingress", "from", "<-"], ["Egress", "egress", "to", "->"]]) {
      const selecting = policies.filter((p) => policyTypes(p).includes(type) && matches(p.spec.podSelector || {}, subject.labels));
      if (selecting.length === 0) {
        flows[key].push(`${subject.name} ${arrow} * any`);
        continue;
      }
      for (const p of selecting) {
        for (const rule of p.spec[key] || []) {
          const peers = rule[field] && rule[field].length > 0 ? rule[field] : [null];
          for (const peer of peers) {
            const other = peer ? peerName(peer) : "*";
            const owner = type === "Ingress" ? subject : peer && peerWorkload(peer);
            const ports = rule.ports && rule.ports.length > 0 ? rule.ports.map((port) => portText(port, owner)) : ["any"];
            for (const port of ports) flows[key].push(`${subject.name} ${arrow} ${other} ${port}`);
          }
        }
      }
    }
  }
  for (const key of ["ingress", "egress"]) flows[key] = [...new Set(flows[key])].sort();
  return flows;
}

// Flows between pods of the namespace need both ends: an egress rule at the source and an ingress rule
// at the destination. Returns the flows that only one side allows.
export function oneSidedFlows(flows, workloadNames, subjectNames) {
  const parse = (line, arrow) => {
    const [left, rest] = line.split(` ${arrow} `);
    const cut = rest.lastIndexOf(" ");
    return { left, right: rest.slice(0, cut), port: rest.slice(cut + 1) };
  };
  const ingress = new Set(flows.ingress);
  const egress = new Set(flows.egress);
  const missing = [];
  for (const line of flows.egress) {
    const { left, right, port } = parse(line, "->");
    if (workloadNames.includes(right) && !ingress.has(`${right} <- ${left} ${port}`)) missing.push(`${line} (no ingress at ${right})`);
  }
  for (const line of flows.ingress) {
    const { left, right, port } = parse(line, "<-");
    if (subjectNames.includes(right) && !egress.has(`${right} -> ${left} ${port}`)) missing.push(`${line} (no egress at ${right})`);
  }
  return missing;
}
