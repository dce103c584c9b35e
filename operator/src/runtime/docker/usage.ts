/** A container's resource use as the engine's statistics report it (NodeRuntime.usage, for autoscalers). */
import type { ContainerUsage } from "../types.js";
import { isDockerTimeSet, statusOf, type DockerEngine } from "./engine.js";

/** The fields of GET /containers/{id}/stats that usage() reads. */
interface DockerStats {
  read?: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
  memory_stats?: { usage?: number; stats?: { inactive_file?: number; total_inactive_file?: number } };
}

/**
 * The container's CPU time and working set from the engine's statistics (GET /containers/{id}/stats,
 * stream=false, one-shot=true: the engine answers with its collector's next round — up to a second, since
 * it collects once a second — instead of waiting for a second round to fill precpu_stats; engines before
 * API 1.41 ignore one-shot). Calls hold slots of their own, so that waiting readings never hold up the
 * node's other calls; read many containers at once, not one after the other. Working set = usage less
 * inactive_file (cgroup v2) or total_inactive_file (v1), as the kubelet computes it. undefined when the
 * container does not run (the engine reports no CPU time then) or no longer exists.
 */
export async function readUsage(engine: DockerEngine, id: string): Promise<ContainerUsage | undefined> {
  let stats: DockerStats;
  try {
    stats = await engine.call<DockerStats>(`read the statistics of container ${id}`, { method: "GET", path: `/containers/${id}/stats`, query: { stream: false, "one-shot": true } }, { semaphore: engine.statsSemaphore });
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
  const cpu = stats.cpu_stats?.cpu_usage?.total_usage;
  // A stopped container's statistics are all zero, read at "0001-01-01T00:00:00Z".
  if (cpu === undefined || !isDockerTimeSet(stats.read)) return undefined;
  const mem = stats.memory_stats ?? {};
  const inactive = mem.stats?.inactive_file ?? mem.stats?.total_inactive_file ?? 0;
  return { cpuNanos: cpu, memoryBytes: Math.max(0, (mem.usage ?? 0) - inactive), at: Date.parse(stats.read!) };
}
