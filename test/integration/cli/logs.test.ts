/**
 * `coxswain run --log-format json` as users run it (a child process of the sources), following an http(s)
 * remote with Git credentials, with a Secret in Git, a webhook secret and an API token file: every line it
 * prints is one JSON object (level, time, msg), a commit's lines carry its short sha and a workload's its
 * kind/ns/name — and no secret value is anywhere in the log, though each secret was used (a push through
 * the credentials, a signed webhook, an API request with the token, pods started with the Secret's values).
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ProcessRuntime } from "../../../operator/src/runtime/process/index.js";
import { sign } from "../../../operator/src/server/index.js";
import { startOperatorProcess, stopNodeProxies, type OperatorProcess } from "../../support/operator-process.js";
import { findSecrets } from "../../support/secret-scan.js";
import { Scope } from "../proposals/harness.js";

const GIT_PASSWORD = "gitpw-7Qd2LmZx91";
const WEBHOOK_SECRET = "whsec-Kp4Rt8Vb2Nn6";
const API_TOKEN = "apitok-Hs5Jw3Ey7Uq1";
const SECRET_V1 = "dbpass-Fq9Zc4Xm2Lr8";
const SECRET_V2 = "dbpass-Wt3Gy6Bn1Ps5";

/** A Secret and a Deployment whose pod reads it (a local process: the process runtime). */
function manifests(password: string): Record<string, string> {
  return {
    "secret.yaml": `apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: ${password}
`,
    "web.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: app
          image: local/app:v1
          command: ["sleep", "300"]
          env:
            - name: PASSWORD
              valueFrom: {secretKeyRef: {name: db, key: password}}
`,
  };
}

const scope = new Scope();
let op: OperatorProcess | undefined;
let stateDir: string | undefined;

afterEach(async () => {
  await op?.stop();
  op = undefined;
  if (stateDir) {
    await stopNodeProxies(stateDir);
    const rt = new ProcessRuntime({ stateDir, owner: "coxswain" });
    for (const c of await rt.list()) await rt.remove(c.id);
    await rt.close();
  }
  stateDir = undefined;
  await scope.cleanup();
});

describe("coxswain run --log-format json", () => {
  it("prints one JSON object a line, names each commit and workload as fields, and never a secret", async () => {
    const work = await scope.work();
    const { url } = await scope.served(work, { username: "deployer", password: GIT_PASSWORD });
    for (const [file, text] of Object.entries(manifests(SECRET_V1))) await work.write(file, text);
    const v1 = await work.commit("v1");
    await work.push("origin", "main");

    stateDir = await scope.dir("coxswain-logs-");
    const files = await scope.dir("coxswain-logs-files-");
    const creds = path.join(files, "git-credentials");
    const hookSecret = path.join(files, "webhook-secret");
    const tokens = path.join(files, "api-tokens");
    await writeFile(creds, `username=deployer\npassword=${GIT_PASSWORD}\n`, { mode: 0o600 });
    await writeFile(hookSecret, `${WEBHOOK_SECRET}\n`, { mode: 0o600 });
    await writeFile(tokens, `read ${API_TOKEN} alice\n`, { mode: 0o600 });

    op = startOperatorProcess([
      "run",
      "--repo",
      url,
      "--state-dir",
      stateDir,
      "--runtime",
      "process",
      "--poll-interval",
      "500ms",
      "--git-credentials-file",
      creds,
      "--listen",
      "127.0.0.1:0",
      "--webhook-secret-file",
      hookSecret,
      "--api-token-file",
      tokens,
      "--log-format",
      "json",
      "--log-level",
      "debug",
    ]);
    const listening = JSON.parse(await op.waitForLine(/listening on http:\/\/127\.0\.0\.1:\d+/, 120_000)) as { msg: string };
    const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(listening.msg)![1]!;
    await op.waitForLine(new RegExp(`"msg":"commit ${v1.slice(0, 7)} \\\\"v1\\\\": Succeeded`), 120_000);

    // The token and the webhook secret are used, rightly and wrongly.
    expect((await fetch(`${base}/api/v1/commits`, { headers: { authorization: `Bearer ${API_TOKEN}` } })).status).toBe(200);
    expect((await fetch(`${base}/api/v1/commits`, { headers: { authorization: "Bearer not-the-token-at-all" } })).status).toBe(401);
    const hook = (body: string, secret: string) =>
      fetch(`${base}/api/v1/webhooks/generic`, { method: "POST", headers: { "content-type": "application/json", "x-coxswain-signature-256": `sha256=${sign(secret, body)}` }, body });
    expect((await hook(JSON.stringify({ ref: "refs/heads/main" }), "not-the-webhook-secret")).status).toBe(401);

    // A new value of the Secret rolls the Deployment (a signed webhook brings the commit).
    for (const [file, text] of Object.entries(manifests(SECRET_V2))) await work.write(file, text);
    const v2 = await work.commit("v2: a new password");
    await work.push("origin", "main");
    expect((await hook(JSON.stringify({ ref: "refs/heads/main", after: v2 }), WEBHOOK_SECRET)).status).toBe(200);
    await op.waitForLine(new RegExp(`"msg":"commit ${v2.slice(0, 7)} \\\\"v2: a new password\\\\": Succeeded`), 120_000);
    await op.stop();

    const lines = op.lines.filter((l) => l.trim() !== "");
    const parsed = lines.map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON line: ${l}`);
      }
    });
    for (const o of parsed) {
      expect(["debug", "info", "warn", "error"]).toContain(o.level);
      expect(o.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(typeof o.msg).toBe("string");
    }
    const msgs = parsed.map((o) => o.msg as string);
    // What was used is said (where each secret came from), so that the scan below is not of an empty log.
    for (const said of [
      /^git credentials: from file /,
      /^webhook secret: from file /,
      /^api tokens: 1 from file /,
      /^webhook: refused a request from 127\.0\.0\.1/,
      /^webhook generic: push refs\/heads\/main/,
      /^SIGTERM: stopping/,
    ]) {
      expect(
        msgs.some((m) => said.test(m)),
        String(said),
      ).toBe(true);
    }
    // A commit's lines carry its sha; the workload's lines their workload and the commit they act on.
    for (const sha of [v1.slice(0, 7), v2.slice(0, 7)]) {
      const own = parsed.filter((o) => (o.msg as string).startsWith(`commit ${sha} `));
      expect(own.length).toBeGreaterThanOrEqual(2); // valid, Succeeded
      for (const o of own) expect(o.commit, o.msg as string).toBe(sha);
      const web = parsed.filter((o) => o.workload === "Deployment/default/web" && o.commit === sha);
      expect(web.length, `Deployment/default/web lines of ${sha}`).toBeGreaterThan(0);
    }
    for (const o of parsed.filter((o) => (o.msg as string).startsWith("Deployment/default/web "))) expect(o.workload).toBe("Deployment/default/web");
    expect(findSecrets([{ where: "the JSON log of coxswain run", text: lines.join("\n") }], [GIT_PASSWORD, WEBHOOK_SECRET, API_TOKEN, SECRET_V1, SECRET_V2])).toEqual([]);
  });
});
