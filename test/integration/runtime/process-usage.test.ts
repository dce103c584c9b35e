/**
 * The process runtime's usage(): CPU time and resident memory of a container's process tree read from
 * /proc, for autoscalers — a busy loop's CPU time grows at about one core, a stopped container has none.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { ProcessRuntime } from "../../../operator/src/runtime/process/index.js";
import { readProcUsage } from "../../../operator/src/runtime/process/proc.js";
import { waitFor } from "../../support/wait.js";

const OWNER = "coxswain-usage-test";

describe("ProcessRuntime.usage", () => {
  let dir: string | undefined;
  let rt: ProcessRuntime | undefined;
  afterAll(async () => {
    for (const c of (await rt?.list()) ?? []) await rt!.remove(c.id);
    await rt?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("reads this process's own CPU time and resident set", () => {
    const u = readProcUsage(process.pid)!;
    expect(u.cpuNanos).toBeGreaterThan(0);
    expect(u.rssBytes).toBeGreaterThan(1 << 20);
    expect(readProcUsage(2 ** 22 + 1)).toBeUndefined();
  });

  it("measures a busy container's CPU time as it grows, and nothing once it stopped", async () => {
    dir = await mkdtemp(join(tmpdir(), "cx-usage-"));
    rt = new ProcessRuntime({ stateDir: dir, owner: OWNER });
    const c = await rt.run({
      runtimeName: "burn",
      image: "ignored:latest",
      command: ["sh", "-c", "while :; do :; done"],
      env: {},
      network: "host",
      ports: [],
      limits: {},
      labels: { [LABELS.owner]: OWNER, [LABELS.pod]: "burn" },
    });
    const first = (await rt.usage(c.id))!;
    expect(first.memoryBytes).toBeGreaterThan(0);
    // 200 ms of CPU time more: the loop runs (generous wait: other work shares the machine's cores).
    const later = await waitFor(
      "200 ms more CPU time",
      async () => {
        const u = await rt!.usage(c.id);
        return u && u.cpuNanos - first.cpuNanos >= 200e6 ? u : undefined;
      },
      60_000,
      100,
    );
    expect(later.at).toBeGreaterThan(first.at);
    await rt.stop(c.id, 0);
    expect(await rt.usage(c.id)).toBeUndefined();
  }, 90_000);
});
