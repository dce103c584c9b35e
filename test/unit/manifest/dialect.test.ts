/**
 * The pieces of the manifest dialect that fixtures do not show well on their own: the readers other stages
 * use (selectors, pause durations, annotations, endpoints), how the schemas in crds/ agree with KINDS, and
 * the fields "not supported by coxswain".
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { KINDS, type DesiredObject, type Kind } from "../../../operator/src/api/objects.js";
import type { LabelSelector } from "../../../operator/src/api/generated/index.js";
import {
  autoRevertOf,
  loadManifests,
  ManifestCache,
  parseTcpEndpoint,
  parseUnixEndpoint,
  pauseDurationSeconds,
  priorityAnnotationOf,
  promoteOf,
  readCrdSchema,
  selectorMatches,
  syncWaveOf,
  UNSUPPORTED_KEYWORD,
} from "../../../operator/src/manifest/index.js";
import { PATTERN_PHRASES } from "../../../operator/src/manifest/schema.js";
import { discoverCases } from "./fixture-files.js";

describe("selectorMatches", () => {
  const cases: { name: string; selector: LabelSelector; labels: Record<string, string> | undefined; want: boolean }[] = [
    { name: "matches when every matchLabels entry is present with its value", selector: { matchLabels: { a: "1", b: "2" } }, labels: { a: "1", b: "2", c: "3" }, want: true },
    { name: "does not match a different value", selector: { matchLabels: { a: "1" } }, labels: { a: "2" }, want: false },
    { name: "does not match a missing label", selector: { matchLabels: { a: "1" } }, labels: undefined, want: false },
    { name: "matches In when the value is listed", selector: { matchExpressions: [{ key: "a", operator: "In", values: ["1", "2"] }] }, labels: { a: "2" }, want: true },
    { name: "does not match In when the label is missing", selector: { matchExpressions: [{ key: "a", operator: "In", values: ["1"] }] }, labels: {}, want: false },
    { name: "matches NotIn when the label is missing, as Kubernetes does", selector: { matchExpressions: [{ key: "a", operator: "NotIn", values: ["1"] }] }, labels: {}, want: true },
    { name: "does not match NotIn when the value is listed", selector: { matchExpressions: [{ key: "a", operator: "NotIn", values: ["1"] }] }, labels: { a: "1" }, want: false },
    { name: "matches Exists whatever the value, even empty", selector: { matchExpressions: [{ key: "a", operator: "Exists" }] }, labels: { a: "" }, want: true },
    { name: "does not match DoesNotExist when the label is there", selector: { matchExpressions: [{ key: "a", operator: "DoesNotExist" }] }, labels: { a: "x" }, want: false },
    {
      name: "ANDs matchLabels and matchExpressions",
      selector: { matchLabels: { app: "web" }, matchExpressions: [{ key: "tier", operator: "In", values: ["front"] }] },
      labels: { app: "web", tier: "back" },
      want: false,
    },
    { name: "matches everything with an empty selector", selector: {}, labels: undefined, want: true },
    { name: "does not take inherited properties for labels", selector: { matchExpressions: [{ key: "constructor", operator: "Exists" }] }, labels: {}, want: false },
  ];
  it.each(cases)("$name", ({ selector, labels, want }) => {
    expect(selectorMatches(selector, labels)).toBe(want);
  });
});

describe("pauseDurationSeconds (Argo's RolloutPause.DurationSeconds)", () => {
  const cases: [number | string, number | undefined][] = [
    [30, 30],
    [0, 0],
    ["45", 45],
    ["30s", 30],
    ["5m", 300],
    ["1h", 3600],
    ["1h30m", 5400],
    ["1.5h", 5400],
    ["1m30.5s", 90],
    ["2500ms", 2],
    ["0", 0],
    [-1, undefined],
    ["-5s", undefined],
    ["5 minutes", undefined],
    ["5d", undefined],
    ["h", undefined],
    ["", undefined],
    [1.5, undefined],
    [2 ** 31, undefined],
  ];
  it.each(cases)("reads %j as %j seconds", (input, want) => {
    expect(pauseDurationSeconds(input)).toBe(want);
  });
});

describe("annotation readers", () => {
  const withAnnotations = (kind: "Deployment" | "Rollout" | "ConfigMap", annotations: Record<string, string>): DesiredObject =>
    ({ apiVersion: "v1", kind, metadata: { name: "x", annotations } }) as unknown as DesiredObject;

  it("read valid values and fall back for absent or invalid ones", () => {
    const a = withAnnotations("Rollout", {
      "argocd.argoproj.io/sync-wave": "-3",
      "coxswain.io/auto-revert": "true",
      "coxswain.io/priority": "1000",
      "coxswain.io/promote": "2",
    });
    expect([syncWaveOf(a), autoRevertOf(a), priorityAnnotationOf(a), promoteOf(a)]).toEqual([-3, true, 1000, 2]);
    const b = withAnnotations("Rollout", {
      "argocd.argoproj.io/sync-wave": "x",
      "coxswain.io/auto-revert": "yes",
      "coxswain.io/priority": "2000000000",
      "coxswain.io/promote": "full",
    });
    expect([syncWaveOf(b), autoRevertOf(b), priorityAnnotationOf(b), promoteOf(b)]).toEqual([0, undefined, undefined, "full"]);
    const c = withAnnotations("Deployment", { "coxswain.io/promote": "full", "coxswain.io/auto-revert": "false" });
    expect([syncWaveOf(c), autoRevertOf(c), priorityAnnotationOf(c), promoteOf(c)]).toEqual([0, false, undefined, undefined]);
  });

  it("accept exactly the sync waves the manifest stage accepts", () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: -1e9, max: 1e9 }).map(String), fc.string({ maxLength: 6 })), (value) => {
        const doc = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n    argocd.argoproj.io/sync-wave: ${JSON.stringify(value)}\n`;
        const set = loadManifests([{ path: "c.yaml", content: doc }], { cache: new ManifestCache() });
        const accepted = set.diagnostics.length === 0;
        expect(accepted).toBe(/^[+-]?[0-9]+$/.test(value));
        if (accepted) expect(syncWaveOf(set.objects[0]!.object)).toBe(Number(value));
      }),
    );
  });
});

describe("Node endpoints", () => {
  const tcp: [string, { host: string; port: number } | undefined][] = [
    ["tcp://docker.example.com:2376", { host: "docker.example.com", port: 2376 }],
    ["tcp://10.0.0.1:2376", { host: "10.0.0.1", port: 2376 }],
    ["tcp://[fd00::1]:2376", { host: "fd00::1", port: 2376 }],
    ["tcp://docker.example.com", undefined],
    ["tcp://docker.example.com:0", undefined],
    ["tcp://docker.example.com:65536", undefined],
    ["tcp://docker.example.com:2376/", undefined],
    ["tcp://user@docker.example.com:2376", undefined],
    ["tcp://[not-ipv6]:2376", undefined],
    ["tcp://under_score.example.com:2376", undefined],
  ];
  it.each(tcp)("parses %s as %j", (endpoint, want) => {
    expect(parseTcpEndpoint(endpoint)).toEqual(want);
  });

  const unix: [string, string | undefined][] = [
    ["unix:///var/run/docker.sock", "/var/run/docker.sock"],
    ["unix:///run/../docker.sock", undefined],
    ["unix:///run//docker.sock", undefined],
    ["unix:///run/", undefined],
    ["unix://relative.sock", undefined],
  ];
  it.each(unix)("parses %s as %j", (endpoint, want) => {
    expect(parseUnixEndpoint(endpoint)).toBe(want);
  });
});

describe("schemas in crds/ and KINDS", () => {
  const kinds = Object.keys(KINDS) as Kind[];

  it("list every apiVersion KINDS accepts for a kind, and only those, in the schema's apiVersion enum", () => {
    for (const kind of kinds) {
      const schema = readCrdSchema(kind) as { properties: { apiVersion: { enum: string[] }; kind: { enum: string[] } } };
      expect(schema.properties.apiVersion.enum, kind).toEqual([...KINDS[kind].apiVersions]);
      expect(schema.properties.kind.enum, kind).toEqual([kind]);
      expect(KINDS[kind].apiVersion).toBe(KINDS[kind].apiVersions[0]);
    }
  });

  it("are all shown by the all-kinds fixture, which loads an object of every kind", () => {
    const allKinds = discoverCases("valid").find((c) => c.name === "all-kinds")!;
    const set = loadManifests(allKinds.files, { cache: new ManifestCache() });
    expect(set.diagnostics).toEqual([]);
    expect([...new Set(set.objects.map((o) => o.object.kind))].sort()).toEqual([...kinds].sort());
  });

  it("loads a minimal object of each kind under every apiVersion KINDS lists", () => {
    const minimal: Record<Kind, Record<string, unknown>> = {
      ConfigMap: {},
      DaemonSet: { spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "i" }] } } } },
      Namespace: {},
      Secret: {},
      PriorityClass: { value: 1 },
      Node: { spec: { endpoint: "unix:///run/docker.sock" } },
      Deployment: { spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "i" }] } } } },
      CronJob: { spec: { schedule: "*/5 * * * *", jobTemplate: { spec: { template: { metadata: {}, spec: { restartPolicy: "Never", containers: [{ name: "c", image: "i" }] } } } } } },
      Job: { spec: { template: { metadata: {}, spec: { restartPolicy: "Never", containers: [{ name: "c", image: "i" }] } } } },
      Rollout: {
        spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "i" }] } }, strategy: { canary: {} } },
      },
      Service: { spec: { selector: { a: "b" }, ports: [{ port: 80 }] } },
      Ingress: { spec: { defaultBackend: { service: { name: "web", port: { number: 80 } } } } },
      PersistentVolumeClaim: { spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } },
      HorizontalPodAutoscaler: { spec: { scaleTargetRef: { kind: "Deployment", name: "web" }, maxReplicas: 2 } },
      Pod: { spec: { containers: [{ name: "c", image: "i" }] } },
      PodDisruptionBudget: { spec: { minAvailable: 1, selector: { matchLabels: { a: "b" } } } },
      ReplicaSet: { spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "i" }] } } } },
      ReplicationController: { spec: { template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "i" }] } } } },
      StatefulSet: { spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "i" }] } } } },
    };
    for (const kind of kinds) {
      for (const apiVersion of KINDS[kind].apiVersions) {
        const doc = YAML.stringify({ apiVersion, kind, metadata: { name: "x" }, ...minimal[kind] });
        const set = loadManifests([{ path: "x.yaml", content: doc }], { cache: new ManifestCache() });
        expect(set.diagnostics, `${kind} ${apiVersion}`).toEqual([]);
        expect(set.objects.map((o) => o.object.kind)).toEqual([kind]);
      }
    }
  });

  /** Every `pattern` in a schema, recursively. */
  const patterns = (node: unknown, out: Set<string>): Set<string> => {
    if (Array.isArray(node)) for (const x of node) patterns(x, out);
    else if (node !== null && typeof node === "object") {
      for (const [k, v] of Object.entries(node)) {
        if (k === "pattern" && typeof v === "string") out.add(v);
        else patterns(v, out);
      }
    }
    return out;
  };

  it("have a human phrase for every pattern they use, so no message prints a regular expression", () => {
    const all = new Set<string>();
    for (const kind of kinds) patterns(readCrdSchema(kind), all);
    const missing = [...all].filter((p) => !(p in PATTERN_PHRASES));
    expect(missing).toEqual([]);
  });

  /** Every property marked x-coxswain-unsupported, with its path and reason, from the Rollout CRD. */
  const unsupported = (node: Record<string, unknown>, at: string[], out: { path: string[]; reason: string }[]) => {
    const props = node.properties as Record<string, Record<string, unknown>> | undefined;
    for (const [name, sub] of Object.entries(props ?? {})) {
      if (typeof sub[UNSUPPORTED_KEYWORD] === "string") out.push({ path: [...at, name], reason: sub[UNSUPPORTED_KEYWORD] as string });
      else unsupported(sub, [...at, name], out);
      if (sub.items && typeof sub.items === "object") unsupported(sub.items as Record<string, unknown>, [...at, name, "0"], out);
    }
    return out;
  };

  /** Sets a value at a path, creating mappings on the way; "0" stands for the first item of a list. */
  const setAt = (root: Record<string, unknown>, segs: readonly string[], value: unknown): void => {
    let node: unknown = root;
    segs.forEach((seg, i) => {
      const last = i === segs.length - 1;
      const fresh = last ? value : segs[i + 1] === "0" ? [] : {};
      if (Array.isArray(node)) {
        if (node[0] === undefined) node[0] = fresh;
        node = node[0];
      } else {
        const m = node as Record<string, unknown>;
        if (m[seg] === undefined) m[seg] = fresh;
        node = m[seg];
      }
    });
  };

  it("report each Argo Rollouts field coxswain does not support as not supported, with the schema's reason, not as unknown", () => {
    const fields = unsupported(readCrdSchema("Rollout"), [], []);
    expect(fields.length).toBeGreaterThan(20);
    for (const { path: fieldPath, reason } of fields) {
      const base: Record<string, unknown> = {
        apiVersion: "argoproj.io/v1alpha1",
        kind: "Rollout",
        metadata: { name: "r" },
        spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "i" }] } }, strategy: {} },
      };
      setAt(base, fieldPath, "x");
      const set = loadManifests([{ path: "r.yaml", content: YAML.stringify(base) }], { cache: new ManifestCache() });
      const printed = fieldPath.filter((s) => s !== "0").pop()!;
      const d = set.diagnostics.find((x) => x.field.endsWith(printed));
      expect(d, fieldPath.join(".")).toBeDefined();
      expect(d!.code).toBe("SchemaViolation");
      expect(d!.message, fieldPath.join(".")).toContain(reason);
      expect(d!.message.startsWith("unknown field")).toBe(false);
    }
  });

  it("leave fields that are not supported out of the supported ones an unknown field lists", () => {
    const doc = YAML.stringify({
      apiVersion: "argoproj.io/v1alpha1",
      kind: "Rollout",
      metadata: { name: "r" },
      spec: {
        selector: { matchLabels: { a: "b" } },
        template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "i" }] } },
        strategy: { canary: { stepz: [] } },
      },
    });
    const set = loadManifests([{ path: "r.yaml", content: doc }], { cache: new ManifestCache() });
    expect(set.diagnostics.map((d) => d.field)).toEqual(["spec.strategy.canary.stepz"]);
    expect(set.diagnostics[0]!.message).not.toContain("scaleDownDelaySeconds");
    expect(set.diagnostics[0]!.message).toContain("maxSurge");
  });
});
