/**
 * The web dashboard in headless Chromium against the operator driving two real Docker engines
 * (test/support/docker-fleet.ts): a pushed commit rolls a Deployment (maxSurge 1, maxUnavailable 0,
 * readiness probes, minReadySeconds 2 so that each step lasts longer than the page's 500 ms between
 * reloads) and the page follows it from the event stream. Every state of the workload's row is recorded
 * in the page by a MutationObserver (a reload would lose the record), and the rollout is seen advancing
 * through states with pods of both revisions to the new revision alone. Screenshot:
 * test-output/dashboard-docker/rollout.png (gitignored).
 */
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { FakeProxy } from "../../../operator/src/runtime/fake/index.js";
import { startOperator, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { launchChromium, requireChromium, screenshot } from "../../support/browser.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";
import { deploymentYaml } from "../../support/manifests.js";
import { waitFor } from "../../support/wait.js";
import { lineLogger } from "../../support/log.js";

const SUITE = "dashboard-docker";
const enabled = requireDocker("dashboard on Docker") && requireChromium("dashboard on Docker");
const WAIT = 120_000;

/**
 * Runs in the page: records into window.states each distinct state of the web row's pods — "new-pods
 * new-ready old-pods old-ready" — as the DOM changes (a MutationObserver: no sampling from outside).
 */
const RECORDER = `(() => {
  window.states = [];
  const record = () => {
    const pods = document.querySelector('tr[data-workload="Deployment/default/web"] .pods');
    if (!pods) return;
    const state = ["data-new-pods", "data-new-ready", "data-old-pods", "data-old-ready"].map((a) => pods.getAttribute(a)).join(" ");
    if (window.states[window.states.length - 1] !== state) window.states.push(state);
  };
  new MutationObserver(record).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
  record();
})()`;

const web = (image: string) => deploymentYaml({ name: "web", replicas: 2, image, maxSurge: 1, maxUnavailable: 0, minReadySeconds: 2, probe: true, cpu: "100m", memory: "32Mi" });

describe.skipIf(!enabled)("the web dashboard following a rollout on two Docker engines", () => {
  let fleet: TestFleet;
  let repo: TestRepo;
  let stateDir: string;
  let op: RunningOperator | undefined;
  let browser: Browser;
  const lines: string[] = [];

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 2, name: "dash" });
    await Promise.all(fleet.nodes.map((n) => buildTestImages(n.socketPath)));
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-dash-");
    browser = await launchChromium();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await op?.stop({ stopProxies: true });
    await repo?.cleanup();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
    await fleet?.stop();
  });

  it("shows a pushed commit's rollout advance from the old revision's pods to the new one's", async () => {
    await repo.write("fleet/nodes.yaml", fleet.nodeManifests());
    await repo.write("apps/web.yaml", web(TEST_IMAGES.v1));
    const v1 = await repo.commit("web v1");
    op = await startOperator({
      repo: repo.dir,
      stateDir,
      instance: "cx-dashboard-test",
      pollMs: 200,
      fleetPollMs: 200,
      statusDebounceMs: 50,
      listen: "127.0.0.1:0",
      ui: true,
      log: lineLogger((l) => lines.push(l)),
      proxyFactory: () => new FakeProxy(),
    });
    await waitFor("v1 Succeeded", () => op!.store.getCommit(v1)?.phase === "Succeeded", WAIT);

    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${op.server!.url}/`);
    const row = page.locator('tr[data-workload="Deployment/default/web"]');
    await row.locator('.pods[data-new-ready="2"][data-old-pods="0"]').waitFor({ timeout: WAIT });
    await page.locator("#live[data-state=live]").waitFor({ timeout: WAIT });
    const v1Revision = await row.getAttribute("data-revision");
    await page.evaluate(RECORDER);

    await repo.write("apps/web.yaml", web(TEST_IMAGES.v2));
    const v2 = await repo.commit("web v2");
    const started = Date.now();
    await page.locator(`#timeline li[data-sha="${v2}"][data-phase="Succeeded"]`).waitFor({ timeout: WAIT });
    await row.locator('.pods[data-new-ready="2"][data-old-pods="0"]').waitFor({ timeout: WAIT });
    const shownAfter = Date.now() - started;
    expect(await row.getAttribute("data-revision")).not.toBe(v1Revision);
    await screenshot(page, SUITE, "rollout");

    const states = (await page.evaluate(() => (globalThis as unknown as { states: string[] }).states)).map((s) => s.split(" ").map(Number) as [number, number, number, number]);
    console.log(`dashboard on Docker: the row went through ${states.length} states in ${shownAfter} ms: ${states.map((s) => `new ${s[1]}/${s[0]} old ${s[3]}/${s[2]}`).join(" → ")}`);
    // It started on the old revision's two ready pods, went through states with pods of both revisions, and ended on the new one's.
    expect(states[0]).toEqual([2, 2, 0, 0]);
    const mixed = states.filter(([newPods, , oldPods]) => newPods > 0 && oldPods > 0);
    expect(mixed.length).toBeGreaterThan(0);
    expect(states[states.length - 1]).toEqual([2, 2, 0, 0]);
    // maxUnavailable 0: never fewer than 2 ready pods on the page.
    expect(states.every(([, newReady, , oldReady]) => newReady + oldReady >= 2)).toBe(true);
  });
});
