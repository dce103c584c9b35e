/**
 * The plan of one ordinal of a StatefulSet: the set's TemplatePlan (controllers/workload/template.ts) with
 * the ordinal's claims mounted (manifest/statefulset.ts withClaimVolumes). The revision is the set's, made
 * from its template without the claims: every ordinal of a template has one revision, as in Kubernetes,
 * and the claims (one per ordinal) are not part of it. Used by the controller and by plans. Pure.
 */
import type { StatefulSet } from "../../api/objects.js";
import { withClaimVolumes } from "../../manifest/statefulset.js";
import type { ReferenceLookup } from "../workload/env.js";
import { planTemplate, type PodPriority, type TemplatePlan } from "../workload/template.js";

/** The plan of the pod of `ordinal` (its claims as persistentVolumeClaim volumes), with the set's revision. */
export function planOrdinal(set: StatefulSet, refs: ReferenceLookup, priority: PodPriority, ordinal: number): TemplatePlan {
  const base = planTemplate(set, refs, priority);
  if ((set.spec.volumeClaimTemplates ?? []).length === 0) return base;
  const withClaims: StatefulSet = { ...set, spec: { ...set.spec, template: withClaimVolumes(set, ordinal) } };
  return { ...planTemplate(withClaims, refs, priority), revision: base.revision };
}
