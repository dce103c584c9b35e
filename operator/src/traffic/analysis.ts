/**
 * What the node proxies measured of a group of servers (the pods of one revision) over a window of time:
 * requests, failures, success rate and the 95th percentile of latency, from the proxies' request logs
 * (RequestRecord, one per request or TCP connection). This is canary analysis without a metrics provider:
 * HAProxy counts but keeps no percentiles, so they come from the per-request log.
 *
 * Which requests are logged at all: the listeners of the Services that select the pods of a workload being
 * analysed (analyzedServices, withRequestLogs); the others log nothing.
 *
 * Guarantees: pure; exact (counts are counts, the percentile is the nearest-rank one over every request of
 * the window, HAProxy's timers being whole milliseconds); groups sorted by name.
 */
import { compareText } from "./keys.js";
import type { ProxyConfig, RequestRecord, ServiceSpec } from "./types.js";

/** What the requests of one group did in one window. */
export interface RequestFigures {
  /** Requests (HTTP) and connections (TCP) that ended in the window. */
  requests: number;
  /** Of those, the ones that failed (see requestFailed). */
  failed: number;
  /** Percentage of the requests that did not fail; undefined without requests. */
  successRate?: number;
  /** HTTP requests, which the latency is measured over (a TCP connection's duration is not a latency). */
  latencyRequests: number;
  /** The 95th percentile (nearest rank) of the HTTP requests' active time (%Ta), ms; undefined without HTTP requests. */
  latencyP95Ms?: number;
}

/**
 * Whether a request failed. HTTP: it got no status or a 5xx one (the server's, or HAProxy's own 502/503/504
 * when the server could not be reached or broke off), or the server aborted or timed out after its status
 * (termination state "S…"/"s…"). TCP: the server refused the connection, aborted or timed out. A request
 * the client gave up on is not the server's failure. A connection the server refused and that HAProxy
 * then sent to another server counts for that server (the log does not name the first one).
 */
export function requestFailed(r: RequestRecord): boolean {
  const serverSide = r.termination[0] === "S" || r.termination[0] === "s";
  if (r.mode === "tcp") return serverSide || r.serverAddress === undefined;
  return r.status === undefined || r.status >= 500 || serverSide;
}

/** The nearest-rank 95th percentile of `values` (sorted here); undefined when empty. */
function p95(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  values.sort((a, b) => a - b);
  return values[Math.ceil(0.95 * values.length) - 1];
}

/**
 * The figures of each group over the window [from, to) (by RequestRecord.at): a record counts for the group
 * `groups` maps its server address ("ip:port") to; records of other servers, and of none (no server was
 * chosen), count for no group. Every group `groups` names has an entry, with 0 requests if none came.
 * Sorted by group.
 */
export function requestFigures(records: Iterable<RequestRecord>, groups: ReadonlyMap<string, string>, window: { from: number; to: number }): Map<string, RequestFigures> {
  const tally = new Map<string, { requests: number; failed: number; latencies: number[] }>();
  for (const group of [...new Set(groups.values())].sort(compareText)) tally.set(group, { requests: 0, failed: 0, latencies: [] });
  for (const r of records) {
    if (r.at < window.from || r.at >= window.to || r.serverAddress === undefined) continue;
    const group = groups.get(r.serverAddress);
    if (group === undefined) continue;
    const t = tally.get(group)!;
    t.requests++;
    if (requestFailed(r)) t.failed++;
    if (r.mode === "http") t.latencies.push(r.totalMs);
  }
  const out = new Map<string, RequestFigures>();
  for (const [group, t] of tally) {
    const latencyP95Ms = p95(t.latencies);
    out.set(group, {
      requests: t.requests,
      failed: t.failed,
      ...(t.requests > 0 ? { successRate: (100 * (t.requests - t.failed)) / t.requests } : {}),
      latencyRequests: t.latencies.length,
      ...(latencyP95Ms !== undefined ? { latencyP95Ms } : {}),
    });
  }
  return out;
}

/** The pods of a workload whose requests canary analysis measures: their namespace and template labels. */
export interface AnalyzedPods {
  namespace: string;
  labels: Record<string, string>;
}

/**
 * "namespace/name" of the Services whose requests canary analysis measures: those (not headless) whose
 * selector, non-empty, the labels of some `analyzed` pods satisfy in their namespace. Sorted.
 */
export function analyzedServices(services: readonly ServiceSpec[], analyzed: readonly AnalyzedPods[]): string[] {
  const selects = (s: ServiceSpec, a: AnalyzedPods): boolean => {
    const pairs = Object.entries(s.selector ?? {});
    return s.namespace === a.namespace && pairs.length > 0 && pairs.every(([k, v]) => Object.hasOwn(a.labels, k) && a.labels[k] === v);
  };
  return services
    .filter((s) => !s.headless && analyzed.some((a) => selects(s, a)))
    .map((s) => `${s.namespace}/${s.name}`)
    .sort(compareText);
}

/** `config` with the request log on for every listener of the Services named ("namespace/name"), and off for the others. */
export function withRequestLogs(config: ProxyConfig, services: ReadonlySet<string>): ProxyConfig {
  return {
    ...config,
    listeners: config.listeners.map((l) => {
      const { requestLog: _was, ...rest } = l;
      return services.has(l.key.slice(0, l.key.lastIndexOf(":"))) ? { ...rest, requestLog: true } : rest;
    }),
  };
}
