import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import YAML from "yaml";
import { generate } from "../../../operator/scripts/gen-types.js";

describe("generated types", () => {
  it("operator/src/api/generated is exactly what npm run gen makes from crds/", async () => {
    const files = await generate();
    expect(files.size).toBeGreaterThan(1);
    for (const [name, content] of files) {
      const onDisk = await readFile(new URL(`../../../operator/src/api/generated/${name}`, import.meta.url), "utf8");
      expect(onDisk, `${name} is stale: run npm run gen`).toBe(content);
    }
  });

  it("declares the pod template once, in common.ts, for DaemonSet, Deployment and Rollout", async () => {
    const files = await generate();
    expect(files.get("common.ts")).toMatch(/export interface PodTemplateSpec \{/);
    for (const kind of ["daemonset.ts", "deployment.ts", "rollout.ts"]) {
      expect(files.get(kind)).not.toMatch(/export interface PodTemplateSpec/);
      expect(files.get(kind)).toMatch(/import type \{[^}]*PodTemplateSpec[^}]*\} from "\.\/common\.js";/);
    }
  });
});

describe("the generator", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  const crd = (kind: string, spec: Record<string, unknown>) =>
    YAML.stringify({
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: `${kind.toLowerCase()}s.example.com` },
      spec: {
        group: "example.com",
        scope: "Namespaced",
        names: { kind, plural: `${kind.toLowerCase()}s`, singular: kind.toLowerCase() },
        versions: [
          {
            name: "v1",
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                title: kind,
                type: "object",
                required: ["apiVersion", "kind", "metadata", "spec"],
                properties: { apiVersion: { type: "string" }, kind: { type: "string" }, metadata: { type: "object" }, spec },
              },
            },
          },
        ],
      },
    });

  it("fails when one title names two different shapes in two CRDs", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "coxswain-gen-"));
    await writeFile(path.join(dir, "a.yaml"), crd("A", { title: "Shared", type: "object", properties: { x: { type: "string" } } }));
    await writeFile(path.join(dir, "b.yaml"), crd("B", { title: "Shared", type: "object", properties: { x: { type: "integer" } } }));
    await expect(generate(dir)).rejects.toThrow(/Shared/);
  });

  it("shares a type used by two CRDs and leaves fields that are not supported yet out of the types", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "coxswain-gen-"));
    const spec = { title: "Shared", type: "object", properties: { x: { type: "string" }, later: { "x-coxswain-unsupported": "not yet" } } };
    await writeFile(path.join(dir, "a.yaml"), crd("A", spec));
    await writeFile(path.join(dir, "b.yaml"), crd("B", spec));
    const files = await generate(dir);
    expect([...files.keys()].sort()).toEqual(["a.ts", "b.ts", "common.ts", "index.ts"]);
    expect(files.get("common.ts")).toMatch(/export interface Shared \{\s*x\?: string;\s*\}/);
    expect(files.get("a.ts")).toMatch(/spec: Shared;/);
    expect(files.get("common.ts")).not.toMatch(/later/);
  });
});
