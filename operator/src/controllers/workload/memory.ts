/**
 * What the workload controller (controller.ts) remembers of a workload, restored from its status record the
 * first time it is looked at, and started anew with each revision (context.ts: Memory).
 */
import { recordRevision } from "../../rollout/index.js";
import { analysisFromRecord } from "./analysis.js";
import type { Ctx, Memory } from "./context.js";
import type { WorkloadControllerOptions } from "./controller.js";

/** The annotation a Rollout is promoted by; its value when a revision starts is the baseline (only a change promotes). */
export const PROMOTE_ANNOTATION = "coxswain.io/promote";

/** Epoch ms of an ISO time, undefined when absent or unreadable. */
function ms(iso: string | undefined): number | undefined {
  if (!iso) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
}

/** The memory of a workload: restored from its status record the first time, updated per revision. */
export function memoryOf(opts: WorkloadControllerOptions, memory: Map<string, Memory>, ctx: Ctx): Memory {
  const plan = ctx.plan!;
  let mem = memory.get(ctx.key);
  if (!mem) {
    const rec = opts.reporter.previousRecord?.(ctx.key);
    mem = {
      revision: rec?.revision ?? plan.revision,
      commit: rec?.commit ?? ctx.commit,
      lastProgressAt: ctx.now,
      conditions: rec?.conditions ? [...rec.conditions] : [],
      events: rec?.events ? [...rec.events] : opts.reporter.previousEvents(ctx.key),
      history: (rec?.revisions ?? []).map((r) => ({ revision: r.number, hash: r.revision, commit: r.commit })),
      seen: new Map(),
      ...(rec?.stable ? { stable: { ...rec.stable } } : {}),
      ...(rec?.placed ? { placed: { ...rec.placed } } : {}),
    };
    if (rec?.canary?.revision) {
      mem.canary = {
        revision: rec.canary.revision,
        stepIndex: rec.canary.step,
        ...(ms(rec.canary.pauseStartedAt) !== undefined ? { pauseStartedAt: ms(rec.canary.pauseStartedAt)! } : {}),
        ...(rec.canary.promoteBaseline !== undefined ? { promoteBaseline: rec.canary.promoteBaseline } : {}),
      };
      const analysis = analysisFromRecord(rec.canary.analysis);
      if (analysis !== undefined) mem.analysis = analysis;
    }
    if (rec?.blueGreen) {
      const bg = rec.blueGreen;
      mem.blueGreen = {
        ...(bg.active ? { active: bg.active } : {}),
        ...(bg.preview || bg.active
          ? {
              status: {
                revision: bg.preview ?? bg.active!,
                ...(ms(bg.pauseStartedAt) !== undefined ? { pauseStartedAt: ms(bg.pauseStartedAt)! } : {}),
                ...(bg.scaleDownAt ? { scaleDownAt: Object.fromEntries(Object.entries(bg.scaleDownAt).map(([k, v]) => [k, ms(v) ?? 0])) } : {}),
              },
            }
          : {}),
        ...(ms(bg.promotedAt) !== undefined ? { promotedAt: ms(bg.promotedAt)! } : {}),
        ...(bg.promoteBaseline !== undefined ? { promoteBaseline: bg.promoteBaseline } : {}),
      };
    }
    memory.set(ctx.key, mem);
  }
  if (mem.revision !== plan.revision || mem.history.length === 0 || mem.history[mem.history.length - 1]?.hash !== plan.revision) {
    const isNew = mem.revision !== plan.revision;
    // A new rollout starts: the progress clock restarts, the revision (re-)enters the history as max+1,
    // and the promote annotation's current value becomes the baseline (only a change promotes).
    if (isNew) {
      // The revision being replaced completed and was healthy at its last look: its monitor window was
      // cut short, not failed, so it is what a rollback goes back to.
      if (mem.rolledOut === mem.revision && mem.stable?.revision !== mem.revision) {
        mem.stable = { revision: mem.revision, commit: mem.commit };
        mem.events.push({
          time: new Date(ctx.now).toISOString(),
          type: "Normal",
          reason: "Stable",
          message: `revision ${mem.revision} completed and its pods were ready when revision ${plan.revision} replaced it`,
        });
      }
      delete mem.rolledOut;
      mem.revision = plan.revision;
      mem.lastProgressAt = ctx.now;
      const promoteValue = ctx.workload!.metadata.annotations?.[PROMOTE_ANNOTATION];
      if (ctx.strategy === "Canary") mem.canary = { revision: plan.revision, stepIndex: 0, ...(promoteValue !== undefined ? { promoteBaseline: promoteValue } : {}) };
      if (ctx.strategy === "BlueGreen") {
        mem.blueGreen = { ...(mem.blueGreen?.active ? { active: mem.blueGreen.active } : {}), ...(promoteValue !== undefined ? { promoteBaseline: promoteValue } : {}) };
        if (mem.blueGreen.active === undefined && mem.stable) mem.blueGreen.active = mem.stable.revision;
      }
    }
    mem.history = recordRevision(mem.history, plan.revision, ctx.commit);
  }
  if (mem.commit !== ctx.commit) mem.commit = ctx.commit;
  return mem;
}
