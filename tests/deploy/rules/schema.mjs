// Validation of Kubernetes objects against the OpenAPI schemas of kubernetes-models (offline, pinned by
// package-lock.json): validateSchemas(objects, check) checks each object's kind is known, that it is
// valid, and that it has no field the schema does not know (kubectl's strict field validation refuses those).
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const require = createRequire(import.meta.url);
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

export function validateSchemas(objects, check) {
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
}
