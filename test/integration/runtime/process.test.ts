import { type ChildProcess, spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { isCoxError, type ErrorCode } from "../../../operator/src/api/errors.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { runProbe } from "../../../operator/src/runtime/probe.js";
import { INHERITED_ENV, ProcessRuntime, WRAPPER_SCRIPT, type ProcessRecord } from "../../../operator/src/runtime/process/index.js";
import { liveGroupMembers, readCmdline, readProcStat } from "../../../operator/src/runtime/process/proc.js";
import type { ContainerLaunch, ObservedContainer } from "../../../operator/src/runtime/types.js";

const OWNER = "coxswain-test";
const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const OPERATOR_FIXTURE = fileURLToPath(new URL("./process-operator.fixture.ts", import.meta.url));

/** A node program serving its own cwd, env and argv as JSON on 127.0.0.1:$PORT. */
const SERVER = `require("http").createServer((q, s) => s.end(JSON.stringify({ cwd: process.cwd(), env: process.env, argv: process.argv.slice(1) }))).listen(Number(process.env.PORT), "127.0.0.1", () => console.log("listening"))`;

// ---- bookkeeping: every state dir, runtime and process a test makes is cleaned up ----

const stateDirs: string[] = [];
const runtimes: ProcessRuntime[] = [];
const directChildren: ChildProcess[] = [];
/** Process groups the runtime started (wrapper pids), over the whole file. */
const groupsSeen = new Set<number>();

async function newStateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "cx-process-"));
  stateDirs.push(dir);
  return dir;
}

function runtime(stateDir: string, owner = OWNER): ProcessRuntime {
  const rt = new ProcessRuntime({ stateDir, owner });
  runtimes.push(rt);
  return rt;
}

async function readRecords(stateDir: string): Promise<ProcessRecord[]> {
  const dir = join(stateDir, "process");
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: ProcessRecord[] = [];
  for (const name of names.filter((n) => n.endsWith(".json"))) {
    out.push(JSON.parse(await readFile(join(dir, name), "utf8")) as ProcessRecord);
  }
  return out;
}

/** Live members of a record's group, unless its pid now belongs to another program. */
function liveGroupOf(record: { pid?: number; startTime?: number }): number[] {
  if (record.pid === undefined) return [];
  const leader = readProcStat(record.pid);
  if (leader !== undefined && leader.startTime !== record.startTime) return [];
  return liveGroupMembers(record.pid);
}

afterEach(async () => {
  const strays: number[] = [];
  for (const dir of stateDirs) {
    for (const record of await readRecords(dir)) {
      if (record.pid === undefined) continue;
      groupsSeen.add(record.pid);
      const live = liveGroupOf(record);
      if (live.length > 0) {
        strays.push(...live);
        try {
          process.kill(-record.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
  }
  for (const rt of runtimes.splice(0)) await rt.close();
  for (const child of directChildren.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const dir of stateDirs.splice(0)) await rm(dir, { recursive: true, force: true });
  // Every test stops or removes what it runs: a live process here means stop/remove did not reach it.
  expect(strays).toEqual([]);
});

afterAll(async () => {
  await waitFor(() => [...groupsSeen].every((pgid) => liveGroupMembers(pgid).length === 0), 5_000);
  expect([...groupsSeen].flatMap((pgid) => liveGroupMembers(pgid))).toEqual([]);
});

// ---- helpers ----

function launch(name: string, over: Partial<ContainerLaunch> = {}): ContainerLaunch {
  return {
    runtimeName: name,
    image: "ignored:latest",
    env: {},
    network: "host",
    ports: [],
    limits: {},
    labels: { [LABELS.owner]: OWNER, [LABELS.pod]: name },
    ...over,
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, stepMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
}

async function find(rt: ProcessRuntime, id: string): Promise<ObservedContainer | undefined> {
  return (await rt.list()).find((c) => c.id === id);
}

async function waitExited(rt: ProcessRuntime, id: string, timeoutMs = 10_000): Promise<ObservedContainer> {
  let seen: ObservedContainer | undefined;
  await waitFor(async () => {
    seen = await find(rt, id);
    return seen?.state === "exited";
  }, timeoutMs);
  return seen!;
}

async function waitLog(rt: ProcessRuntime, id: string, text: string): Promise<string> {
  let log = "";
  await waitFor(async () => {
    log = await readFile(rt.logPath(id), "utf8").catch(() => "");
    return log.includes(text);
  });
  return log;
}

async function recordOf(rt: ProcessRuntime, id: string): Promise<ProcessRecord> {
  return JSON.parse(await readFile(rt.recordPath(id), "utf8")) as ProcessRecord;
}

async function codeOf(p: Promise<unknown>): Promise<ErrorCode | "resolved" | "not a CoxError"> {
  try {
    await p;
    return "resolved";
  } catch (err) {
    return isCoxError(err) ? err.code : "not a CoxError";
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Starts the stand-in operator, returns it and the container it ran. */
async function startOperator(stateDir: string, name: string, argv: string[]): Promise<{ op: ChildProcess; container: ObservedContainer }> {
  const op = spawn(process.execPath, ["--import", "tsx", OPERATOR_FIXTURE, stateDir, OWNER, name, ...argv], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group, so the test can kill the whole group like a terminal's Ctrl-\ would
  });
  directChildren.push(op);
  let out = "";
  let err = "";
  op.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    op.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf("\n");
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    op.once("exit", (code) => reject(new Error(`operator fixture exited ${code}: ${err}`)));
  });
  return { op, container: JSON.parse(line) as ObservedContainer };
}

/** SIGKILL to the operator's whole process group: what it spawned survives only in a group of its own. */
async function kill9(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  process.kill(-child.pid!, "SIGKILL");
  await exited;
}

// ---- tests ----

describe("ProcessRuntime with real processes", () => {
  it("reports the host's capacity and no images", async () => {
    const rt = runtime(await newStateDir());
    const info = await rt.connect();
    expect(info.cpuMillis).toBe(cpus().length * 1000);
    expect(info.memoryBytes).toBe(totalmem());
    expect(info.engine).toBe(`process (pid ${process.pid})`);
    expect(info.platform).toMatch(/^linux\//);
    expect(await rt.images()).toEqual([]);
  });

  it("runs a node HTTP server that answers on 127.0.0.1:$PORT with the launch env over a minimal inherited env", async () => {
    const rt = runtime(await newStateDir());
    const port = await freePort();
    process.env.COX_TEST_MUST_NOT_LEAK = "secret";
    try {
      const c = await rt.run(
        launch("web", {
          command: ["node"],
          args: ["-e", SERVER],
          env: { PORT: String(port), GREETING: "hello", LANG: "C" },
          ports: [{ containerPort: port, hostPort: port, protocol: "TCP" }],
        }),
      );
      expect(c.state).toBe("running");
      expect(c.image).toBe("ignored:latest");
      await waitFor(async () => (await runProbe({ type: "http", host: "127.0.0.1", port, path: "/" }, 500)).ok);
      const body = (await (await fetch(`http://127.0.0.1:${port}/`)).json()) as {
        cwd: string;
        env: Record<string, string>;
        argv: string[];
      };
      expect(body.cwd).toBe(rt.containerDir(c.id));
      expect(body.argv).toEqual([]);
      expect(body.env.GREETING).toBe("hello");
      expect(body.env.PORT).toBe(String(port));
      expect(body.env.LANG).toBe("C");
      expect(body.env.COX_TEST_MUST_NOT_LEAK).toBeUndefined();
      // Only the documented inherited variables, the launch's own, and PWD (set by the wrapper shell).
      const allowed = new Set<string>([...INHERITED_ENV, "PORT", "GREETING", "PWD"]);
      expect(Object.keys(body.env).filter((k) => !allowed.has(k))).toEqual([]);
      expect(body.env.PATH).toBe(process.env.PATH);
      expect((await find(rt, c.id))?.state).toBe("running");

      await rt.remove(c.id);
      expect((await runProbe({ type: "tcp", host: "127.0.0.1", port }, 500)).ok).toBe(false);
    } finally {
      delete process.env.COX_TEST_MUST_NOT_LEAK;
    }
  });

  it("gives back the end of a container's output, stdout and stderr of every run, bounded in lines and bytes", async () => {
    const rt = runtime(await newStateDir());
    const c = await rt.run(launch("logs", { args: ["sh", "-c", "echo one; echo two >&2; echo three; exit 3"] }));
    expect((await waitExited(rt, c.id)).exitCode).toBe(3);
    expect(await rt.logs(c.id, { lines: 2, bytes: 100 })).toBe("two\nthree");
    expect(await rt.logs(c.id, { lines: 10, bytes: 4 })).toBe("hree");
    await rt.remove(c.id);
    await expect(rt.logs(c.id, { lines: 1, bytes: 10 })).rejects.toMatchObject({ code: "RuntimeCallFailed" });
  });

  it("rotates a log past maxLogBytes: the last maxLogBytes kept in <id>.log.1, the live file emptied, the tail read across both", async () => {
    const stateDir = await newStateDir();
    const rt = new ProcessRuntime({ stateDir, owner: OWNER, maxLogBytes: 64 * 1024 });
    runtimes.push(rt);
    // 200 KiB of 100-byte lines, a last line, then quiet: the rotation sees the whole burst.
    const burst = 'i=0; while [ $i -lt 2048 ]; do printf "%099d\\n" $i; i=$((i+1)); done; echo last-line; exec sleep 600';
    const c = await rt.run(launch("chatty", { command: ["sh", "-c", burst] }));
    const log = rt.logPath(c.id);
    await waitFor(async () => (await rt.logs(c.id, { lines: 1, bytes: 100 })) === "last-line", 20_000);
    await waitFor(
      async () => {
        await rt.list(); // looks at the sizes at most every 5 s
        return (await stat(log)).size === 0;
      },
      30_000,
      100,
    );
    const rotated = await readFile(`${log}.1`, "utf8");
    expect(rotated.length).toBe(64 * 1024);
    expect(rotated.endsWith("last-line\n")).toBe(true);
    expect(await rt.logs(c.id, { lines: 2, bytes: 200 })).toBe(`${"2047".padStart(99, "0")}\nlast-line`);
    await rt.remove(c.id);
    await expect(stat(`${log}.1`)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("uses args alone as argv when there is no command", async () => {
    const rt = runtime(await newStateDir());
    const c = await rt.run(launch("args-only", { args: ["sh", "-c", "exit 4"] }));
    expect((await waitExited(rt, c.id)).exitCode).toBe(4);
    await rt.remove(c.id);
  });

  const workingDirCases: { name: string; workingDir?: (stateDir: string) => Promise<string> | string; expected: (rt: ProcessRuntime, id: string, stateDir: string) => string }[] = [
    {
      name: "runs in the per-container directory when there is no workingDir",
      expected: (rt, id) => rt.containerDir(id),
    },
    {
      name: "creates a relative workingDir under the per-container directory and runs there",
      workingDir: () => "data/work",
      expected: (rt, id) => join(rt.containerDir(id), "data/work"),
    },
    {
      name: "runs in an existing absolute workingDir",
      workingDir: async (stateDir) => {
        await mkdir(join(stateDir, "abs"), { recursive: true });
        return join(stateDir, "abs");
      },
      expected: (_rt, _id, stateDir) => join(stateDir, "abs"),
    },
  ];

  it.each(workingDirCases)("$name", async ({ workingDir, expected }) => {
    const stateDir = await newStateDir();
    const rt = runtime(stateDir);
    const wd = workingDir === undefined ? undefined : await workingDir(stateDir);
    const c = await rt.run(launch("wd", { command: ["sh", "-c", "pwd -P"], ...(wd === undefined ? {} : { workingDir: wd }) }));
    expect((await waitExited(rt, c.id)).exitCode).toBe(0);
    const log = await readFile(rt.logPath(c.id), "utf8");
    expect(log.trim()).toBe(expected(rt, c.id, stateDir));
    await rt.remove(c.id);
  });

  const rejectCases: { name: string; code: ErrorCode; launch: (stateDir: string) => Promise<ContainerLaunch> | ContainerLaunch }[] = [
    {
      name: "rejects a container with neither command nor args",
      code: "CommandNotFound",
      launch: () => launch("x"),
    },
    {
      name: "rejects a program that is not on PATH",
      code: "CommandNotFound",
      launch: () => launch("x", { command: ["coxswain-no-such-program-anywhere"] }),
    },
    {
      name: "rejects a program the launch's own PATH does not contain",
      code: "CommandNotFound",
      launch: (stateDir) => launch("x", { command: ["sh"], env: { PATH: join(stateDir, "empty-bin") } }),
    },
    {
      name: "rejects an absolute program path that does not exist",
      code: "CommandNotFound",
      launch: () => launch("x", { command: ["/nonexistent/bin/server"] }),
    },
    {
      name: "rejects a program file that is not executable",
      code: "CommandNotFound",
      launch: async (stateDir) => {
        const file = join(stateDir, "not-executable.sh");
        await writeFile(file, "#!/bin/sh\nexit 0\n");
        await chmod(file, 0o644);
        return launch("x", { command: [file] });
      },
    },
    {
      name: "rejects a directory given as the program",
      code: "CommandNotFound",
      launch: (stateDir) => launch("x", { command: [stateDir] }),
    },
    {
      name: "rejects bridge networking",
      code: "RuntimeCallFailed",
      launch: () => launch("x", { command: ["sleep", "30"], network: "bridge" }),
    },
    {
      name: "rejects an absolute workingDir that does not exist",
      code: "RuntimeCallFailed",
      launch: () => launch("x", { command: ["sleep", "30"], workingDir: "/nonexistent/coxswain/wd" }),
    },
    {
      name: "rejects a container labelled with another owner",
      code: "RuntimeCallFailed",
      launch: () => launch("x", { command: ["sleep", "30"], labels: { [LABELS.owner]: "someone-else" } }),
    },
  ];

  it.each(rejectCases)("$name, leaving nothing behind", async ({ code, launch: make }) => {
    const stateDir = await newStateDir();
    const rt = runtime(stateDir);
    expect(await codeOf(rt.run(await make(stateDir)))).toBe(code);
    expect(await rt.list()).toEqual([]);
    expect(await readdir(join(stateDir, "process")).catch(() => [])).toEqual([]);
  });

  it("refuses an env value with a NUL byte as InvalidField naming the variable, not the value, leaving nothing behind", async () => {
    const stateDir = await newStateDir();
    const rt = runtime(stateDir);
    const marker = "Pr17nulValueWx";
    const err = await rt.run(launch("nul-env", { command: ["sleep", "30"], env: { TOKEN: `abc\u0000${marker}` } })).then(
      () => undefined,
      (e: unknown) => e as { code?: string; message: string; details?: unknown },
    );
    expect(err?.code).toBe("InvalidField");
    expect(err?.message).toContain("TOKEN");
    expect(`${err?.message} ${JSON.stringify(err?.details)}`).not.toContain(marker);
    expect(await readdir(join(stateDir, "process")).catch(() => [])).toEqual([]);
  });

  it("names a program missing from PATH without the PATH searched (the operator's or the container's)", async () => {
    const rt = runtime(await newStateDir());
    const marker = "Pa29pathDirQv";
    const envs: Record<string, string>[] = [{}, { PATH: `/opt/${marker}/bin:/usr/bin` }];
    for (const env of envs) {
      const saved = process.env.PATH;
      process.env.PATH = `/nonexistent/${marker}:${saved ?? "/usr/bin:/bin"}`;
      try {
        const err = await rt.run(launch("no-program", { command: ["cx-missing-program-zz"], env })).then(
          () => undefined,
          (e: unknown) => e as { code?: string; message: string; details?: unknown },
        );
        expect(err?.code).toBe("CommandNotFound");
        expect(err?.message).toContain("cx-missing-program-zz");
        expect(`${err?.message} ${JSON.stringify(err?.details)}`).not.toContain(marker);
      } finally {
        process.env.PATH = saved;
      }
    }
  });

  it("rejects a second container with the same runtime name", async () => {
    const rt = runtime(await newStateDir());
    const c = await rt.run(launch("twice", { command: ["sleep", "30"] }));
    expect(await codeOf(rt.run(launch("twice", { command: ["sleep", "30"] })))).toBe("RuntimeCallFailed");
    expect((await rt.list()).map((x) => x.id)).toEqual([c.id]);
    await rt.remove(c.id);
  });

  it("reports the exit code of a process that exits 3, to the instance that started it and to a new instance", async () => {
    const stateDir = await newStateDir();
    const rt = runtime(stateDir);
    const exits: (string | undefined)[] = [];
    rt.watch((id) => exits.push(id));
    const c = await rt.run(launch("exit3", { command: ["sh", "-c", "exit 3"] }));
    await waitFor(() => exits.includes(c.id));
    const seen = await find(rt, c.id);
    expect(seen).toMatchObject({ state: "exited", exitCode: 3 });
    expect(seen!.finishedAt).toBeGreaterThanOrEqual(seen!.startedAt!);

    const second = runtime(stateDir);
    expect(await find(second, c.id)).toMatchObject({ state: "exited", exitCode: 3 });
    await second.remove(c.id);
  });

  it("reports the exit code of a process that exited while no instance existed", async () => {
    const stateDir = await newStateDir();
    const first = runtime(stateDir);
    const c = await first.run(launch("unwatched", { command: ["sh", "-c", "sleep 0.3; exit 3"] }));
    await first.close();
    const pgid = (await recordOf(first, c.id)).pid!;
    await waitFor(() => liveGroupMembers(pgid).length === 0);
    // Nobody recorded the exit: it is only in the exit file the wrapper wrote.
    expect((await recordOf(first, c.id)).finishedAt).toBeUndefined();

    const second = runtime(stateDir);
    const seen = await find(second, c.id);
    expect(seen).toMatchObject({ state: "exited", exitCode: 3 });
    expect((await recordOf(second, c.id)).exitCode).toBe(3);
    await second.remove(c.id);
  });

  it("settles the same exits from two instances on one state directory at once, both answering, no temporary file left", async () => {
    const stateDir = await newStateDir();
    const first = runtime(stateDir);
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push((await first.run(launch(`twice-${i}`, { command: ["sh", "-c", "exit 3"] }))).id);
    const pgids = await Promise.all(ids.map(async (id) => (await recordOf(first, id)).pid!));
    await first.close(); // nobody settles the exits: the two lists below both do, record by record
    await waitFor(() => pgids.every((pgid) => liveGroupMembers(pgid).length === 0));

    const [a, b] = [runtime(stateDir), runtime(stateDir)];
    const [fromA, fromB] = await Promise.all([a.list(), b.list()]);
    for (const seen of [fromA, fromB]) {
      const byId = seen.map((c) => [c.id, c.state, c.exitCode]).sort((x, y) => (x[0]! < y[0]! ? -1 : 1));
      expect(byId).toEqual([...ids].sort().map((id) => [id, "exited", 3]));
    }
    for (const id of ids) expect((await recordOf(a, id)).exitCode).toBe(3);
    expect((await readdir(join(stateDir, "process"))).filter((n) => n.includes(".tmp-"))).toEqual([]);
    for (const id of ids) await a.remove(id);
  });

  it("removes a temporary record file a killed writer left, and keeps one whose writer still lives", async () => {
    const stateDir = await newStateDir();
    const rt = runtime(stateDir);
    const c = await rt.run(launch("leftover", { command: ["sleep", "30"] }));
    // A writer that is gone: a process that has exited, its pid not reused in the meantime.
    const gone = spawn("true");
    await new Promise((done) => gone.once("exit", done));
    const dir = join(stateDir, "process");
    const dead = `${c.id}.json.tmp-${gone.pid}-0badf00d`;
    const live = `${c.id}.json.tmp-${process.pid}-0badf00d`;
    for (const name of [dead, live]) await writeFile(join(dir, name), "{");
    expect((await rt.list()).map((o) => o.id)).toContain(c.id);
    const left = (await readdir(dir)).filter((n) => n.includes(".tmp-"));
    expect(left).toEqual([live]);
    await rm(join(dir, live));
    await rt.remove(c.id);
  });

  it("keeps a process running through a kill -9 of its operator; a new instance lists it and stops it", async () => {
    const stateDir = await newStateDir();
    const { op, container } = await startOperator(stateDir, "survivor", ["sleep", "60"]);
    const pid = (await recordOf(new ProcessRuntime({ stateDir, owner: OWNER }), container.id)).pid!;
    expect(readProcStat(pid)?.pgrp).toBe(pid); // leads a process group of its own
    expect(readProcStat(pid)?.pgrp).not.toBe(readProcStat(op.pid!)?.pgrp);
    await kill9(op);
    const rt = runtime(stateDir);
    expect(await find(rt, container.id)).toMatchObject({ state: "running", startedAt: container.startedAt });
    await rt.stop(container.id, 10);
    // 143: it died of the SIGTERM; a SIGKILL at the end of the grace period would show as 137.
    expect(await find(rt, container.id)).toMatchObject({ state: "exited", exitCode: 143 });
    expect(liveGroupMembers((await recordOf(rt, container.id)).pid!)).toEqual([]);
    await rt.remove(container.id);
  });

  /**
   * What an operator killed with -9 between spawning a container's wrapper and recording its pid leaves:
   * the record without the run (made here with startLater), and the wrapper running as #spawn starts it.
   */
  async function unrecordedRun(stateDir: string, name: string): Promise<{ id: string; pid: number }> {
    const created = await runtime(stateDir).run(launch(name, { command: ["sleep", "60"], startLater: true }));
    const wrapper = spawn("/bin/sh", ["-c", WRAPPER_SCRIPT, join(stateDir, "process", `${created.id}.exit`), "sleep", "60"], {
      cwd: join(stateDir, "process", created.id),
      detached: true,
      stdio: "ignore",
    });
    wrapper.unref();
    directChildren.push(wrapper);
    groupsSeen.add(wrapper.pid!);
    return { id: created.id, pid: wrapper.pid! };
  }

  it("adopts a run its operator spawned and was killed with -9 before recording: a new instance lists it running and stops it", async () => {
    const stateDir = await newStateDir();
    const { id, pid } = await unrecordedRun(stateDir, "unrecorded");
    const rt = runtime(stateDir);
    expect(await find(rt, id)).toMatchObject({ state: "running", restartCount: 0 });
    expect((await recordOf(rt, id)).pid).toBe(pid);
    await rt.stop(id, 10);
    expect(liveGroupMembers(pid)).toEqual([]);
    await rt.remove(id);
  });

  it("kills a run that no record names any more (its container was removed while the run was unrecorded)", async () => {
    const stateDir = await newStateDir();
    const { id, pid } = await unrecordedRun(stateDir, "removed");
    // The next operator, without the search, saw a container that never started and removed it: its files
    // went, its process stayed.
    await runtime(stateDir).remove(id);
    expect(liveGroupMembers(pid)).not.toEqual([]);
    const rt = runtime(stateDir);
    expect(await rt.list()).toEqual([]);
    await waitFor(() => liveGroupMembers(pid).length === 0);
  });

  it("reports the exit code of a process that exited after its operator was killed with -9", async () => {
    const stateDir = await newStateDir();
    const { op, container } = await startOperator(stateDir, "orphan", ["sh", "-c", "sleep 0.5; exit 3"]);
    await kill9(op);
    const rt = runtime(stateDir);
    expect((await waitExited(rt, container.id)).exitCode).toBe(3);
    await rt.remove(container.id);
  });

  it.each([
    { name: "does not mistake another program with the recorded pid for its process", target: "other" as const },
    { name: "does not mistake the operator itself with the recorded pid for its process", target: "self" as const },
  ])("$name, and never signals it", async ({ target }) => {
    const stateDir = await newStateDir();
    const rt = runtime(stateDir);
    await rt.connect();
    let pid = process.pid;
    if (target === "other") {
      const other = spawn("sleep", ["60"], { stdio: "ignore" });
      directChildren.push(other);
      pid = other.pid!;
    }
    const real = readProcStat(pid)!;
    const id = "fake0000reused00";
    const record: ProcessRecord = {
      version: 1,
      id,
      runtimeName: "reused",
      image: "none",
      labels: { [LABELS.owner]: OWNER },
      argv: ["sleep", "60"],
      env: {},
      cwd: stateDir,
      createdAt: Date.now() - 60_000,
      pid,
      startTime: real.startTime - 1, // our process started earlier: this pid was reused
      startedAt: Date.now() - 60_000,
    };
    await writeFile(rt.recordPath(id), JSON.stringify(record));
    expect((await find(rt, id))?.state).toBe("exited");
    await rt.stop(id, 0);
    await rt.remove(id);
    expect(readProcStat(pid)?.startTime).toBe(real.startTime);
    expect(await find(rt, id)).toBeUndefined();
  });

  it("escalates to SIGKILL when the program ignores SIGTERM for the grace period", async () => {
    const rt = runtime(await newStateDir());
    const c = await rt.run(
      launch("stubborn", {
        command: ["node", "-e", `process.on("SIGTERM", () => console.log("ignoring TERM at " + Date.now())); console.log("ready"); setInterval(() => {}, 1000)`],
      }),
    );
    await waitLog(rt, c.id, "ready");
    await rt.stop(c.id, 1);
    const stopped = await find(rt, c.id);
    expect(stopped).toMatchObject({ state: "exited", exitCode: 137 });
    // SIGTERM did reach the program through the wrapper; SIGKILL followed after the grace period (1 s),
    // not after some other one (10 s would be Docker's default).
    const termAt = Number(/ignoring TERM at (\d+)/.exec(await readFile(rt.logPath(c.id), "utf8"))?.[1]);
    expect(stopped!.finishedAt! - termAt).toBeGreaterThanOrEqual(950);
    expect(stopped!.finishedAt! - termAt).toBeLessThan(10_000);
    await rt.remove(c.id);
  });

  it("stops a container gracefully even right after starting it, while the wrapper is still starting the program", async () => {
    const rt = runtime(await newStateDir());
    const exits: number[] = [];
    for (let i = 0; i < 40; i++) {
      const c = await rt.run(launch(`young-${i}`, { command: ["sleep", "60"] }));
      await new Promise((resolve) => setTimeout(resolve, i % 8)); // stops at varied moments of the start, not a wait for anything
      await rt.stop(c.id, 10);
      exits.push((await find(rt, c.id))!.exitCode!);
      await rt.remove(c.id);
    }
    // A swallowed SIGTERM would show as a SIGKILL at the end of the grace period: 137 instead of 143.
    expect(exits).toEqual(Array(40).fill(143));
  });

  it("lets a program that handles SIGTERM exit on its own within the grace period, with its exit code", async () => {
    const rt = runtime(await newStateDir());
    const c = await rt.run(
      launch("polite", {
        command: ["node", "-e", `process.on("SIGTERM", () => process.exit(0)); console.log("ready"); setInterval(() => {}, 1000)`],
      }),
    );
    await waitLog(rt, c.id, "ready");
    await rt.stop(c.id, 30);
    expect(await find(rt, c.id)).toMatchObject({ state: "exited", exitCode: 0 }); // not 137: no SIGKILL was needed
    await rt.remove(c.id);
  });

  it("stops every process of the container's process group", async () => {
    const rt = runtime(await newStateDir());
    const c = await rt.run(launch("family", { command: ["sh", "-c", "sleep 60 & sleep 60 & echo started; wait"] }));
    await waitLog(rt, c.id, "started");
    const pgid = (await recordOf(rt, c.id)).pid!;
    await waitFor(() => liveGroupMembers(pgid).length >= 4); // wrapper, inner shell, two sleeps
    await rt.stop(c.id, 5);
    expect(liveGroupMembers(pgid)).toEqual([]);
    expect((await find(rt, c.id))?.state).toBe("exited");
    await rt.stop(c.id, 5); // no-op once stopped
    await rt.remove(c.id);
  });

  it("starts an exited container again with the same argv, a new pid and a new start time", async () => {
    const rt = runtime(await newStateDir());
    const c = await rt.run(launch("again", { command: ["sh", "-c", "echo run; sleep 0.2; exit 5"] }));
    const firstExit = await waitExited(rt, c.id);
    expect(firstExit.exitCode).toBe(5);
    const firstPid = (await recordOf(rt, c.id)).pid;

    await rt.start(c.id);
    const restarted = await find(rt, c.id);
    expect(restarted?.state).toBe("running");
    expect(restarted?.exitCode).toBeUndefined();
    expect(restarted?.startedAt).toBeGreaterThanOrEqual(firstExit.finishedAt!);
    const secondPid = (await recordOf(rt, c.id)).pid;
    expect(secondPid).not.toBe(firstPid);
    await rt.start(c.id); // no-op while running
    expect((await recordOf(rt, c.id)).pid).toBe(secondPid);

    expect((await waitExited(rt, c.id)).exitCode).toBe(5);
    expect((await readFile(rt.logPath(c.id), "utf8")).match(/run/g)).toHaveLength(2);
    await rt.remove(c.id);
  });

  it("gives a process with hosts its own /etc/hosts (the host's lines plus the Service names), in every run, leaving the host's alone", async () => {
    const hostBefore = await readFile("/etc/hosts", "utf8");
    const rt = runtime(await newStateDir());
    const c = await rt.run(
      launch("hosts", {
        command: ["sh", "-c", "getent hosts redis redis.shop.svc.cluster.local localhost; exit 4"],
        hosts: [{ address: "127.77.0.9", names: ["redis", "redis.shop", "redis.shop.svc", "redis.shop.svc.cluster.local"] }],
      }),
    );
    expect((await waitExited(rt, c.id)).exitCode).toBe(4);
    await rt.start(c.id); // a restart in place mounts it again
    expect((await waitExited(rt, c.id)).exitCode).toBe(4);
    const log = await readFile(rt.logPath(c.id), "utf8");
    // Two names looked up in each of two runs, each answered with the Service's line.
    const answers = log.split("\n").filter((l) => l.startsWith("127.77.0.9"));
    expect(answers).toHaveLength(4);
    for (const a of answers) expect(a.split(/\s+/)).toEqual(expect.arrayContaining(["redis", "redis.shop.svc.cluster.local"]));
    expect(log).toMatch(/^(127\.0\.0\.1|::1)\s+localhost/m); // the host's own lines are still there
    expect(await readFile("/etc/hosts", "utf8")).toBe(hostBefore);
    await rt.remove(c.id);
  });

  it("removes a running container: kills it and deletes its record, log and directory", async () => {
    const rt = runtime(await newStateDir());
    const c = await rt.run(launch("doomed", { command: ["sleep", "60"] }));
    const pgid = (await recordOf(rt, c.id)).pid!;
    await rt.remove(c.id);
    expect(liveGroupMembers(pgid)).toEqual([]);
    expect(await exists(rt.recordPath(c.id))).toBe(false);
    expect(await exists(rt.logPath(c.id))).toBe(false);
    expect(await exists(rt.containerDir(c.id))).toBe(false);
    expect(await rt.list()).toEqual([]);
    await rt.remove(c.id); // no-op once gone
  });

  it("only lists and touches containers of its own owner", async () => {
    const stateDir = await newStateDir();
    const mine = runtime(stateDir);
    const theirs = runtime(stateDir, "other-owner");
    const a = await mine.run(launch("mine", { command: ["sleep", "60"] }));
    const b = await theirs.run(launch("theirs", { command: ["sleep", "60"], labels: { [LABELS.owner]: "other-owner" } }));
    expect((await mine.list()).map((c) => c.id)).toEqual([a.id]);
    expect((await theirs.list()).map((c) => c.id)).toEqual([b.id]);
    await mine.remove(b.id);
    expect(await codeOf(mine.stop(b.id, 0))).toBe("RuntimeCallFailed");
    expect((await find(theirs, b.id))?.state).toBe("running");
    await mine.remove(a.id);
    await theirs.remove(b.id);
  });

  it("rejects stop and start of an unknown container", async () => {
    const rt = runtime(await newStateDir());
    expect(await codeOf(rt.stop("nope", 1))).toBe("RuntimeCallFailed");
    expect(await codeOf(rt.start("nope"))).toBe("RuntimeCallFailed");
  });
});

describe("ProcessRuntime exec, kill and restart counts", () => {
  it("runs exec in the container's working directory and environment", async () => {
    const rt = runtime(await newStateDir());
    const c = await rt.run(launch("exec-env", { command: ["sleep", "60"], workingDir: "work", env: { GREETING: "hello from env" } }));
    const result = await rt.exec(c.id, ["sh", "-c", 'pwd; echo "$GREETING"'], 5_000);
    expect(result).toEqual({ exitCode: 0, output: `${join(rt.containerDir(c.id), "work")}\nhello from env\n` });
    await rt.remove(c.id);
  });

  it("reports a failing command's exit code with stdout and stderr together", async () => {
    const rt = runtime(await newStateDir());
    const c = await rt.run(launch("exec-fail", { command: ["sleep", "60"] }));
    const result = await rt.exec(c.id, ["sh", "-c", "echo out; sleep 0.05; echo err >&2; exit 3"], 5_000);
    expect(result).toEqual({ exitCode: 3, output: "out\nerr\n" });
    await rt.remove(c.id);
  });

  it("reports a program missing from the container's PATH as exit code 127 with the reason", async () => {
    const rt = runtime(await newStateDir());
    const c = await rt.run(launch("exec-missing", { command: ["sleep", "60"] }));
    const result = await rt.exec(c.id, ["no-such-program-cx"], 5_000);
    expect(result.exitCode).toBe(127);
    expect(result.output).toContain("no-such-program-cx");
    expect(result.output).not.toContain("/usr/bin"); // the PATH searched is not shown
    await rt.remove(c.id);
  });

  it("kills the command and everything it started at the deadline and reports a timeout", async () => {
    const stateDir = await newStateDir();
    const rt = runtime(stateDir);
    const c = await rt.run(launch("exec-slow", { command: ["sleep", "60"] }));
    const started = Date.now();
    const result = await rt.exec(c.id, ["sh", "-c", "echo $$ > exec.pid; echo begun; sleep 30 & sleep 30; echo never"], 400);
    const elapsed = Date.now() - started;
    expect(result).toEqual({ exitCode: -1, output: "begun\n", timedOut: true }); // not "never": the deadline ended it
    expect(elapsed).toBeGreaterThanOrEqual(390);
    const pgid = Number((await readFile(join(rt.containerDir(c.id), "exec.pid"), "utf8")).trim());
    expect(liveGroupMembers(pgid)).toEqual([]);
    expect((await find(rt, c.id))?.state).toBe("running"); // the container itself is untouched
    await rt.remove(c.id);
  });

  it("returns as soon as the command exits even when a background child keeps its output open", async () => {
    const rt = runtime(await newStateDir());
    const c = await rt.run(launch("exec-bg", { command: ["sleep", "60"] }));
    // The background sleep holds the output open for 60 s: waiting for it would end at the 20 s deadline, timed out.
    const result = await rt.exec(c.id, ["sh", "-c", "sleep 60 & echo $! > bg.pid; echo done"], 20_000);
    expect(result).toEqual({ exitCode: 0, output: "done\n" });
    process.kill(Number((await readFile(join(rt.containerDir(c.id), "bg.pid"), "utf8")).trim()), "SIGKILL");
    await rt.remove(c.id);
  });

  it("keeps the first 10 KiB of a command's output", async () => {
    const rt = runtime(await newStateDir());
    const c = await rt.run(launch("exec-big", { command: ["sleep", "60"] }));
    const result = await rt.exec(c.id, ["sh", "-c", "yes 0123456789 | head -c 100000"], 5_000);
    expect(result.exitCode).toBe(0);
    expect(result.output).toHaveLength(10 * 1024);
    expect(result.output.startsWith("0123456789\n0123456789\n")).toBe(true);
    await rt.remove(c.id);
  });

  it.each([
    { name: "refuses exec in a stopped container", code: "RuntimeCallFailed" as const, target: "stopped" as const, command: ["true"] },
    { name: "refuses exec in an unknown container", code: "RuntimeCallFailed" as const, target: "unknown" as const, command: ["true"] },
    { name: "refuses an empty exec command", code: "InvalidArgument" as const, target: "running" as const, command: [] as string[] },
  ])("$name", async ({ code, target, command }) => {
    const rt = runtime(await newStateDir());
    const c = await rt.run(launch("exec-refused", { command: ["sleep", "60"] }));
    if (target === "stopped") await rt.stop(c.id, 0);
    expect(await codeOf(rt.exec(target === "unknown" ? "nope" : c.id, command, 1_000))).toBe(code);
    await rt.remove(c.id);
  });

  it("counts restarts in place in the record, so that a new instance sees the same count", async () => {
    const stateDir = await newStateDir();
    const rt = runtime(stateDir);
    const c = await rt.run(launch("counted", { command: ["sh", "-c", "exit 1"] }));
    expect(c.restartCount).toBe(0);
    await waitExited(rt, c.id);
    await rt.start(c.id);
    await waitExited(rt, c.id);
    await rt.start(c.id);
    await waitExited(rt, c.id);
    expect((await find(rt, c.id))?.restartCount).toBe(2);
    expect((await find(runtime(stateDir), c.id))?.restartCount).toBe(2);
    await rt.remove(c.id);
  });

  it.each([
    { name: "SIGTERM ends a program with default handling: exit 143", signal: "SIGTERM" as const, exit: 143 },
    { name: "SIGINT ends a program with default handling: exit 130", signal: "SIGINT" as const, exit: 130 },
    { name: "SIGKILL ends the program and its wrapper: exit 137", signal: "SIGKILL" as const, exit: 137 },
  ])("kill sends one signal without waiting — $name, as a new instance sees it too", async ({ signal, exit }) => {
    const stateDir = await newStateDir();
    const rt = runtime(stateDir);
    const c = await rt.run(launch(`signalled-${signal}`, { command: ["sleep", "60"] }));
    // Wait until the wrapper's child has become `sleep`: a signal that lands while the child is still the
    // forked wrapper, before its exec, is swallowed like the wrapper's (the group had two members then, and
    // waiting only for that let SIGINT get lost under load).
    // The program's own command line, not just "different from the wrapper's": a pid read mid-exec or
    // already gone gives an empty or no command line, which let the signal go out too early.
    const pgid = (await recordOf(rt, c.id)).pid!;
    const isSleep = (pid: number) => (readCmdline(pid)?.split("\0")[0] ?? "").split("/").pop() === "sleep";
    await waitFor(() => liveGroupMembers(pgid).some((pid) => pid !== pgid && isSleep(pid)));
    await rt.kill(c.id, signal);
    await rt.close(); // the exit is read by a new instance that did not spawn the process
    const other = runtime(stateDir);
    const ex = await waitExited(other, c.id);
    // What the runtime saw, should this ever differ (it once did under load, not reproduced since).
    const exitFile = await readFile(join(stateDir, "process", `${c.id}.exit`), "utf8").catch((e: unknown) => `unreadable: ${String(e)}`);
    expect(ex.exitCode, `exit file ${JSON.stringify(exitFile)}, records ${JSON.stringify(await readRecords(stateDir))}`).toBe(exit);
    await other.kill(c.id, "SIGKILL"); // no-op once stopped
    expect((await find(other, c.id))?.exitCode).toBe(exit);
    await other.remove(c.id);
  });

  it("refuses kill of an unknown container", async () => {
    const rt = runtime(await newStateDir());
    expect(await codeOf(rt.kill("nope", "SIGTERM"))).toBe("RuntimeCallFailed");
  });
});
