/**
 * A pod from its containers: the labels coxswain put on each container read back into an ObservedPod (owner,
 * ports, requests as Kubernetes sums them, phase), each container's labels parsed once.
 */
import type { Resources } from "../../scheduler/types.js";
import { restartPolicyOf } from "../kubelet.js";
import { LABELS } from "../labels.js";
import type { LaunchPort, ObservedContainer } from "../types.js";
import type { NodeEntry, ObservedPod, PodPhase } from "./types.js";

const DEFAULT_SCORING_CPU = 100;
const DEFAULT_SCORING_MEMORY = 200 * 1024 * 1024;

/** Requests used for scoring: Kubernetes counts 100m CPU and 200Mi per container that sets none. */
function scoringRequests(perContainer: readonly Resources[]): Resources {
  let cpuMillis = 0;
  let memoryBytes = 0;
  for (const r of perContainer) {
    cpuMillis += r.cpuMillis > 0 ? r.cpuMillis : DEFAULT_SCORING_CPU;
    memoryBytes += r.memoryBytes > 0 ? r.memoryBytes : DEFAULT_SCORING_MEMORY;
  }
  return { cpuMillis, memoryBytes };
}

/**
 * A pod's requests as Kubernetes computes them: init containers run one at a time before the others, so the
 * pod needs the larger of its containers' sum and its largest init container, per resource (for scoring
 * too, with the scoring defaults applied to each container first; extended resources too, by name).
 */
export function podResources(containers: readonly { init?: number; requests: Resources }[]): { requests: Resources; requestsForScoring: Resources } {
  const app = containers.filter((c) => c.init === undefined).map((c) => c.requests);
  const inits = containers.filter((c) => c.init !== undefined).map((c) => c.requests);
  const sum = app.reduce((acc, r) => ({ cpuMillis: acc.cpuMillis + r.cpuMillis, memoryBytes: acc.memoryBytes + r.memoryBytes }), { cpuMillis: 0, memoryBytes: 0 });
  const max = (a: Resources, rs: readonly Resources[]): Resources => rs.reduce((acc, r) => ({ cpuMillis: Math.max(acc.cpuMillis, r.cpuMillis), memoryBytes: Math.max(acc.memoryBytes, r.memoryBytes) }), a);
  // Extended resources the same way: summed over the containers, at least each init container's.
  const extended: Record<string, number> = {};
  for (const r of app) for (const [name, q] of Object.entries(r.extended ?? {})) extended[name] = (extended[name] ?? 0) + q;
  for (const r of inits) for (const [name, q] of Object.entries(r.extended ?? {})) extended[name] = Math.max(extended[name] ?? 0, q);
  const requests = max(sum, inits);
  return {
    requests: Object.keys(extended).length > 0 ? { ...requests, extended: Object.fromEntries(Object.entries(extended).sort(([a], [b]) => (a < b ? -1 : 1))) } : requests,
    requestsForScoring: max(
      scoringRequests(app),
      inits.map((r) => scoringRequests([r])),
    ),
  };
}

/** Orders a pod's containers by runtime name (toPod takes them in this order). */
export function byRuntimeName(a: ObservedContainer, b: ObservedContainer): number {
  return a.runtimeName < b.runtimeName ? -1 : a.runtimeName > b.runtimeName ? 1 : 0;
}

/** A pod from its containers, which are sorted by runtime name. */
export function toPod(e: NodeEntry, name: string, containers: ObservedContainer[]): ObservedPod {
  const first = containers[0]!;
  const l = first.labels;
  const namespace = l[LABELS.namespace] ?? "";
  const workload = l[LABELS.workload] ?? "";
  const kind = l[LABELS.kind] ?? "Deployment";
  const ports: LaunchPort[] = [];
  const perContainer: { init?: number; requests: Resources }[] = [];
  for (const c of containers) {
    const parsed = parsedLabels(c.labels);
    ports.push(...parsed.ports);
    perContainer.push({ ...(c.labels[LABELS.init] !== undefined ? { init: Number(c.labels[LABELS.init]) } : {}), requests: parsed.requests });
  }
  const { requests, requestsForScoring } = podResources(perContainer);
  // restartPolicy Always: an exited container is restarted in place by the kubelet, so its pod stays
  // Running (not ready) rather than Failed, as on Kubernetes. A pod none of whose containers (init
  // containers aside: the pod is Pending while they run) ever ran is Pending.
  const app = containers.filter((c) => c.labels[LABELS.init] === undefined);
  let phase: PodPhase;
  if (app.every((c) => c.state === "running")) phase = "Running";
  else if (app.some((c) => c.startedAt !== undefined)) phase = "Running";
  else phase = "Pending";
  // OnFailure and Never: the pod ends (Kubernetes' pod lifecycle). Succeeded when every container exited 0;
  // Failed when one exited non-zero and Never keeps it down (an init container's failure included).
  const policy = restartPolicyOf(l);
  if (policy !== "Always") {
    const ended = (c: ObservedContainer) => (c.state === "exited" || c.state === "dead") && c.startedAt !== undefined;
    const failedInit = containers.some((c) => c.labels[LABELS.init] !== undefined && ended(c) && c.exitCode !== 0);
    if (policy === "Never" && failedInit) phase = "Failed";
    else if (app.every(ended)) {
      if (app.every((c) => c.exitCode === 0)) phase = "Succeeded";
      else if (policy === "Never") phase = "Failed";
    }
  }
  // An init container that exited 0 succeeded: no news.
  const exited = containers.find((c) => (c.state === "exited" || c.state === "dead") && !(c.labels[LABELS.init] !== undefined && c.exitCode === 0));
  return {
    name,
    node: e.config.name,
    owner: `${kind}/${namespace}/${workload}`,
    namespace,
    workload,
    labels: parsedLabels(l).podLabels,
    revision: l[LABELS.revision] ?? "",
    commit: l[LABELS.commit] ?? "",
    phase,
    containers,
    ports,
    requests,
    requestsForScoring,
    createdAt: Math.min(...containers.map((c) => c.createdAt)),
    ready: false,
    // As kubectl's RESTARTS: the init containers' while the pod initializes, its containers' after.
    restartCount: (phase === "Pending" ? containers : app).reduce((n, c) => n + (c.restartCount ?? 0), 0),
    crashLooping: false,
    ...(exited ? { message: `container ${exited.labels[LABELS.container] ?? exited.runtimeName} exited with code ${exited.exitCode ?? "unknown"}` } : {}),
  };
}

/** What of a pod's containers tells listeners it changed: ids, states, starts and exit codes. */
export function signature(p: ObservedPod): string {
  return p.containers.map((c) => `${c.id}:${c.state}:${c.startedAt ?? ""}:${c.exitCode ?? ""}`).join(",");
}

/** What toPod reads of a container's JSON labels. */
interface ParsedLabels {
  ports: LaunchPort[];
  requests: Resources;
  podLabels: Record<string, string>;
}

/** Parsed once per labels object (a container's labels never change; a pod is rebuilt when its state does). */
const parsedByLabels = new WeakMap<Readonly<Record<string, string>>, ParsedLabels>();

function parsedLabels(labels: Readonly<Record<string, string>>): ParsedLabels {
  let parsed = parsedByLabels.get(labels);
  if (parsed === undefined) {
    parsed = {
      ports: parseJson<LaunchPort[]>(labels[LABELS.ports], []),
      requests: parseJson<Resources>(labels[LABELS.requests], { cpuMillis: 0, memoryBytes: 0 }),
      podLabels: parseJson<Record<string, string>>(labels[LABELS.podLabels], {}),
    };
    parsedByLabels.set(labels, parsed);
  }
  return parsed;
}

/** A JSON label's value, or `fallback` when it is absent or not JSON. */
export function parseJson<T>(text: string | undefined, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}
