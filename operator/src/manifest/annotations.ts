/**
 * The annotations coxswain reads, their value rules, and typed readers for the stages after the manifest
 * stage. Values are checked where they are set (InvalidField at the annotation; a warning where the
 * annotation has no effect on that kind), so the readers below can assume a valid value and fall back to
 * the default otherwise. coxswain.io/depends-on is parsed by graph/depends-on.ts (it needs the whole commit).
 */
import { POD_OWNER_KINDS, ownerPath, templateOwnerOf, type DesiredObject, type Kind } from "../api/objects.js";
import { fieldError, listOf, showValue, type Issue } from "./issue.js";

/** Argo CD's sync wave: objects are applied wave by wave, lower first; default 0, may be negative. */
const SYNC_WAVE_ANNOTATION = "argocd.argoproj.io/sync-wave";
/**
 * Argo CD's resource hooks (PreSync, Sync, PostSync, SyncFail, Skip) and their deletion policy. coxswain refuses
 * them (HookUnsupported): a hook runs on every sync and is deleted by its policy, where coxswain applies each
 * commit once and a Job runs again only when its template changes. Sync waves and coxswain.io/depends-on order
 * a Job before what needs it.
 */
const ARGO_HOOK_ANNOTATIONS: readonly string[] = ["argocd.argoproj.io/hook", "argocd.argoproj.io/hook-delete-policy"];

/** "true" or "false": after an automatic rollback of this workload, push a revert of the failed commit. */
const AUTO_REVERT_ANNOTATION = "coxswain.io/auto-revert";
/** An integer priority for a workload's pods when its pod template names no priorityClassName. */
const PRIORITY_ANNOTATION = "coxswain.io/priority";
/**
 * On a Rollout: "full" (skip every remaining step and pause) or N, a non-negative integer meaning "promoted
 * past the first N indefinite pauses". Level-based: it is read from the commit, so promoting is a Git change.
 */
export const PROMOTE_ANNOTATION = "coxswain.io/promote";

/**
 * On a kind that rolls out (MONITORED_KINDS): how long (whole seconds, 0–86400) every pod of a completed
 * rollout must stay ready before the revision counts as stable (Swarm's update monitor, Nomad's
 * min_healthy_time). Default 5.
 */
const MONITOR_SECONDS_ANNOTATION = "coxswain.io/monitor-seconds";

/**
 * The kinds coxswain.io/monitor-seconds applies to, sorted: those that make pods, but a Job (it runs to
 * completion: Complete or Failed is its verdict, with no window of staying ready).
 */
const MONITORED_KINDS: readonly string[] = POD_OWNER_KINDS.filter((k) => k !== "Job");
/**
 * What the annotations of workloads apply to, derived from the kinds' list so that a warning names every
 * kind; made once (it was made for every object checked).
 */
const WORKLOADS = `the kinds that make pods: ${listOf(POD_OWNER_KINDS)}`;
/**
 * On a pod template: "false" runs each container's command as PID 1 itself; by default ("true") it runs
 * under the engine's small init process (Docker's --init), which forwards signals and reaps zombies — a
 * shell or a program that installs no SIGTERM handler ignores SIGTERM as PID 1 and is killed only when the
 * grace period ends. Images whose own init must be PID 1 (s6-overlay, systemd) need "false".
 */
export const INIT_ANNOTATION = "coxswain.io/init";

/**
 * On a PersistentVolumeClaim: "true" removes the claim's data (its Docker volume, its directory) when the
 * claim is removed from Git; "false" or absent keeps it (the status branch says how to remove it by hand).
 */
const DELETE_DATA_ANNOTATION = "coxswain.io/delete-data-on-removal";

/** The largest coxswain.io/monitor-seconds: one day. */
const MAX_MONITOR_SECONDS = 86_400;

/** The range of a priority, as Kubernetes allows for pods (int32; user-defined classes stop at 1e9). */
const MIN_PRIORITY = -2147483648;
/** The highest priority a user may give (Kubernetes' HighestUserDefinablePriority). */
const MAX_USER_PRIORITY = 1_000_000_000;

const INTEGER = /^[+-]?[0-9]+$/;

function annotation(obj: Pick<DesiredObject, "metadata">, name: string): string | undefined {
  return obj.metadata.annotations?.[name];
}

/** Parses an integer annotation value ("-1", "+5", "10"); undefined when it is not one (or not a safe integer). */
function parseInteger(value: string): number | undefined {
  if (!INTEGER.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The object's sync wave (argocd.argoproj.io/sync-wave); 0 when absent or not an integer. */
export function syncWaveOf(obj: DesiredObject): number {
  const v = annotation(obj, SYNC_WAVE_ANNOTATION);
  return v === undefined ? 0 : (parseInteger(v) ?? 0);
}

/** The workload's auto-revert choice: true, false, or undefined when not annotated (the --auto-revert flag decides). */
export function autoRevertOf(obj: DesiredObject): boolean | undefined {
  const v = annotation(obj, AUTO_REVERT_ANNOTATION);
  return v === "true" ? true : v === "false" ? false : undefined;
}

/** Whether a pod template's containers run under the engine's init (coxswain.io/init; true unless "false"). */
export function initOf(template: { metadata?: { annotations?: Record<string, string> } }): boolean {
  return template.metadata?.annotations?.[INIT_ANNOTATION] !== "false";
}

/** The coxswain.io/priority annotation as a number; undefined when absent or invalid. */
export function priorityAnnotationOf(obj: Pick<DesiredObject, "metadata">): number | undefined {
  const v = annotation(obj, PRIORITY_ANNOTATION);
  if (v === undefined) return undefined;
  const n = parseInteger(v);
  return n !== undefined && n >= MIN_PRIORITY && n <= MAX_USER_PRIORITY ? n : undefined;
}

/** The workload's coxswain.io/monitor-seconds; undefined when absent or invalid (the default applies). */
export function monitorSecondsOf(obj: Pick<DesiredObject, "metadata">): number | undefined {
  const v = annotation(obj, MONITOR_SECONDS_ANNOTATION);
  if (v === undefined || !/^[0-9]+$/.test(v)) return undefined;
  const n = Number(v);
  return n <= MAX_MONITOR_SECONDS ? n : undefined;
}

/**
 * A Rollout's promotion (coxswain.io/promote): "full", a count of indefinite pauses promoted past, or
 * undefined when not annotated (or invalid, or not a Rollout).
 */
export function promoteOf(obj: DesiredObject): "full" | number | undefined {
  if (obj.kind !== "Rollout") return undefined;
  const v = annotation(obj, PROMOTE_ANNOTATION);
  if (v === undefined) return undefined;
  if (v === "full") return "full";
  return /^[0-9]+$/.test(v) && Number.isSafeInteger(Number(v)) ? Number(v) : undefined;
}

/** Whether the claim's data goes with it when it is removed from Git (coxswain.io/delete-data-on-removal: "true"). */
export function deleteDataOnRemovalOf(obj: DesiredObject): boolean {
  return annotation(obj, DELETE_DATA_ANNOTATION) === "true";
}

/** Checks the values of the annotations coxswain reads on one object (see the file comment). */
export function annotationIssues(obj: DesiredObject): Issue[] {
  const issues: Issue[] = [];
  const annotations = obj.metadata.annotations ?? {};
  const at = (name: string) => ["metadata", "annotations", name];
  const noEffect = (name: string, appliesTo: string): void => {
    issues.push({
      code: "InvalidField",
      severity: "warning",
      path: at(name),
      at: "value",
      message: `has no effect on a ${obj.kind}; it applies to ${appliesTo}`,
    });
  };

  const wave = annotations[SYNC_WAVE_ANNOTATION];
  if (wave !== undefined && parseInteger(wave) === undefined) {
    issues.push(fieldError("InvalidField", at(SYNC_WAVE_ANNOTATION), `must be an integer like "-1", "0" or "5" (Argo CD's sync wave; lower waves apply first) (got ${showValue(wave)})`));
  }

  for (const name of ARGO_HOOK_ANNOTATIONS) {
    if (annotations[name] === undefined) continue;
    issues.push(
      fieldError(
        "HookUnsupported",
        at(name),
        `Argo CD hooks are not supported by coxswain (it applies each commit once; a hook would run on every sync): drop the annotation and order the object with ${SYNC_WAVE_ANNOTATION} (a Job in a lower wave is Complete before the next wave rolls) or coxswain.io/depends-on; a Job runs again when its template changes`,
      ),
    );
  }

  const revert = annotations[AUTO_REVERT_ANNOTATION];
  if (revert !== undefined) {
    if (revert !== "true" && revert !== "false") {
      issues.push(fieldError("InvalidField", at(AUTO_REVERT_ANNOTATION), `must be "true" or "false" (got ${showValue(revert)})`));
    } else if (!templateOwnerOf(obj)) noEffect(AUTO_REVERT_ANNOTATION, WORKLOADS);
  }

  const priority = annotations[PRIORITY_ANNOTATION];
  if (priority !== undefined) {
    const n = parseInteger(priority);
    if (n === undefined || n < MIN_PRIORITY || n > MAX_USER_PRIORITY) {
      issues.push(fieldError("InvalidField", at(PRIORITY_ANNOTATION), `must be an integer from ${MIN_PRIORITY} to ${MAX_USER_PRIORITY} (got ${showValue(priority)})`));
    } else if (!templateOwnerOf(obj)) noEffect(PRIORITY_ANNOTATION, WORKLOADS);
    else if (templateOwnerOf(obj)!.spec.template.spec.priorityClassName !== undefined) {
      const owner = templateOwnerOf(obj)!;
      issues.push({
        code: "InvalidField",
        severity: "warning",
        path: at(PRIORITY_ANNOTATION),
        at: "value",
        message: `is ignored: ${ownerPath(owner, ["spec", "template", "spec", "priorityClassName"]).join(".")} (${showValue(owner.spec.template.spec.priorityClassName)}) decides the priority`,
      });
    }
  }

  const deleteData = annotations[DELETE_DATA_ANNOTATION];
  if (deleteData !== undefined) {
    if (deleteData !== "true" && deleteData !== "false") {
      issues.push(fieldError("InvalidField", at(DELETE_DATA_ANNOTATION), `must be "true" (remove the claim's data when the claim is removed from Git) or "false" (keep it) (got ${showValue(deleteData)})`));
    } else if (obj.kind !== "PersistentVolumeClaim") noEffect(DELETE_DATA_ANNOTATION, "PersistentVolumeClaims");
  }

  const monitor = annotations[MONITOR_SECONDS_ANNOTATION];
  if (monitor !== undefined) {
    if (!/^[0-9]+$/.test(monitor) || Number(monitor) > MAX_MONITOR_SECONDS) {
      issues.push(fieldError("InvalidField", at(MONITOR_SECONDS_ANNOTATION), `must be a whole number of seconds from 0 to ${MAX_MONITOR_SECONDS} (got ${showValue(monitor)})`));
    } else if (!MONITORED_KINDS.includes(obj.kind)) noEffect(MONITOR_SECONDS_ANNOTATION, `the kinds that roll out: ${listOf(MONITORED_KINDS)}`);
  }

  const promote = annotations[PROMOTE_ANNOTATION];
  if (promote !== undefined) {
    if (promote !== "full" && !(/^[0-9]+$/.test(promote) && Number.isSafeInteger(Number(promote)))) {
      issues.push(fieldError("InvalidField", at(PROMOTE_ANNOTATION), `must be "full" (skip every remaining step) or a non-negative integer N (promoted past the first N indefinite pauses) (got ${showValue(promote)})`));
    } else if (obj.kind !== ("Rollout" satisfies Kind)) noEffect(PROMOTE_ANNOTATION, "Rollouts");
  }
  return issues;
}
