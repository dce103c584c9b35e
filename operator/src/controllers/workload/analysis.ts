/**
 * The measuring side of canary analysis, for the workload controller. While a canary is at an analysis
 * step, the requests the node proxies log for the Rollout's pods (the service controller's request logs,
 * subscribed here) are kept for the window being measured; once a window has ended they become the new
 * and the stable revision's figures (traffic/analysis.ts), which rollout/analysis.ts judges, and its
 * verdict goes to the canary step.
 *
 * A request counts for the revision whose pod served it: the server address the proxy logged is the pod's
 * node address and host port. Requests of other servers are not kept, nor are those of a revision that is
 * neither the new nor the stable one.
 *
 * The windows judged so far stay with the workload (and in its status record, so a restarted operator goes
 * on from them). Records are not kept across a restart: the window in progress then is measured again,
 * from when this process began to collect.
 */
import { analysisVerdict, judgeWindow, windowsDue } from "../../rollout/index.js";
import type { AnalysisFigures, AnalysisSpec, AnalysisVerdict, JudgedWindow } from "../../rollout/types.js";
import type { ObservedPod } from "../../runtime/fleet.js";
import type { RecordedAnalysis, RecordedFigures } from "../../status/types.js";
import { requestFigures } from "../../traffic/analysis.js";
import type { RequestRecord } from "../../traffic/types.js";

/** Subscribes to the records of every node proxy's request log; returns what stops that. */
export type RequestSubscription = (listener: (records: readonly RequestRecord[]) => void) => () => void;

/** An analysis as the workload controller remembers it: which step of which revision, since when, its windows so far and where it stands. */
export interface AnalysisState {
  revision: string;
  step: number;
  /** Epoch ms the step began (CanaryStatus.pauseStartedAt). */
  startedAt: number;
  windows: JudgedWindow[];
  verdict: AnalysisVerdict;
}

/** What is being measured now for one workload. */
interface Session {
  revision: string;
  step: number;
  startedAt: number;
  /** When this process began to keep records for it: no window starts before. */
  since: number;
  /** Records of the servers in `groups` that arrived since the end of the last window measured. */
  records: RequestRecord[];
  /** Server address ("ip:port") → "canary" or "stable". */
  groups: ReadonlyMap<string, string>;
  unsubscribe: () => void;
}

/**
 * How long after a window's end it is measured: a record arrives within microseconds of its request's end
 * but is handed over on a later turn of the event loop, and must not miss the window it belongs to.
 */
const SETTLE_MS = 500;

const NONE: AnalysisFigures = { requests: 0, failed: 0, latencyRequests: 0 };

/**
 * Server address → "canary" (a pod of `canary`) or "stable" (a pod of `stable`) for every port of the
 * workload's pods, at the address of the node it runs on.
 */
export function revisionGroups(pods: readonly ObservedPod[], canary: string, stable: string | undefined, addressOf: (node: string) => string | undefined): Map<string, string> {
  const groups = new Map<string, string>();
  for (const p of pods) {
    const group = p.revision === canary ? "canary" : p.revision === stable ? "stable" : undefined;
    const address = addressOf(p.node);
    if (group === undefined || address === undefined) continue;
    for (const port of p.ports) groups.set(`${address}:${port.hostPort}`, group);
  }
  return groups;
}

/** The analyses in progress, one per workload; see the module comment. */
export class CanaryAnalyses {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly subscribe: RequestSubscription | undefined) {}

  /**
   * Measures the analysis of `key` at step `at.step` of `at.revision` up to `now`: keeps collecting, and
   * judges the windows that ended (SETTLE_MS before `now`). `previous` is what was remembered (a state of
   * another step or revision is not continued). Returns the state now, the windows judged by this call
   * (for the log), and while it runs, when the next window can be measured (epoch ms).
   */
  measure(
    key: string,
    at: { revision: string; step: number; spec: AnalysisSpec; startedAt: number },
    previous: AnalysisState | undefined,
    groups: ReadonlyMap<string, string>,
    now: number,
  ): { state: AnalysisState; judged: JudgedWindow[]; wakeAt?: number } {
    const { spec } = at;
    const same = previous !== undefined && previous.revision === at.revision && previous.step === at.step && previous.startedAt === at.startedAt;
    const state: AnalysisState = same ? { ...previous, windows: [...previous.windows] } : { revision: at.revision, step: at.step, startedAt: at.startedAt, windows: [], verdict: analysisVerdict(spec, []) };
    if (state.verdict.phase !== "Running") {
      this.stop(key);
      return { state, judged: [] };
    }
    const s = this.session(key, at, now);
    s.groups = groups;
    const judged: JudgedWindow[] = [];
    const next = (): number => Math.max(state.windows.at(-1)?.to ?? at.startedAt, s.since);
    for (const w of windowsDue(spec, next(), now - SETTLE_MS, spec.count - state.windows.length)) {
      const figures = requestFigures(s.records, groups, w);
      const window = judgeWindow(spec, { ...w, canary: figures.get("canary") ?? NONE, stable: figures.get("stable") ?? NONE });
      state.windows.push(window);
      judged.push(window);
      s.records = s.records.filter((r) => r.at >= w.to);
      state.verdict = analysisVerdict(spec, state.windows);
      if (state.verdict.phase !== "Running") break;
    }
    if (state.verdict.phase !== "Running") {
      this.stop(key);
      return { state, judged };
    }
    return { state, judged, wakeAt: next() + spec.intervalSeconds * 1000 + SETTLE_MS };
  }

  /** Stops measuring for `key` (its canary left the analysis step, or the workload went). */
  stop(key: string): void {
    this.sessions.get(key)?.unsubscribe();
    this.sessions.delete(key);
  }

  /** The session of `key` for this step, started now when there is none (or one of another step). */
  private session(key: string, at: { revision: string; step: number; startedAt: number }, now: number): Session {
    const s = this.sessions.get(key);
    if (s !== undefined && s.revision === at.revision && s.step === at.step && s.startedAt === at.startedAt) return s;
    this.stop(key);
    const fresh: Session = { revision: at.revision, step: at.step, startedAt: at.startedAt, since: now, records: [], groups: new Map(), unsubscribe: () => undefined };
    fresh.unsubscribe =
      this.subscribe?.((batch) => {
        for (const r of batch) if (r.serverAddress !== undefined && fresh.groups.has(r.serverAddress)) fresh.records.push(r);
      }) ?? (() => undefined);
    this.sessions.set(key, fresh);
    return fresh;
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The state as the status record keeps it. */
export function analysisRecord(state: AnalysisState): RecordedAnalysis {
  return {
    revision: state.revision,
    step: state.step,
    startedAt: iso(state.startedAt),
    phase: state.verdict.phase,
    message: state.verdict.message,
    windows: state.windows.map((w) => ({
      from: iso(w.from),
      to: iso(w.to),
      phase: w.phase,
      ...(w.reason !== undefined ? { reason: w.reason } : {}),
      canary: { ...w.canary },
      stable: { ...w.stable },
    })),
  };
}

/** The state a status record kept, or undefined when it cannot be read back (then the analysis starts over). */
export function analysisFromRecord(rec: RecordedAnalysis | undefined): AnalysisState | undefined {
  const ms = (t: string): number => Date.parse(t);
  const phases = ["Running", "Successful", "Failed", "Inconclusive"];
  if (rec === undefined || !Number.isFinite(ms(rec.startedAt)) || !phases.includes(rec.phase) || !Array.isArray(rec.windows)) return undefined;
  const figures = (f: RecordedFigures): AnalysisFigures => ({ ...f });
  const windows: JudgedWindow[] = [];
  for (const w of rec.windows) {
    if (!Number.isFinite(ms(w.from)) || !Number.isFinite(ms(w.to)) || !phases.slice(1).includes(w.phase)) return undefined;
    windows.push({ from: ms(w.from), to: ms(w.to), phase: w.phase as JudgedWindow["phase"], ...(w.reason !== undefined ? { reason: w.reason } : {}), canary: figures(w.canary), stable: figures(w.stable) });
  }
  return { revision: rec.revision, step: rec.step, startedAt: ms(rec.startedAt), windows, verdict: { phase: rec.phase as AnalysisVerdict["phase"], message: rec.message } };
}
