// docker-compose.yml, statically: what check_image.sh cannot run here (Grafana) must at least be wired to
// the files it mounts; every service keeps its hardening and a memory limit; storage_api serves its data
// port and its admin port, keeps its durable log in a named volume and is restarted when it exits, and
// Prometheus (prometheus.yml) scrapes the admin port; bearer tokens are opt-in through
// docker-compose.tokens.yml.
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";

// "${VAR:-default}" -> "default"; anything else unchanged.
export const composeDefault = (value) => /\$\{[A-Z_]+:-([^}]+)\}/.exec(String(value))?.[1] ?? value;

// Compose sizes (b, k, m, g; case-insensitive) in bytes.
export function composeBytes(value) {
  const m = /^([0-9.]+)\s*([bkmg])?b?$/i.exec(String(composeDefault(value ?? "")));
  if (!m) return NaN;
  return Number(m[1]) * { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] || "b").toLowerCase()];
}

export function checkCompose({ repo, check, parseQuantity }) {
  const compose = YAML.parse(fs.readFileSync(path.join(repo, "docker-compose.yml"), "utf8"));
  const services = compose.services || {};
  const mounts = (service) => (services[service]?.volumes || []).map((v) => {
    const [source, target] = String(v).split(":");
    return { source, target };
  });
  const sourceFor = (service, target) => mounts(service).find((m) => m.target === target)?.source;
  const hardened = (name, service) => {
    check(service.read_only === true, `compose ${name}: read_only root filesystem`);
    check((service.cap_drop || []).includes("ALL") && !(service.cap_add || []).length, `compose ${name}: drops ALL capabilities`);
    check((service.security_opt || []).some((o) => /^no-new-privileges(:true)?$/.test(o)), `compose ${name}: no-new-privileges`);
    check(Number(service.pids_limit) > 0, `compose ${name}: pids_limit`, String(service.pids_limit));
  };

  const api = services.storage_api || {};
  hardened("storage_api", api);
  check(JSON.stringify(api.healthcheck?.test) === JSON.stringify(["CMD", "/storage_api", "--healthcheck"]),
    "compose storage_api: healthcheck runs storage_api --healthcheck (it probes ADMIN_PORT)");
  const env = api.environment || {};
  // The durable log: DATA_DIR is the mount of a named volume (the root filesystem is read-only, and a
  // named volume outlives the container), FSYNC defaults to always, and a restart policy brings the
  // service back after a failed write or sync of the log, on which it exits 1.
  const dataDir = composeDefault(env.DATA_DIR ?? "");
  const dataVolume = mounts("storage_api").find((m) => dataDir !== "" && m.target === dataDir);
  check(Boolean(dataVolume) && dataVolume.source in (compose.volumes || {}),
    `compose storage_api: DATA_DIR ${dataDir || "(unset)"} is the mount of a named volume`,
    dataVolume ? `${dataVolume.source} is not a top-level volume` : "no volume mounted at DATA_DIR");
  check(composeDefault(env.FSYNC ?? "always") === "always", "compose storage_api: FSYNC defaults to always", String(env.FSYNC));
  check(["always", "unless-stopped", "on-failure"].includes(String(api.restart)),
    `compose storage_api: restart policy ${api.restart} restarts it after it exits 1`);
  const mainPort = Number(composeDefault(env.PORT ?? "5000"));
  const adminPort = Number(composeDefault(env.ADMIN_PORT));
  check(mainPort === 5000 && adminPort === 5001, `compose storage_api: PORT 5000 and ADMIN_PORT 5001`, `${mainPort}, ${adminPort}`);
  const memLimit = composeBytes(api.mem_limit);
  check(memLimit === 512 * 1024 ** 2, `compose storage_api: mem_limit ${composeDefault(api.mem_limit)} is 512m (the memory budget follows it)`);
  if (api.memswap_limit !== undefined) {
    check(composeBytes(api.memswap_limit) === memLimit, "compose storage_api: memswap_limit equals mem_limit (no swap)");
  }
  for (const name of ["MAX_STORAGE_BYTES", "MAX_MEMORY_BYTES"]) {
    if (env[name] !== undefined) {
      check(parseQuantity(composeDefault(env[name])) < memLimit, `compose storage_api: ${name} below mem_limit`, String(env[name]));
    }
  }
  const published = (service) => (service.ports || []).map(String);
  for (const port of [mainPort, adminPort]) {
    check(published(api).some((p) => p.startsWith("${BIND_ADDRESS:-127.0.0.1}:") && p.endsWith(`:${port}`)),
      `compose storage_api: publishes container port ${port} on \${BIND_ADDRESS:-127.0.0.1}`, published(api).join(", "));
  }
  check(Boolean(api.build) && api.build.target === "runtime", "compose storage_api: built from the Dockerfile's runtime stage");

  const prom = services.prometheus || {};
  hardened("prometheus", prom);
  const promHealth = prom.healthcheck?.test || [];
  check(promHealth[0] === "CMD" && promHealth[1] === "/bin/promtool", "compose prometheus: health check with /bin/promtool (exec form)",
    JSON.stringify(promHealth));
  const configArg = (prom.command || []).find((a) => String(a).startsWith("--config.file="))?.split("=")[1] ||
    "/etc/prometheus/prometheus.yml";
  const dataArg = (prom.command || []).find((a) => String(a).startsWith("--storage.tsdb.path="))?.split("=")[1] || "/prometheus";
  const dataMount = mounts("prometheus").find((m) => m.target === dataArg);
  check(Boolean(dataMount) && dataMount.source in (compose.volumes || {}),
    `compose prometheus: writes only to the named volume at ${dataArg} (read-only root)`);
  check(sourceFor("prometheus", configArg) === "./prometheus.yml", `compose prometheus: ./prometheus.yml mounted at ${configArg}`);
  const rootConfig = YAML.parse(fs.readFileSync(path.join(repo, "prometheus.yml"), "utf8"));
  for (const rule of rootConfig.rule_files || []) {
    const inContainer = path.posix.join(path.posix.dirname(configArg), rule);
    const source = sourceFor("prometheus", inContainer);
    check(source !== undefined && fs.existsSync(path.join(repo, source)),
      `compose prometheus: rule file ${rule} is mounted at ${inContainer}`);
  }
  const job = (rootConfig.scrape_configs || []).find((j) => j.job_name === "storage_api");
  check(JSON.stringify(job?.static_configs?.[0]?.targets) === JSON.stringify([`storage_api:${adminPort}`]),
    `prometheus.yml: job storage_api scrapes storage_api:${adminPort} (the admin port of the compose service)`);

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
  check(traffic.build?.target === "traffic" && new RegExp(`storage_api:${mainPort}$`).test(String(traffic.environment?.BASE_URL)),
    `compose traffic: runs generate_traffic.sh against storage_api:${mainPort}`);
  for (const [name, service] of Object.entries(services)) {
    const image = composeDefault(String(service.image ?? ""));
    check(/:[\w][\w.-]*$/.test(image) && !image.endsWith(":latest"), `compose ${name}: image ${image} pinned`);
    check(service.pull_policy !== "always", `compose ${name}: no pull_policy always`);
    check(composeBytes(service.mem_limit) > 0, `compose ${name}: mem_limit set`, String(service.mem_limit));
    for (const port of published(service)) {
      check(port.startsWith("${BIND_ADDRESS:-127.0.0.1}:"), `compose ${name}: port ${port} binds to \${BIND_ADDRESS:-127.0.0.1}`);
    }
  }

  // docker-compose.tokens.yml, the opt-in bearer token: docker-compose.yml itself must work without any
  // secret file, and the override must wire the secret to WRITE_TOKEN_FILE without committing it.
  check(!compose.secrets && !api.secrets && !("WRITE_TOKEN_FILE" in env) && !("READ_TOKEN_FILE" in env),
    "compose storage_api: docker-compose.yml needs no token file (tokens are opt-in)");
  const tokensFile = path.join(repo, "docker-compose.tokens.yml");
  if (check(fs.existsSync(tokensFile), "docker-compose.tokens.yml exists")) {
    const tokens = YAML.parse(fs.readFileSync(tokensFile, "utf8"));
    const apiTokens = tokens.services?.storage_api || {};
    const secret = (apiTokens.secrets || [])[0];
    const name = typeof secret === "string" ? secret : secret?.source;
    const source = tokens.secrets?.[name]?.file;
    check(apiTokens.environment?.WRITE_TOKEN_FILE === `/run/secrets/${name}`,
      `compose tokens: WRITE_TOKEN_FILE is the mounted secret /run/secrets/${name}`, String(apiTokens.environment?.WRITE_TOKEN_FILE));
    const gitignore = fs.readFileSync(path.join(repo, ".gitignore"), "utf8").split("\n");
    check(/^\.\/secrets\/[\w.-]+$/.test(String(source)) && gitignore.includes("/secrets/") &&
      !fs.readFileSync(path.join(repo, ".dockerignore"), "utf8").split("\n").some((l) => /^!.*secrets/.test(l)),
      `compose tokens: secret ${name} is a file under ./secrets/, git-ignored and outside the build context`, String(source));
    const trafficTokens = tokens.services?.traffic || {};
    check(Object.keys(tokens.services || {}).every((s) => s in services) &&
      trafficTokens.environment?.TOKEN_FILE === `/run/secrets/${name}` &&
      (trafficTokens.secrets || []).some((t) => (typeof t === "string" ? t : t?.source) === name),
      "compose tokens: the traffic profile sends the same token (TOKEN_FILE), services match docker-compose.yml");
  }
  return compose;
}
