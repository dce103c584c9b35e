/**
 * The corpus: manifests in the form of the public examples people copy (test/fixtures/corpus: Kubernetes'
 * guestbook, Docker's voting app, a microservices shop with ServiceAccounts, RBAC, NetworkPolicies, a
 * PodDisruptionBudget, an autoscaler, probes and a kubectl export), written as people harden them now (Secrets
 * through env, envFrom and volumes, ConfigMap and emptyDir volumes, non-root read-only containers without
 * capabilities, resources, probes), validated and planned through the CLI as users run it. Each must be
 * valid (exit 0) with exactly the warnings its <name>.expected.yaml lists — given the policy file it names,
 * if any, and refused without it (PolicyDenied: the capabilities it adds back) —
 * plan the objects it lists from a Git repository (--path, beside YAML that is not a manifest), place every
 * pod of the guestbook on the process runtime's node (its frontend asks for kubernetes.io/os: linux), and
 * fail as a whole with --strict when it has warnings.
 */
import { cp, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import YAML from "yaml";
import { ROOT, runCli as cli } from "../../support/cli.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";

const CORPUS = path.join(ROOT, "test/fixtures/corpus");
const NAMES = ["guestbook", "voting-app", "shop"] as const;

interface Expected {
  summary: string;
  /** The operator's policy file the app needs (beside the expectations), and the fields refused without it. */
  policy?: { file: string; deniedWithout: string[] };
  warnings: string[];
  creates: string[];
}

async function expected(name: string): Promise<Expected> {
  return YAML.parse(await readFile(path.join(CORPUS, `${name}.expected.yaml`), "utf8")) as Expected;
}

/** --policy-file and the app's policy file, when it needs one. */
function policyArgs(want: Expected): string[] {
  return want.policy ? ["--policy-file", path.join(CORPUS, want.policy.file)] : [];
}

/** A diagnostic line as the expectations list it: "file:line Code Object field" (the message left out). */
function short(line: string): { severity: string; text: string } | undefined {
  const m = /^([^:\s]+):(\d+):\d+: (warning|error) (.*?): /.exec(line.trim());
  return m ? { severity: m[3]!, text: `${m[1]}:${m[2]} ${m[4]}` } : undefined;
}

describe.each(NAMES)("the %s corpus", (name) => {
  let repo: TestRepo;
  let state: string;
  beforeEach(async () => {
    repo = await makeRepo();
    state = await tempDir("coxswain-corpus-state-");
  });
  afterEach(async () => {
    await repo.cleanup();
    await rm(state, { recursive: true, force: true });
  });

  it("validates with exit 0 and exactly the expected warnings, each naming its object", async () => {
    const want = await expected(name);
    const r = await cli(["validate", path.join(CORPUS, name), ...policyArgs(want)]);
    expect(r.stderr).toBe("");
    const lines = r.stdout.trim().split("\n");
    expect(lines.at(-1)).toBe(want.summary);
    const diagnostics = lines.slice(0, -1).map(short);
    expect(diagnostics.every((d) => d?.severity === "warning")).toBe(true);
    expect(diagnostics.map((d) => d!.text)).toEqual(want.warnings);
    expect(r.code).toBe(0);
    if (want.policy) {
      const without = await cli(["validate", path.join(CORPUS, name)]);
      expect(without.code).toBe(1);
      const errors = without.stdout
        .trim()
        .split("\n")
        .map(short)
        .filter((d) => d?.severity === "error");
      expect(errors.map((d) => d!.text)).toEqual(want.policy.deniedWithout);
    }
  });

  it("plans every object from a repository's --path, printing the same warnings, with exit 0; --strict refuses it when it has warnings", async () => {
    const want = await expected(name);
    await cp(path.join(CORPUS, name), path.join(repo.dir, "deploy"), { recursive: true });
    // YAML beside the manifests that is not one: outside --path it is never read.
    await repo.write("docker-compose.yml", "services:\n  web:\n    image: nginx\n");
    await repo.write(".github/workflows/ci.yml", "on: push\n");
    const commit = await repo.commit(name);
    const r = await cli(["plan", "--repo", repo.dir, "--path", "deploy", "--offline", ...policyArgs(want)]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toBe(`plan (nothing)..${commit.slice(0, 7)}`);
    // Paths in a commit are the repository's: deploy/<file>.
    expect(
      lines
        .map(short)
        .filter((d) => d !== undefined)
        .map((d) => d.text),
    ).toEqual(want.warnings.map((w) => `deploy/${w}`));
    const created = lines.filter((l) => l.startsWith("  create ")).map((l) => l.slice("  create ".length).split(" ")[0]);
    expect([...created].sort()).toEqual(want.creates);
    expect(lines.at(-1)).toBe(`${want.creates.length} to create, 0 to update, 0 to delete`);

    const strict = await cli(["plan", "--repo", repo.dir, "--path", "deploy", "--offline", "--strict", ...policyArgs(want)]);
    if (want.warnings.length === 0) {
      expect(strict.code).toBe(0);
    } else {
      expect(strict.code).toBe(1);
      const errors = strict.stdout
        .trim()
        .split("\n")
        .map(short)
        .filter((d) => d !== undefined);
      expect(errors.map((d) => d.severity)).toEqual(want.warnings.map(() => "error"));
      expect(strict.stdout.trim().split("\n").at(-1)).toBe(`${want.warnings.length} error(s): this commit would not be applied`);
    }
  });

  if (name === "guestbook") {
    it("places every pod on the process runtime's node, the frontend's nodeSelector kubernetes.io/os: linux included", async () => {
      await cp(path.join(CORPUS, name), repo.dir, { recursive: true });
      await repo.commit(name);
      const r = await cli(["plan", "--repo", repo.dir, "--runtime", "process", "--state-dir", state]);
      expect(r.code).toBe(0);
      const lines = r.stdout.trim().split("\n");
      expect(lines.filter((l) => /^ {6}frontend-[0-9a-f]{10}-[123] → local$/.test(l))).toHaveLength(3);
      expect(lines.at(-1)).toBe("8 to create, 0 to update, 0 to delete; 6 new pod(s) on 1 node(s): 6 fit");
    });
  }
});
