/**
 * The references of a workload's configMap and secret volumes to objects of the commit: each found
 * ConfigMap or Secret becomes a dependency (its change rolls the workload, see
 * controllers/workload/volumes.ts), and a missing one, or a missing key listed in items, is
 * MissingReference unless the volume is optional. A persistentVolumeClaim volume depends on its claim,
 * which must be declared in the pod's namespace (there is no optional claim). Messages name keys, never values.
 */
import { makeKey, type DesiredObject, type ResourceKey, type TemplateOwner } from "../api/objects.js";
import { secretKeys } from "../manifest/secret.js";
import type { PathSegment } from "../manifest/paths.js";

/** One reference of a volume: the object it depends on (when found), or the problem at `path`. */
export type VolumeReference = { dependency: ResourceKey; path: readonly PathSegment[] } | { missing: string; path: readonly PathSegment[] };

/** The references of `workload`'s volumes in `namespace`, in the template's order; `lookup` finds objects of the commit by key. */
export function volumeReferences(workload: TemplateOwner, namespace: string, lookup: (key: ResourceKey) => DesiredObject | undefined): VolumeReference[] {
  const out: VolumeReference[] = [];
  (workload.spec.template.spec.volumes ?? []).forEach((v, vi) => {
    const base = ["spec", "template", "spec", "volumes", vi];
    if (v.persistentVolumeClaim) {
      const claimName = v.persistentVolumeClaim.claimName;
      const key = makeKey("PersistentVolumeClaim", claimName, namespace);
      const path = [...base, "persistentVolumeClaim", "claimName"];
      if (lookup(key)?.kind === "PersistentVolumeClaim") out.push({ dependency: key, path });
      else {
        out.push({
          missing: `PersistentVolumeClaim "${claimName}" is not declared in namespace "${namespace}": expected a PersistentVolumeClaim of that name in this commit`,
          path,
        });
      }
      return;
    }
    let kind: "ConfigMap" | "Secret";
    let name: string;
    let field: string;
    let optional: boolean;
    let items: readonly { key: string }[];
    if (v.configMap) {
      [kind, name, field, optional, items] = ["ConfigMap", v.configMap.name, "configMap", v.configMap.optional ?? false, v.configMap.items ?? []];
    } else if (v.secret) {
      [kind, name, field, optional, items] = ["Secret", v.secret.secretName, "secret", v.secret.optional ?? false, v.secret.items ?? []];
    } else return;
    const key = makeKey(kind, name, namespace);
    const found = lookup(key);
    const nameField = kind === "ConfigMap" ? "name" : "secretName";
    if (found?.kind !== kind) {
      if (!optional) {
        out.push({
          missing: `${kind} "${name}" is not declared in namespace "${namespace}": expected a ${kind} of that name in this commit, or optional: true`,
          path: [...base, field, nameField],
        });
      }
      return;
    }
    out.push({ dependency: key, path: [...base, field, nameField] });
    if (optional) return;
    const have = found.kind === "Secret" ? secretKeys(found) : Object.keys(found.kind === "ConfigMap" ? (found.data ?? {}) : {}).sort();
    items.forEach((item, ii) => {
      if (have.includes(item.key)) return;
      out.push({
        missing: `${kind} "${name}" in namespace "${namespace}" has no key "${item.key}" (keys: ${have.length ? have.join(", ") : "none"}): expected one of its keys, or optional: true`,
        path: [...base, field, "items", ii, "key"],
      });
    });
  });
  return out;
}
