/**
 * A pod template's volumes and volumeMounts → what the runtimes need (LaunchVolume, LaunchMount). Pure.
 *
 * - configMap and secret volumes become "files" volumes: one file per key (or per listed item), mode
 *   item.mode ?? defaultMode ?? 0644 as in Kubernetes. Missing optional ConfigMaps, Secrets and keys
 *   leave the volume empty or without that file (a missing required one was refused with the graph).
 * - Their content is part of the revision (revisionInput): a changed ConfigMap or Secret rolls the
 *   workload, as configMapKeyRef values do (template.ts). Secret content enters the revision as a SHA-256
 *   digest only, so that nothing derived from the plan can carry it.
 * - emptyDir volumes carry their medium; Memory's sizeLimit becomes the tmpfs size in bytes.
 * - persistentVolumeClaim volumes name their claim ("namespace/name"; template.ts podRequest gives them to the
 *   scheduler, which pins the pod to the claim's node); hostPath volumes carry the node's path and type. Neither has
 *   content the revision must cover: what is in them is not the template's.
 */
import { createHash } from "node:crypto";
import type { ConfigMap, Secret } from "../../api/objects.js";
import { makeKey } from "../../api/objects.js";
import type { KeyToPath, PodSpec } from "../../api/generated/index.js";
import { parseMemory } from "../../api/quantity.js";
import { secretKeys, secretValue } from "../../manifest/secret.js";
import type { HostPathType, LaunchFile, LaunchMount, LaunchVolume } from "../../runtime/types.js";

/** Looks up the ConfigMaps and Secrets of the commit by key ("ConfigMap/ns/name", "Secret/ns/name"). */
export type VolumeSourceLookup = (key: string) => ConfigMap | Secret | undefined;

/** Kubernetes' default file mode of configMap and secret volumes (0644). */
const DEFAULT_FILE_MODE = 0o644;

/** The volumes of a template, planned. */
export interface VolumesPlan {
  /** Every volume of the pod, in the template's order. */
  volumes: LaunchVolume[];
  /** Each container's mounts by container name, in declaration order (containers without mounts are absent). */
  mounts: Record<string, LaunchMount[]>;
  /**
   * What of the volumes' content the revision must cover, per volume name: the files' paths, modes and
   * content (ConfigMaps) or content digests (Secrets). Undefined when the pod has no volumes, so that the
   * revision of a template without volumes stays what it was.
   */
  revisionInput?: Record<string, { path: string; mode: number; content: string }[]>;
}

/** Plans the volumes of `spec` in `namespace` against the ConfigMaps and Secrets `lookup` finds. */
export function planVolumes(spec: PodSpec, namespace: string, lookup: VolumeSourceLookup): VolumesPlan {
  const volumes: LaunchVolume[] = [];
  const revisionInput: NonNullable<VolumesPlan["revisionInput"]> = {};
  for (const v of spec.volumes ?? []) {
    if (v.configMap) {
      const source = v.configMap;
      const found = lookup(makeKey("ConfigMap", source.name, namespace));
      const cm = found?.kind === "ConfigMap" ? found : undefined;
      const data = cm?.data ?? {};
      const files = keyFiles(Object.keys(data), source.items, source.defaultMode, (key) => Buffer.from(data[key]!, "utf8"));
      volumes.push({ name: v.name, type: "files", files });
      revisionInput[v.name] = files.map((f) => ({ path: f.path, mode: f.mode, content: f.data }));
    } else if (v.secret) {
      const source = v.secret;
      const found = lookup(makeKey("Secret", source.secretName, namespace));
      const secret = found?.kind === "Secret" ? found : undefined;
      const files = secret ? keyFiles(secretKeys(secret), source.items, source.defaultMode, (key) => secretValue(secret, key)!) : [];
      volumes.push({ name: v.name, type: "files", files });
      revisionInput[v.name] = files.map((f) => ({ path: f.path, mode: f.mode, content: `sha256:${createHash("sha256").update(f.data).digest("hex")}` }));
    } else if (v.persistentVolumeClaim) {
      volumes.push({ name: v.name, type: "claim", claim: { name: `${namespace}/${v.persistentVolumeClaim.claimName}`, readOnly: v.persistentVolumeClaim.readOnly ?? false } });
    } else if (v.hostPath) {
      volumes.push({ name: v.name, type: "hostPath", hostPath: { path: v.hostPath.path, type: (v.hostPath.type ?? "") as HostPathType } });
    } else {
      // emptyDir, also when no source is given (Kubernetes' default source).
      const memory = v.emptyDir?.medium === "Memory";
      const size = v.emptyDir?.sizeLimit;
      volumes.push({
        name: v.name,
        type: "emptyDir",
        ...(memory ? { memory: size !== undefined ? { sizeBytes: parseMemory(size) } : {} } : {}),
      });
    }
  }
  const mounts: Record<string, LaunchMount[]> = {};
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    if (!c.volumeMounts?.length) continue;
    mounts[c.name] = c.volumeMounts.map((m) => ({
      volume: m.name,
      mountPath: m.mountPath,
      readOnly: m.readOnly ?? false,
      ...(m.subPath ? { subPath: m.subPath } : {}),
    }));
  }
  return { volumes, mounts, ...(volumes.length > 0 ? { revisionInput } : {}) };
}

/** The volumes and mounts of one container: its mounts and the volumes they name, in the pod's order. */
export function containerVolumes(plan: Pick<VolumesPlan, "volumes" | "mounts">, container: string): { volumes?: LaunchVolume[]; mounts?: LaunchMount[] } {
  const mounts = plan.mounts[container];
  if (!mounts?.length) return {};
  const used = new Set(mounts.map((m) => m.volume));
  return { volumes: plan.volumes.filter((v) => used.has(v.name)), mounts };
}

/** The files of a configMap or secret volume: every key, or the listed items whose key exists; sorted by path. */
function keyFiles(keys: readonly string[], items: readonly KeyToPath[] | undefined, defaultMode: number | undefined, value: (key: string) => Buffer): LaunchFile[] {
  const mode = defaultMode ?? DEFAULT_FILE_MODE;
  const have = new Set(keys);
  const chosen = items ? items.filter((i) => have.has(i.key)).map((i) => ({ key: i.key, path: i.path, mode: i.mode ?? mode })) : keys.map((key) => ({ key, path: key, mode }));
  return chosen.map((c) => ({ path: c.path, mode: c.mode, data: value(c.key).toString("base64") })).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
