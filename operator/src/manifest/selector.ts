/**
 * Label selectors (matchLabels + matchExpressions): Kubernetes' validation rules and its matching, used for a
 * workload's selector, pod affinity terms and topology spread constraints. Pure.
 */
import type { LabelSelector, LabelSelectorRequirement } from "../api/generated/index.js";
import { fieldError, showValue, type Issue } from "./issue.js";
import type { PathSegment } from "./paths.js";

/** Labels as they appear on objects and templates; undefined means none. */
export type Labels = Readonly<Record<string, string>> | undefined;

/** True when the selector has no requirement at all (it would match every object). */
export function isEmptySelector(selector: LabelSelector): boolean {
  return Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0;
}

/**
 * Kubernetes' rules for a selector's expressions (ValidateLabelSelectorRequirement): In and NotIn need at
 * least one value; Exists and DoesNotExist take none. Keys and values are checked by the schema.
 */
export function selectorIssues(selector: LabelSelector, path: readonly PathSegment[]): Issue[] {
  const issues: Issue[] = [];
  (selector.matchExpressions ?? []).forEach((req, i) => {
    const at = [...path, "matchExpressions", i, "values"];
    const n = req.values?.length ?? 0;
    if ((req.operator === "In" || req.operator === "NotIn") && n === 0) {
      issues.push(fieldError("InvalidField", at, "must be specified when `operator` is 'In' or 'NotIn' (as in Kubernetes): give at least one value"));
    } else if ((req.operator === "Exists" || req.operator === "DoesNotExist") && n > 0) {
      issues.push(fieldError("InvalidField", at, "may not be specified when `operator` is 'Exists' or 'DoesNotExist' (as in Kubernetes): remove the values"));
    }
  });
  return issues;
}

/** Whether one requirement holds for a set of labels (Kubernetes' semantics: NotIn also matches a missing label). */
function requirementMatches(req: LabelSelectorRequirement, labels: Labels): boolean {
  const has = labels !== undefined && Object.hasOwn(labels, req.key);
  const value = has ? labels![req.key]! : undefined;
  switch (req.operator) {
    case "In":
      return has && (req.values ?? []).includes(value!);
    case "NotIn":
      return !has || !(req.values ?? []).includes(value!);
    case "Exists":
      return has;
    case "DoesNotExist":
      return !has;
  }
}

/**
 * Whether a selector selects an object with these labels: every matchLabels entry present with its value and
 * every expression holding. An empty selector matches everything (callers that forbid it check first).
 */
export function selectorMatches(selector: LabelSelector, labels: Labels): boolean {
  return unmetRequirements(selector, labels).length === 0;
}

/**
 * The requirements of a selector that the labels do not meet, each described for a message, e.g.
 * `app=web (the labels have app=api)`, `tier In (front, edge) (the labels have no tier)`. Empty when it matches.
 */
export function unmetRequirements(selector: LabelSelector, labels: Labels): string[] {
  const out: string[] = [];
  const has = (k: string): boolean => labels !== undefined && Object.hasOwn(labels, k);
  const have = (k: string): string => (has(k) ? `the labels have ${k}=${labels![k]}` : `the labels have no ${k}`);
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (!has(k) || labels![k] !== v) out.push(`${k}=${v} (${have(k)})`);
  }
  for (const req of selector.matchExpressions ?? []) {
    if (requirementMatches(req, labels)) continue;
    const values = req.operator === "In" || req.operator === "NotIn" ? ` (${(req.values ?? []).map((x) => showValue(x)).join(", ")})` : "";
    out.push(`${req.key} ${req.operator}${values} (${have(req.key)})`);
  }
  return out;
}
