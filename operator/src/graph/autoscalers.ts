/**
 * HorizontalPodAutoscalers across objects (buildGraph runs autoscalerReferences): the workload an
 * autoscaler's scaleTargetRef names must be in the commit, in the autoscaler's namespace, and of a kind it
 * can scale (manifest/autoscaler.ts: AUTOSCALE_TARGET_KINDS) — MissingReference otherwise —, and one
 * workload has at most one autoscaler (InvalidField on the later one by key: Kubernetes' AmbiguousSelector,
 * refused here because two owners of one replica count fight). The edge is target → autoscaler
 * (dependency → dependent): the autoscaler follows its workload, and a change of the autoscaler alone is
 * never a change of the workload (no rollout). Pure.
 */
import { DEFAULT_NAMESPACE, compareKeys, keyOf, makeKey, type HorizontalPodAutoscaler, type ResourceKey } from "../api/objects.js";
import { AUTOSCALE_TARGET_KINDS } from "../manifest/autoscaler.js";
import type { PathSegment } from "../manifest/paths.js";
import type { ManifestObject } from "../manifest/types.js";
import type { DesiredGraph } from "./graph.js";

/** The field of an autoscaler that names its target. */
const TARGET_PATH: readonly PathSegment[] = ["spec", "scaleTargetRef", "name"];

/** What autoscalerReferences found: edges to add and problems to report, in autoscaler key order. */
export interface AutoscalerReferences {
  edges: { from: ResourceKey; to: ResourceKey; path: readonly PathSegment[] }[];
  problems: { object: ManifestObject; code: "MissingReference" | "InvalidField"; path: readonly PathSegment[]; message: string }[];
}

/** The key of the workload an autoscaler targets (its kind as written; may name nothing). */
export function autoscalerTargetKey(hpa: HorizontalPodAutoscaler): ResourceKey | undefined {
  const kind = AUTOSCALE_TARGET_KINDS.find((k) => k === hpa.spec.scaleTargetRef.kind);
  return kind === undefined ? undefined : makeKey(kind, hpa.spec.scaleTargetRef.name, hpa.metadata.namespace ?? DEFAULT_NAMESPACE);
}

/** Edges and problems of the autoscalers among `objects` (by key); `lookup` finds an object of the commit. */
export function autoscalerReferences(objects: readonly ManifestObject[], has: (key: ResourceKey) => boolean): AutoscalerReferences {
  const out: AutoscalerReferences = { edges: [], problems: [] };
  const hpas = objects.filter((m): m is ManifestObject & { object: HorizontalPodAutoscaler } => m.object.kind === "HorizontalPodAutoscaler").sort((a, b) => compareKeys(keyOf(a.object), keyOf(b.object)));
  const owner = new Map<ResourceKey, ResourceKey>();
  for (const m of hpas) {
    const target = autoscalerTargetKey(m.object);
    if (target === undefined) continue; // a kind it cannot scale: manifest/autoscaler.ts reported it
    const ns = m.object.metadata.namespace ?? DEFAULT_NAMESPACE;
    if (!has(target)) {
      out.problems.push({
        object: m,
        code: "MissingReference",
        path: TARGET_PATH,
        message: `${m.object.spec.scaleTargetRef.kind} "${m.object.spec.scaleTargetRef.name}" is not declared in namespace "${ns}": expected the workload this autoscaler scales in this commit`,
      });
      continue;
    }
    const first = owner.get(target);
    if (first !== undefined) {
      out.problems.push({ object: m, code: "InvalidField", path: TARGET_PATH, message: `${target} is already scaled by ${first}: expected one autoscaler per workload` });
      continue;
    }
    owner.set(target, keyOf(m.object));
    out.edges.push({ from: target, to: keyOf(m.object), path: TARGET_PATH });
  }
  return out;
}

/** The autoscaler (its key) that scales a workload in `graph`, or undefined. */
export function autoscalerOf(graph: DesiredGraph, workload: ResourceKey): ResourceKey | undefined {
  return graph.dependentsOf(workload).find((k) => k.startsWith("HorizontalPodAutoscaler/"));
}
