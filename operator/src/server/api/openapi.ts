/**
 * The OpenAPI 3.1 document of the API, served at GET /api/v1/openapi.json. Its schemas (JSON Schema
 * 2020-12, as OpenAPI 3.1 has it) are those of views.ts, events.ts and the writes' WriteResult;
 * test/integration/server/api.test.ts (reads) and api-writes.test.ts (writes) check real answers of a
 * running operator against them, so the two cannot drift apart. The shapes this
 * API owns are closed (additionalProperties: false); records that newer coxswain versions extend (a
 * workload's strategy state, a Service's status file) are described as far as clients rely on them.
 */
import { MAX_COMMITS_LIMIT, DEFAULT_COMMITS_LIMIT } from "./views.js";

const str = { type: "string" } as const;
const int = { type: "integer" } as const;
const bool = { type: "boolean" } as const;
const strings = { type: "array", items: str } as const;
const nullable = (schema: object) => ({ oneOf: [{ type: "null" }, schema] });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const closed = (properties: Record<string, object>, optional: string[] = []) => ({
  type: "object",
  additionalProperties: false,
  required: Object.keys(properties).filter((k) => !optional.includes(k)),
  properties,
});
const json = (schema: object, description: string) => ({ description, content: { "application/json": { schema } } });
const problem = (description: string) => json(ref("Error"), description);
const SECURED = { 401: problem("no or an unknown bearer token (with --api-token-file)"), 429: problem("rate limited") };
/** The answers every write shares. */
const WRITE = {
  202: json(ref("WriteResult"), "the commit made on the deploy branch; the sync applies it like any other (follow it on /api/v1/events)"),
  403: problem("a read token (ApiForbidden)"),
  409: problem("the object is not in the state the action needs, or is not declared in Git (ApiConflict); nothing was committed"),
  503: problem("the commit could not be put on the branch (ApiWriteFailed)"),
  ...SECURED,
};
/** A write's operation: POST, its summary and parameters, and the answers besides WRITE's. */
const write = (summary: string, description: string, parameters: object[], responses: Record<number, object>) => ({
  post: { summary, description, parameters, responses: { ...responses, ...WRITE } },
});
const pathParam = (name: string) => ({ name, in: "path", required: true, schema: str });

const replicas = closed({ desired: int, current: int, updated: int, ready: int, available: int });
const condition = { type: "object", required: ["type", "status", "reason", "message"], properties: { type: str, status: { enum: ["True", "False", "Unknown"] }, reason: str, message: str, lastTransitionTime: str } };
const recordedError = closed({ code: str, message: str, file: str, line: int, col: int, object: str, field: str }, ["file", "line", "col", "object", "field"]);
const resources = closed({ cpuMillis: int, memoryBytes: int, pods: int });

const schemas = {
  Error: closed({ code: str, message: str, file: str, line: int }, ["file", "line"]),
  WriteResult: closed({
    action: { enum: ["promote", "cordon", "uncordon", "retry"] },
    target: str,
    user: str,
    commit: { type: "string", pattern: "^[0-9a-f]{40}$" },
    parent: { type: "string", pattern: "^[0-9a-f]{40}$" },
    branch: str,
    subject: str,
    pushed: bool,
  }),
  CommitAuthor: closed({ name: str, email: str, time: str }),
  Commit: closed({
    sha: { type: "string", pattern: "^[0-9a-f]{40}$" },
    branch: str,
    subject: str,
    author: nullable(ref("CommitAuthor")),
    phase: { enum: ["Pending", "Invalid", "Progressing", "Succeeded", "Failed", "RolledBack", "Quarantined", "Superseded"] },
    message: str,
    timings: closed({ seen: str, applied: str, finished: str, durationMs: { type: "number" } }, ["applied", "finished", "durationMs"]),
    changes: strings,
    errors: { type: "array", items: recordedError },
    applied: bool,
    stable: bool,
    quarantined: bool,
    supersededBy: nullable(str),
    rollback: nullable(closed({ to: str, code: str, reason: str })),
    revert: nullable(closed({ state: { enum: ["Committed", "Pushed", "Conflict", "Failed"] }, commit: str, message: str }, ["commit"])),
    historyRewritten: bool,
    plan: nullable(str),
  }),
  CommitList: closed({ total: int, limit: int, commits: { type: "array", items: ref("Commit") } }),
  WorkloadSummary: closed({
    kind: str,
    namespace: str,
    name: str,
    revision: str,
    commit: str,
    strategy: nullable(str),
    paused: bool,
    replicas,
    conditions: { type: "array", items: condition },
  }),
  WorkloadList: closed({ workloads: { type: "array", items: ref("WorkloadSummary") } }),
  Workload: {
    type: "object",
    description: "The workload's status record (workloads/<ns>/<kind>-<name>.yaml on the status branch).",
    required: ["kind", "namespace", "name", "revision", "commit", "replicas", "pods", "conditions", "events"],
    properties: {
      kind: str,
      namespace: str,
      name: str,
      revision: str,
      commit: str,
      replicas,
      pods: {
        type: "array",
        items: closed({ name: str, node: str, revision: str, ready: bool, endpoints: strings, restarts: int, state: str }, ["restarts", "state"]),
      },
      conditions: { type: "array", items: condition },
      events: { type: "array", items: closed({ time: str, type: { enum: ["Normal", "Warning"] }, reason: str, message: str }) },
      strategy: str,
      stable: closed({ revision: str, commit: str }),
      revisions: { type: "array", items: closed({ number: int, revision: str, commit: str }) },
      paused: bool,
      canary: { type: "object", required: ["step", "steps", "weight"], properties: { step: int, steps: int, weight: { type: "number" } } },
      blueGreen: { type: "object" },
      traffic: { type: "object", required: ["strategy", "applied", "services"], properties: { strategy: { enum: ["canary", "blueGreen"] }, applied: bool, services: { type: "array" } } },
      daemonSet: { type: "object" },
      statefulSet: { type: "object" },
      job: { type: "object" },
      pod: { type: "object" },
      placed: { type: "object" },
    },
  },
  Node: closed({
    name: str,
    condition: { enum: ["Ready", "NotReady"] },
    ready: bool,
    evicted: bool,
    unschedulable: bool,
    draining: bool,
    leaving: bool,
    address: str,
    labels: { type: "object", additionalProperties: str },
    taints: { type: "array", items: closed({ key: str, value: str, effect: { enum: ["NoSchedule", "PreferNoSchedule", "NoExecute"] } }) },
    allocatable: nullable(resources),
    requested: nullable(resources),
    pods: int,
    lastSeenAt: nullable(str),
    message: nullable(str),
  }),
  NodeList: closed({ nodes: { type: "array", items: ref("Node") } }),
  Service: {
    type: "object",
    description: "The Service's status file (services/<ns>/<name>.yaml): endpoints per port, its address per node, the Rollout that shapes it.",
    required: ["namespace", "name", "type", "ports", "nodes"],
    properties: {
      namespace: str,
      name: str,
      type: str,
      ports: {
        type: "array",
        items: {
          type: "object",
          required: ["port", "ready", "notReady", "terminating"],
          properties: { name: str, port: int, nodePort: int, ready: { type: "array" }, notReady: { type: "array" }, terminating: { type: "array" } },
        },
      },
      nodes: { type: "array", items: { type: "object", required: ["node", "serving"], properties: { node: str, address: str, serving: bool, error: str } } },
      rollout: { type: "object", required: ["name", "role"], properties: { name: str, role: str } },
    },
  },
  ServiceList: closed({ services: { type: "array", items: ref("Service") } }),
  Proposal: {
    type: "object",
    description: "A proposal's plan (plans/<name>.yaml on the status branch).",
    required: ["name", "ref", "commit", "valid", "errors", "changes"],
    properties: {
      name: str,
      ref: str,
      commit: str,
      base: str,
      valid: bool,
      errors: { type: "array", items: recordedError },
      changes: {
        type: "array",
        items: {
          type: "object",
          required: ["action", "key", "fields"],
          properties: { action: { enum: ["create", "update", "delete"] }, key: str, fields: strings, details: strings, rollsTo: closed({ revision: str, replicas: int }), placements: { type: "array" } },
        },
      },
      preview: { type: "object", required: ["namespace", "state"], properties: { namespace: str, state: str, expiresAt: str } },
    },
  },
  Preview: closed({ name: str, ref: str, commit: str, namespaces: strings, expiresAt: str }),
  ProposalList: closed({ proposals: { type: "array", items: ref("Proposal") }, previews: { type: "array", items: ref("Preview") } }),
  CommitEvent: closed({ sha: str, subject: str, phase: str, previous: nullable(str), message: str }),
  RolloutEvent: closed({
    workload: str,
    revision: str,
    commit: str,
    replicas,
    canary: nullable(closed({ step: int, steps: int, weight: { type: "number" } })),
    paused: bool,
    progressing: nullable(closed({ status: str, reason: str })),
  }),
  PodEvent: closed({ pod: str, workload: str, node: nullable(str), revision: nullable(str), phase: str, ready: bool, reason: nullable(str) }),
  NodeEvent: closed({ node: str, condition: { enum: ["Ready", "NotReady"] }, ready: bool, message: nullable(str) }),
  ResetEvent: closed({ lastEventId: int, oldestEventId: nullable(int) }),
};

/** The document (built once; served as JSON). */
export const OPENAPI_DOCUMENT = {
  openapi: "3.1.0",
  info: {
    title: "coxswain API",
    version: "1",
    description:
      "What the operator knows — commits, workloads, nodes, Services, proposals, and live events — and the writes a UI needs (promote, cordon, " +
      "uncordon, retry), each made as a commit on the deploy branch by coxswain naming the token's user, which the sync then applies. With " +
      "--api-token-file every endpoint but the webhooks needs `Authorization: Bearer <token>` (a `write` token for the writes); without it the API " +
      "is served on loopback addresses only.",
  },
  components: {
    schemas,
    securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "A token of --api-token-file (`read <token> [user]` or `write <token> [user]` per line)." } },
  },
  security: [{ bearer: [] }],
  paths: {
    "/api/v1/commits": {
      get: {
        summary: "Processed commits of the deploy branch, newest first",
        parameters: [{ name: "limit", in: "query", required: false, schema: { type: "integer", minimum: 1, maximum: MAX_COMMITS_LIMIT, default: DEFAULT_COMMITS_LIMIT } }],
        responses: { 200: json(ref("CommitList"), "the commits"), 400: problem("a limit out of range"), ...SECURED },
      },
    },
    "/api/v1/commits/{sha}": {
      get: {
        summary: "One commit (full sha, or a prefix of at least 4 hex digits naming one)",
        parameters: [{ name: "sha", in: "path", required: true, schema: str }],
        responses: { 200: json(ref("Commit"), "the commit"), 404: problem("no such commit"), ...SECURED },
      },
    },
    "/api/v1/workloads": {
      get: { summary: "Every workload, by namespace, kind and name", responses: { 200: json(ref("WorkloadList"), "the workloads"), ...SECURED } },
    },
    "/api/v1/workloads/{kind}/{namespace}/{name}": {
      get: {
        summary: "One workload's record: pods and their endpoints, conditions, events, revision history, rollout state (namespace _cluster: cluster-scoped)",
        parameters: ["kind", "namespace", "name"].map((name) => ({ name, in: "path", required: true, schema: str })),
        responses: { 200: json(ref("Workload"), "the workload"), 404: problem("no such workload"), ...SECURED },
      },
    },
    "/api/v1/nodes": {
      get: { summary: "Nodes: readiness, taints, allocatable and requested resources", responses: { 200: json(ref("NodeList"), "the nodes"), ...SECURED } },
    },
    "/api/v1/services": {
      get: { summary: "Services' endpoints and addresses (empty when the repository has none)", responses: { 200: json(ref("ServiceList"), "the Services"), ...SECURED } },
    },
    "/api/v1/proposals": {
      get: { summary: "Proposals' plans and running previews", responses: { 200: json(ref("ProposalList"), "the proposals"), ...SECURED } },
    },
    "/api/v1/events": {
      get: {
        summary: "Server-Sent Events: commit (CommitEvent), rollout (RolloutEvent), pod (PodEvent), node (NodeEvent); reset (ResetEvent) when Last-Event-ID is older than the ring",
        description:
          "Each event has an increasing `id:`. A Last-Event-ID header resumes after that id while the last 1024 events hold it; otherwise a `reset` event comes first " +
          "(re-read the state, then follow). A comment line is sent every 15 s so that proxies keep the stream open; the stream ends when the operator stops.",
        parameters: [{ name: "Last-Event-ID", in: "header", required: false, schema: str }],
        responses: { 200: { description: "the stream", content: { "text/event-stream": { schema: str } } }, ...SECURED },
      },
    },
    "/api/v1/workloads/{kind}/{namespace}/{name}/promote": write(
      "Promote a paused Rollout: a commit setting coxswain.io/promote to the value that passes the pause it waits at (and spec.paused: false)",
      "The Rollout's manifest is edited in place (comments and formatting kept). A canary waiting at `pause: {}` (or an inconclusive analysis) " +
        'passes that gate only; a blue/green preview is promoted. `full=true` skips every remaining step (coxswain.io/promote: "full").',
      [...["kind", "namespace", "name"].map(pathParam), { name: "full", in: "query", required: false, schema: { type: "boolean", default: false } }],
      { 400: problem("not a Rollout, or a bad `full`"), 404: problem("no such Rollout in Git"), 422: problem("the manifest cannot be edited in place (ManifestNotEditable, with file and line)") },
    ),
    "/api/v1/nodes/{name}/cordon": write(
      "Cordon a node: a commit setting spec.unschedulable: true in its Node manifest",
      "No new pod is placed on it once the commit is applied; its pods stay. 409 when it is cordoned in Git already, or not declared in Git.",
      [pathParam("name")],
      { 404: problem("no such node"), 422: problem("the manifest cannot be edited in place (ManifestNotEditable, with file and line)") },
    ),
    "/api/v1/nodes/{name}/uncordon": write("Uncordon a node: a commit setting spec.unschedulable: false in its Node manifest", "409 when it is not cordoned in Git.", [pathParam("name")], {
      404: problem("no such node"),
      422: problem("the manifest cannot be edited in place (ManifestNotEditable, with file and line)"),
    }),
    "/api/v1/commits/{sha}/retry": write(
      "Retry a quarantined commit: a commit that puts its changes back on the branch with the trailer `Coxswain-Retry: <sha>`",
      "The changes are re-applied three-way (the revert of an auto-revert; none when the branch still holds them: an empty commit). The trailer " +
        "lifts the commit's quarantine and the sync applies the retry. 409 when the commit is not quarantined or its paths changed since.",
      [pathParam("sha")],
      { 404: problem("no such commit") },
    ),
    "/api/v1/openapi.json": {
      get: { summary: "This document", responses: { 200: { description: "OpenAPI 3.1", content: { "application/json": { schema: { type: "object" } } } }, ...SECURED } },
    },
  },
} as const;
