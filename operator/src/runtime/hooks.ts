/**
 * Lifecycle hooks (postStart, preStop) as the kubelet runs them: resolved at create time into container
 * labels (LABELS.postStart, LABELS.preStop), so that a hook still runs after an operator restart without
 * reading the repository. One runner for both; what a failure means is the caller's:
 * - preStop (the fleet, when a pod leaves): runs before SIGTERM and counts against the grace period; a hook
 *   that fails or outlasts it does not keep the container (the kubelet logs it and goes on).
 * - postStart (the kubelet, after each start): the container is not ready until it finished; a failure gets
 *   the container stopped and restarted with the crash-loop back-off (runtime/health.ts).
 */
import type { ProbeHttpHeader, ProbeOutcome, ProbeTarget } from "./probe.js";
import type { NodeRuntime } from "./types.js";

/** A container's hook as stored in its label: exec, an HTTP GET on a host port, or a sleep. */
export type HookLabel = { type: "exec"; command: string[] } | { type: "http"; port: number; path: string; host?: string; headers?: ProbeHttpHeader[] } | { type: "sleep"; seconds: number };

/** Where a hook runs: the container's runtime and id, its node's address, and the prober for HTTP. */
export interface HookContext {
  runtime: Pick<NodeRuntime, "exec">;
  containerId: string;
  address: string;
  prober: (target: ProbeTarget, timeoutMs: number) => Promise<ProbeOutcome>;
}

/**
 * Runs one hook and resolves when it is done or `budgetMs` has passed, whichever is first; resolves with
 * a failure message, undefined on success (never throws). exec: exit code 0 is success; http: as an HTTP
 * probe (200 ≤ status < 400); sleep: always succeeds, cut short by the budget.
 */
export async function runHook(label: HookLabel, ctx: HookContext, budgetMs: number): Promise<string | undefined> {
  if (budgetMs <= 0) return "no time left to run it";
  if (label.type === "sleep") {
    await new Promise<void>((resolve) => setTimeout(resolve, Math.min(label.seconds * 1000, budgetMs)).unref?.());
    return label.seconds * 1000 > budgetMs ? `sleep ${label.seconds}s cut short after ${budgetMs} ms` : undefined;
  }
  if (label.type === "exec") {
    const result = await ctx.runtime.exec(ctx.containerId, label.command, budgetMs).catch((err: unknown) => ({ exitCode: -1, output: (err as Error).message, timedOut: undefined }));
    if (result.timedOut) return `exec did not finish within ${budgetMs} ms`;
    return result.exitCode === 0 ? undefined : `exec exited with code ${result.exitCode}`;
  }
  const outcome = await ctx.prober({ type: "http", host: label.host ?? ctx.address, port: label.port, path: label.path, ...(label.headers?.length ? { headers: label.headers } : {}) }, budgetMs);
  return outcome.ok ? undefined : outcome.message;
}
