/**
 * The rules of a pod template's imagePullSecrets that need the whole commit (buildGraph runs them): each
 * Secret named must be in the commit in the workload's namespace (MissingReference) and be a usable pull
 * Secret (SecretInvalid: a kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg Secret whose JSON holds
 * credentials, manifest/image.ts readPullSecret). Kubernetes' kubelet skips a missing pull Secret with a
 * warning and pulls without it; coxswain refuses the commit instead, so that a typo does not turn into
 * "pull access denied" on every node. Each problem is an error at the entry's name; no message holds a
 * Secret value. Pure.
 */
import { DEFAULT_NAMESPACE, compareKeys, keyOf, podTemplated, type Secret } from "../api/objects.js";
import { formatFieldPath } from "../manifest/paths.js";
import type { Diagnostic, ManifestObject } from "../manifest/types.js";
import { readPullSecret } from "../manifest/image.js";

/** The diagnostics of the workloads (and CronJobs) among `objects` about their imagePullSecrets, in workload key order, then entry order. */
export function pullSecretDiagnostics(objects: readonly ManifestObject[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const secrets = new Map<string, Secret>();
  for (const m of objects) if (m.object.kind === "Secret") secrets.set(`${m.object.metadata.namespace ?? DEFAULT_NAMESPACE}/${m.object.metadata.name}`, m.object);
  const workloads = objects.filter((m) => podTemplated(m.object)).sort((a, b) => compareKeys(keyOf(a.object), keyOf(b.object)));
  for (const m of workloads) {
    const { owner, path: at } = podTemplated(m.object)!;
    const namespace = m.object.metadata.namespace ?? DEFAULT_NAMESPACE;
    (owner.spec.template.spec.imagePullSecrets ?? []).forEach((ref, i) => {
      const path = at(["spec", "template", "spec", "imagePullSecrets", i, "name"]);
      const report = (code: Diagnostic["code"], message: string) => out.push({ ...m.locate(path), code, severity: "error", field: formatFieldPath(path), message });
      const secret = secrets.get(`${namespace}/${ref.name}`);
      if (secret === undefined) {
        report("MissingReference", `Secret "${ref.name}" is not declared in namespace "${namespace}": expected a kubernetes.io/dockerconfigjson Secret of that name in this commit`);
        return;
      }
      const read = readPullSecret(secret);
      if ("problem" in read) report("SecretInvalid", `Secret "${ref.name}" in namespace "${namespace}" ${read.problem}`);
    });
  }
  return out;
}
