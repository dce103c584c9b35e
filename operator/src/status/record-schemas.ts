/**
 * The schemas of the records coxswain reads back from its status branch, one per kind of file, with the
 * paths of those files (what the rules in schemas.ts say, written as JSON Schema). A module of its own,
 * without ajv, so that schemas.ts keeps the reading and its errors.
 */
/** A JSON Schema as written here. */
type Schema = Record<string, unknown>;

const str: Schema = { type: "string" };
const bool: Schema = { type: "boolean" };
const count: Schema = { type: "integer", minimum: 0 };
const int: Schema = { type: "integer" };
const time: Schema = { type: "string", format: "date-time" };
const strings: Schema = { type: "array", items: str };
const intOrString: Schema = { type: ["integer", "string"] };

/** An object with these properties (all of them when `required` is true, else the listed ones). */
function obj(properties: Record<string, Schema>, required: readonly string[] | true = []): Schema {
  return { type: "object", properties, required: required === true ? Object.keys(properties) : [...required] };
}
const list = (items: Schema): Schema => ({ type: "array", items });

const condition = obj({ type: str, status: { enum: ["True", "False", "Unknown"] }, reason: str, message: str, lastTransitionTime: str }, ["type", "status"]);
const event = obj({ time: str, type: { enum: ["Normal", "Warning"] }, reason: str, message: str }, ["time", "type", "reason", "message"]);
const recordedError = obj({ code: str, message: str, file: str, line: int, col: int, object: str, field: str }, ["code", "message"]);
const figures = obj({ requests: count, failed: count, successRate: { type: "number" }, latencyRequests: count, latencyP95Ms: { type: "number" } }, ["requests", "failed", "latencyRequests"]);
const jobPhase: Schema = { enum: ["Running", "Complete", "Failed"] };

const SUMMARY = obj(
  {
    repository: str,
    branch: str,
    path: str,
    head: obj({ commit: str, phase: str }, true),
    applied: str,
    stable: str,
    quarantined: strings,
    faults: list(obj({ where: str, code: str, message: str, since: str }, true)),
    workloads: obj({ total: count, ready: count, progressing: count, failed: count }),
    nodes: list(obj({ name: str, ready: bool, pods: count, message: str, cordoned: bool, draining: bool, leaving: bool }, ["name", "ready", "pods"])),
  },
  ["repository", "branch", "path"],
);

const COMMIT = obj(
  {
    commit: { type: "string", pattern: "^[0-9a-f]{40}$" },
    branch: str,
    subject: str,
    phase: { enum: ["Pending", "Invalid", "Progressing", "Succeeded", "Failed", "RolledBack", "Quarantined", "Superseded"] },
    message: str,
    changes: strings,
    errors: list(recordedError),
    timings: obj({ seen: str, applied: str, finished: str, durationMs: { type: "number" } }),
    supersededBy: str,
    quarantined: bool,
    rollback: obj({ to: str, code: str, reason: str }, true),
    revert: obj({ state: { enum: ["Committed", "Pushed", "Conflict", "Failed"] }, commit: str, message: str }, ["state", "message"]),
    historyRewritten: bool,
    plan: str,
  },
  ["commit", "branch", "subject", "phase", "message"],
);

const WORKLOAD = obj(
  {
    kind: str,
    namespace: str,
    name: str,
    revision: str,
    commit: str,
    replicas: obj({ desired: count, current: count, updated: count, ready: count, available: count }),
    daemonSet: obj({
      desiredNumberScheduled: count,
      currentNumberScheduled: count,
      numberMisscheduled: count,
      numberReady: count,
      updatedNumberScheduled: count,
      numberAvailable: count,
      numberUnavailable: count,
      nodes: strings,
    }),
    pods: list(obj({ name: str, node: str, revision: str, ready: bool, endpoints: strings, restarts: count, state: str }, ["name", "node", "revision", "ready"])),
    conditions: list(condition),
    events: list(event),
    strategy: str,
    stable: obj({ revision: str, commit: str }, true),
    revisions: list(obj({ number: count, revision: str, commit: str }, true)),
    paused: bool,
    placed: obj({ revision: str, node: str, ended: { enum: ["Succeeded", "Failed"] } }, ["revision", "node"]),
    pod: obj({ phase: str, restartPolicy: str }, true),
    statefulSet: obj({ podManagementPolicy: str, partition: count, currentRevision: str, serviceName: str, claims: strings }, ["podManagementPolicy"]),
    canary: obj(
      {
        revision: str,
        step: count,
        steps: count,
        weight: { type: "number", minimum: 0, maximum: 100 },
        pauseStartedAt: str,
        waiting: str,
        promoteBaseline: str,
        analysis: obj(
          {
            revision: str,
            step: count,
            startedAt: str,
            phase: str,
            message: str,
            windows: list(obj({ from: str, to: str, phase: str, reason: str, canary: figures, stable: figures }, ["from", "to", "phase", "canary", "stable"])),
          },
          ["revision", "step", "startedAt", "phase", "message", "windows"],
        ),
      },
      ["step", "steps", "weight"],
    ),
    blueGreen: obj({ active: str, preview: str, promotedAt: str, pauseStartedAt: str, scaleDownAt: { type: "object", additionalProperties: str }, waiting: str, promoteBaseline: str }),
    job: obj({ phase: str, completions: str, active: count, failed: count, startTime: str, completionTime: str }, ["phase", "completions", "active", "failed", "startTime"]),
    traffic: obj(
      {
        strategy: { enum: ["canary", "blueGreen"] },
        stable: str,
        canary: str,
        weight: { type: "number", minimum: 0, maximum: 100 },
        active: str,
        preview: str,
        applied: bool,
        services: list(obj({ service: str, role: str, revision: str }, ["service", "role"])),
      },
      ["strategy", "applied", "services"],
    ),
  },
  ["kind", "namespace", "name", "revision", "commit"],
);

const JOB = obj(
  {
    namespace: str,
    name: str,
    revision: str,
    commit: str,
    phase: jobPhase,
    reason: str,
    message: str,
    completions: count,
    parallelism: count,
    succeeded: count,
    failed: count,
    active: count,
    completedIndexes: str,
    startTime: time,
    completionTime: time,
    podsRemovedAt: time,
    failures: list(obj({ pod: str, index: count, container: str, exitCode: int, finishedAt: str, log: str }, ["pod", "container", "log"])),
    evicted: list(obj({ pod: str, index: count, node: str, at: time }, ["pod", "node", "at"])),
  },
  ["namespace", "name", "revision", "commit", "phase", "message", "completions", "parallelism", "succeeded", "failed", "active", "startTime", "failures"],
);

const CRONJOB = obj(
  {
    namespace: str,
    name: str,
    schedule: str,
    timeZone: str,
    suspend: bool,
    createdAt: time,
    lastScheduleTime: time,
    lastSuccessfulTime: time,
    nextRunAt: time,
    skipped: obj({ reason: str, message: str }, true),
    active: strings,
    runs: list(obj({ name: str, scheduledAt: time, phase: jobPhase, finishedAt: time }, ["name", "scheduledAt", "phase"])),
    removing: strings,
  },
  ["namespace", "name", "schedule", "suspend", "createdAt", "runs", "removing"],
);

const endpoint = obj({ pod: str, node: str, address: str }, true);
const SERVICE = obj(
  {
    service: { type: "string", pattern: "^[^/]+/[^/]+$" },
    type: str,
    rollout: obj({ name: str, role: str, revision: str, stable: str, canary: str, weight: { type: "number" } }, ["name", "role"]),
    ports: list(
      obj(
        {
          name: str,
          port: count,
          targetPort: intOrString,
          nodePort: count,
          endpoints: obj({ ready: list(endpoint), notReady: list(endpoint), terminating: list(endpoint) }),
        },
        ["port", "targetPort"],
      ),
    ),
    nodes: list(obj({ node: str, address: str, serving: bool, error: str, bridge: obj({ address: str, serving: bool, error: str }, ["serving"]) }, ["node", "serving"])),
  },
  ["service", "type", "ports", "nodes"],
);

const CLAIM = obj(
  {
    claim: { type: "string", pattern: "^[^/]+/[^/]+$" },
    phase: { enum: ["Bound", "Pending", "Released"] },
    node: str,
    nodeState: { enum: ["Ready", "NotReady", "NotInFleet"] },
    volume: str,
    storage: str,
    deleteDataOnRemoval: bool,
    message: str,
    removeByHand: str,
  },
  ["claim", "phase", "deleteDataOnRemoval"],
);

const AUTOSCALER = obj(
  {
    autoscaler: str,
    target: str,
    minReplicas: count,
    maxReplicas: count,
    currentReplicas: count,
    desiredReplicas: count,
    gitReplicas: count,
    currentMetrics: list(obj({ resource: str, target: str, averageUtilization: { type: "number" }, averageValue: str }, ["resource", "target"])),
    lastScaleTime: time,
    lastScaleReason: str,
    conditions: list(condition),
    message: str,
  },
  ["autoscaler", "target", "desiredReplicas"],
);

const BUDGET = obj(
  {
    budget: { type: "string", pattern: "^[^/]+/[^/]+$" },
    minAvailable: intOrString,
    maxUnavailable: intOrString,
    unhealthyPodEvictionPolicy: { enum: ["IfHealthyBudget", "AlwaysAllow"] },
    status: obj(
      {
        currentHealthy: count,
        desiredHealthy: count,
        disruptionsAllowed: count,
        expectedPods: count,
        conditions: list(obj({ type: { const: "DisruptionAllowed" }, status: { enum: ["True", "False"] }, reason: { enum: ["SufficientPods", "InsufficientPods"] }, message: str }, true)),
      },
      ["currentHealthy", "desiredHealthy", "disruptionsAllowed", "expectedPods"],
    ),
    pods: strings,
  },
  ["budget", "status"],
);

const backend = { service: str, port: intOrString, listener: str, problem: str };
const INGRESS = obj(
  {
    ingress: { type: "string", pattern: "^[^/]+/[^/]+$" },
    class: str,
    served: bool,
    reason: str,
    defaultBackend: obj(backend, ["service", "port"]),
    paths: list(obj({ host: str, path: str, pathType: str, ...backend }, ["path", "pathType", "service", "port"])),
    tls: list(obj({ hosts: strings, secretName: str, problem: str }, ["hosts", "secretName"])),
    nodes: list(obj({ node: str, http: str, https: str, serving: bool, error: str, note: str }, ["node", "serving"])),
  },
  ["ingress", "served", "paths", "tls", "nodes"],
);

/** The kinds of status files read back. */
export type StatusFileKind = "summary" | "commit" | "workload" | "job" | "cronjob" | "service" | "claim" | "autoscaler" | "disruption budget" | "ingress";

/** Each kind with where it lives on the status branch and its schema. */
export const FILES: readonly { kind: StatusFileKind; path: RegExp; schema: Schema }[] = [
  { kind: "summary", path: /^summary\.yaml$/, schema: SUMMARY },
  { kind: "commit", path: /^commits\/[0-9a-f]{2}\/[0-9a-f]{40}\.yaml$/, schema: COMMIT },
  { kind: "workload", path: /^workloads\/[^/]+\/[^/]+\.yaml$/, schema: WORKLOAD },
  { kind: "job", path: /^jobs\/[^/]+\/[^/]+\.yaml$/, schema: JOB },
  { kind: "cronjob", path: /^cronjobs\/[^/]+\/[^/]+\.yaml$/, schema: CRONJOB },
  { kind: "service", path: /^services\/[^/]+\/[^/]+\.yaml$/, schema: SERVICE },
  { kind: "claim", path: /^claims\/[^/]+\/[^/]+\.yaml$/, schema: CLAIM },
  { kind: "autoscaler", path: /^autoscalers\/[^/]+\/[^/]+\.yaml$/, schema: AUTOSCALER },
  { kind: "disruption budget", path: /^disruptionbudgets\/[^/]+\/[^/]+\.yaml$/, schema: BUDGET },
  { kind: "ingress", path: /^ingresses\/[^/]+\/[^/]+\.yaml$/, schema: INGRESS },
];
