import { describe, expect, it } from "vitest";
import { POD_OWNER_KINDS } from "../../../operator/src/api/objects.js";
import { resolveBareName } from "../../../operator/src/graph/depends-on.js";
import { parseDependsOn } from "../../../operator/src/graph/index.js";

describe("parseDependsOn", () => {
  const ok: { name: string; value: string; namespace: string | undefined; keys: string[] }[] = [
    { name: "reads a bare name as a name to resolve in the same namespace", value: "api", namespace: "shop", keys: ["bare shop/api"] },
    { name: "reads Kind/name of a namespaced kind in the same namespace", value: "ConfigMap/cfg", namespace: "shop", keys: ["ConfigMap/shop/cfg"] },
    { name: "reads Kind/namespace/name as written", value: "Deployment/ops/log", namespace: "shop", keys: ["Deployment/ops/log"] },
    { name: "reads Kind/name of a cluster-scoped kind without a namespace", value: "Node/n1", namespace: "shop", keys: ["Node/n1"] },
    { name: "lets cluster-scoped objects name namespaced ones with their namespace", value: "Deployment/ops/log, Namespace/ops", namespace: undefined, keys: ["Deployment/ops/log", "Namespace/ops"] },
    { name: "trims entries and skips empty ones, keeping the written order", value: " b ,, a ,", namespace: "default", keys: ["bare default/b", "bare default/a"] },
    { name: "reads an empty value as no dependencies", value: "  ", namespace: "default", keys: [] },
  ];
  it.each(ok)("$name", ({ value, namespace, keys }) => {
    const entries = parseDependsOn(value, namespace);
    expect(entries.map((e) => ("key" in e ? e.key : "bare" in e ? `bare ${e.bare.namespace}/${e.bare.name}` : `error: ${e.error}`))).toEqual(keys);
  });

  const bad: { name: string; value: string; namespace: string | undefined }[] = [
    { name: "rejects a kind coxswain does not accept", value: "NetworkPolicy/web", namespace: "default" },
    { name: "rejects a kind written in the wrong case", value: "deployment/web", namespace: "default" },
    { name: "rejects more than three parts", value: "Deployment/a/b/c", namespace: "default" },
    { name: "rejects empty parts", value: "Deployment//web", namespace: "default" },
    { name: "rejects spaces inside an entry", value: "Deployment/my web", namespace: "default" },
    { name: "rejects a namespace on a cluster-scoped kind", value: "Node/default/n1", namespace: "default" },
    { name: "rejects a bare name on a cluster-scoped object", value: "web", namespace: undefined },
    { name: "rejects Kind/name of a namespaced kind on a cluster-scoped object", value: "ConfigMap/cfg", namespace: undefined },
  ];
  it.each(bad)("$name", ({ value, namespace }) => {
    const entries = parseDependsOn(value, namespace);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toHaveProperty("error");
    expect(entries[0]!.entry).toBe(value.trim());
  });
});

describe("resolveBareName", () => {
  const has = (keys: string[]) => (k: string) => keys.includes(k);
  // One object of the name, of each kind that makes pods: that one; others of the name do not count.
  const one = POD_OWNER_KINDS.map((kind) => ({ name: `a ${kind} alone`, keys: [`${kind}/shop/api`, "ConfigMap/shop/api", "Service/shop/api", `${kind}/other/api`], want: { key: `${kind}/shop/api` } }));
  const cases: { name: string; keys: string[]; want: { key: string } | { code: string; candidates?: string[] } }[] = [
    ...one,
    { name: "nothing of the name", keys: ["Deployment/shop/web"], want: { code: "MissingReference" } },
    { name: "only kinds that make no pods (ConfigMap, Service, CronJob)", keys: ["ConfigMap/shop/api", "Service/shop/api", "CronJob/shop/api"], want: { code: "MissingReference" } },
    { name: "only in another namespace", keys: ["Deployment/ops/api"], want: { code: "MissingReference" } },
    { name: "a Deployment and a Rollout", keys: ["Deployment/shop/api", "Rollout/shop/api"], want: { code: "InvalidField", candidates: ["Deployment/api", "Rollout/api"] } },
    { name: "a StatefulSet and a Job", keys: ["StatefulSet/shop/api", "Job/shop/api"], want: { code: "InvalidField", candidates: ["Job/api", "StatefulSet/api"] } },
    { name: "a Pod, a ReplicaSet and a DaemonSet", keys: ["Pod/shop/api", "ReplicaSet/shop/api", "DaemonSet/shop/api"], want: { code: "InvalidField", candidates: ["DaemonSet/api", "Pod/api", "ReplicaSet/api"] } },
    { name: "every kind that makes pods", keys: POD_OWNER_KINDS.map((k) => `${k}/shop/api`), want: { code: "InvalidField", candidates: POD_OWNER_KINDS.map((k) => `${k}/api`) } },
  ];
  it.each(cases)("$name", ({ keys, want }) => {
    const got = resolveBareName({ name: "api", namespace: "shop" }, has(keys));
    if ("key" in want) {
      expect(got).toEqual(want);
      return;
    }
    expect(got).toMatchObject({ code: want.code });
    if (want.candidates && "error" in got) {
      // The candidates, as "Kind/name", in kind order: the message lists exactly these.
      const listed = [...got.error.matchAll(/"?([A-Za-z]+\/api)"?/g)].map((m) => m[1]!);
      expect([...new Set(listed)]).toEqual(want.candidates);
    }
  });
});
