/**
 * SOPS-encrypted Secrets through the running operator (in-process, a real Git repository, the process
 * runtime running real processes): a commit with two encrypted Secrets (encrypted_regex, and sops' default
 * of every value encrypted) and a Deployment is applied; a later commit whose Secret had a value changed,
 * was encrypted for another key only, or had its MAC changed is Invalid with SecretUndecryptable at
 * file:line and applies nothing — the Deployment change in the same commit does not happen. No secret value
 * appears in any status-branch file, note, log line or `plan --output json`.
 */
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgeKeyring } from "../../../operator/src/manifest/sops.js";
import { ProcessRuntime } from "../../../operator/src/runtime/process/index.js";
import type { RunningOperator } from "../../../operator/src/sync/operator.js";
import { startProcessOperator } from "../../support/in-process-operator.js";
import { runCli } from "../../support/cli.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { deploymentYaml } from "../../support/manifests.js";
import { newAgeKey, sopsEncrypt } from "../../support/sops.js";
import { findSecrets, gitWritten, type ScannedText } from "../../support/secret-scan.js";
import { waitFor } from "../../support/wait.js";

const VALUES = ["Ds52dbPasswordSopsRk", "Ap17apiTokenSopsWq", "Ck90certKeySopsHe", "Mv63movedValueSopsPz"];

describe("SOPS-encrypted Secrets in the running operator (process runtime)", () => {
  let repo: TestRepo;
  let stateDir: string;
  let keyDir: string;
  let op: RunningOperator | undefined;
  const lines: string[] = [];

  beforeEach(async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-sops-");
    keyDir = await tempDir("coxswain-sops-keys-");
    lines.length = 0;
  });

  afterEach(async () => {
    await op?.stop();
    op = undefined;
    const rt = new ProcessRuntime({ stateDir, owner: "coxswain" });
    for (const c of await rt.list()) await rt.remove(c.id);
    await rt.close();
    await repo.cleanup();
    await rm(stateDir, { recursive: true, force: true });
    await rm(keyDir, { recursive: true, force: true });
  });

  /** What the operator wrote to Git, once its status is flushed. */
  async function written(): Promise<ScannedText[]> {
    await op!.flushStatus();
    return gitWritten(repo.dir);
  }

  async function record(oid: string): Promise<string> {
    await op!.flushStatus();
    return runGit(["show", `coxswain/status:commits/${oid.slice(0, 2)}/${oid}.yaml`], { cwd: repo.dir }).catch(() => "");
  }

  async function phase(oid: string): Promise<string | undefined> {
    return /^phase: (\w+)/m.exec(await record(oid))?.[1];
  }

  it("applies a commit with encrypted Secrets, refuses tampered or foreign ones at file:line, and writes no value anywhere", async () => {
    const key = await newAgeKey();
    const stranger = await newAgeKey();
    const keyFile = path.join(keyDir, "keys.txt");
    await writeFile(keyFile, key.file, { mode: 0o600 });
    const age = await AgeKeyring.fromFile(keyFile);
    const [password, token, certKey, moved] = VALUES as [string, string, string, string];
    const regexSecret = (recipient: string) =>
      sopsEncrypt({ apiVersion: "v1", kind: "Secret", metadata: { name: "db" }, type: "Opaque", stringData: { password, token } }, { recipients: [recipient], encryptedRegex: "^(data|stringData)$" });
    const db = await regexSecret(key.recipient);
    const api = await sopsEncrypt(
      { apiVersion: "v1", kind: "Secret", metadata: { name: "api" }, data: { "tls.key": Buffer.from(certKey).toString("base64"), note: Buffer.from(moved).toString("base64") } },
      { recipients: [key.recipient] },
    );
    await repo.write("secrets/db.yaml", db);
    await repo.write("secrets/api.yaml", api);
    await repo.write("web.yaml", deploymentYaml({ replicas: 1, command: ["sleep", "300"], ports: false }));
    const good = await repo.commit("encrypted Secrets and a Deployment");
    op = await startProcessOperator(repo, stateDir, { from: 63700, to: 63799 }, lines, { manifests: { age } });
    await waitFor("the encrypted commit Succeeded", async () => (await phase(good)) === "Succeeded", 60_000);

    const passwordEnc = /password: (ENC\[[^\]]+\])/.exec(db)![1]!;
    const tokenEnc = /token: (ENC\[[^\]]+\])/.exec(db)![1]!;
    const dbLines = db.split("\n");
    const lineOf = (re: RegExp): number => dbLines.findIndex((l) => re.test(l)) + 1;
    const bad: [string, string, number, string][] = [
      [
        "a value changed by hand",
        db.replace(
          passwordEnc,
          passwordEnc.replace(/data:(.)/, (_m, c: string) => `data:${c === "A" ? "B" : "A"}`),
        ),
        lineOf(/^\s+password: ENC/),
        "stringData.password",
      ],
      ["two values swapped", db.replace(passwordEnc, "@@").replace(tokenEnc, passwordEnc).replace("@@", tokenEnc), lineOf(/^\s+password: ENC/), "stringData.password"],
      ["encrypted for another key only", await regexSecret(stranger.recipient), lineOf(/^sops:/) + 1, "sops"],
      ["a changed MAC", db.replace(/mac: ENC\[AES256_GCM,data:(.)/, (_m, c: string) => `mac: ENC[AES256_GCM,data:${c === "A" ? "B" : "A"}`), lineOf(/^\s+mac:/), "sops.mac"],
    ];
    for (const [what, content, line, field] of bad) {
      await repo.write("secrets/db.yaml", content);
      await repo.write("web.yaml", deploymentYaml({ replicas: 2, command: ["sleep", "300"], ports: false }));
      const commit = await repo.commit(what);
      await waitFor(`${what}: Invalid`, async () => (await phase(commit)) === "Invalid", 60_000);
      const text = await record(commit);
      expect(text, what).toMatch(/code: SecretUndecryptable/);
      expect(text, what).toMatch(/file: secrets\/db.yaml/);
      expect(text, what).toContain(`line: ${line}\n`);
      expect(text, what).toContain(`field: ${field}\n`);
      expect(op.sync.commit(), what).toBe(good); // nothing of the commit is applied: web keeps 1 replica
    }

    const plan = await runCli(["plan", "--repo", repo.dir, "--to", good, "--status-branch", "coxswain/none", "--output", "json", "--offline", "--age-key-file", keyFile]);
    expect(plan.code).toBe(0);
    expect(JSON.parse(plan.stdout).changes).toEqual(
      expect.arrayContaining([expect.objectContaining({ action: "create", key: "Secret/default/api" }), expect.objectContaining({ action: "create", key: "Secret/default/db" })]),
    );

    const texts = [...(await written()), { where: "the operator's log", text: lines.join("\n") }, { where: "plan --output json", text: `${plan.stdout}\n${plan.stderr}` }];
    const everything = texts.map((t) => t.text).join("\n");
    expect(everything).toContain("SecretUndecryptable");
    expect(everything).toContain("Secret/default/db"); // the Secrets are in what was scanned, by name
    expect(findSecrets(texts, VALUES)).toEqual([]);
  });
});
