/**
 * A pod stopped and removed (Fleet.deletePod), in the background, with a back-off after a failure; and what
 * runs before its containers get SIGTERM: the fleet's beforeStop hook, then each container's preStop hook,
 * within the pod's grace period.
 */
import { backoffDelay, type Backoff } from "../../api/backoff.js";
import { toCoxError } from "../../api/errors.js";
import type { Logger } from "../../api/log.js";
import { runHook, type HookLabel } from "../hooks.js";
import { LABELS } from "../labels.js";
import type { ProbeOutcome, ProbeTarget } from "../probe.js";
import { parseJson } from "./pods.js";
import type { NodeEntry, ObservedPod } from "./types.js";

/** What runBeforeStop takes of the fleet's options. */
interface BeforeStopOptions {
  now: () => number;
  prober: (target: ProbeTarget, timeoutMs: number) => Promise<ProbeOutcome>;
  log?: Logger | undefined;
  beforeStop?: ((pod: ObservedPod, budgetMs: number) => Promise<void>) | undefined;
}

/**
 * What comes before SIGTERM, within the grace period: the beforeStop hook (out of every proxy), then each
 * container's preStop hook (in parallel). Returns the seconds left for SIGTERM → SIGKILL; like the kubelet
 * after a preStop hook that used up the grace period, the containers get at least 2 s more (never more
 * than the grace period itself). A hook that fails or runs out of time is logged; the pod stops anyway.
 */
async function runBeforeStop(opts: BeforeStopOptions, pod: ObservedPod, graceSeconds: number, e: NodeEntry): Promise<number> {
  const started = opts.now();
  const left = () => graceSeconds * 1000 - (opts.now() - started);
  const hook = opts.beforeStop;
  if (hook) {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        hook(pod, left()),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, left());
          timer.unref?.();
        }),
      ]);
    } catch (err) {
      opts.log?.warn(`before stopping pod ${pod.name}: ${toCoxError(err).message}`, { workload: pod.owner });
    } finally {
      clearTimeout(timer);
    }
  }
  await Promise.all(
    pod.containers.map(async (c) => {
      const label = parseJson<HookLabel | undefined>(c.labels[LABELS.preStop], undefined);
      if (!label || c.state !== "running") return;
      const failed = await runHook(label, { runtime: e.runtime, containerId: c.id, address: e.config.address, prober: opts.prober }, left());
      if (failed) opts.log?.warn(`pod ${pod.name}: preStop hook of container ${c.labels[LABELS.container] ?? c.runtimeName}: ${failed}`);
    }),
  );
  return Math.max(Math.ceil(left() / 1000), Math.min(2, graceSeconds));
}

/** How long a pod whose deletion failed stays Terminating before it is deleted again: 1 s doubling to 30 s. */
const DELETE_BACKOFF: Backoff = Object.freeze({ initialMs: 1_000, maxMs: 30_000, jitter: 0.2 });

/** What stopPod takes of the fleet. */
export interface StopFleet {
  readonly nodes: ReadonlyMap<string, NodeEntry>;
  /** Pods being stopped, by name. */
  readonly terminating: Set<string>;
  /** Failed deletions in a row per pod (the back-off), and the timers that end each wait. */
  readonly deleteFailures: Map<string, number>;
  readonly deleteRetries: Set<NodeJS.Timeout>;
  readonly opts: BeforeStopOptions;
  emit(owners: string[], nodes: string[]): void;
  rebuildPods(e: NodeEntry): void;
}

/** Fleet.deletePod (see there), on the fleet's parts `f`. */
export function stopPod(f: StopFleet, pod: ObservedPod, graceSeconds: number): void {
  if (f.terminating.has(pod.name)) return;
  const e = f.nodes.get(pod.node);
  if (!e) return;
  f.terminating.add(pod.name);
  f.emit([pod.owner], []);
  const done = () => {
    f.terminating.delete(pod.name);
    f.rebuildPods(e);
    f.emit([pod.owner], []);
  };
  void (async () => {
    try {
      const grace = await runBeforeStop(f.opts, pod, graceSeconds, e);
      await Promise.all(pod.containers.map((c) => e.runtime.stop(c.id, grace)));
      for (const c of pod.containers) await e.runtime.remove(c.id);
      e.containers = e.containers.filter((x) => !pod.containers.some((c) => c.id === x.id));
      for (const c of pod.containers) e.writtenDuringListing?.removed.add(c.id);
      f.deleteFailures.delete(pod.name);
      done();
    } catch (err) {
      const failures = (f.deleteFailures.get(pod.name) ?? 0) + 1;
      f.deleteFailures.set(pod.name, failures);
      const ms = backoffDelay(DELETE_BACKOFF, failures);
      f.opts.log?.warn(`stopping pod ${pod.name} on ${pod.node} failed (retry in ${Math.round(ms / 100) / 10}s): ${toCoxError(err).message}`, { workload: pod.owner });
      const timer = setTimeout(() => {
        f.deleteRetries.delete(timer);
        done();
      }, ms);
      timer.unref();
      f.deleteRetries.add(timer);
    }
  })();
}
