// No credential is committed to manifests/: a Secret object there carries no data (checkSecrets fails
// otherwise), and the Secrets the pods use are created by hand with the kubectl command a comment in the
// manifests documents. documentedSecrets() reads those commands, so that the project rules can check
// that every Secret and key a pod refers to is documented.
import fs from "node:fs";
import path from "node:path";

export function checkNoSecretData(objects, check) {
  for (const { where, object } of objects.filter((o) => o.object.kind === "Secret")) {
    const keys = [...Object.keys(object.data || {}), ...Object.keys(object.stringData || {})];
    check(keys.length === 0, `${where}: no Secret data committed (create it with kubectl instead)`, `keys ${keys.join(", ")}`);
  }
}

// Secret name -> { file, keys } from "# kubectl -n NAMESPACE create secret generic NAME --from-literal=KEY=..." comments.
export function documentedSecrets(manifestsDir, files, namespace) {
  const found = new Map();
  const inNamespace = new RegExp(`-n ${namespace}\\b|--namespace[= ]${namespace}\\b`);
  for (const file of files.filter((f) => /\.(ya?ml|json)$/.test(f))) {
    const text = fs.readFileSync(path.join(manifestsDir, file), "utf8");
    for (const line of text.split("\n").filter((l) => /^\s*#.*create secret generic/.test(l))) {
      const name = /create secret generic ([\w.-]+)/.exec(line)?.[1];
      const keys = [...line.matchAll(/--from-(?:literal|file)=([\w.-]+)=/g)].map((m) => m[1]);
      if (name && inNamespace.test(line)) found.set(name, { file, keys: new Set([...(found.get(name)?.keys || []), ...keys]) });
    }
  }
  return found;
}
