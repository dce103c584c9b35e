/**
 * Where an annotation coxswain reads has no effect, the warning names every kind it applies to, derived from
 * api/objects.ts (POD_OWNER_KINDS), in sorted order: auto-revert and priority apply to every kind that
 * makes pods, monitor-seconds to those but a Job. None warns on a kind it applies to.
 */
import { describe, expect, it } from "vitest";
import { POD_OWNER_KINDS, type DesiredObject } from "../../../operator/src/api/objects.js";
import { annotationIssues } from "../../../operator/src/manifest/annotations.js";

/** An object of `kind` with `annotations` (only kind and metadata are read by annotationIssues, plus a pod template). */
function objectOf(kind: string, annotations: Record<string, string>): DesiredObject {
  const spec = { template: { metadata: {}, spec: { containers: [{ name: "c", image: "app:v1" }] } }, containers: [{ name: "c", image: "app:v1" }] };
  return { kind, metadata: { name: "x", annotations }, spec } as unknown as DesiredObject;
}

/** The kinds named in a warning's message, in the order written. */
function kindsIn(message: string): string[] {
  return [...message.matchAll(/\b(DaemonSet|Deployment|Job|Pod|ReplicaSet|ReplicationController|Rollout|StatefulSet)\b/g)].map((m) => m[1]!);
}

describe("annotation warnings name every kind they apply to", () => {
  const cases: { annotation: string; value: string; appliesTo: readonly string[] }[] = [
    { annotation: "coxswain.io/auto-revert", value: "true", appliesTo: POD_OWNER_KINDS },
    { annotation: "coxswain.io/priority", value: "10", appliesTo: POD_OWNER_KINDS },
    { annotation: "coxswain.io/monitor-seconds", value: "60", appliesTo: POD_OWNER_KINDS.filter((k) => k !== "Job") },
  ];
  it.each(cases)("$annotation", ({ annotation, value, appliesTo }) => {
    const [warning, ...rest] = annotationIssues(objectOf("ConfigMap", { [annotation]: value }));
    expect(rest).toEqual([]);
    expect(warning).toMatchObject({ code: "InvalidField", severity: "warning", path: ["metadata", "annotations", annotation] });
    // After "applies to": exactly the kinds, sorted.
    expect(kindsIn(warning!.message.split("applies to")[1]!)).toEqual([...appliesTo].sort());
    for (const kind of POD_OWNER_KINDS) {
      const issues = annotationIssues(objectOf(kind, { [annotation]: value }));
      expect(issues.length, `${annotation} on a ${kind}`).toBe(appliesTo.includes(kind) ? 0 : 1);
    }
  });
});
