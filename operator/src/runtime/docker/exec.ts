/**
 * Commands run in a container and its log, both read from the engine's multiplexed stream: exec() — create,
 * start (attached, non-TTY, demultiplexed), inspect for the exit code; at the deadline the stream is closed
 * and, when the engine runs on this host, the exec'd process and its descendants are SIGKILLed (Docker has no
 * call to kill an exec) — and the end of a container's log.
 */
import { readFileSync } from "node:fs";
import { CoxError } from "../../api/errors.js";
import { logTail, type LogTail } from "../log-tail.js";
import { liveDescendants } from "../process/proc.js";
import { MAX_EXEC_OUTPUT_BYTES, type ExecResult } from "../types.js";
import type { DockerEngine } from "./engine.js";
import { ExecOutputDemuxer, type DockerExecInspect } from "./mapping.js";

/**
 * Runs a command in the running container (see the module comment for the deadline): exec create
 * (stdout+stderr attached, no TTY), exec start read to its end and demultiplexed, exec inspect for the
 * exit code. Engine errors before the command runs are thrown (no such container, not running: 409 →
 * RuntimeCallFailed; unreachable → NodeUnreachable); at `timeoutMs` the result is timedOut whatever
 * step was under way. At most `maxOutputBytes` of output are kept (default MAX_EXEC_OUTPUT_BYTES, the
 * probes' limit); a reader of longer answers (the node proxy's statistics) asks for more.
 */
export async function execIn(engine: DockerEngine, id: string, command: readonly string[], timeoutMs: number, maxOutputBytes = MAX_EXEC_OUTPUT_BYTES): Promise<ExecResult> {
  if (command.length === 0 || command[0] === "") {
    throw new CoxError("InvalidArgument", `exec in container ${id}: the command is empty; expected a program and its arguments`);
  }
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), Math.max(0, timeoutMs));
  const output = new ExecOutputDemuxer(maxOutputBytes);
  let execId: string | undefined;
  const timedOut = (): ExecResult => {
    if (execId !== undefined) void killExec(engine, execId).catch(() => undefined);
    return { exitCode: -1, output: output.text(), timedOut: true };
  };
  // Resolves at the deadline even when the work still waits for a slot; the work then stops at its
  // next step (every engine call checks the deadline) and kills what it started.
  const atDeadline = new Promise<ExecResult>((resolve) => deadline.signal.addEventListener("abort", () => resolve({ exitCode: -1, output: output.text(), timedOut: true }), { once: true }));
  try {
    return await Promise.race([execSteps(engine, id, command, deadline.signal, output, timedOut, (x) => (execId = x)), atDeadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The end of the container's log (the engine's json-file or local log driver keeps every run's output):
 * `tail` lines asked of the engine, demultiplexed (no TTY), then cut to the bytes asked for.
 * RuntimeCallFailed for an unknown container (404).
 */
export async function readLogs(engine: DockerEngine, id: string, tail: LogTail): Promise<string> {
  const deadline = AbortSignal.timeout(engine.callTimeoutMs);
  const stream = await engine.call<NodeJS.ReadableStream>(
    `read the log of container ${id}`,
    { method: "GET", path: `/containers/${id}/logs`, query: { stdout: true, stderr: true, tail: String(tail.lines) }, stream: true },
    { signal: deadline },
  );
  // Lines are bounded by the engine; keep enough bytes of them to cut the tail from.
  const output = new ExecOutputDemuxer(tail.lines * 4096);
  await readExecStream(stream, output, deadline);
  return logTail(Buffer.from(output.text(), "utf8"), tail);
}

/** The steps of exec(); errors after the deadline become the timed-out result. */
async function execSteps(
  engine: DockerEngine,
  id: string,
  command: readonly string[],
  deadline: AbortSignal,
  output: ExecOutputDemuxer,
  timedOut: () => ExecResult,
  setExecId: (execId: string) => void,
): Promise<ExecResult> {
  try {
    const created = await engine.call<{ Id: string }>(
      `create exec in container ${id}`,
      {
        method: "POST",
        path: `/containers/${id}/exec`,
        body: { AttachStdin: false, AttachStdout: true, AttachStderr: true, Tty: false, Cmd: [...command] },
      },
      { signal: deadline },
    );
    const execId = created.Id;
    setExecId(execId);
    const stream = await engine.call<NodeJS.ReadableStream>(`start exec in container ${id}`, { method: "POST", path: `/exec/${execId}/start`, body: { Detach: false, Tty: false }, stream: true }, { signal: deadline });
    const ended = await readExecStream(stream, output, deadline);
    if (!ended) return timedOut();
    // The stream ends when the process closed its output; the exit code can lag behind by a moment.
    for (;;) {
      const info = await engine.call<DockerExecInspect>(`inspect exec in container ${id}`, { method: "GET", path: `/exec/${execId}/json` }, { signal: deadline });
      if (!info.Running && typeof info.ExitCode === "number") return { exitCode: info.ExitCode, output: output.text() };
      await new Promise<void>((resolve) => setTimeout(resolve, 10));
      if (deadline.aborted) return timedOut();
    }
  } catch (err) {
    if (deadline.aborted) return timedOut();
    throw err;
  }
}

/**
 * Kills a timed-out exec's process and its descendants when the engine runs on this host: the exec's
 * pid (engine host's pid namespace) counts only while /proc/<pid>/cgroup names the container's full
 * id, so a remote engine's pid, or a pid reused since, is never signalled.
 */
async function killExec(engine: DockerEngine, execId: string): Promise<void> {
  const info = await engine.call<DockerExecInspect>(`inspect exec ${execId}`, { method: "GET", path: `/exec/${execId}/json` });
  const pid = info.Pid ?? 0;
  const container = info.ContainerID ?? "";
  if (!info.Running || pid <= 0 || !/^[0-9a-f]{64}$/.test(container)) return;
  let cgroup: string;
  try {
    cgroup = readFileSync(`/proc/${pid}/cgroup`, "utf8");
  } catch {
    return; // not on this host (or gone)
  }
  if (!cgroup.includes(container)) return;
  for (const victim of [pid, ...liveDescendants(pid)]) {
    try {
      process.kill(victim, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
}

/**
 * Reads an exec's multiplexed output stream into `output`. Resolves true when the stream ended, false
 * when `signal` fired first (the stream is destroyed then). A stream error also ends it: the exit code
 * read afterwards decides.
 */
function readExecStream(stream: NodeJS.ReadableStream, output: ExecOutputDemuxer, signal: AbortSignal): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = stream as NodeJS.ReadableStream & { destroy?: (err?: Error) => void };
    let settled = false;
    const settle = (ended: boolean) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      if (!ended) s.destroy?.();
      resolve(ended);
    };
    const onAbort = () => settle(false);
    if (signal.aborted) return settle(false);
    signal.addEventListener("abort", onAbort, { once: true });
    stream.on("data", (chunk: Buffer | string) => output.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk));
    stream.on("error", () => settle(!signal.aborted));
    stream.on("end", () => settle(true));
    stream.on("close", () => settle(!signal.aborted));
  });
}
