/**
 * Blue/green rollouts with Argo Rollouts' semantics (rollout/bluegreen.go): the caller records which
 * revision is active (receives traffic) and switches its Services when it changes (the active Services
 * serve the active revision, the previewService the preview: traffic/rollouts.ts).
 *
 * - The active revision keeps all replicas. The wanted revision (the preview) starts beside it with all
 *   replicas, or previewReplicaCount.
 * - Promotion, once the preview has all its pods available: at once (autoPromotionEnabled, no seconds), after
 *   autoPromotionSeconds (a pause; the promote annotation ends it early), or only by the promote annotation
 *   (autoPromotionEnabled false; autoPromotionSeconds is then ignored — a Git change is the promotion).
 *   Fast-tracked without a pause: promote "full", no active revision yet, or a wanted revision that was active
 *   recently and still runs (a switch back — a rollback — is instant).
 * - With previewReplicaCount, promotion first scales the preview to all replicas (scaleUpPreviewCheckPoint).
 * - The switch happens when the preview has all replicas available: it becomes active, and the replaced
 *   revision keeps running for scaleDownDelaySeconds (30), then goes to 0. Every other revision still running
 *   (an abandoned preview) gets the same delay from when it is first seen replaced (Argo's scale-down deadline).
 *   A set waiting for its deadline keeps its current size (Argo scales it back to full replicas).
 * - No maxSurge: both sets run in full, that is the point of blue/green.
 *
 * What the caller keeps (status) may be lost: the pause restarts, the checkpoint is derived from the preview's
 * pod count, and scale-down deadlines start again from now — every loss makes the rollout wait longer, never
 * skip a promotion.
 */
import { CoxError } from "../api/errors.js";
import type { Rev } from "./core.js";
import { buildWorld, effAvailable, finishStep, planPods, short, validateCommon } from "./core.js";
import type { BlueGreenInput, BlueGreenResult, Waiting } from "./types.js";

function validate(input: BlueGreenInput): void {
  const bg = input.blueGreen;
  for (const k of ["autoPromotionSeconds", "scaleDownDelaySeconds"] as const) {
    if (!Number.isSafeInteger(bg[k]) || bg[k] < 0) throw new CoxError("InvalidArgument", `blueGreen.${k} is ${bg[k]}; expected an integer ≥ 0`);
  }
  if (bg.previewReplicaCount !== undefined && (!Number.isSafeInteger(bg.previewReplicaCount) || bg.previewReplicaCount < 0)) {
    throw new CoxError("InvalidArgument", `blueGreen.previewReplicaCount is ${bg.previewReplicaCount}; expected an integer ≥ 0`);
  }
  if (typeof input.promote === "number" && (!Number.isSafeInteger(input.promote) || input.promote < 0)) {
    throw new CoxError("InvalidArgument", `promote ${input.promote}; expected "full" or an integer ≥ 0`);
  }
}

/**
 * The next step of a blue/green rollout (see the module comment for Argo's rules and coxswain's choices).
 * Pure. Throws CoxError InvalidArgument on malformed parameters, promote value, sizes or pods.
 */
export function blueGreenStep(input: BlueGreenInput): BlueGreenResult {
  const { params, now, blueGreen: bg } = input;
  validateCommon(params, input.pods, input.sizes, now, input.lastProgressAt);
  validate(input);
  // The active revision exists even when all its pods are gone: it serves traffic and is brought back to full.
  const w = buildWorld(params, input.revision, input.pods, now, input.revisionOrder, input.sizes, input.active !== undefined ? [input.active] : []);
  const R = params.replicas;
  const sizes = new Map(w.revs.map((r) => [r.revision, r.size]));
  const before = new Map(sizes);
  const size = (r: Rev) => sizes.get(r.revision) ?? 0;
  const reasons: string[] = [];
  const wake: number[] = [];

  const same = input.status?.revision === input.revision;
  const scaleDownAt = new Map<string, number>(Object.entries(input.status?.scaleDownAt ?? {}));
  // A wanted revision that is still waiting for its scale-down was active recently: switching back is instant.
  const warm = scaleDownAt.has(input.revision) && w.wanted.active.length > 0;
  scaleDownAt.delete(input.revision);
  let pauseStartedAt = same ? input.status?.pauseStartedAt : undefined;
  let checkpoint = same ? input.status?.scaleUpPreviewCheckPoint === true : false;

  let active = input.active;
  const activeRev = active !== undefined && active !== input.revision ? w.revs.find((r) => r.revision === active) : undefined;
  if (activeRev) scaleDownAt.delete(activeRev.revision);
  let promoted = false;
  let advanced = false;
  let waiting: Waiting | undefined;

  if (input.paused) {
    waiting = "paused";
    reasons.push("paused");
  } else {
    if (activeRev) sizes.set(activeRev.revision, R);
    const preview = activeRev !== undefined;
    if (preview && !same && bg.previewReplicaCount !== undefined && w.wanted.active.length > bg.previewReplicaCount) checkpoint = true;
    const previewTarget = preview && bg.previewReplicaCount !== undefined && !checkpoint ? bg.previewReplicaCount : R;
    sizes.set(w.wanted.revision, previewTarget);

    // Replaced sets wait for their deadline, then go to 0.
    for (const r of w.revs) {
      if (r === w.wanted || r === activeRev) continue;
      if (size(r) === 0 && r.active.length === 0) {
        scaleDownAt.delete(r.revision);
        continue;
      }
      const at = scaleDownAt.get(r.revision) ?? now + bg.scaleDownDelaySeconds * 1000;
      if (now >= at) {
        sizes.set(r.revision, 0);
        scaleDownAt.delete(r.revision);
      } else {
        scaleDownAt.set(r.revision, at);
        wake.push(at);
      }
    }

    const readyAt = (target: number) => size(w.wanted) === target && effAvailable(w.wanted, target) === target;
    const promoteGiven = input.promote === "full" || (typeof input.promote === "number" && input.promote >= 1);
    if (!preview) {
      if (active !== input.revision && readyAt(R)) {
        active = input.revision;
        promoted = true;
        reasons.push(`revision ${short(input.revision)} is active`);
      }
    } else if (readyAt(previewTarget)) {
      let pass = checkpoint || warm || input.promote === "full";
      if (!pass) {
        if (!bg.autoPromotionEnabled) {
          pass = promoteGiven;
          if (!pass) {
            pauseStartedAt ??= now;
            waiting = "promotion";
            reasons.push(`preview revision ${short(input.revision)} ready: waiting for promotion (coxswain.io/promote: "1" or "full")`);
          }
        } else if (bg.autoPromotionSeconds > 0) {
          pauseStartedAt ??= now;
          const until = pauseStartedAt + bg.autoPromotionSeconds * 1000;
          pass = promoteGiven || now >= until;
          if (!pass) {
            waiting = "pause";
            wake.push(until);
            reasons.push(`preview revision ${short(input.revision)} ready: promoting in ${Math.ceil((until - now) / 1000)}s`);
          }
        } else pass = true;
      }
      if (pass) {
        pauseStartedAt = undefined;
        if (!checkpoint && previewTarget < R) {
          checkpoint = true;
          advanced = true;
          sizes.set(w.wanted.revision, R);
          reasons.push(`promoting preview revision ${short(input.revision)}: scaling it to ${R}`);
        } else if (readyAt(R)) {
          const replaced = activeRev!.revision;
          active = input.revision;
          promoted = true;
          checkpoint = false;
          const at = now + bg.scaleDownDelaySeconds * 1000;
          scaleDownAt.set(replaced, at);
          if (at > now) wake.push(at);
          else {
            sizes.set(replaced, 0);
            scaleDownAt.delete(replaced);
          }
          reasons.push(`switched traffic to revision ${short(input.revision)}; revision ${short(replaced)} stops in ${bg.scaleDownDelaySeconds}s`);
        }
      }
    }
  }

  for (const r of [w.wanted, ...w.revs.filter((x) => x !== w.wanted)]) {
    const a = before.get(r.revision) ?? 0;
    const b = sizes.get(r.revision) ?? 0;
    if (a !== b) reasons.push(`scaling ${b > a ? "up" : "down"} revision ${short(r.revision)} from ${a} to ${b}`);
  }
  const pods = planPods(w, sizes, { limit: Infinity });
  const wantedPlan = pods.plans.find((p) => p.revision === input.revision);
  const complete = active === input.revision && w.wanted.active.length === R && w.wanted.availablePods === R && (wantedPlan?.create ?? 0) === 0 && (wantedPlan?.remove.length ?? 0) === 0;
  if (complete && reasons.length === 0) reasons.push(`revision ${short(input.revision)} complete: ${R} available`);
  const step = finishStep(w, pods, {
    lastProgressAt: input.lastProgressAt,
    complete,
    extraProgress: promoted || advanced,
    holdDeadline: waiting !== undefined,
    wakeAt: wake,
    reasons,
    desired: sizes,
    maxSurge: 0,
  });
  const scaleDownOut: Record<string, number> = {};
  for (const k of [...scaleDownAt.keys()].sort()) scaleDownOut[k] = scaleDownAt.get(k)!;
  return {
    ...step,
    ...(active !== undefined ? { active } : {}),
    ...(active !== input.revision ? { preview: input.revision } : {}),
    promoted,
    ...(waiting ? { waiting } : {}),
    status: {
      revision: input.revision,
      ...(pauseStartedAt !== undefined ? { pauseStartedAt } : {}),
      ...(checkpoint ? { scaleUpPreviewCheckPoint: true } : {}),
      scaleDownAt: scaleDownOut,
    },
  };
}
