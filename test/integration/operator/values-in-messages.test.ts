/**
 * Values never reach what the operator writes: the whole pipeline in-process on a real Git repository with
 * the process runtime (real processes). A rejected env value, a ConfigMap value env reads, and the
 * operator's own PATH are each a distinctive marker; after the operator has dealt with them, the marker is
 * in none of the log lines, the status branch (every file), or the notes — while the error itself (its
 * code, file, line and field) is recorded there.
 */
import { rm } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ProcessRuntime } from "../../../operator/src/runtime/process/index.js";
import type { RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { configMapYaml, deploymentYaml } from "../../support/manifests.js";
import { waitFor } from "../../support/wait.js";
import { startTestOperator } from "../../support/operator-fixture.js";

const VALUE_MARKER = "Vq81envSecretZt";
const CONFIG_MARKER = "Cm44configSecretRw";
const PATH_MARKER = "Pw52operatorPathMk";

describe("values in the operator's messages (process runtime)", () => {
  let repo: TestRepo;
  let stateDir: string;
  let op: RunningOperator | undefined;
  const lines: string[] = [];
  const savedPath = process.env.PATH;

  beforeEach(async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-values-");
    lines.length = 0;
  });

  afterEach(async () => {
    await op?.stop();
    op = undefined;
    process.env.PATH = savedPath;
    const rt = new ProcessRuntime({ stateDir, owner: "coxswain" });
    for (const c of await rt.list()) await rt.remove(c.id);
    await rt.close();
    await repo.cleanup();
    await rm(stateDir, { recursive: true, force: true });
  });

  async function start(): Promise<RunningOperator> {
    op = await startTestOperator(repo, stateDir, lines, { runtime: "process", defaultPortRange: { from: 62500, to: 62599 } });
    return op;
  }

  /** Everything written to Git: every file of the status branch and every note, as one text. */
  async function written(): Promise<string> {
    await op!.flushStatus();
    const git = (args: string[]) => runGit(args, { cwd: repo.dir });
    const out: string[] = [];
    for (const ref of ["coxswain/status", "refs/notes/coxswain"]) {
      const paths = (await git(["ls-tree", "-r", "--name-only", ref])).split("\n").filter(Boolean);
      for (const p of paths) out.push(`${ref}:${p}\n${await git(["show", `${ref}:${p}`])}`);
    }
    return out.join("\n");
  }

  async function commitRecord(oid: string): Promise<string | undefined> {
    await op!.flushStatus();
    return runGit(["show", `coxswain/status:commits/${oid.slice(0, 2)}/${oid}.yaml`], { cwd: repo.dir }).catch(() => undefined);
  }

  it("records an env value with a NUL byte as InvalidField at its file, line and field, and writes the value nowhere", async () => {
    await repo.write("web.yaml", deploymentYaml({ replicas: 1, command: ["sleep", "300"], ports: false, env: [{ name: "TOKEN", value: `abc\u0000${VALUE_MARKER}` }] }));
    const bad = await repo.commit("a token with a NUL byte");
    await start();
    const record = await waitFor("the commit recorded Invalid", async () => {
      const r = await commitRecord(bad);
      return r && /^phase: Invalid/m.test(r) ? r : undefined;
    });
    expect(record).toMatch(/code: InvalidField/);
    expect(record).toMatch(/file: web.yaml/);
    expect(record).toMatch(/field: spec.template.spec.containers\[0\].env\[0\].value/);
    const everything = `${await written()}\n${lines.join("\n")}`;
    expect(everything).toContain("InvalidField");
    expect(everything).not.toContain(VALUE_MARKER);
  });

  it("records a ConfigMap value with a NUL byte that env reads as InvalidField at the reference, and writes the value nowhere", async () => {
    await repo.write("config.yaml", configMapYaml("settings", { token: `${CONFIG_MARKER}\u0000` }));
    await repo.write("web.yaml", deploymentYaml({ replicas: 1, command: ["sleep", "300"], ports: false, env: [{ name: "TOKEN", configMap: { name: "settings", key: "token" } }] }));
    const bad = await repo.commit("a ConfigMap value with a NUL byte");
    await start();
    const record = await waitFor("the commit recorded Invalid", async () => {
      const r = await commitRecord(bad);
      return r && /^phase: Invalid/m.test(r) ? r : undefined;
    });
    expect(record).toMatch(/field: spec.template.spec.containers\[0\].env\[0\].valueFrom.configMapKeyRef.key/);
    const everything = `${await written()}\n${lines.join("\n")}`;
    expect(everything).not.toContain(CONFIG_MARKER);
  });

  it("reports a program missing from PATH as CommandNotFound without the operator's PATH or the container's", async () => {
    process.env.PATH = `/nonexistent/${PATH_MARKER}/bin:${savedPath ?? "/usr/bin:/bin"}`;
    await repo.write(
      "web.yaml",
      [
        deploymentYaml({ name: "inherits", replicas: 1, command: ["cx-no-such-program"], ports: false }),
        deploymentYaml({ name: "own-path", replicas: 1, command: ["cx-no-such-program"], ports: false, env: [{ name: "PATH", value: `/opt/${VALUE_MARKER}/bin` }] }),
      ].join("---\n"),
    );
    await repo.commit("two programs that do not exist");
    await start();
    await waitFor(
      "CommandNotFound for both workloads in the log",
      () => ["Deployment/default/inherits", "Deployment/default/own-path"].every((w) => lines.some((l) => l.includes(w) && l.includes("CommandNotFound"))),
      60_000,
    );
    const everything = `${await written()}\n${lines.join("\n")}`;
    expect(everything).toContain("cx-no-such-program");
    expect(everything).not.toContain(PATH_MARKER);
    expect(everything).not.toContain(VALUE_MARKER);
  });
});
