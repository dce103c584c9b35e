/**
 * What a StatefulSet's volumeClaimTemplates become, and the rules of a StatefulSet beyond its schema and the
 * rules every workload shares (workload.ts).
 *
 * Kubernetes gives pod <set>-<ordinal> one claim per template, named <template>-<set>-<ordinal>, and a volume
 * of the template's name that mounts it (replacing a template volume of the same name): so the template's
 * volumeMounts name claim templates as they name volumes. withClaimVolumes does the same here, for the
 * controller (the pod of one ordinal), plans and validation.
 */
import type { PersistentVolumeClaim, StatefulSet } from "../api/objects.js";
import type { PodTemplateSpec } from "../api/generated/index.js";
import { claimIssues } from "./claim.js";
import { fieldError, type Issue } from "./issue.js";

/** The claim of template `template` for the pod of `ordinal`: "<template>-<set>-<ordinal>", as Kubernetes names it. */
export function statefulClaimName(template: string, set: string, ordinal: number): string {
  return `${template}-${set}-${ordinal}`;
}

/** The names of the claims of the pod of `ordinal`, in template order. */
export function statefulClaimNames(set: StatefulSet, ordinal: number): string[] {
  return (set.spec.volumeClaimTemplates ?? []).map((t) => statefulClaimName(t.metadata.name, set.metadata.name, ordinal));
}

/** The pod template of `ordinal`: the set's template with a persistentVolumeClaim volume per claim template. */
export function withClaimVolumes(set: StatefulSet, ordinal: number): PodTemplateSpec {
  const templates = set.spec.volumeClaimTemplates ?? [];
  if (templates.length === 0) return set.spec.template;
  const names = new Set(templates.map((t) => t.metadata.name));
  // One volume per template name (a duplicate name is statefulSetFieldIssues' to report).
  const volumes = [
    ...(set.spec.template.spec.volumes ?? []).filter((v) => !names.has(v.name)),
    ...[...names].map((name) => ({ name, persistentVolumeClaim: { claimName: statefulClaimName(name, set.metadata.name, ordinal) } })),
  ];
  return { ...set.spec.template, spec: { ...set.spec.template.spec, volumes } };
}

/** Rules of a StatefulSet's own fields: updateStrategy, and each claim template as a claim coxswain can provision. */
export function statefulSetFieldIssues(set: StatefulSet): Issue[] {
  const issues: Issue[] = [];
  const strategy = set.spec.updateStrategy;
  if (strategy?.type === "OnDelete" && strategy.rollingUpdate !== undefined) {
    issues.push(fieldError("InvalidField", ["spec", "updateStrategy", "rollingUpdate"], "only allowed for updateStrategy type 'RollingUpdate' (as in Kubernetes)"));
  }
  const seen = new Map<string, number>();
  (set.spec.volumeClaimTemplates ?? []).forEach((t, i) => {
    const base = ["spec", "volumeClaimTemplates", i];
    const first = seen.get(t.metadata.name);
    if (first !== undefined) {
      issues.push(fieldError("InvalidField", [...base, "metadata", "name"], `duplicate claim template name "${t.metadata.name}" (first used by volumeClaimTemplates[${first}]); names must be unique`));
    } else seen.set(t.metadata.name, i);
    const claim: PersistentVolumeClaim = { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: t.metadata.name }, spec: t.spec };
    for (const issue of claimIssues(claim)) issues.push({ ...issue, path: [...base, ...issue.path] });
  });
  return issues;
}
