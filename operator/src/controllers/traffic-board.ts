/**
 * The board between the two controllers that share Rollouts' traffic: the workload controller decides what
 * a Rollout's Services should do (its RolloutTrafficState: revisions and canary weight) and reads back what
 * every node's proxy runs; the service controller reads the decisions, makes every proxy run them, and says
 * when all do. Each sees only its port (controllers/types.ts); the operator wires both to one board and
 * turns its two callbacks into work-queue keys.
 *
 * Guarantees: a callback fires only when what it is about changed (states compared by value); reads return
 * copies sorted by key.
 */
import type { WorkloadRecord } from "../status/types.js";
import type { RolloutTrafficState } from "../traffic/types.js";
import type { RolloutTrafficPort, ServiceTrafficPort } from "./types.js";

/** Options of the board. */
export interface TrafficBoardOptions {
  /** A Rollout's wanted traffic changed: the proxies and the Services' status files are to be looked at again. */
  onWanted(rollout: string): void;
  /** What every node's proxy runs for a Rollout changed: its rollout may move on. */
  onApplied(rollout: string): void;
  /** The traffic last recorded for a Rollout (its status record, read back after a restart). */
  recorded?(rollout: string): RolloutTrafficState | undefined;
}

/** Holds wanted and applied traffic per Rollout; see the module comment. */
export class TrafficBoard implements RolloutTrafficPort, ServiceTrafficPort {
  private readonly wants = new Map<string, RolloutTrafficState>();
  private readonly applies = new Map<string, RolloutTrafficState>();
  /** Rollouts whose controller has said something since start (a later undefined means gone, not unknown). */
  private readonly decided = new Set<string>();

  constructor(private readonly opts: TrafficBoardOptions) {}

  want(rollout: string, state: RolloutTrafficState | undefined): void {
    const before = this.decided.has(rollout) ? this.wants.get(rollout) : this.opts.recorded?.(rollout);
    this.decided.add(rollout);
    if (state === undefined) this.wants.delete(rollout);
    else this.wants.set(rollout, { ...state });
    if (!sameState(before, state)) this.opts.onWanted(rollout);
  }

  applied(rollout: string): RolloutTrafficState | undefined {
    const a = this.applies.get(rollout);
    return a === undefined ? undefined : { ...a };
  }

  wanted(rollouts: readonly string[]): Map<string, RolloutTrafficState> {
    const out = new Map<string, RolloutTrafficState>();
    for (const key of [...rollouts].sort()) {
      const state = this.decided.has(key) ? this.wants.get(key) : this.opts.recorded?.(key);
      if (state !== undefined) out.set(key, { ...state });
    }
    return out;
  }

  setApplied(rollout: string, state: RolloutTrafficState | undefined): void {
    const before = this.applies.get(rollout);
    if (state === undefined) this.applies.delete(rollout);
    else this.applies.set(rollout, { ...state });
    if (!sameState(before, state)) this.opts.onApplied(rollout);
  }
}

/** Whether two states mean the same traffic. */
function sameState(a: RolloutTrafficState | undefined, b: RolloutTrafficState | undefined): boolean {
  return stateKey(a) === stateKey(b);
}

/** A state as one string that is equal exactly when the states are (fields in a fixed order). */
export function stateKey(s: RolloutTrafficState | undefined): string {
  if (s === undefined) return "";
  return s.strategy === "canary" ? `canary ${s.stable} ${s.canary} ${s.weight}` : `blueGreen ${s.active} ${s.preview ?? ""}`;
}

/** The traffic a Rollout's status record says it had (WorkloadRecord.traffic), for TrafficBoardOptions.recorded. */
export function recordedTraffic(record: WorkloadRecord | undefined): RolloutTrafficState | undefined {
  const t = record?.traffic;
  if (t === undefined) return undefined;
  if (t.strategy === "canary" && t.stable !== undefined && t.canary !== undefined && t.weight !== undefined) return { strategy: "canary", stable: t.stable, canary: t.canary, weight: t.weight };
  if (t.strategy === "blueGreen" && t.active !== undefined) return { strategy: "blueGreen", active: t.active, ...(t.preview !== undefined ? { preview: t.preview } : {}) };
  return undefined;
}
