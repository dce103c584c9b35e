import { describe, expect, it } from "vitest";
import { parseDependsOn } from "../../../operator/src/graph/index.js";

describe("parseDependsOn", () => {
  const ok: { name: string; value: string; namespace: string | undefined; keys: string[] }[] = [
    { name: "reads a bare name as a Deployment in the same namespace", value: "api", namespace: "shop", keys: ["Deployment/shop/api"] },
    { name: "reads Kind/name of a namespaced kind in the same namespace", value: "ConfigMap/cfg", namespace: "shop", keys: ["ConfigMap/shop/cfg"] },
    { name: "reads Kind/namespace/name as written", value: "Deployment/ops/log", namespace: "shop", keys: ["Deployment/ops/log"] },
    { name: "reads Kind/name of a cluster-scoped kind without a namespace", value: "Node/n1", namespace: "shop", keys: ["Node/n1"] },
    { name: "lets cluster-scoped objects name namespaced ones with their namespace", value: "Deployment/ops/log, Namespace/ops", namespace: undefined, keys: ["Deployment/ops/log", "Namespace/ops"] },
    { name: "trims entries and skips empty ones, keeping the written order", value: " b ,, a ,", namespace: "default", keys: ["Deployment/default/b", "Deployment/default/a"] },
    { name: "reads an empty value as no dependencies", value: "  ", namespace: "default", keys: [] },
  ];
  it.each(ok)("$name", ({ value, namespace, keys }) => {
    const entries = parseDependsOn(value, namespace);
    expect(entries.map((e) => ("key" in e ? e.key : `error: ${e.error}`))).toEqual(keys);
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
