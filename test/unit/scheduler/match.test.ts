import { describe, expect, it } from "vitest";
import { compileLabelSelector, compileNodeSelectorTerm, HostPortSet, labelKeyRequirements, normalizeHostPorts, normalizeImageName, toleratesTaint } from "../../../operator/src/scheduler/match.js";
import type { LabelSelector, NodeSelectorTerm, Taint, Toleration } from "../../../operator/src/scheduler/types.js";

describe("label selectors", () => {
  const labels = { app: "web", tier: "front" };
  const cases: { name: string; selector: LabelSelector | undefined; matches: boolean }[] = [
    { name: "an absent selector matches nothing", selector: undefined, matches: false },
    { name: "the empty selector matches everything", selector: {}, matches: true },
    { name: "matchLabels requires every pair", selector: { matchLabels: { app: "web", tier: "back" } }, matches: false },
    { name: "matchLabels and matchExpressions are ANDed", selector: { matchLabels: { app: "web" }, matchExpressions: [{ key: "tier", operator: "In", values: ["front", "x"] }] }, matches: true },
    { name: "NotIn matches a missing key", selector: { matchExpressions: [{ key: "zone", operator: "NotIn", values: ["a"] }] }, matches: true },
    { name: "NotIn rejects a listed value", selector: { matchExpressions: [{ key: "app", operator: "NotIn", values: ["web"] }] }, matches: false },
    { name: "Exists needs the key", selector: { matchExpressions: [{ key: "tier", operator: "Exists" }] }, matches: true },
    { name: "DoesNotExist rejects a present key", selector: { matchExpressions: [{ key: "tier", operator: "DoesNotExist" }] }, matches: false },
  ];
  it.each(cases)("$name", ({ selector, matches }) => {
    expect(compileLabelSelector(selector).matches(labels)).toBe(matches);
  });

  it("gives equal selectors written differently one signature", () => {
    const a = compileLabelSelector({ matchLabels: { a: "1", b: "2" } });
    const b = compileLabelSelector({
      matchExpressions: [
        { key: "b", operator: "In", values: ["2"] },
        { key: "a", operator: "In", values: ["1"] },
      ],
    });
    expect(a.sig).toBe(b.sig);
    expect(compileLabelSelector({ matchLabels: { a: "1" } }).sig).not.toBe(a.sig);
  });

  it("turns matchLabelKeys / mismatchLabelKeys into requirements on the pod's own values, skipping keys it lacks", () => {
    expect(labelKeyRequirements({ rev: "7", app: "web" }, ["rev", "missing"], ["app"])).toEqual([
      { key: "rev", operator: "In", values: ["7"] },
      { key: "app", operator: "NotIn", values: ["web"] },
    ]);
  });
});

describe("node selector terms", () => {
  const cases: { name: string; term: NodeSelectorTerm; labels: Record<string, string>; matches: boolean }[] = [
    { name: "Gt compares integers", term: { matchExpressions: [{ key: "n", operator: "Gt", values: ["9"] }] }, labels: { n: "10" }, matches: true },
    { name: "Gt is strict", term: { matchExpressions: [{ key: "n", operator: "Gt", values: ["10"] }] }, labels: { n: "10" }, matches: false },
    { name: "Lt handles negative numbers", term: { matchExpressions: [{ key: "n", operator: "Lt", values: ["0"] }] }, labels: { n: "-3" }, matches: true },
    { name: "Gt with a non-integer value never matches", term: { matchExpressions: [{ key: "n", operator: "Gt", values: ["1.5"] }] }, labels: { n: "3" }, matches: false },
    { name: "Gt with two values never matches", term: { matchExpressions: [{ key: "n", operator: "Gt", values: ["1", "2"] }] }, labels: { n: "3" }, matches: false },
    { name: "Lt on a missing label never matches", term: { matchExpressions: [{ key: "n", operator: "Lt", values: ["5"] }] }, labels: {}, matches: false },
    { name: "matchFields on metadata.name NotIn", term: { matchFields: [{ key: "metadata.name", operator: "NotIn", values: ["other"] }] }, labels: {}, matches: true },
    { name: "matchFields on another field never matches", term: { matchFields: [{ key: "metadata.uid", operator: "In", values: ["node"] }] }, labels: {}, matches: false },
    { name: "an empty term matches nothing", term: {}, labels: { a: "b" }, matches: false },
  ];
  it.each(cases)("$name", ({ term, labels, matches }) => {
    expect(compileNodeSelectorTerm(term).matches(labels, "node")).toBe(matches);
  });
});

describe("tolerations", () => {
  const taint: Taint = { key: "k", value: "v", effect: "NoSchedule" };
  const cases: { name: string; t: Toleration; tolerates: boolean }[] = [
    { name: "Equal (default) needs key and value", t: { key: "k", value: "v" }, tolerates: true },
    { name: "Equal with another value does not", t: { key: "k", value: "w" }, tolerates: false },
    { name: "Exists needs only the key", t: { key: "k", operator: "Exists" }, tolerates: true },
    { name: "an empty key with Exists tolerates every taint", t: { operator: "Exists" }, tolerates: true },
    { name: "the effect must match when set", t: { key: "k", operator: "Exists", effect: "NoExecute" }, tolerates: false },
    { name: "a missing value equals the empty value", t: { key: "k" }, tolerates: false },
  ];
  it.each(cases)("$name", ({ t, tolerates }) => {
    expect(toleratesTaint(t, taint)).toBe(tolerates);
  });

  it("reads a taint without value as the empty value", () => {
    expect(toleratesTaint({ key: "k", value: "" }, { key: "k", effect: "NoSchedule" })).toBe(true);
  });
});

describe("host ports", () => {
  it("counts a port held twice until both holders give it back", () => {
    const set = new HostPortSet();
    const [p] = normalizeHostPorts([{ port: 80 }]);
    set.add(p!);
    set.add(p!);
    set.remove(p!);
    expect(set.conflicts(p!)).toBe(true);
    set.remove(p!);
    expect(set.conflicts(p!)).toBe(false);
  });

  it("defaults protocol TCP and address 0.0.0.0 and drops ports ≤ 0", () => {
    expect(normalizeHostPorts([{ port: 80 }, { port: 0 }, { port: 53, protocol: "UDP", hostIP: "10.0.0.1" }])).toEqual([
      { key: "TCP/80", ip: "0.0.0.0" },
      { key: "UDP/53", ip: "10.0.0.1" },
    ]);
  });
});

describe("image names", () => {
  const cases: [string, string][] = [
    ["nginx", "nginx:latest"],
    ["nginx:1.27", "nginx:1.27"],
    ["registry:5000/app", "registry:5000/app:latest"],
    ["registry:5000/app:v2", "registry:5000/app:v2"],
  ];
  it.each(cases)("normalizes %s to %s", (name, want) => {
    expect(normalizeImageName(name)).toBe(want);
  });
});
