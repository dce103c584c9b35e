/**
 * manifest/edit.ts: a field set in place touches that field's text only — comments, quoting, other
 * documents and key order stay — missing keys are added as a block under their mapping (CRLF files keep
 * CRLF), and what cannot be edited in place is ManifestNotEditable with the file and line.
 */
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { editManifest } from "../../../operator/src/manifest/edit.js";
import { CoxError } from "../../../operator/src/api/errors.js";
import { codeOf } from "../../support/errors.js";

const FILE = `# two objects
apiVersion: coxswain.io/v1alpha1
kind: Node
metadata:
  name: n1   # the first
spec:
  endpoint: unix:///fake/n1.sock   # local
  taints:
  - key: a
    effect: NoSchedule
---
kind: Rollout
metadata:
  name: web
  namespace: shop
  annotations:
    coxswain.io/promote: '1' # last time
spec:
  paused: true
`;

/** The lines of `after` that differ from `before` (same line count assumed where it matters). */
function changed(before: string, after: string): { removed: string[]; added: string[] } {
  const a = before.split("\n");
  const b = after.split("\n");
  return { removed: a.filter((l) => !b.includes(l)), added: b.filter((l) => !a.includes(l)) };
}

describe("editManifest", () => {
  it("replaces a value in place, keeping its comment and every other byte", () => {
    const out = editManifest(FILE, "f.yaml", { kind: "Rollout", name: "web", namespace: "shop" }, [
      { path: ["metadata", "annotations", "coxswain.io/promote"], value: "2" },
      { path: ["spec", "paused"], value: false },
    ]);
    expect(changed(FILE, out)).toEqual({
      removed: ["    coxswain.io/promote: '1' # last time", "  paused: true"],
      added: ['    coxswain.io/promote: "2" # last time', "  paused: false"],
    });
  });

  it("adds missing keys after the mapping's last entry, at its indentation", () => {
    const out = editManifest(FILE, "f.yaml", { kind: "Node", name: "n1" }, [
      { path: ["spec", "unschedulable"], value: true },
      { path: ["metadata", "labels", "zone"], value: "a" },
    ]);
    expect(changed(FILE, out)).toEqual({ removed: [], added: ["  labels:", '    zone: "a"', "  unschedulable: true"] });
    const docs = parseAllDocuments(out) as unknown as { toJS(): { spec: { unschedulable: boolean; taints: unknown[] } } }[];
    expect(docs[0]!.toJS().spec).toMatchObject({ unschedulable: true, taints: [{ key: "a", effect: "NoSchedule" }] });
  });

  it("keeps CRLF line endings", () => {
    const crlf = "kind: Node\r\nmetadata:\r\n  name: n1\r\nspec:\r\n  endpoint: x\r\n";
    expect(editManifest(crlf, "c.yaml", { kind: "Node", name: "n1" }, [{ path: ["spec", "unschedulable"], value: true }])).toBe(`${crlf}  unschedulable: true\r\n`);
  });

  it("refuses what cannot be edited in place, naming the file and line", () => {
    const flow = "kind: Node\nmetadata:\n  name: n1\nspec: {endpoint: x}\n";
    let e: unknown;
    try {
      editManifest(flow, "flow.yaml", { kind: "Node", name: "n1" }, [{ path: ["spec", "unschedulable"], value: true }]);
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(CoxError);
    expect([(e as CoxError).code, (e as CoxError).details]).toEqual(["ManifestNotEditable", { file: "flow.yaml", line: 4 }]);
    const block = "kind: Rollout\nmetadata:\n  name: web\n  annotations:\n    coxswain.io/promote: |\n      1\n";
    expect(codeOf(() => editManifest(block, "b.yaml", { kind: "Rollout", name: "web" }, [{ path: ["metadata", "annotations", "coxswain.io/promote"], value: "2" }]))).toBe("ManifestNotEditable");
    expect(codeOf(() => editManifest(FILE, "f.yaml", { kind: "Node", name: "n9" }, [{ path: ["spec", "unschedulable"], value: true }]))).toBe("ManifestNotEditable");
  });
});
