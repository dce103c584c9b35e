/**
 * The scheduling priority of a workload's pods, resolved against the commit's graph as Kubernetes' Priority
 * admission does, with coxswain's annotation in between. Pure.
 */
import { makeKey, type PriorityClass, type TemplateOwner } from "../api/objects.js";
import { priorityAnnotationOf } from "../manifest/annotations.js";
import { BUILTIN_PRIORITY_CLASSES } from "../manifest/cluster.js";
import type { DesiredGraph } from "./graph.js";

/** Where a resolved priority came from. */
export type PrioritySource = "class" | "annotation" | "globalDefault" | "default";

/** A workload's pod priority and whether its pods may preempt others. */
export interface ResolvedPriority {
  value: number;
  preemptionPolicy: "PreemptLowerPriority" | "Never";
  source: PrioritySource;
  /** The PriorityClass that gave the value (source "class" or "globalDefault"), built-in classes included. */
  className?: string;
}

/**
 * Resolves a workload's priority, first match wins:
 * 1. spec.template.spec.priorityClassName → that class's value and preemptionPolicy (system-cluster-critical
 *    and system-node-critical are built in with Kubernetes' values);
 * 2. the coxswain.io/priority annotation → its value, preemptionPolicy PreemptLowerPriority;
 * 3. the PriorityClass with globalDefault: true → its value and policy (as Kubernetes gives pods without a class);
 * 4. 0, PreemptLowerPriority.
 * A class named but missing from the graph (buildGraph reports it as MissingReference) falls through to 2–4.
 */
export function resolvePriority(graph: DesiredGraph, workload: TemplateOwner): ResolvedPriority {
  const className = workload.spec.template.spec.priorityClassName;
  if (className !== undefined) {
    const builtin = Object.hasOwn(BUILTIN_PRIORITY_CLASSES, className) ? BUILTIN_PRIORITY_CLASSES[className] : undefined;
    if (builtin) return { value: builtin.value, preemptionPolicy: builtin.preemptionPolicy, source: "class", className };
    const pc = graph.get(makeKey("PriorityClass", className))?.object;
    if (pc?.kind === "PriorityClass") return fromClass(pc, "class");
  }
  const annotated = priorityAnnotationOf(workload);
  if (annotated !== undefined) return { value: annotated, preemptionPolicy: "PreemptLowerPriority", source: "annotation" };
  const global = graph.ofKind("PriorityClass").find((e) => e.object.globalDefault === true)?.object;
  if (global) return fromClass(global, "globalDefault");
  return { value: 0, preemptionPolicy: "PreemptLowerPriority", source: "default" };
}

function fromClass(pc: PriorityClass, source: PrioritySource): ResolvedPriority {
  return { value: pc.value, preemptionPolicy: pc.preemptionPolicy ?? "PreemptLowerPriority", source, className: pc.metadata.name };
}
