/**
 * Running one command for the process runtime's exec(): a child in its own process group, output
 * collected up to a limit, a deadline that kills the whole group. Nothing outlives a timeout: the group
 * gets SIGKILL, the pipes are destroyed and the timer is cleared on every path.
 */
import { spawn } from "node:child_process";
import { constants as osConstants } from "node:os";
import { MAX_EXEC_OUTPUT_BYTES, type ExecResult } from "../types.js";

/** How long the pipes may stay open after the command exited (a background child holding them). */
const DRAIN_MS = 100;

/** How long to wait for a SIGKILLed command to be reaped before resolving anyway. */
const REAP_MS = 2_000;

/** Collects bytes up to a limit and drops the rest; decodes once at the end. */
class BoundedOutput {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly limit: number = MAX_EXEC_OUTPUT_BYTES) {}

  /** Appends what still fits. */
  push(chunk: Buffer): void {
    const room = this.limit - this.size;
    if (room <= 0) return;
    const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.chunks.push(part);
    this.size += part.length;
  }

  /** The collected bytes as UTF-8; a character cut at the limit is dropped. */
  text(): string {
    const text = Buffer.concat(this.chunks).toString("utf8");
    return this.size >= this.limit ? text.replace(/\uFFFD$/, "") : text;
  }
}

/** Where and how to run the command. */
export interface RunCommandOptions {
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
}

/**
 * Spawns `program` with `args` (no shell) in a new process group and resolves with its exit code (128+n
 * when a signal ended it) and interleaved stdout/stderr. At the deadline the group is SIGKILLed and the
 * result is `timedOut` (exit code -1). A spawn failure (EACCES, ENOENT raced in) is exit code 126/127
 * with the error as output, like a shell reports it. Never rejects.
 */
export function runCommand(program: string, args: readonly string[], options: RunCommandOptions): Promise<ExecResult> {
  return new Promise<ExecResult>((resolve) => {
    const output = new BoundedOutput();
    let settled = false;
    let timedOut = false;
    let drainTimer: NodeJS.Timeout | undefined;
    let reapTimer: NodeJS.Timeout | undefined;
    const child = spawn(program, [...args], {
      cwd: options.cwd,
      env: options.env,
      detached: true, // its own process group: a timeout kills everything it started
      stdio: ["ignore", "pipe", "pipe"],
    });
    const finish = (result: ExecResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(drainTimer);
      clearTimeout(reapTimer);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve(result);
    };
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    };
    /** Set when the command exited (its output may still be draining). */
    let exitCode: number | undefined;
    const deadline = setTimeout(
      () => {
        killGroup();
        if (exitCode !== undefined) {
          finish({ exitCode, output: output.text() }); // it finished; only a background child held the pipes
          return;
        }
        timedOut = true;
        // Resolve once the kernel reaped it (or after REAP_MS at most), so that a caller may check at once that nothing is left.
        child.once("exit", () => finish({ exitCode: -1, output: output.text(), timedOut: true }));
        reapTimer = setTimeout(() => finish({ exitCode: -1, output: output.text(), timedOut: true }), REAP_MS);
      },
      Math.max(0, options.timeoutMs),
    );
    child.stdout?.on("data", (c: Buffer) => output.push(c));
    child.stderr?.on("data", (c: Buffer) => output.push(c));
    child.once("error", (err: NodeJS.ErrnoException) => {
      if (timedOut || exitCode !== undefined) return;
      finish({ exitCode: err.code === "ENOENT" ? 127 : 126, output: `${program}: ${err.message}` });
    });
    child.once("exit", (code, signal) => {
      if (timedOut) return;
      const status = code ?? 128 + (signal === null ? 0 : (osConstants.signals[signal] ?? 0));
      exitCode = status;
      // Output may still be in the pipes: wait for both to end, but not for a background child that keeps them open.
      let open = 2;
      const done = () => finish({ exitCode: status, output: output.text() });
      const ended = () => {
        open -= 1;
        if (open === 0) done();
      };
      if (!child.stdout || child.stdout.readableEnded) ended();
      else child.stdout.once("end", ended);
      if (!child.stderr || child.stderr.readableEnded) ended();
      else child.stderr.once("end", ended);
      drainTimer = setTimeout(done, DRAIN_MS);
    });
  });
}
