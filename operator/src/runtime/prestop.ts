/**
 * preStop hooks as the fleet runs them when a pod leaves: resolved at create time into a container label
 * (LABELS.preStop), so that a hook still runs after an operator restart without reading the repository.
 * Kubernetes' rules: the hook runs before SIGTERM and counts against the grace period; a hook that fails
 * or outlasts it does not keep the container (the kubelet logs it and goes on).
 */
import type { ProbeHttpHeader, ProbeOutcome, ProbeTarget } from "./probe.js";
import type { NodeRuntime } from "./types.js";

/** A container's preStop hook as stored in its label: exec, an HTTP GET on a host port, or a sleep. */
export type PreStopLabel =
  | { type: "exec"; command: string[] }
  | { type: "http"; port: number; path: string; host?: string; headers?: ProbeHttpHeader[] }
  | { type: "sleep"; seconds: number };

/** Where a hook runs: the container's runtime and id, its node's address, and the prober for HTTP. */
export interface PreStopContext {
  runtime: Pick<NodeRuntime, "exec">;
  containerId: string;
  address: string;
  prober: (target: ProbeTarget, timeoutMs: number) => Promise<ProbeOutcome>;
}

/**
 * Runs one hook and resolves when it is done or `budgetMs` has passed, whichever is first; resolves with
 * a failure message (never throws) so that the caller logs it and stops the container anyway.
 */
export async function runPreStop(label: PreStopLabel, ctx: PreStopContext, budgetMs: number): Promise<string | undefined> {
  if (budgetMs <= 0) return "no grace period left";
  if (label.type === "sleep") {
    await new Promise<void>((resolve) => setTimeout(resolve, Math.min(label.seconds * 1000, budgetMs)).unref?.());
    return label.seconds * 1000 > budgetMs ? `sleep ${label.seconds}s cut short by the grace period` : undefined;
  }
  if (label.type === "exec") {
    const result = await ctx.runtime.exec(ctx.containerId, label.command, budgetMs).catch((err: unknown) => ({ exitCode: -1, output: (err as Error).message, timedOut: undefined }));
    if (result.timedOut) return "exec did not finish within the grace period";
    return result.exitCode === 0 ? undefined : `exec exited with code ${result.exitCode}`;
  }
  const outcome = await ctx.prober(
    { type: "http", host: label.host ?? ctx.address, port: label.port, path: label.path, ...(label.headers?.length ? { headers: label.headers } : {}) },
    budgetMs,
  );
  return outcome.ok ? undefined : outcome.message;
}
