/**
 * What runs before a pod's containers get SIGTERM (Fleet.deletePod): the fleet's beforeStop hook, then each
 * container's preStop hook, within the pod's grace period.
 */
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
export async function runBeforeStop(opts: BeforeStopOptions, pod: ObservedPod, graceSeconds: number, e: NodeEntry): Promise<number> {
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
