/**
 * Runs `coxswain` as a real child process — the CLI from source through tsx's loader, in one process so
 * that kill -9 kills the operator itself — and collects what it prints.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readdir } from "node:fs/promises";
import { HaproxyProcess } from "../../operator/src/runtime/proxy/haproxy-process.js";
import { waitFor } from "./wait.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const CLI = path.join(ROOT, "operator/src/cli/main.ts");

/** A running `coxswain` process. */
export interface OperatorProcess {
  readonly proc: ChildProcess;
  readonly pid: number;
  /** Everything printed so far (stdout and stderr), line by line. */
  readonly lines: string[];
  /** Waits for a printed line matching `re`. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (or signal name) once the process ended. */
  readonly exited: Promise<number | string>;
  /** Sends a signal to the operator process (by pid). */
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM and wait (SIGKILL after 20 s). */
  stop(): Promise<void>;
}

/** Starts `coxswain <args>` with extra environment. */
export function startOperatorProcess(args: string[], env: Record<string, string> = {}): OperatorProcess {
  const proc = spawn(process.execPath, ["--import", "tsx", CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env, FORCE_COLOR: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const collect = (stream: NodeJS.ReadableStream | null) => {
    let buf = "";
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        lines.push(buf.slice(0, i));
        if (process.env.COXSWAIN_TEST_VERBOSE) process.stderr.write(`[operator ${proc.pid}] ${buf.slice(0, i)}\n`);
        buf = buf.slice(i + 1);
      }
    });
  };
  collect(proc.stdout);
  collect(proc.stderr);
  const exited = new Promise<number | string>((resolve) => proc.on("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  let ended = false;
  void exited.then(() => (ended = true));
  return {
    proc,
    pid: proc.pid!,
    lines,
    exited,
    waitForLine: (re, timeoutMs = 60_000) =>
      waitFor(
        `operator line ${re}`,
        () => {
          if (ended && !lines.some((l) => re.test(l))) throw new Error(`operator exited; output:\n${lines.join("\n")}`);
          return lines.find((l) => re.test(l));
        },
        timeoutMs,
      ),
    kill: (signal) => {
      if (!ended) process.kill(proc.pid!, signal);
    },
    async stop() {
      if (ended) return;
      process.kill(proc.pid!, "SIGTERM");
      const timer = setTimeout(() => !ended && process.kill(proc.pid!, "SIGKILL"), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Stops the node proxies an operator left running under its state dir (`<stateDir>/proxy/<node>`): they
 * outlive the operator by design, and a test must not leave them behind. Each is stopped through its own
 * manager, which adopts it by its pid file and checks its command line before signalling it.
 */
export async function stopNodeProxies(stateDir: string): Promise<void> {
  const dir = path.join(stateDir, "proxy");
  const nodes = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(nodes.map((n) => new HaproxyProcess({ stateDir: path.join(dir, n) }).close()));
}
