// The ConfigMaps of manifests/ that carry files of grafana/ (alert rules, Grafana provisioning, the
// dashboard): which files, and how they are rendered, so that --write regenerates them and the check can
// tell when one has drifted from its source.
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";

const commonLabels = (name, component) => ({
  "app.kubernetes.io/name": name,
  "app.kubernetes.io/instance": "storage-api",
  "app.kubernetes.io/component": component,
  "app.kubernetes.io/part-of": "storage-api",
  "app.kubernetes.io/managed-by": "kubectl",
});
export const generated = [
  {
    file: "prometheus-rules.configmap.yaml",
    name: "prometheus-rules",
    labels: commonLabels("prometheus", "monitoring"),
    data: {
      "prometheus-alerts.yml": "grafana/prometheus-alerts.yml",
      "prometheus-slo.yml": "grafana/prometheus-slo.yml",
    },
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
  // The sharded cluster: its rules, its dashboard and the router's configuration, each a ConfigMap of
  // its own so that the single-node files above are generated as before.
  {
    file: "prometheus-cluster-rules.configmap.yaml",
    name: "prometheus-cluster-rules",
    labels: commonLabels("prometheus", "monitoring"),
    data: { "prometheus-cluster-alerts.yml": "grafana/prometheus-cluster-alerts.yml" },
  },
  {
    file: "grafana-dashboards-cluster.configmap.yaml",
    name: "grafana-dashboards-cluster",
    labels: commonLabels("grafana", "dashboards"),
    data: { "storage_api_cluster.json": "grafana/dashboards/storage_api_cluster.json" },
  },
  {
    file: "storage-api-router.configmap.yaml",
    name: "storage-api-router",
    labels: commonLabels("storage-api-router", "router"),
    data: { "haproxy.cfg": "manifests/cluster/haproxy.cfg" },
  },
];

export function renderGenerated(repo, namespace, spec) {
  const data = {};
  for (const [key, source] of Object.entries(spec.data)) data[key] = fs.readFileSync(path.join(repo, source), "utf8");
  const object = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: spec.name, namespace, labels: spec.labels },
    data,
  };
  const sources = Object.values(spec.data).join(", ");
  return (
    `# Generated from ${sources}: edit those files, then run\n` +
    `#   node tests/deploy/check_manifests.mjs --write\n` +
    YAML.stringify(object, { lineWidth: 0, blockQuote: "literal" })
  );
}

