/**
 * DockerRuntime.watch and the event stream against a real engine: containers changed behind our back,
 * other owners' containers, chunk-split JSON lines, exact resume with `since`, reconnect after the engine
 * restarts, and the inspect cache that events keep valid.
 */
import http from "node:http";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { EventStream } from "../../../operator/src/runtime/docker/events.js";
import { LineSplitter, parseEventLine, sinceFromTimeNano } from "../../../operator/src/runtime/docker/mapping.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import type { ContainerLaunch } from "../../../operator/src/runtime/types.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";

const OWNER = "cx-test-events";
const enabled = requireDocker("docker events");

async function eventually<T>(fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Raw GET /events between two times, as the engine sends it (bytes). */
function rawEvents(socketPath: string, query: Record<string, string>): Promise<Buffer> {
  const qs = new URLSearchParams(query).toString();
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path: `/v1.41/events?${qs}`, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve(Buffer.concat(chunks)));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

describe.skipIf(!enabled)("DockerRuntime events on a real engine", () => {
  let fleet: TestFleet;
  let raw: Docker;
  let seq = 0;
  const runtimes: DockerRuntime[] = [];

  function runtime(extra: Partial<ConstructorParameters<typeof DockerRuntime>[0]> = {}): DockerRuntime {
    const r = new DockerRuntime({ endpoint: fleet.nodes[0]!.endpoint, owner: OWNER, nodeName: "node-1", callTimeoutMs: 3_000, ...extra });
    runtimes.push(r);
    return r;
  }

  function launch(overrides: Partial<ContainerLaunch> = {}): ContainerLaunch {
    const n = ++seq;
    const p = Number(fleet.nodes[0]!.portRange.split("-")[0]) + n;
    return {
      runtimeName: `cx_ev_app-${n}_app`,
      image: TEST_IMAGES.v1,
      env: { PORT: String(p) },
      network: "host",
      ports: [],
      limits: {},
      // A non-ASCII label value puts multi-byte characters into the event stream.
      labels: { [LABELS.owner]: OWNER, [LABELS.workload]: "wéb-ünïcode-✓", [LABELS.specHash]: `s${n}` },
      ...overrides,
    };
  }

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 1, name: "ev" });
    await buildTestImages(fleet.nodes[0]!.socketPath);
    raw = new Docker({ socketPath: fleet.nodes[0]!.socketPath });
  });

  afterAll(async () => {
    await Promise.all(runtimes.map((r) => r.close()));
    await fleet?.stop();
  });

  it("reports a container killed behind our back", async () => {
    const rt = runtime();
    const seen: Array<string | undefined> = [];
    const unsubscribe = rt.watch((id) => seen.push(id));
    const c = await rt.run(launch());
    await eventually(() => seen.includes(c.id), 5_000, "the start event");
    seen.length = 0;
    await raw.getContainer(c.id).kill();
    await eventually(() => seen.filter((id) => id === c.id).length >= 2, 5_000, "kill and die events");
    const after = (await rt.list()).find((x) => x.id === c.id)!;
    expect(after.state).toBe("exited");
    expect(after.exitCode).toBe(137);
    unsubscribe();
  });

  it("does not report containers of other owners", async () => {
    const rt = runtime();
    const seen: Array<string | undefined> = [];
    const unsubscribe = rt.watch((id) => seen.push(id));
    const mine = launch();
    const foreign = await raw.createContainer({
      name: `foreign-${seq}`,
      Image: TEST_IMAGES.exits,
      Labels: { [LABELS.owner]: "someone-else" },
      HostConfig: { NetworkMode: "host" },
    });
    // The stream is open once an event of ours arrives; then events of both kinds, ours last.
    const opener = await rt.run(launch());
    await eventually(() => seen.includes(opener.id), 5_000, "the stream to open");
    await foreign.start();
    const c = await rt.run(mine);
    await eventually(() => seen.includes(c.id), 5_000, "our event");
    expect(seen).not.toContain(foreign.id);
    unsubscribe();
  });

  it("splits the engine's JSON lines correctly whatever the chunk boundaries", async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const rt = runtime();
    const c = await rt.run(launch());
    await rt.stop(c.id, 5);
    await rt.remove(c.id);
    const bytes = await rawEvents(fleet.nodes[0]!.socketPath, {
      since: String(since),
      until: String(Math.floor(Date.now() / 1000) + 1),
      filters: JSON.stringify({ type: ["container"], label: [`${LABELS.owner}=${OWNER}`] }),
    });
    expect(bytes.toString("utf8")).toContain("✓");
    const whole = new LineSplitter();
    const reference = [...whole.push(bytes), ...[whole.end()].filter((x): x is string => x !== undefined)].map(parseEventLine);
    expect(reference.filter((e) => e?.id === c.id).map((e) => e!.action)).toEqual(expect.arrayContaining(["create", "start", "kill", "die", "stop", "destroy"]));
    // Every split point, including ones inside a multi-byte character, gives the same events.
    for (let cut = 1; cut < bytes.length; cut += Math.max(1, Math.floor(bytes.length / 400))) {
      const s = new LineSplitter();
      const lines = [...s.push(bytes.subarray(0, cut)), ...s.push(bytes.subarray(cut))];
      const last = s.end();
      if (last !== undefined) lines.push(last);
      expect(lines.map(parseEventLine)).toEqual(reference);
    }
  });

  it("resumes from the exact nanosecond of an event: the replay starts with that event", async () => {
    const rt = runtime();
    const since = Math.floor(Date.now() / 1000) - 1;
    const c = await rt.run(launch({ image: TEST_IMAGES.exits }));
    await eventually(async () => (await rt.list()).find((x) => x.id === c.id && x.state === "exited"), 10_000, "exit");
    const until = String(Math.floor(Date.now() / 1000) + 1);
    const filters = JSON.stringify({ type: ["container"], label: [`${LABELS.owner}=${OWNER}`] });
    const all = new LineSplitter()
      .push(await rawEvents(fleet.nodes[0]!.socketPath, { since: String(since), until, filters }))
      .map(parseEventLine)
      .filter((e) => e?.id === c.id);
    const start = all.find((e) => e!.action === "start")!;
    expect(start.timeNano).toMatch(/^\d{19}$/);
    const replay = new LineSplitter()
      .push(await rawEvents(fleet.nodes[0]!.socketPath, { since: sinceFromTimeNano(start.timeNano), until, filters }))
      .map(parseEventLine)
      .filter((e) => e?.id === c.id);
    expect(replay[0]).toEqual(start);
    expect(replay.map((e) => e!.action)).not.toContain("create");
  });

  it("reconnects after the engine restarts, tells listeners to re-list, and reports later events", async () => {
    const rt = runtime();
    const seen: Array<string | undefined> = [];
    const unsubscribe = rt.watch((id) => seen.push(id));
    const before = await rt.run(launch());
    await eventually(() => seen.includes(before.id), 5_000, "the first event");
    await fleet.stopNode(0);
    seen.length = 0;
    await fleet.startNode(0);
    await eventually(() => seen.includes(undefined), 15_000, "the re-list signal after reconnect");
    const after = await rt.run(launch());
    await eventually(() => seen.includes(after.id), 5_000, "an event after the reconnect");
    // Each engine event reaches the listener once, even though the resumed stream replays from `since`.
    const starts = seen.filter((id) => id === after.id).length;
    expect(starts).toBeLessThanOrEqual(2); // create + start
    unsubscribe();
  });

  it("delivers each event once when a dropped stream is resumed with since (the replay overlaps)", async () => {
    const socketPath = fleet.nodes[0]!.socketPath;
    const filters = JSON.stringify({ type: ["container"], label: [`${LABELS.owner}=${OWNER}`] });
    let current: http.IncomingMessage | undefined;
    const sinces: Array<string | undefined> = [];
    const delivered: string[] = [];
    const connects: boolean[] = [];
    const stream = new EventStream({
      initialBackoffMs: 20,
      open: (since, signal) =>
        new Promise((resolve, reject) => {
          sinces.push(since);
          const qs = new URLSearchParams({ filters, ...(since ? { since } : {}) }).toString();
          const req = http.get({ socketPath, path: `/v1.41/events?${qs}`, agent: false, signal }, (res) => {
            current = res;
            resolve(res);
          });
          req.on("error", reject);
        }),
      onEvent: (e) => delivered.push(`${e.timeNano}|${e.id}|${e.action}`),
      onConnected: (reconnect) => connects.push(reconnect),
      onDisconnected: () => undefined,
    });
    stream.start();
    try {
      await eventually(() => stream.connected, 5_000, "the stream");
      const rt = runtime();
      const c = await rt.run(launch());
      await eventually(() => delivered.some((k) => k.endsWith(`|${c.id}|start`)), 5_000, "the start event");
      // Drop the connection as a network blip would; the engine stays up and replays from `since`.
      current!.destroy();
      await eventually(() => connects.length === 2, 5_000, "the reconnect");
      expect(connects).toEqual([false, true]);
      expect(sinces[1]).toBe(sinceFromTimeNano(delivered.at(-1)!.split("|")[0]!));
      await rt.stop(c.id, 5);
      await eventually(() => delivered.some((k) => k.endsWith(`|${c.id}|die`)), 5_000, "the die event");
      const mine = delivered.filter((k) => k.includes(`|${c.id}|`));
      expect(new Set(mine).size).toBe(mine.length);
      expect(mine.map((k) => k.split("|")[2])).toEqual(["create", "start", "kill", "die", "stop"].slice(0, mine.length));
    } finally {
      stream.stop();
    }
  });

  it("keeps list() exact while the event stream caches inspect results", async () => {
    const rt = runtime();
    const seen: Array<string | undefined> = [];
    const unsubscribe = rt.watch((id) => seen.push(id));
    const c = await rt.run(launch());
    // Events arrive in order: once a later container's event is in, c's create and start events are too,
    // so the inspect result list() caches next stays valid until something changes c.
    const later = await rt.run(launch());
    await eventually(() => seen.includes(later.id), 5_000, "the events up to a later container's");
    const first = (await rt.list()).find((x) => x.id === c.id)!;
    expect(first.state).toBe("running");
    // Changed behind our back: stop and start again through the raw API.
    await raw.getContainer(c.id).stop({ t: 5 });
    await raw.getContainer(c.id).start();
    const again = await eventually(
      async () => {
        const x = (await rt.list()).find((y) => y.id === c.id)!;
        return x.startedAt! > first.startedAt! ? x : undefined;
      },
      5_000,
      "the new start time",
    );
    expect(again.state).toBe("running");
    expect(again.finishedAt).toBeGreaterThanOrEqual(first.startedAt!);
    unsubscribe();
  });
});
