/**
 * The web dashboard (`--ui`) in a real headless Chromium against a running operator (in-process, fake
 * runtime, a real Git repository behind it, real HTTP and the real event stream):
 * - a pushed commit shows up live: a canary Rollout with a Service goes to its step at 50 % (pods of both
 *   revisions, the traffic split) and, once a commit promotes it, to the new revision alone — the page is
 *   never reloaded (a marker set on it survives), the timeline shows the phases, the nodes their
 *   allocation bars;
 * - a commit page shows a validation error with file:line;
 * - the proposals page shows a proposal's plan;
 * - after the operator restarts, the page reconnects with Last-Event-ID and the new run's reset reloads
 *   what it missed (a commit pushed while it was down);
 * - with --api-token-file the page asks for a token (a wrong one is refused), then works and follows the
 *   events; no request URL carries the token, nor does the operator's log.
 * The operator keeps its default rate limit (10 requests a second per client): the page lives within it.
 * Screenshots: test-output/dashboard/*.png (gitignored).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { parseApiTokens } from "../../../operator/src/server/index.js";
import { launchChromium, requireChromium, screenshot } from "../../support/browser.js";
import { deploymentYaml, rolloutYaml, serviceYaml } from "../../support/manifests.js";
import { waitFor } from "../../support/wait.js";
import { operator, Scope, type TestOperator } from "../proposals/harness.js";

const SUITE = "dashboard";
const enabled = requireChromium("dashboard");
const scope = new Scope();
afterEach(() => scope.cleanup());

/** Generous waits: the machine is shared with other suites. */
const WAIT = 60_000;
const READ = "dashboard-read-token-7d1e0c";

/** Two fake nodes of 4 CPUs and 8 GiB. */
const NODES = `apiVersion: coxswain.io/v1alpha1
kind: Node
metadata:
  name: n1
spec:
  endpoint: unix:///fake/n1.sock
  network: host
  address: 127.0.0.1
  portRange: 46000-46499
---
apiVersion: coxswain.io/v1alpha1
kind: Node
metadata:
  name: n2
spec:
  endpoint: unix:///fake/n2.sock
  network: host
  address: 127.0.0.1
  portRange: 46500-46999
`;

/** A Deployment that asks for resources (the nodes' bars). */
const API = deploymentYaml({ name: "api", replicas: 2, image: "api:v1", cpu: "500m", memory: "256Mi" });
/** The canary Rollout: 50 %, then a pause until promoted. */
const shop = (image: string, promote?: string) => rolloutYaml({ name: "shop", replicas: 2, image, canary: [{ setWeight: 50 }, { pause: {} }], ...(promote !== undefined ? { promote } : {}) });

let browser: Browser;
beforeAll(async () => {
  if (enabled) browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

/** A new page (its own context: own sessionStorage) on the operator's dashboard, with every request URL and console error kept. */
async function open(t: TestOperator): Promise<{ page: Page; urls: string[]; errors: string[] }> {
  if (!browser.isConnected()) {
    // Seen once on a loaded machine: chromium went away between two tests. Said, and started again,
    // so that one lost browser fails no test of the page's own.
    console.warn("dashboard: chromium was disconnected; starting it again");
    browser = await launchChromium();
  }
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  scope.defer(() => context.close());
  const page = await context.newPage();
  const urls: string[] = [];
  const errors: string[] = [];
  page.on("request", (r) => urls.push(r.url()));
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  await page.goto(`${t.op.server!.url}/`);
  return { page, urls, errors };
}

/** The text of a timeline entry's phase, once the page shows the commit. */
function phaseOnPage(page: Page, sha: string): Promise<string | null> {
  return page.locator(`#timeline li[data-sha="${sha}"]`).getAttribute("data-phase", { timeout: WAIT });
}

describe.skipIf(!enabled)("the web dashboard in Chromium", () => {
  it("follows a pushed commit live: a canary's step with both revisions' pods and its traffic split, then the promotion; the timeline and the nodes' bars", async () => {
    const work = await scope.work();
    const { gitdir } = await scope.bare(work);
    await work.write("nodes.yaml", NODES);
    await work.write("api.yaml", API);
    await work.write("shop.yaml", shop("shop:v1"));
    await work.write("svc.yaml", serviceYaml({ name: "shop" }));
    const v1 = await work.commit("shop v1 and api");
    await work.push("origin", "main");
    const t = await operator(scope, { repo: gitdir, listen: "127.0.0.1:0", ui: true });
    await waitFor("v1 Succeeded", () => t.op.store.getCommit(v1)?.phase === "Succeeded", WAIT);

    const { page, errors } = await open(t);
    await expect.poll(() => phaseOnPage(page, v1), { timeout: WAIT }).toBe("Succeeded");
    await page.locator("#live[data-state=live]").waitFor({ timeout: WAIT });
    // Set once: a page that reloaded would lose it.
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));
    const row = page.locator('tr[data-workload="Rollout/default/shop"]');
    await row.locator('.pods[data-new-ready="2"]').waitFor({ timeout: WAIT });
    // Nodes with their allocation bars: api's 2 × 500m across the two nodes.
    const cpu = await page.locator('li[data-node] meter[aria-label^="cpu"]').evaluateAll((ms) => ms.map((m) => (m as unknown as { value: number }).value));
    expect(cpu).toHaveLength(2);
    expect(cpu.reduce((a, b) => a + b, 0)).toBe(1000);
    await expect.poll(() => page.locator('li[data-node="n1"]').getAttribute("data-condition")).toBe("Ready");

    // v2: the canary's first step — one pod of each revision, half the traffic — then a pause.
    await work.write("shop.yaml", shop("shop:v2"));
    const v2 = await work.commit("shop v2");
    await work.push("origin", "main");
    await row.locator('.canary[data-step="1"]').waitFor({ timeout: WAIT });
    await expect.poll(() => phaseOnPage(page, v2), { timeout: WAIT }).toBe("Progressing");
    await row.locator('.pods[data-new-ready="1"]').waitFor({ timeout: WAIT });
    await row.locator('.pods[data-old-pods="1"]').waitFor({ timeout: WAIT });
    expect(await row.locator(".canary").textContent()).toContain("weight 50%");
    await expect.poll(() => row.locator(".traffic").textContent(), { timeout: WAIT }).toMatch(/canary 50% \/ stable 50%.* via shop \(/);
    await screenshot(page, SUITE, "canary-step");

    // Promoted by a commit: the new revision alone, both pods ready, the Rollout's commit Succeeded.
    await work.write("shop.yaml", shop("shop:v2", "full"));
    const v3 = await work.commit("promote shop v2");
    await work.push("origin", "main");
    await expect.poll(() => phaseOnPage(page, v3), { timeout: WAIT }).toBe("Succeeded");
    await row.locator('.pods[data-new-ready="2"]').waitFor({ timeout: WAIT });
    await row.locator('.pods[data-old-pods="0"]').waitFor({ timeout: WAIT });
    expect(await page.locator("#timeline li").evaluateAll((lis) => lis.map((li) => li.getAttribute("data-sha")))).toEqual([v3, v2, v1]);
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(42);
    await screenshot(page, SUITE, "overview");
    expect(errors).toEqual([]);
  });

  it("shows a commit's validation error with file:line on its page", async () => {
    const work = await scope.work();
    const { gitdir } = await scope.bare(work);
    await work.write("nodes.yaml", NODES);
    await work.write("api.yaml", API);
    const v1 = await work.commit("api v1");
    await work.push("origin", "main");
    const t = await operator(scope, { repo: gitdir, listen: "127.0.0.1:0", ui: true });
    await waitFor("v1 Succeeded", () => t.op.store.getCommit(v1)?.phase === "Succeeded", WAIT);
    const { page, errors } = await open(t);
    await expect.poll(() => phaseOnPage(page, v1), { timeout: WAIT }).toBe("Succeeded");

    await work.write("apps/broken.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: broken\nspec:\n  replicas: many\n");
    const bad = await work.commit("a broken manifest");
    await work.push("origin", "main");
    await expect.poll(() => phaseOnPage(page, bad), { timeout: WAIT }).toBe("Invalid");
    await page.locator(`#timeline li[data-sha="${bad}"] a.sha`).first().click();
    const article = page.locator(`article[data-sha="${bad}"]`);
    await article.waitFor({ timeout: WAIT });
    expect(await article.locator("h2").textContent()).toBe("a broken manifest");
    const recorded = t.op.store.getCommit(bad)!.errors.find((e) => e.file === "apps/broken.yaml")!;
    expect(recorded.line).toBeGreaterThan(0);
    const item = article.locator(`ul.errors li[data-code="${recorded.code}"]`).first();
    expect(await item.locator(".where").textContent()).toMatch(new RegExp(`^apps/broken\\.yaml:${recorded.line}(:\\d+)?$`));
    expect(await page.locator("#commit-phase [data-phase]").textContent()).toBe("Invalid");
    await screenshot(page, SUITE, "commit-invalid");
    expect(errors).toEqual([]);
  });

  it("shows a proposal's plan", async () => {
    const work = await scope.work();
    const { gitdir } = await scope.bare(work);
    await work.write("nodes.yaml", NODES);
    await work.write("api.yaml", API);
    const v1 = await work.commit("api v1");
    await work.push("origin", "main");
    const t = await operator(scope, { repo: gitdir, listen: "127.0.0.1:0", ui: true, previewBranches: ["pr/*"] });
    await waitFor("v1 Succeeded", () => t.op.store.getCommit(v1)?.phase === "Succeeded", WAIT);
    await work.git(["checkout", "-q", "-b", "pr/scale"]);
    await work.write("api.yaml", deploymentYaml({ name: "api", replicas: 4, image: "api:v1", cpu: "500m", memory: "256Mi" }));
    await work.commit("scale api to 4");
    await work.push("origin", "pr/scale");
    await waitFor("the plan of pr/scale", () => t.op.store.getFile("plans/pr-scale.yaml"), WAIT);

    const { page, errors } = await open(t);
    await page.getByRole("link", { name: "Proposals" }).click();
    const proposal = page.locator('article[data-proposal="pr-scale"]');
    await proposal.waitFor({ timeout: WAIT });
    const change = proposal.locator('tr[data-change="Deployment/default/api"]');
    expect(await change.locator("td").first().textContent()).toBe("update");
    expect(await change.textContent()).toContain("replicas 2 → 4");
    expect(await page.getByRole("link", { name: "Proposals" }).getAttribute("aria-current")).toBe("page");
    await screenshot(page, SUITE, "proposals");
    expect(errors).toEqual([]);
  });

  it("reconnects after the operator restarts, sending its Last-Event-ID; the reset of the new run reloads what it missed", async () => {
    const work = await scope.work();
    const { gitdir } = await scope.bare(work);
    await work.write("nodes.yaml", NODES);
    await work.write("api.yaml", API);
    const v1 = await work.commit("api v1");
    await work.push("origin", "main");
    const stateDir = await scope.dir("coxswain-state-");
    const first = await operator(scope, { repo: gitdir, stateDir, listen: "127.0.0.1:0", ui: true });
    await waitFor("v1 Succeeded", () => first.op.store.getCommit(v1)?.phase === "Succeeded", WAIT);
    const port = first.op.server!.port;
    const { page } = await open(first);
    const resumes: string[] = [];
    page.on("request", (r) => {
      const id = r.headers()["last-event-id"];
      if (r.url().endsWith("/api/v1/events") && id !== undefined) resumes.push(id);
    });
    await expect.poll(() => phaseOnPage(page, v1), { timeout: WAIT }).toBe("Succeeded");
    await page.locator("#live[data-state=live]").waitFor({ timeout: WAIT });
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 7));
    // An event the page sees gives it an id to resume from (a page that saw none reloads everything).
    await work.write("api.yaml", deploymentYaml({ name: "api", replicas: 2, image: "api:v2", cpu: "500m", memory: "256Mi" }));
    const v1b = await work.commit("api v2");
    await work.push("origin", "main");
    await expect.poll(() => phaseOnPage(page, v1b), { timeout: WAIT }).toBe("Succeeded");

    // Down: the page says so; a commit lands meanwhile; the next operator serves on the same port.
    await first.stop();
    await page.locator("#live[data-state=reconnecting]").waitFor({ timeout: WAIT });
    await work.write("api.yaml", deploymentYaml({ name: "api", replicas: 3, image: "api:v2", cpu: "500m", memory: "256Mi" }));
    const v2 = await work.commit("api to 3 while the dashboard is away");
    await work.push("origin", "main");
    const second = await operator(scope, { repo: gitdir, stateDir, runtimes: first.runtimes, listen: `127.0.0.1:${port}`, ui: true });
    await waitFor("v2 Succeeded", () => second.op.store.getCommit(v2)?.phase === "Succeeded", WAIT);

    await expect.poll(() => phaseOnPage(page, v2), { timeout: WAIT }).toBe("Succeeded");
    await page.locator("#live[data-state=live]").waitFor({ timeout: WAIT });
    await page.locator('tr[data-workload="Deployment/default/api"] .pods[data-new-ready="3"]').waitFor({ timeout: WAIT });
    expect(resumes.length).toBeGreaterThan(0);
    expect(resumes.every((id) => /^\d+$/.test(id))).toBe(true);
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(7);
  });

  it("with --api-token-file asks for a token, refuses a wrong one, then works and follows events; the token is in no URL and no log line", async () => {
    const work = await scope.work();
    const { gitdir } = await scope.bare(work);
    await work.write("nodes.yaml", NODES);
    await work.write("api.yaml", API);
    const v1 = await work.commit("api v1");
    await work.push("origin", "main");
    const tokens = parseApiTokens(`read ${READ} alice\n`, "tokens");
    const t = await operator(scope, { repo: gitdir, listen: "127.0.0.1:0", ui: true, apiTokens: tokens });
    await waitFor("v1 Succeeded", () => t.op.store.getCommit(v1)?.phase === "Succeeded", WAIT);

    const { page, urls } = await open(t);
    const input = page.getByLabel("Token", { exact: true });
    await input.waitFor({ timeout: WAIT });
    await screenshot(page, SUITE, "token");
    await input.fill("not-the-token-0000000000");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "refused" }).waitFor({ timeout: WAIT });

    await page.getByLabel("Token", { exact: true }).fill(READ);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => phaseOnPage(page, v1), { timeout: WAIT }).toBe("Succeeded");
    await page.locator("#live[data-state=live]").waitFor({ timeout: WAIT });
    // Live with the token: a new commit appears without a reload.
    await work.write("api.yaml", deploymentYaml({ name: "api", replicas: 3, image: "api:v1", cpu: "500m", memory: "256Mi" }));
    const v2 = await work.commit("api to 3");
    await work.push("origin", "main");
    await expect.poll(() => phaseOnPage(page, v2), { timeout: WAIT }).toBe("Succeeded");
    await page.locator('tr[data-workload="Deployment/default/api"] .pods[data-new-ready="3"]').waitFor({ timeout: WAIT });
    // A reload keeps the token of this tab; "Forget token" asks again.
    await page.reload();
    await expect.poll(() => phaseOnPage(page, v2), { timeout: WAIT }).toBe("Succeeded");
    await page.getByRole("button", { name: "Forget token" }).click();
    await page.getByLabel("Token", { exact: true }).waitFor({ timeout: WAIT });
    expect(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { length: number } }).sessionStorage.length)).toBe(0);

    expect(urls.filter((u) => u.includes(READ))).toEqual([]);
    expect(urls.some((u) => u.endsWith("/api/v1/events"))).toBe(true);
    expect(t.lines.filter((l) => l.includes(READ))).toEqual([]);
  });
});
