/**
 * The pure parts of PR plans and previews, table-driven: how placements account for the old pods of a
 * rolling workload (strategy by strategy, on real graphs built from manifests and the real scheduler), and
 * how a proposal's graph becomes its preview graph (namespaces renamed and declared, Nodes dropped,
 * references kept consistent, names always valid DNS labels).
 */
import { describe, expect, it } from "vitest";
import { buildGraph, type DesiredGraph } from "../../../operator/src/graph/index.js";
import { loadManifests } from "../../../operator/src/manifest/index.js";
import type { NodeSnapshot, PodSummary } from "../../../operator/src/scheduler/types.js";
import { buildPlan, formatPlan, planNote, release, type FleetView } from "../../../operator/src/sync/plan.js";
import { namespaceOfKey, previewGraph, previewNamespace } from "../../../operator/src/sync/previews.js";
import { configMapYaml, deploymentYaml } from "../../support/manifests.js";

const Mi = 2 ** 20;

function graphOf(files: Record<string, string>): DesiredGraph {
  const set = loadManifests(Object.entries(files).map(([path, content]) => ({ path, content })));
  const built = buildGraph(set.objects);
  const errors = [...set.diagnostics, ...built.diagnostics].filter((d) => d.severity === "error");
  if (errors.length) throw new Error(errors.map((e) => `${e.file}:${e.line} ${e.message}`).join("\n"));
  return built.graph;
}

/** A node of `cpu` millicores running `pods` of 600m each, owned by `owner` (default Deployment/default/web) at revision "old". */
function node(name: string, cpu: number, pods: number, owner = "Deployment/default/web"): NodeSnapshot {
  const summaries: PodSummary[] = Array.from({ length: pods }, (_, i) => ({
    name: `${name}-web-old-${i}`,
    namespace: "default",
    owner,
    labels: { app: "web" },
    requests: { cpuMillis: 600, memoryBytes: 0 },
    requestsForScoring: { cpuMillis: 600, memoryBytes: 200 * Mi },
    ports: 1,
  }));
  return {
    name,
    unschedulable: false,
    labels: { "kubernetes.io/hostname": name },
    allocatable: { cpuMillis: cpu, memoryBytes: 4096 * Mi, pods: 110 },
    requested: { cpuMillis: 600 * pods, memoryBytes: 0 },
    requestedForScoring: { cpuMillis: 600 * pods, memoryBytes: 200 * Mi * pods },
    podCount: pods,
    freePorts: 100 - pods,
    podsByOwner: pods ? { [owner]: pods } : {},
    pods: summaries,
  };
}

function fleetOf(nodes: NodeSnapshot[]): FleetView {
  return {
    snapshot: () => nodes,
    pods: (owner) => nodes.flatMap((n) => (n.pods ?? []).filter((p) => p.owner === owner).map((p) => ({ name: p.name, revision: "old" }))),
  };
}

const rollout = (strategy: string) => `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: web:v2
          ports: [{name: http, containerPort: 8080}]
          resources: {requests: {cpu: 600m}}
  strategy:
${strategy}`;

describe("placements account for the old pods a rollout removes", () => {
  const web3 = (extra: Parameters<typeof deploymentYaml>[0]) => ({ "web.yaml": deploymentYaml({ name: "web", replicas: 3, image: "web:v2", cpu: "600m", ...extra }) });
  it.each([
    {
      name: "maxSurge 0: every new pod is placed once the old pods are removed, so all fit where the old ones ran",
      files: web3({ maxSurge: 0, maxUnavailable: 1 }),
      nodes: [node("n1", 2000, 3)],
      want: [true, true, true],
      after: [true, true, true],
    },
    {
      name: "maxSurge 1 (25% of 3): the surge pod must fit beside all old pods; the rest fit after they go",
      files: web3({ maxSurge: 1, maxUnavailable: 0 }),
      nodes: [node("n1", 2000, 3)],
      want: [false, true, true],
      after: [false, true, true],
    },
    {
      name: "maxSurge 1 with room for one more pod: nothing is short",
      files: web3({ maxSurge: 1, maxUnavailable: 0 }),
      nodes: [node("n1", 2400, 3)],
      want: [true, true, true],
      after: [false, true, true],
    },
    {
      name: "Recreate: all new pods after the old ones are gone",
      files: { "web.yaml": deploymentYaml({ name: "web", replicas: 3, image: "web:v2", cpu: "600m" }).replace("  template:", "  strategy:\n    type: Recreate\n  template:") },
      nodes: [node("n1", 2000, 3)],
      want: [true, true, true],
      after: [true, true, true],
    },
    {
      name: "a canary uses its maxSurge like a rolling update",
      files: { "web.yaml": rollout("    canary:\n      maxSurge: 0\n      maxUnavailable: 1\n      steps: [{setWeight: 50}]\n") },
      nodes: [node("n1", 2000, 3, "Rollout/default/web")],
      want: [true, true, true],
      after: [true, true, true],
    },
    {
      name: "blue/green starts the whole new set beside the old one",
      files: { "web.yaml": rollout("    blueGreen: {}\n") },
      nodes: [node("n1", 2000, 3, "Rollout/default/web")],
      want: [false, false, false],
      after: [false, false, false],
    },
  ])("$name", ({ files, nodes, want, after }) => {
    const target = { commit: "b".repeat(40), graph: graphOf(files), diagnostics: [] };
    const plan = buildPlan({ from: "a".repeat(40), target, fleet: fleetOf(nodes) });
    const key = Object.values(files)[0]!.includes("kind: Rollout") ? "Rollout/default/web" : "Deployment/default/web";
    const placements = plan.changes.find((c) => c.key === key)!.placements!;
    expect(placements.map((p) => p.fits)).toEqual(want);
    expect(placements.map((p) => p.message === "after the old pods are removed")).toEqual(after);
    for (const p of placements.filter((x) => !x.fits)) expect(p.message).toMatch(/^0\/1 nodes are available: 1 Insufficient cpu\./);
  });

  it("counts each placement for the next pod: three 600m pods on two nodes with 1000m free each", () => {
    const target = { commit: "b".repeat(40), graph: graphOf({ "api.yaml": deploymentYaml({ name: "api", replicas: 3, image: "api:v1", cpu: "600m" }) }), diagnostics: [] };
    const plan = buildPlan({ target, fleet: fleetOf([node("n1", 1000, 0), node("n2", 1000, 0)]) });
    const placed = plan.changes[0]!.placements!;
    expect(
      placed
        .filter((p) => p.fits)
        .map((p) => p.node)
        .sort(),
    ).toEqual(["n1", "n2"]);
    expect(placed.filter((p) => !p.fits)).toHaveLength(1);
    const [first, second] = [placed[0]!.node!, placed.find((p) => p.fits && p.node !== placed[0]!.node)!.node!];
    expect(planNote(plan, "plans/x.yaml").split("\n")).toEqual([
      "coxswain plan: valid against nothing — 1 to create, 0 to update, 0 to delete; 3 new pod(s): 2 fit, 1 do not fit (plans/x.yaml)",
      `create Deployment/default/api: 3 new pod(s) → ${first}, ${second}; 1 do not fit`,
    ]);
  });

  it("plans a CronJob's next run in its time zone (not a rollout), or that it is suspended", () => {
    const cron = (name: string, extra: string) => `apiVersion: batch/v1
kind: CronJob
metadata:
  name: ${name}
spec:
  schedule: "30 2 * * *"
  timeZone: Europe/Berlin
${extra}  jobTemplate:
    spec:
      template:
        metadata: {}
        spec:
          restartPolicy: Never
          containers:
            - name: main
              image: report:1
`;
    const target = { commit: "c".repeat(40), graph: graphOf({ "cron.yaml": `${cron("report", "")}---\n${cron("paused", "  suspend: true\n")}` }), diagnostics: [] };
    // 2026-12-06T10:00Z: 02:30 in Berlin (UTC+1 in December) is next at 2026-12-07T01:30Z.
    const lines = formatPlan(buildPlan({ target, now: Date.parse("2026-12-06T10:00:00Z") }));
    expect(lines.slice(1)).toEqual(["  create CronJob/default/paused → suspended: no run starts", "  create CronJob/default/report → next run at 2026-12-07T01:30:00Z", "2 to create, 0 to update, 0 to delete"]);
  });

  it("plans a claim's pods on the node it is bound to, and the pods of a new claim with its first one", () => {
    const withClaim = (name: string, claimName: string) =>
      deploymentYaml({ name, replicas: 2, image: `${name}:v1` }).replace("      containers:\n", `      volumes:\n        - name: data\n          persistentVolumeClaim: {claimName: ${claimName}}\n      containers:\n`);
    const claimYaml = (name: string) => `apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: ${name}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n`;
    const target = {
      commit: "b".repeat(40),
      graph: graphOf({ "a.yaml": `${claimYaml("old")}---\n${withClaim("api", "old")}`, "b.yaml": `${claimYaml("new")}---\n${withClaim("db", "new")}---\n${withClaim("db2", "new")}` }),
      diagnostics: [],
    };
    const fleet = { ...fleetOf([node("n1", 4000, 0), node("n2", 4000, 0), node("n3", 4000, 0)]), claimNode: (c: string) => (c === "default/old" ? "n3" : undefined) };
    const plan = buildPlan({ target, fleet });
    const nodesOf = (key: string) => plan.changes.find((c) => c.key === key)!.placements!.map((p) => p.node);
    expect(nodesOf("Deployment/default/api")).toEqual(["n3", "n3"]);
    const db = [...nodesOf("Deployment/default/db"), ...nodesOf("Deployment/default/db2")];
    expect(new Set(db).size).toBe(1);
  });

  it("plans the rollout a changed Secret of a volume makes, without the Secret's value in the plan, its text or its note", () => {
    const files = (value: string) => ({
      "web.yaml": `apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: ${value}\n---\n${deploymentYaml({ name: "web", replicas: 1, image: "web:v1" }).replace(
        "      containers:\n",
        "      volumes:\n        - name: creds\n          secret: {secretName: creds}\n      containers:\n",
      )}`,
    });
    const before = graphOf(files("old-password-value"));
    const target = { commit: "b".repeat(40), graph: graphOf(files("new-password-value")), diagnostics: [] };
    const plan = buildPlan({ from: "a".repeat(40), fromGraph: before, target, fleet: fleetOf([node("n1", 2000, 0)]) });
    expect(plan.changes.map((c) => [c.action, c.key, c.rollsTo !== undefined])).toEqual([
      ["update", "Secret/default/creds", false],
      ["update", "Deployment/default/web", true],
    ]);
    const printed = [JSON.stringify(plan), ...formatPlan(plan), planNote(plan, "plans/x.yaml")].join("\n");
    for (const value of ["old-password-value", "new-password-value"]) {
      expect(printed).not.toContain(value);
      expect(printed).not.toContain(Buffer.from(value).toString("base64"));
    }
  });

  it("release frees exactly the named pods' requests, counts, ports and summaries", () => {
    const [n] = release([node("n1", 2000, 3)], new Set(["n1-web-old-0", "n1-web-old-2"]));
    expect(n).toMatchObject({ requested: { cpuMillis: 600 }, podCount: 1, freePorts: 99, podsByOwner: { "Deployment/default/web": 1 } });
    expect(n!.pods!.map((p) => p.name)).toEqual(["n1-web-old-1"]);
  });
});

describe("plan notes", () => {
  const configMaps = (n: number, value: string): Record<string, string> =>
    Object.fromEntries(Array.from({ length: n }, (_, i) => [`cm${String(i).padStart(2, "0")}.yaml`, configMapYaml(`cm${String(i).padStart(2, "0")}`, { A: value })]));

  it("name each changed object and what changes in it, then count what is past twenty", () => {
    const from = { commit: "a".repeat(40), graph: graphOf(configMaps(23, "1")), diagnostics: [] };
    const to = { commit: "b".repeat(40), graph: graphOf(configMaps(23, "2")), diagnostics: [] };
    const lines = planNote(buildPlan({ from: from.commit, fromGraph: from.graph, target: to }), "plans/x.yaml").split("\n");
    expect(lines[0]).toBe("coxswain plan: valid against aaaaaaa — 0 to create, 23 to update, 0 to delete (plans/x.yaml)");
    expect(lines.slice(1, 3)).toEqual(["update ConfigMap/default/cm00: data.A 1 → 2", "update ConfigMap/default/cm01: data.A 1 → 2"]);
    expect(lines).toHaveLength(22);
    expect(lines.at(-1)).toBe("… and 3 more (plans/x.yaml)");
  });

  it("list an invalid plan's errors with file, line, code, object and field", () => {
    const set = loadManifests([{ path: "web.yaml", content: deploymentYaml({ name: "web", replicas: 1 }).replace("replicas: 1", "replicas: many") }]);
    const target = { commit: "b".repeat(40), diagnostics: set.diagnostics }; // an invalid commit has no graph
    const lines = planNote(buildPlan({ target }), "plans/x.yaml").split("\n");
    expect(lines[0]).toMatch(/^coxswain plan: invalid — 1 error\(s\), first web\.yaml:\d+:\d+ SchemaViolation \(plans\/x\.yaml\)$/);
    expect(lines.slice(1)).toEqual([expect.stringMatching(/^web\.yaml:\d+:\d+ SchemaViolation Deployment\/default\/web spec\.replicas: /)]);
  });
});

describe("preview graphs", () => {
  it.each([
    { proposal: "pr-login", ns: "default", want: "pv-pr-login-default" },
    { proposal: "pr-12", ns: "shop", want: "pv-pr-12-shop" },
    { proposal: "pr-Login", ns: "default", want: /^pv-[0-9a-f]{8}-pr-login-default$/ },
    { proposal: "feature-" + "x".repeat(60), ns: "default", want: /^pv-[0-9a-f]{8}-feature-x+$/ },
    { proposal: "a_b", ns: "default", want: /^pv-[0-9a-f]{8}-a-b-default$/ },
  ])("names the namespace of $proposal/$ns as a DNS label of at most 63 characters", ({ proposal, ns, want }) => {
    const got = previewNamespace(proposal, ns);
    if (typeof want === "string") expect(got).toBe(want);
    else expect(got).toMatch(want);
    expect(got.length).toBeLessThanOrEqual(63);
    expect(got).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });

  it("gives different proposals different namespaces even when their names shorten alike", () => {
    const long = "x".repeat(70);
    expect(previewNamespace(`${long}-a`, "default")).not.toBe(previewNamespace(`${long}-b`, "default"));
  });

  it("renames every namespace, declares the implicit ones, drops Nodes and keeps references and dependencies", () => {
    const source = graphOf({
      "ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
      "nodes.yaml": "apiVersion: coxswain.io/v1alpha1\nkind: Node\nmetadata:\n  name: n1\nspec:\n  endpoint: unix:///fake.sock\n",
      "cfg.yaml": configMapYaml("cfg", { A: "1" }, "shop"),
      "db.yaml": deploymentYaml({ name: "db", namespace: "shop" }),
      "api.yaml": deploymentYaml({ name: "api", namespace: "shop", env: [{ name: "A", configMap: { name: "cfg", key: "A" } }] }).replace(
        "  namespace: shop",
        '  namespace: shop\n  annotations:\n    coxswain.io/depends-on: "db, Deployment/default/web, Node/n1"',
      ),
      "web.yaml": deploymentYaml({ name: "web" }),
    });
    const { graph, namespaces } = previewGraph(source, "pr-x");
    expect(namespaces).toEqual(["pv-pr-x-default", "pv-pr-x-shop"]);
    expect([...graph.keys()].sort()).toEqual([
      "ConfigMap/pv-pr-x-shop/cfg",
      "Deployment/pv-pr-x-default/web",
      "Deployment/pv-pr-x-shop/api",
      "Deployment/pv-pr-x-shop/db",
      "Namespace/pv-pr-x-default",
      "Namespace/pv-pr-x-shop",
    ]);
    const api = graph.get("Deployment/pv-pr-x-shop/api")!.object;
    expect(api.metadata.annotations!["coxswain.io/depends-on"]).toBe("db, Deployment/pv-pr-x-default/web");
    expect([...graph.dependenciesOf("Deployment/pv-pr-x-shop/api")].sort()).toEqual(["ConfigMap/pv-pr-x-shop/cfg", "Deployment/pv-pr-x-default/web", "Deployment/pv-pr-x-shop/db", "Namespace/pv-pr-x-shop"]);
    expect(graph.dependenciesOf("Deployment/pv-pr-x-default/web")).toEqual(["Namespace/pv-pr-x-default"]);
    expect(graph.get("Namespace/pv-pr-x-shop")!.object.metadata.labels).toEqual({ "coxswain.io/preview": "pr-x" });
    expect(graph.cycles()).toEqual([]);
    // The source graph is untouched.
    expect(source.has("Deployment/shop/api")).toBe(true);
    expect(namespaceOfKey("Deployment/pv-pr-x-shop/api")).toBe("pv-pr-x-shop");
    expect(namespaceOfKey("Node/n1")).toBeUndefined();
  });
});
