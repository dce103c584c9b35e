/**
 * The ConfigMaps and Secrets a workload's pod template reads through its containers' env (valueFrom.
 * configMapKeyRef, valueFrom.secretKeyRef) and envFrom (configMapRef, secretRef): the graph edges they make
 * and what is wrong with them. No message contains a Secret value (nor a ConfigMap value: they are often
 * settings that should have been Secrets); key names are shown.
 */
import type { ErrorCode } from "../api/errors.js";
import { makeKey, type DesiredObject, type ResourceKey, type TemplateOwner } from "../api/objects.js";
import { ENV_VAR_NAME } from "../manifest/env.js";
import { NUL_IN_ENV } from "../manifest/pod.js";
import { secretKeys, secretValue } from "../manifest/secret.js";
import type { PathSegment } from "../manifest/paths.js";

/** A path into the workload: property names and array indexes, outermost first. */
type FieldPath = readonly PathSegment[];

/** What podReferences found: edges (referenced object → the workload, with the field declaring each) and problems. */
export interface PodReferences {
  edges: { from: ResourceKey; path: FieldPath }[];
  problems: { code: ErrorCode; severity: "error" | "warning"; path: FieldPath; message: string }[];
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Why a value read into the environment cannot be one, or undefined. Names nothing of the value. */
function envValueProblem(value: Buffer | string): string | undefined {
  const text = typeof value === "string" ? value : decodeUtf8(value);
  if (text === undefined) return "is not UTF-8 text, which a container's environment is given as";
  return text.includes("\u0000") ? `holds a NUL byte and cannot be an environment value: ${NUL_IN_ENV}` : undefined;
}

function decodeUtf8(bytes: Buffer): string | undefined {
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * The references of a workload's pod template in `namespace` to the objects `lookup` finds. Edges for every
 * ConfigMap or Secret that exists (optional references too). Problems, each at the field: MissingReference
 * for a non-optional reference to a ConfigMap or Secret that is not in the commit, or to a key it lacks;
 * InvalidField for a value read into the environment that holds a NUL byte or (a Secret's) is not UTF-8;
 * a warning for envFrom keys that are not environment variable names with the prefix (they are skipped,
 * as in Kubernetes).
 */
export function podReferences(workload: TemplateOwner, namespace: string, lookup: (key: ResourceKey) => DesiredObject | undefined): PodReferences {
  const out: PodReferences = { edges: [], problems: [] };
  const error = (code: ErrorCode, path: FieldPath, message: string) => out.problems.push({ code, severity: "error", path, message });
  const spec = workload.spec.template.spec;
  const all = [
    ...(spec.initContainers ?? []).map((container, ci) => ({ container, base: ["spec", "template", "spec", "initContainers", ci] })),
    ...spec.containers.map((container, ci) => ({ container, base: ["spec", "template", "spec", "containers", ci] })),
  ];
  all.forEach(({ container, base }) => {
    (container.env ?? []).forEach((env, ei) => {
      const from = env.valueFrom;
      const ref = from?.configMapKeyRef ?? from?.secretKeyRef;
      if (!ref) return;
      const kind = from?.configMapKeyRef ? "ConfigMap" : "Secret";
      const at = [...base, "env", ei, "valueFrom", kind === "ConfigMap" ? "configMapKeyRef" : "secretKeyRef"];
      const key = makeKey(kind, ref.name, namespace);
      const obj = lookup(key);
      if (obj?.kind !== kind) {
        if (!ref.optional) {
          error("MissingReference", [...at, "name"], `${kind} "${ref.name}" is not declared in namespace "${namespace}": expected a ${kind} of that name in this commit, or optional: true`);
        }
        return;
      }
      out.edges.push({ from: key, path: [...at, "name"] });
      const have = obj.kind === "Secret" ? secretKeys(obj) : obj.kind === "ConfigMap" ? Object.keys(obj.data ?? {}).sort() : [];
      const value = !have.includes(ref.key) ? undefined : obj.kind === "ConfigMap" ? obj.data![ref.key] : obj.kind === "Secret" ? secretValue(obj, ref.key) : undefined;
      if (value === undefined) {
        if (!ref.optional) {
          error(
            "MissingReference",
            [...at, "key"],
            `${kind} "${ref.name}" in namespace "${namespace}" has no key "${ref.key}" (keys: ${have.length ? have.join(", ") : "none"}): expected one of its keys, or optional: true`,
          );
        }
        return;
      }
      const problem = envValueProblem(value);
      // Where it is used, once it becomes an env value; the value is not shown.
      if (problem) error("InvalidField", [...at, "key"], `${kind} "${ref.name}" key "${ref.key}" ${problem}; the value is not shown`);
    });
    (container.envFrom ?? []).forEach((source, si) => {
      const ref = source.configMapRef ?? source.secretRef;
      if (!ref) return;
      const kind = source.configMapRef ? "ConfigMap" : "Secret";
      const at = [...base, "envFrom", si, kind === "ConfigMap" ? "configMapRef" : "secretRef", "name"];
      const key = makeKey(kind, ref.name, namespace);
      const obj = lookup(key);
      if (obj?.kind !== kind) {
        if (!ref.optional) {
          error("MissingReference", at, `${kind} "${ref.name}" is not declared in namespace "${namespace}": expected a ${kind} of that name in this commit, or optional: true`);
        }
        return;
      }
      out.edges.push({ from: key, path: at });
      const values: [string, Buffer | string][] = obj.kind === "ConfigMap" ? Object.entries(obj.data ?? {}) : obj.kind === "Secret" ? secretKeys(obj).map((k) => [k, secretValue(obj, k)!]) : [];
      const prefix = source.prefix ?? "";
      const skipped: string[] = [];
      for (const [k, value] of values.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        if (!ENV_VAR_NAME.test(prefix + k)) {
          skipped.push(k);
          continue;
        }
        const problem = envValueProblem(value);
        if (problem) error("InvalidField", at, `${kind} "${ref.name}" key "${k}" ${problem}; the value is not shown`);
      }
      if (skipped.length > 0) {
        out.problems.push({
          code: "InvalidField",
          severity: "warning",
          path: at,
          message:
            `${kind} "${ref.name}" keys ${skipped.map((k) => JSON.stringify(k)).join(", ")} are not environment variable names${prefix ? ` with prefix "${prefix}"` : ""} ` +
            "(letters, digits, '_', '-' and '.', not starting with a digit) and are skipped, as in Kubernetes",
        });
      }
    });
  });
  return out;
}
