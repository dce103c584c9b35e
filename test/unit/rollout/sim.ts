/**
 * A small simulated world for rollout simulations: pods are created by a step's per-revision plan, become
 * ready after a delay, and stop after a delay once removed. Time moves in ticks.
 */
import { expect } from "vitest";
import { isAvailable } from "../../../operator/src/rollout/index.js";
import type { PlannedStep, RolloutParams, RolloutPod } from "../../../operator/src/rollout/types.js";

/** A pod with its future. */
export interface SimPod extends RolloutPod {
  /** When it becomes ready (undefined = never). */
  readyAt?: number;
  /** When a terminating pod is gone. */
  goneAt?: number;
}

/** Pods, time, and how new pods behave. */
export class SimWorld {
  pods: SimPod[] = [];
  created = 0;
  stopped = 0;

  constructor(
    public now: number,
    private readonly readyDelays: readonly (number | undefined)[],
    private readonly stopDelays: readonly number[],
  ) {}

  /** n ready pods of `revision` that exist from the start. */
  seed(revision: string, n: number): void {
    for (let i = 0; i < n; i++) {
      this.pods.push({ name: `${revision}-seed-${i}`, revision, createdAt: this.now - 100_000 + i, terminating: false, failed: false, ready: true, readySince: this.now - 50_000 + i });
    }
  }

  /** Moves time on: pods become ready, terminating pods go away. */
  advance(ms: number): void {
    this.now += ms;
    this.pods = this.pods.filter((p) => !(p.terminating && p.goneAt !== undefined && p.goneAt <= this.now));
    for (const p of this.pods) {
      if (!p.terminating && !p.ready && p.readyAt !== undefined && p.readyAt <= this.now) {
        p.ready = true;
        p.readySince = p.readyAt;
      }
    }
  }

  /** What the decision sees. */
  view(): RolloutPod[] {
    return this.pods.map((p) => {
      const v: RolloutPod = { name: p.name, revision: p.revision, createdAt: p.createdAt, terminating: p.terminating, failed: p.failed, ready: p.ready };
      if (p.readySince !== undefined) v.readySince = p.readySince;
      return v;
    });
  }

  /** Applies a step: removals first (each known, active, once), then creations per revision. */
  apply(step: PlannedStep): void {
    const seen = new Set<string>();
    for (const name of step.remove) {
      expect(seen.has(name)).toBe(false);
      seen.add(name);
      const p = this.pods.find((x) => x.name === name);
      expect(p).toBeDefined();
      expect(p!.terminating).toBe(false);
      p!.terminating = true;
      p!.ready = false;
      delete p!.readySince;
      p!.goneAt = this.now + (this.stopDelays[this.stopped++ % this.stopDelays.length] ?? 0);
    }
    for (const plan of step.revisions) {
      for (let k = 0; k < plan.create; k++) {
        const delay = this.readyDelays[this.created % this.readyDelays.length];
        const p: SimPod = { name: `${plan.revision}-${this.created}`, revision: plan.revision, createdAt: this.now, terminating: false, failed: false, ready: false };
        if (delay !== undefined) p.readyAt = this.now + delay;
        this.created += 1;
        this.pods.push(p);
      }
    }
  }

  /**
   * The pods the surge limit counts: active ones (not terminating, not failed) under TerminationStarted,
   * Kubernetes' default; every pod that runs under TerminationComplete.
   */
  counted(policy: RolloutParams["podReplacementPolicy"]): number {
    return this.pods.filter((p) => !p.failed && (policy === "TerminationComplete" || !p.terminating)).length;
  }

  /** Pods that run (terminating included). */
  running(revision?: string): number {
    return this.pods.filter((p) => !p.failed && (revision === undefined || p.revision === revision)).length;
  }

  /** Available pods (of one revision, or all). */
  available(minReadySeconds: number, revision?: string): number {
    return this.pods.filter((p) => (revision === undefined || p.revision === revision) && isAvailable(p, minReadySeconds, this.now)).length;
  }

  /** Active pods (not terminating, not failed) of a revision. */
  active(revision: string): number {
    return this.pods.filter((p) => p.revision === revision && !p.terminating && !p.failed).length;
  }
}
