/**
 * The CLI as users run it (a real child process): validate prints file:line diagnostics naming their
 * object and exits 1 on errors (with --strict on warnings too), kinds lists what coxswain reads and ignores,
 * plan prints what a commit would create, change and delete and where each new pod would go (asking the
 * scheduler on the nodes, read-only), status and history are registered, run refuses bad flags and never
 * prints a secret, and usage errors exit 2.
 */
import { mkdir, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ROOT, runCli as cli } from "../../support/cli.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { configMapYaml, deploymentYaml, serviceYaml } from "../../support/manifests.js";

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
    expect(r.stdout.trim().split("\n").at(-1)).toBe("4 objects in 4 files: valid"); // Namespace, ConfigMap, Deployment, Service
    expect(r.code).toBe(0);
  });

  it("prints each error as file:line:col with code, object and field, and exits 1", async () => {
    await writeFile(path.join(dir, "web.yaml"), deploymentYaml({ replicas: 2 }).replace("image: coxswain-test/app:v1", "image: 42\n          colour: blue"));
    await writeFile(path.join(dir, "app.yaml"), deploymentYaml({ name: "app", env: [{ name: "X", configMap: { name: "missing", key: "k" } }] }));
    const r = await cli(["validate", dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^web\.yaml:\d+:\d+: error SchemaViolation Deployment\/default\/web spec\.template\.spec\.containers\[0\]\.image: /m);
    expect(r.stdout).toMatch(/^web\.yaml:\d+:\d+: error SchemaViolation Deployment\/default\/web spec\.template\.spec\.containers\[0\]\.colour: unknown field "colour"/m);
    expect(r.stdout).toMatch(/^app\.yaml:\d+:\d+: error MissingReference Deployment\/default\/app /m);
  });

  it("accepts Services, prints their warnings (a selector that matches nothing) and exits 0, and their errors exit 1", async () => {
    await writeFile(path.join(dir, "web.yaml"), deploymentYaml({ name: "web" }));
    await writeFile(path.join(dir, "svc.yaml"), `${serviceYaml({ name: "web" })}---\n${serviceYaml({ name: "other", selector: "nothing" })}`);
    const ok = await cli(["validate", dir]);
    expect(ok.stdout).toMatch(/^svc\.yaml:\d+:\d+: warning MissingReference Service\/default\/other spec\.selector: selects no pods/m);
    expect(ok.stdout.trim().split("\n").at(-1)).toBe("3 objects in 2 files: valid, 1 warning");
    expect(ok.code).toBe(0);
    await writeFile(path.join(dir, "svc.yaml"), serviceYaml({ name: "web", type: "NodePort", ports: [{ port: 80, targetPort: "http", nodePort: 8080 }] }));
    const bad = await cli(["validate", dir]);
    expect(bad.stdout).toMatch(/^svc\.yaml:\d+:\d+: error InvalidField Service\/default\/web spec\.ports\[0\]\.nodePort: nodePort 8080 is outside 30000-32767/m);
    expect(bad.code).toBe(1);
  });

  it("accepts what means nothing on Docker hosts with warnings (exit 0), and --strict makes them errors (exit 1)", async () => {
    await writeFile(path.join(dir, "sa.yaml"), "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n");
    await writeFile(path.join(dir, "web.yaml"), deploymentYaml({ name: "web" }).replace("    spec:\n", "    spec:\n      serviceAccountName: web\n"));
    const lax = await cli(["validate", dir]);
    expect(lax.stdout).toMatch(/^sa\.yaml:2:7: warning IgnoredKind ServiceAccount\/default\/web kind: ServiceAccount is ignored: /m);
    expect(lax.stdout).toMatch(/^web\.yaml:\d+:\d+: warning InvalidField Deployment\/default\/web spec\.template\.spec\.serviceAccountName: "web" is ignored: /m);
    expect(lax.stdout.trim().split("\n").at(-1)).toBe("2 objects in 2 files (1 ignored): valid, 2 warnings");
    expect(lax.code).toBe(0);
    const strict = await cli(["validate", "--strict", dir]);
    expect(strict.stdout).toMatch(/^sa\.yaml:2:7: error IgnoredKind ServiceAccount\/default\/web kind: .*--strict/m);
    expect(strict.stdout.trim().split("\n").at(-1)).toBe("2 objects in 2 files (1 ignored): invalid, 2 errors");
    expect(strict.code).toBe(1);
  });

  it("says of each unknown kind in one line where the kinds are, and lists them once at the end", async () => {
    for (const kind of ["Certificate", "ServiceMonitor", "Widget"]) await writeFile(path.join(dir, `${kind}.yaml`), `apiVersion: example.com/v1\nkind: ${kind}\nmetadata:\n  name: x\n`);
    const r = await cli(["validate", dir]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split("\n");
    const unknown = lines.filter((l) => / error UnknownKind /.test(l));
    expect(unknown).toHaveLength(3);
    for (const l of unknown) expect(l).not.toContain("Deployment");
    expect(lines.filter((l) => l.startsWith("kinds coxswain reads: "))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith("kinds coxswain ignores, with a warning: "))).toHaveLength(1);
    expect(lines.at(-1)).toBe("3 objects in 3 files: invalid, 3 errors");
  });

  it("tells a Compose file, Helm values or a kustomization under the path that they are not manifests, and names --path", async () => {
    await writeFile(path.join(dir, "docker-compose.yml"), "services:\n  web:\n    image: nginx\n");
    await writeFile(path.join(dir, "values.yaml"), "replicaCount: 2\n");
    await writeFile(path.join(dir, "kustomization.yaml"), "resources:\n  - web.yaml\n");
    const r = await cli(["validate", dir]);
    expect(r.code).toBe(1);
    for (const f of ["docker-compose\\.yml", "values\\.yaml", "kustomization\\.yaml"]) {
      expect(r.stdout).toMatch(new RegExp(`^${f}:1:1: error InvalidDocument no "apiVersion" and no "kind", so this is not a Kubernetes manifest: .*--path`, "m"));
    }
  });

  it("exits 2 with a usage error when the directory is missing from the command line", async () => {
    const r = await cli(["validate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/InvalidArgument/);
  });

  it("reads 2,000 files with only 256 file descriptors allowed", async () => {
    for (let i = 0; i < 2000; i++) {
      const sub = path.join(dir, `team-${i % 10}`);
      if (i < 10) await mkdir(sub);
      await writeFile(path.join(sub, `cm-${i}.yaml`), configMapYaml(`cm-${i}`, { k: String(i) }));
    }
    const r = await cli(["validate", dir], ROOT, {}, 256);
    expect(r.stderr).not.toMatch(/EMFILE/);
    expect(r.stdout).toMatch(/^2000 objects in 2000 files: valid$/m);
    expect(r.code).toBe(0);
  });

  it("applies the limits given by flags and names the flag to raise", async () => {
    await writeFile(path.join(dir, "cm.yaml"), configMapYaml("cm", { k: "x".repeat(2000) }));
    await writeFile(path.join(dir, "two.yaml"), `${configMapYaml("a", { k: "v" })}---\n${configMapYaml("b", { k: "v" })}`);
    expect((await cli(["validate", dir])).code).toBe(0);
    const r = await cli(["validate", "--manifest-max-file-size", "1Ki", "--manifest-max-documents", "1", dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^cm\.yaml:1:1: error FileTooLarge .*--manifest-max-file-size/m);
    expect(r.stdout).toMatch(/^two\.yaml:8:1: error TooManyDocuments .*--manifest-max-documents/m);
    const total = await cli(["validate", "--manifest-max-total-size", "2048", dir]);
    expect(total.code).toBe(1);
    expect(total.stdout).toMatch(/^cm\.yaml:1:1: error ManifestsTooLarge .*--manifest-max-total-size/m);
  });

  it("refuses a symbolic link as the operator does", async () => {
    await writeFile(path.join(dir, "cm.yaml"), configMapYaml("cm", { k: "v" }));
    await symlink("cm.yaml", path.join(dir, "again.yaml"));
    const r = await cli(["validate", dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^again\.yaml:1:1: error SymlinkNotAllowed /m);
  });

  it.each([
    ["a size that is not a size", ["--manifest-max-file-size", "big"]],
    ["a size of zero", ["--manifest-max-total-size", "0"]],
    ["a fractional document count", ["--manifest-max-documents", "1.5"]],
  ])("refuses %s with a usage error (exit 2)", async (_, flags) => {
    const r = await cli(["validate", ...flags, dir]);
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
    const r = await cli(["plan", "--repo", repo.dir, "--from", from, "--to", to, "--offline"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toBe(`plan ${from.slice(0, 7)}..${to.slice(0, 7)}`);
    expect(lines).toContain("  update ConfigMap/default/cfg (data.A 1 → 2)");
    expect(lines.find((l) => l.startsWith("  update Deployment/default/web"))).toMatch(/\(replicas 3 → 5\) → rolls out revision [0-9a-f]{10} \(5 replicas\)/);
    expect(lines.find((l) => l.startsWith("  create Deployment/default/new"))).toMatch(/→ rolls out revision/);
    expect(lines).toContain("  delete Deployment/default/old");
    expect(lines.at(-1)).toBe("1 to create, 2 to update, 1 to delete");
    // Dependencies first, deletions last.
    expect(lines.indexOf("  update ConfigMap/default/cfg (data.A 1 → 2)")).toBeLessThan(lines.findIndex((l) => l.includes("Deployment/default/web")));
    expect(lines.at(-2)).toBe("  delete Deployment/default/old");
  });

  it("plans Services as objects created, updated and deleted, with no rollout of their own", async () => {
    await repo.write("web.yaml", deploymentYaml({ name: "web" }));
    await repo.write("svc.yaml", serviceYaml({ name: "web" }));
    await repo.write("old.yaml", serviceYaml({ name: "old", selector: "web" }));
    const from = await repo.commit("one");
    await repo.write("svc.yaml", serviceYaml({ name: "web", ports: [{ port: 8080, targetPort: "http" }] }));
    await repo.rm("old.yaml");
    await repo.write("new.yaml", serviceYaml({ name: "new", selector: "web", type: "NodePort", ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }] }));
    const to = await repo.commit("two");
    const r = await cli(["plan", "--repo", repo.dir, "--from", from, "--to", to, "--offline"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toContain("  create Service/default/new");
    expect(lines).toContain("  update Service/default/web (ports changed)");
    expect(lines).toContain("  delete Service/default/old");
    expect(lines.at(-1)).toBe("1 to create, 1 to update, 1 to delete");
  });

  it("plans everything as created when nothing was applied yet, and prints JSON on request", async () => {
    await repo.write("web.yaml", deploymentYaml({ name: "web" }));
    await repo.commit("one");
    const r = await cli(["plan", "--repo", repo.dir, "--output", "json", "--offline"]);
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
    expect(r.stdout).toMatch(/web\.yaml:5:\d+: error SchemaViolation Deployment\/default\/web spec/);
  });

  it("judges a commit with the limits given by flags, as the operator would", async () => {
    await repo.write("two.yaml", `${configMapYaml("a", { k: "v" })}---\n${configMapYaml("b", { k: "v" })}`);
    await repo.commit("two documents in one file");
    expect((await cli(["plan", "--repo", repo.dir, "--offline"])).code).toBe(0);
    const r = await cli(["plan", "--repo", repo.dir, "--offline", "--manifest-max-documents", "1"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/two\.yaml:8:1: error TooManyDocuments /);
  });
});

describe("coxswain plan with placements (process runtime, read-only)", () => {
  let repo: TestRepo;
  let state: string;
  beforeEach(async () => {
    repo = await makeRepo();
    state = await tempDir("coxswain-plan-state-");
  });
  afterEach(async () => {
    await repo.cleanup();
    await rm(state, { recursive: true, force: true });
  });
  const planArgs = (extra: string[]) => ["plan", "--repo", repo.dir, "--runtime", "process", "--state-dir", state, ...extra];

  it("places each new pod of any ref (a proposal branch) and prints the same plan as JSON", async () => {
    await repo.write("web.yaml", deploymentYaml({ name: "web", replicas: 1, cpu: "100m" }));
    const base = await repo.commit("base");
    await repo.git(["checkout", "--quiet", "-b", "pr/more"]);
    await repo.write("web.yaml", deploymentYaml({ name: "web", replicas: 3, cpu: "100m", image: "app:v2" }));
    await repo.commit("three replicas of v2");
    const text = await cli(planArgs(["--from", base, "--to", "pr/more"]));
    expect(text.code).toBe(0);
    const lines = text.stdout.trim().split("\n");
    expect(lines.find((l) => l.startsWith("  update Deployment/default/web"))).toMatch(/→ rolls out revision ([0-9a-f]{10}) \(3 replicas\)/);
    const placed = lines.filter((l) => /^ {6}web-[0-9a-f]{10}-[123] → local$/.test(l));
    expect(placed).toHaveLength(3);
    expect(lines.at(-1)).toBe("0 to create, 1 to update, 0 to delete; 3 new pod(s) on 1 node(s): 3 fit");
    const json = await cli(planArgs(["--from", base, "--to", "pr/more", "--output", "json"]));
    const plan = JSON.parse(json.stdout);
    expect(plan.nodes).toEqual(["local"]);
    expect(plan.changes[0].placements).toEqual([1, 2, 3].map((n) => ({ pod: `web-${plan.changes[0].rollsTo.revision}-${n}`, node: "local", fits: true })));
  });

  it("says why a pod fits nowhere in Kubernetes' words and exits 1", async () => {
    await repo.write("web.yaml", deploymentYaml({ name: "web", replicas: 1, cpu: "100000" }));
    await repo.commit("too big");
    const r = await cli(planArgs([]));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ {6}web-[0-9a-f]{10}-1 does not fit: 0\/1 nodes are available: 1 Insufficient cpu\./m);
    expect(r.stdout.trim().split("\n").at(-1)).toBe("1 to create, 0 to update, 0 to delete; 1 new pod(s) on 1 node(s): 0 fit, 1 do not fit");
  });
});

describe("coxswain kinds", () => {
  it("lists the kinds coxswain reads and those it ignores, with why", async () => {
    const r = await cli(["kinds"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}DaemonSet +apps\/v1$/m);
    expect(r.stdout).toMatch(/^ {2}Deployment +apps\/v1$/m);
    expect(r.stdout).toMatch(/^ {2}HorizontalPodAutoscaler +autoscaling\/v2$/m);
    expect(r.stdout).toMatch(/^ {2}Rollout +argoproj\.io\/v1alpha1 or coxswain\.io\/v1alpha1$/m);
    expect(r.stdout).toMatch(/^ {2}StatefulSet +apps\/v1$/m);
    expect(r.stdout).toMatch(/^ {2}NetworkPolicy +networking\.k8s\.io\/v1: coxswain does not filter traffic between pods/m);
    expect(r.stdout).toMatch(/^ {2}ServiceAccount +v1: /m);
  });

  it("takes no arguments (exit 2)", async () => {
    const r = await cli(["kinds", "extra"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/InvalidArgument/);
  });
});

describe("coxswain status and history are commands", () => {
  it("lists them in the usage", async () => {
    const r = await cli(["help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}coxswain status --repo/m);
    expect(r.stdout).toMatch(/^ {2}coxswain history --repo/m);
    expect(r.stdout).toMatch(/^ {2}coxswain kinds /m);
    expect(r.stdout).toMatch(/--strict/);
    expect(r.stdout).toMatch(/--webhook-secret-file/);
    expect(r.stdout).toMatch(/--preview-envs/);
  });

  it("runs them: a repository coxswain never wrote to is BranchNotFound (exit 1)", async () => {
    const repo = await makeRepo();
    try {
      await repo.write("a.yaml", "x: 1\n");
      await repo.commit("one");
      for (const cmd of ["status", "history"]) {
        const r = await cli([cmd, "--repo", repo.dir]);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/^error BranchNotFound: /m);
      }
    } finally {
      await repo.cleanup();
    }
  });
});

describe("coxswain run refuses bad flags and never prints a secret", () => {
  it.each([
    { name: "a webhook secret without --listen", args: ["--webhook-secret-file", "/nonexistent"], error: /--webhook-secret-file needs --listen/ },
    { name: "--preview-ttl without --preview-envs", args: ["--preview-ttl", "1h"], error: /--preview-ttl needs --preview-envs/ },
    { name: "an empty proposal glob", args: ["--preview-branches", ""], error: /--preview-branches: expected a value/ },
    { name: "a blank proposal glob", args: ["--preview-branches", " "], error: /--preview-branches: expected a glob/ },
    { name: "a listen address that is not HOST:PORT", args: ["--listen", "nowhere"], error: /--listen: expected HOST:PORT/ },
    { name: "a manifest size limit that is not a size", args: ["--manifest-max-file-size", "4 megabytes"], error: /--manifest-max-file-size: expected a size/ },
    { name: "a parse cache of zero bytes", args: ["--manifest-cache-size", "0"], error: /--manifest-cache-size: expected a size/ },
  ])("refuses $name with a usage error (exit 2)", async ({ args, error }) => {
    const state = await tempDir("coxswain-run-");
    try {
      const r = await cli(["run", "--repo", state, "--state-dir", state, "--runtime", "process", ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(error);
    } finally {
      await rm(state, { recursive: true, force: true });
    }
  });

  it("names where the credentials come from, never their value, and refuses a bad credentials file by line", async () => {
    const state = await tempDir("coxswain-run-");
    try {
      const file = path.join(state, "creds");
      await writeFile(file, "username=deployer\nghp_SECRETTOKEN123\n", { mode: 0o600 });
      const r = await cli(["run", "--repo", "http://127.0.0.1:9/none.git", "--state-dir", state, "--git-credentials-file", file]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/line 2: expected key=value/);
      expect(r.stdout + r.stderr).not.toContain("SECRETTOKEN");
      const env = await cli(["run", "--repo", "http://127.0.0.1:9/none.git", "--state-dir", state, "--git-timeout", "2s"], ROOT, {
        COXSWAIN_GIT_USERNAME: "deployer",
        COXSWAIN_GIT_PASSWORD: "pa55-SECRET-word",
      });
      expect(env.stdout).toMatch(/git credentials: from environment \(COXSWAIN_GIT_USERNAME\/COXSWAIN_GIT_PASSWORD\)/);
      expect(env.code).toBe(1); // nothing listens on port 9
      expect(env.stdout + env.stderr).not.toContain("pa55-SECRET-word");
    } finally {
      await rm(state, { recursive: true, force: true });
    }
  });
});
