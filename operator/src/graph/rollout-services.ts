/**
 * The rules of a Rollout's Service fields that need the whole commit (buildGraph runs them): the Service a
 * canaryService, stableService, activeService or previewService names must
 * - be in the commit, in the Rollout's namespace (MissingReference: Argo names a Service of the Rollout's
 *   namespace, by name only);
 * - not be headless (InvalidField: a headless Service has no proxy listener, so coxswain can neither point
 *   it at one revision nor split its traffic);
 * - select the Rollout's pods: a selector the pod template's labels satisfy (InvalidField: Argo adds the
 *   pod-template hash to that selector, which only narrows it);
 * - differ from the Rollout's other Service field (canaryService ≠ stableService, activeService ≠
 *   previewService, as Argo's validation says) and carry no other Rollout's traffic (InvalidField: a
 *   Service serves one revision, or one split, at a time).
 * Each problem is an error at the field's value. Pure.
 */
import { DEFAULT_NAMESPACE, compareKeys, keyOf, type Rollout, type Service } from "../api/objects.js";
import { isHeadless } from "../manifest/service.js";
import { formatFieldPath, type PathSegment } from "../manifest/paths.js";
import type { Diagnostic, ManifestObject } from "../manifest/types.js";

/** The Service fields of a Rollout with their values, in field order, and the strategy they belong to. */
function serviceFields(r: Rollout): { strategy: "canary" | "blueGreen"; fields: [field: string, name: string | undefined][] } | undefined {
  const { canary, blueGreen } = r.spec.strategy;
  if (canary !== undefined)
    return {
      strategy: "canary",
      fields: [
        ["canaryService", canary.canaryService],
        ["stableService", canary.stableService],
      ],
    };
  if (blueGreen !== undefined)
    return {
      strategy: "blueGreen",
      fields: [
        ["activeService", blueGreen.activeService],
        ["previewService", blueGreen.previewService],
      ],
    };
  return undefined;
}

/**
 * The diagnostics of the Rollouts among `objects` about the Services they name, in Rollout key order, then
 * field order. Pure.
 */
export function rolloutServiceDiagnostics(objects: readonly ManifestObject[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report = (m: ManifestObject, code: Diagnostic["code"], path: readonly PathSegment[], message: string): void => {
    out.push({ ...m.locate(path), code, severity: "error", field: formatFieldPath(path), message });
  };
  const services = new Map<string, Service>();
  for (const m of objects) if (m.object.kind === "Service") services.set(`${m.object.metadata.namespace ?? DEFAULT_NAMESPACE}/${m.object.metadata.name}`, m.object);
  const rollouts = objects.filter((m): m is ManifestObject & { object: Rollout } => m.object.kind === "Rollout").sort((a, b) => compareKeys(keyOf(a.object), keyOf(b.object)));
  /** "namespace/name" of a Service → "<Rollout key>'s <field>" that claimed it first. */
  const claimed = new Map<string, string>();

  for (const m of rollouts) {
    const r = m.object;
    const namespace = r.metadata.namespace ?? DEFAULT_NAMESPACE;
    const labels = r.spec.template.metadata.labels ?? {};
    const named = serviceFields(r);
    if (named === undefined) continue;
    const [[first, firstName]] = named.fields as [[string, string | undefined]];
    for (const [field, name] of named.fields) {
      if (name === undefined) continue;
      const path = ["spec", "strategy", named.strategy, field];
      if (field !== first && firstName === name) {
        report(m, "InvalidField", path, `names Service "${name}", which is also the ${first}: expected two different Services (as in Argo Rollouts), one per revision`);
        continue;
      }
      const key = `${namespace}/${name}`;
      const svc = services.get(key);
      if (svc === undefined) {
        const elsewhere = [...services.keys()].filter((k) => k.endsWith(`/${name}`)).map((k) => k.split("/")[0]!);
        const hint = elsewhere.length > 0 ? ` (there is one in namespace ${elsewhere.map((n) => `"${n}"`).join(", ")}; a Rollout names Services of its own namespace)` : "";
        report(m, "MissingReference", path, `names Service "${name}", which is not in namespace "${namespace}" of this commit${hint}: expected a Service that selects this Rollout's pods`);
        continue;
      }
      if (isHeadless(svc)) {
        report(m, "InvalidField", path, `names Service "${name}", which is headless (clusterIP: None): it has no proxy listener to point at one revision or to split; expected a Service with a cluster address`);
        continue;
      }
      const pairs = Object.entries(svc.spec.selector ?? {});
      const unmet = pairs.filter(([k, v]) => labels[k] !== v).map(([k, v]) => `${k}=${v}`);
      if (pairs.length === 0 || unmet.length > 0) {
        const why = pairs.length === 0 ? "it has no selector" : `the pod template's labels do not have ${unmet.join(", ")}`;
        report(m, "InvalidField", path, `names Service "${name}", which does not select this Rollout's pods (${why}): expected a Service whose selector the pod template's labels satisfy`);
        continue;
      }
      const by = `${keyOf(r)}'s ${field}`;
      const other = claimed.get(key);
      if (other !== undefined) {
        report(m, "InvalidField", path, `names Service "${name}", which is already ${other}: a Service carries one Rollout's traffic; expected a Service of its own`);
        continue;
      }
      claimed.set(key, by);
    }
  }
  return out;
}
