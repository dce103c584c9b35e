/**
 * The CLI as users run it (a real child process): validate prints file:line diagnostics and exits 1,
 * plan prints what a commit would create, change and delete, and usage errors exit 2.
 */
import { spawn } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { configMapYaml, deploymentYaml } from "../../support/manifests.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

function cli(args: string[], cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "operator/src/cli/main.ts"), ...args], { cwd, env: { ...process.env, FORCE_COLOR: "0" } });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("exit", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe("coxswain validate", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tempDir("coxswain-validate-");
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("accepts examples-repo and exits 0", async () => {
    const r = await cli(["validate", path.join(ROOT, "examples-repo")]);
    expect(r.stdout).toMatch(/3 object\(s\), 0 error\(s\)/);
    expect(r.code).toBe(0);
  });

  it("prints each error as file:line:col with code and field, and exits 1", async () => {
    await writeFile(path.join(dir, "web.yaml"), deploymentYaml({ replicas: 2 }).replace("image: coxswain-test/app:v1", "image: 42\n          colour: blue"));
    await writeFile(path.join(dir, "app.yaml"), deploymentYaml({ name: "app", env: [{ name: "X", configMap: { name: "missing", key: "k" } }] }));
    const r = await cli(["validate", dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^web\.yaml:\d+:\d+: error SchemaViolation spec\.template\.spec\.containers\[0\]\.image: /m);
    expect(r.stdout).toMatch(/^web\.yaml:\d+:\d+: error SchemaViolation spec\.template\.spec\.containers\[0\]\.colour: unknown field "colour"/m);
    expect(r.stdout).toMatch(/^app\.yaml:\d+:\d+: error MissingReference /m);
  });

  it("exits 2 with a usage error when the directory is missing from the command line", async () => {
    const r = await cli(["validate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/InvalidArgument/);
  });
});

describe("coxswain plan", () => {
  let repo: TestRepo;
  beforeEach(async () => {
    repo = await makeRepo();
  });
  afterEach(async () => {
    await repo.cleanup();
  });

  it("shows creates, updates with their fields, rollouts and deletes between two commits", async () => {
    await repo.write("cfg.yaml", configMapYaml("cfg", { A: "1" }));
    await repo.write("web.yaml", deploymentYaml({ name: "web", env: [{ name: "A", configMap: { name: "cfg", key: "A" } }] }));
    await repo.write("old.yaml", deploymentYaml({ name: "old" }));
    const from = await repo.commit("one");
    await repo.write("cfg.yaml", configMapYaml("cfg", { A: "2" }));
    await repo.rm("old.yaml");
    await repo.write("new.yaml", deploymentYaml({ name: "new", replicas: 1 }));
    await repo.write("web.yaml", deploymentYaml({ name: "web", replicas: 5, env: [{ name: "A", configMap: { name: "cfg", key: "A" } }] }));
    const to = await repo.commit("two");
    const r = await cli(["plan", "--repo", repo.dir, "--from", from, "--to", to]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toBe(`plan ${from.slice(0, 7)}..${to.slice(0, 7)}`);
    expect(lines).toContain("  update ConfigMap/default/cfg (data.A)");
    expect(lines.find((l) => l.startsWith("  update Deployment/default/web"))).toMatch(/\(spec\.replicas\) → rolls out revision [0-9a-f]{10} \(5 replicas\)/);
    expect(lines.find((l) => l.startsWith("  create Deployment/default/new"))).toMatch(/→ rolls out revision/);
    expect(lines).toContain("  delete Deployment/default/old");
    expect(lines.at(-1)).toBe("1 to create, 2 to update, 1 to delete");
    // Dependencies first, deletions last.
    expect(lines.indexOf("  update ConfigMap/default/cfg (data.A)")).toBeLessThan(lines.findIndex((l) => l.includes("Deployment/default/web")));
    expect(lines.at(-2)).toBe("  delete Deployment/default/old");
  });

  it("plans everything as created when nothing was applied yet, and prints JSON on request", async () => {
    await repo.write("web.yaml", deploymentYaml({ name: "web" }));
    await repo.commit("one");
    const r = await cli(["plan", "--repo", repo.dir, "--output", "json"]);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan.valid).toBe(true);
    expect(plan.changes).toEqual([expect.objectContaining({ action: "create", key: "Deployment/default/web" })]);
  });

  it("exits 1 and prints the errors when the target commit is invalid", async () => {
    await repo.write("web.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec: {}\n");
    await repo.commit("bad");
    const r = await cli(["plan", "--repo", repo.dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/web\.yaml:5:\d+: error SchemaViolation spec/);
  });
});


