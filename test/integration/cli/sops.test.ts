/**
 * SOPS-encrypted Secrets through the CLI as users run it: `validate` and `plan` decrypt with the age
 * identities of --age-key-file or of the file SOPS_AGE_KEY_FILE names; without a key (or with a key file
 * that is no key file) they refuse, naming file:line or the key file — and no decrypted value is ever
 * printed, not even in `plan --output json`.
 */
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli as cli } from "../../support/cli.js";
import { makeRepo, tempDir } from "../../support/git-repo.js";
import { deploymentYaml } from "../../support/manifests.js";
import { newAgeKey, sopsEncrypt } from "../../support/sops.js";

const TOKEN = "Kx71cliSopsTokenQm";
const PASSWORD = "Lw38cliSopsPasswordNv";
const LEAK = new RegExp(`${TOKEN}|${PASSWORD}`);

describe("SOPS-encrypted Secrets in coxswain validate and plan", () => {
  let dir: string;
  let keyFile: string;
  let secretYaml: string;

  beforeAll(async () => {
    dir = await tempDir("coxswain-sops-cli-");
    const key = await newAgeKey();
    keyFile = path.join(dir, "keys.txt");
    await writeFile(keyFile, key.file, { mode: 0o600 });
    secretYaml = await sopsEncrypt(
      { apiVersion: "v1", kind: "Secret", metadata: { name: "db" }, stringData: { token: TOKEN, password: PASSWORD } },
      { recipients: [key.recipient], encryptedRegex: "^(data|stringData)$" },
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function manifestsDir(): Promise<string> {
    const m = await tempDir("coxswain-sops-manifests-");
    await writeFile(path.join(m, "secret.yaml"), secretYaml);
    await writeFile(path.join(m, "web.yaml"), deploymentYaml({ name: "web", replicas: 1 }));
    return m;
  }

  it("validate decrypts with --age-key-file and with SOPS_AGE_KEY_FILE, and refuses without a key at file:line (exit 1)", async () => {
    const m = await manifestsDir();
    try {
      const flag = await cli(["validate", m, "--age-key-file", keyFile]);
      expect(flag.stdout.trim().split("\n").at(-1)).toBe("2 objects in 2 files: valid");
      expect(flag.code).toBe(0);
      const env = await cli(["validate", m], undefined, { SOPS_AGE_KEY_FILE: keyFile });
      expect(env.code).toBe(0);
      const none = await cli(["validate", m], undefined, { SOPS_AGE_KEY_FILE: "" });
      expect(none.code).toBe(1);
      expect(none.stdout).toMatch(/^secret\.yaml:\d+:\d+: error SecretUndecryptable .*sops: .*--age-key-file/m);
      for (const r of [flag, env, none]) expect(r.stdout + r.stderr).not.toMatch(LEAK);
    } finally {
      await rm(m, { recursive: true, force: true });
    }
  });

  it("refuses a key file that cannot be read or holds no identity as a usage error naming the file", async () => {
    const m = await manifestsDir();
    const bad = path.join(dir, "not-a-key.txt");
    await writeFile(bad, "hello\n");
    try {
      for (const f of [bad, path.join(dir, "missing.txt")]) {
        const r = await cli(["validate", m, "--age-key-file", f]);
        expect(r.code).toBe(2);
        expect(r.stderr).toContain(f);
      }
    } finally {
      await rm(m, { recursive: true, force: true });
    }
  });

  it("plan --output json shows the Secret created by its name and key names only", async () => {
    const repo = await makeRepo();
    try {
      await repo.write("secret.yaml", secretYaml);
      await repo.write("web.yaml", deploymentYaml({ name: "web", replicas: 1 }));
      await repo.commit("an encrypted Secret");
      const r = await cli(["plan", "--repo", repo.dir, "--output", "json", "--offline", "--age-key-file", keyFile]);
      expect(r.code).toBe(0);
      const plan = JSON.parse(r.stdout);
      expect(plan.valid).toBe(true);
      expect(plan.changes).toEqual(expect.arrayContaining([expect.objectContaining({ action: "create", key: "Secret/default/db" })]));
      expect(r.stdout + r.stderr).not.toMatch(LEAK);
      const none = await cli(["plan", "--repo", repo.dir, "--output", "json", "--offline"], undefined, { SOPS_AGE_KEY_FILE: "" });
      expect(JSON.parse(none.stdout).valid).toBe(false);
      expect(none.stdout).toContain("SecretUndecryptable");
    } finally {
      await repo.cleanup();
    }
  });
});
