/**
 * The process runtime: the embedded default for machines without a Docker engine, like Nomad's raw_exec.
 * A "container" is a local process group running the container's command.
 *
 * Documented limits: the image is ignored (nothing is pulled or unpacked: the program must be installed
 * on the host; so are imagePullPolicy and imagePullSecrets, launch.pull, without a word), there is no isolation (same user, filesystem and network as the operator), limits are not
 * enforced, and only host networking exists (the program must listen on its hostPort; the launch env
 * carries PORT / PORT_<NAME>). Linux only (it reads /proc). One operator instance per stateDir.
 *
 * Layout under `<stateDir>/process/`:
 * - `<id>.json`  the record: launch facts, pid + start time of the current run, and its exit (mode 0600,
 *                as it holds the resolved environment, which may carry secrets); written atomically.
 * - `<id>/`      the per-container directory: the default working directory, and the base of a relative
 *                `workingDir`.
 * - `<id>.log`   stdout and stderr of every run, appended. Past maxLogBytes its last maxLogBytes are copied
 *                to `<id>.log.1` and it is emptied (copy-truncate: the program keeps its file open in append
 *                mode), so a container keeps maxLogBytes of its past plus what it wrote since the last look.
 *                Looked at on list(), at most every LOG_CHECK_MS; lines written between the copy and the
 *                truncation are lost, as with logrotate's copytruncate.
 * - `<id>.exit`  the exit code of the current run, written by the wrapper shell (below).
 * - `pods/<pod>/` the emptyDir volumes of a pod, removed with its last container (volumes.ts: how a
 *                process sees its volumes, below its container directory).
 * - `claims/<ns>/<name>/` the data of a PersistentVolumeClaim, kept after its pods (claims(), removeClaim()).
 *
 * How a process outlives the operator and still reports its exit code: the program runs under a tiny
 * wrapper, `/bin/sh -c 'trap : HUP INT QUIT TERM; "$@"; echo $? > "$0"' <exitfile> <program> <args…>`,
 * spawned detached (setsid: its own session and process group, so a kill -9 or Ctrl-C of the operator
 * does not reach it) and unref'd. The shell waits for the program as a foreground child and writes its
 * exit status (128+n when killed by signal n) to the exit file, so an exit that no operator watched is
 * still known to the next one. The trap keeps the shell alive through HUP/INT/QUIT/TERM sent to the whole
 * group (a trap with a handler, unlike an ignored signal, is reset to the default in the program, so the
 * program still receives and handles them). The recorded pid is the shell's: it leads the process group,
 * and every signal from stop() goes to the whole group. Only a SIGKILL of the shell itself loses the exit
 * code: stop() then records 128+9 = 137; an unknown killer leaves exitCode undefined.
 *
 * A pid is trusted only together with its start time (/proc/<pid>/stat field 22), so a pid reused by
 * another program after ours died is never reported as running, stopped or killed.
 *
 * An operator killed with -9 after spawning a wrapper and before writing its pid into the record leaves a
 * process that no record names: the record says "created" (or names the previous run), and a removal
 * would delete the files and leave the process running on unseen, holding its port. So every instance,
 * before its first list() or run(), looks for wrappers whose exit file (their first argument after the
 * script) is in this directory and that no record names: one whose record names no live run is adopted
 * (the record now names it, as the spawn would have recorded it); one whose record is gone, or whose
 * record names another live run, is killed with its group.
 *
 * The record also keeps the restart count (start() after a run adds one), so it survives an operator
 * restart. exec() runs a command as a child of the operator (not of the wrapper) in the container's
 * working directory and environment, in a process group of its own that is SIGKILLed at the deadline.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, closeSync, constants as fsConstants, openSync } from "node:fs";
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, stat, truncate, unlink, writeFile } from "node:fs/promises";
import { arch, constants as osConstants, cpus, platform, totalmem } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CoxError, isCoxError } from "../../api/errors.js";
import { checkLaunchEnv, withoutEnvValues } from "../env.js";
import { LABELS } from "../labels.js";
import { logTail, type LogTail } from "../log-tail.js";
import type { ClaimVolume, ContainerLaunch, ContainerUsage, ExecResult, KillSignal, NodeInfo, NodeRuntime, ObservedContainer, RuntimeChangeListener } from "../types.js";
import { runCommand } from "./exec.js";
import { groupLeadersByArgument, isAlive, liveDescendants, liveGroupMembers, readCmdline, readProcStat, readProcUsage } from "./proc.js";
import { DEFAULT_PATH, resolveProgram } from "./resolve.js";
import { unmetSecurity } from "./security.js";
import { claimDir, MOUNT_ROOT_ENV, podPart, writeVolumes } from "./volumes.js";

/** Options of a ProcessRuntime. */
export interface ProcessRuntimeOptions {
  /** Directory for records, logs and per-container directories; created when missing. */
  stateDir: string;
  /** Owner label value of this operator instance; only records carrying it are listed or touched. */
  owner: string;
  /** A container's log file is rotated past this size (default DEFAULT_MAX_LOG_BYTES). */
  maxLogBytes?: number;
}

/** Size past which a container's log is rotated: the kubelet's containerLogMaxSize (10 Mi). */
const DEFAULT_MAX_LOG_BYTES = 10 * 2 ** 20;

/** How often list() looks at the log files' sizes. */
const LOG_CHECK_MS = 5_000;

/**
 * Variables a launched program inherits from the operator's environment, when set there, before the
 * launch's own env is merged over them. Nothing else leaks from the operator (no credentials, no
 * DOCKER_HOST, no NODE_OPTIONS). PATH defaults to DEFAULT_PATH when the operator has none; the program
 * is looked up on the resulting PATH. The wrapper shell (dash) also exports PWD = the working directory.
 */
export const INHERITED_ENV = ["HOME", "LANG", "PATH", "TZ"] as const;

/** The wrapper shell script; "$0" is the exit file, "$@" the program and its arguments. */
export const WRAPPER_SCRIPT = 'trap : HUP INT QUIT TERM; "$@"; echo $? > "$0"';

/** Suffix of a container's rotated log file. */
const ROTATED_LOG = ".1";

/** Infix of a record's temporary file (`<id>.json.tmp-<pid>-<random>`), renamed over the record. */
const RECORD_TMP = ".tmp-";

/** True while a process with this pid exists (any owner: EPERM means it exists). */
function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === "EPERM";
  }
}

/** Shell that runs the wrapper. */
const SHELL = "/bin/sh";

/** Run in the container's mount namespace before the wrapper: its hosts file ($0) over /etc/hosts. */
const HOSTS_SCRIPT = 'mount --bind "$0" /etc/hosts && exec "$@"';

/**
 * unshare(1) when this runtime can give a process its own /etc/hosts: as root (a mount namespace of its
 * own needs CAP_SYS_ADMIN) with unshare and mount installed (util-linux). Undefined otherwise.
 */
const PRIVATE_HOSTS: { unshare: string } | undefined = (() => {
  if (process.getuid?.() !== 0) return undefined;
  const find = (name: string) =>
    ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
      .map((d) => join(d, name))
      .find((p) => {
        try {
          accessSync(p, fsConstants.X_OK);
          return true;
        } catch {
          return false;
        }
      });
  const unshare = find("unshare");
  return unshare && find("mount") ? { unshare } : undefined;
})();

/** How often stop() looks whether the process group is gone. */
const POLL_MS = 20;

/** How long stop() waits for a SIGKILLed group to vanish before reporting failure. */
const KILL_WAIT_MS = 10_000;

/** The claims a launch mounts, sorted. */
function claimsOf(launch: ContainerLaunch): string[] {
  return [...new Set((launch.volumes ?? []).flatMap((v) => (v.claim ? [v.claim.name] : [])))].sort();
}

/** The persisted record of one process container (`<stateDir>/process/<id>.json`). */
export interface ProcessRecord {
  /** Record format version. */
  version: 1;
  id: string;
  runtimeName: string;
  /** The launch's image, reported back unchanged (the process runtime does not use it). */
  image: string;
  labels: Record<string, string>;
  /** command ++ args as launched; the program is resolved on PATH again at every start. */
  argv: string[];
  /** Final environment: INHERITED_ENV from the operator, the launch's env merged over it. */
  env: Record<string, string>;
  /** Absolute working directory. */
  cwd: string;
  /** Epoch ms. */
  createdAt: number;
  /** The claims ("namespace/name") the container mounts, sorted; absent when none (removeClaim() refuses those in use). */
  claims?: string[];
  /** Pid of the current run's wrapper shell, which leads its process group (pgid = pid). */
  pid?: number;
  /** Start time of `pid` in clock ticks since boot (/proc/<pid>/stat field 22). */
  startTime?: number;
  /** Epoch ms of the current run's start. */
  startedAt?: number;
  /** Epoch ms of the current run's exit, once observed. */
  finishedAt?: number;
  /** Exit code of the current run (128+n for signal n); undefined when unknown. */
  exitCode?: number;
  /** Restarts in place so far: start() of a container that had run before (absent in older records: 0). */
  restartCount?: number;
  /**
   * Signal number kill() sent with SIGKILL to the current run: the wrapper dies with the program and
   * writes no exit file, so the exit is 128 + this, whichever operator instance observes it.
   */
  killSignal?: number;
  /**
   * The container's own /etc/hosts (the host's, plus the launch's Service names), bind-mounted over
   * /etc/hosts in a private mount namespace at every start. Absent when the launch had no hosts or this
   * runtime cannot do it (not root, or no unshare/mount): then the program sees the host's /etc/hosts.
   */
  hostsFile?: string;
}

function fail(message: string, cause?: unknown, details?: Record<string, unknown>): CoxError {
  return new CoxError("RuntimeCallFailed", message, { cause, details });
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

const ARCH_NAMES: Record<string, string> = { x64: "amd64", arm64: "arm64", ia32: "386", arm: "arm" };

/** The process runtime (see the module comment for its layout, wrapper and limits). */
export class ProcessRuntime implements NodeRuntime {
  /** Always "process". */
  readonly type = "process";
  readonly #dir: string;
  readonly #owner: string;
  readonly #maxLogBytes: number;
  /** When list() last looked at the log files' sizes (epoch ms). */
  #logsCheckedAt = 0;
  readonly #listeners = new Set<RuntimeChangeListener>();
  /** Children spawned by this instance, by container id, while their exit is still pending. */
  readonly #children = new Map<string, ChildProcess>();
  /** Per-container mutex: record read-modify-write never interleaves. */
  readonly #locks = new Map<string, Promise<void>>();
  /** Runtime names being created right now, so two concurrent run() calls cannot both take one. */
  readonly #creating = new Set<string>();
  /** The search for wrappers a killed predecessor left unrecorded, made once per instance (see the module comment). */
  #recovered: Promise<void> | undefined;
  #closed = false;

  /** Creates the runtime; nothing touches the disk before the first call. */
  constructor(options: ProcessRuntimeOptions) {
    if (options.stateDir === "") throw new CoxError("InvalidArgument", "ProcessRuntime needs a stateDir; got an empty path");
    if (options.owner === "") throw new CoxError("InvalidArgument", "ProcessRuntime needs an owner; got an empty string");
    this.#dir = join(resolve(options.stateDir), "process");
    this.#owner = options.owner;
    this.#maxLogBytes = options.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES;
    if (!(this.#maxLogBytes > 0)) throw new CoxError("InvalidArgument", `ProcessRuntime's maxLogBytes must be positive; got ${this.#maxLogBytes}`);
  }

  /** Path of the record of container `id`. */
  recordPath(id: string): string {
    return join(this.#dir, `${id}.json`);
  }

  /** Path of the log file holding stdout and stderr of every run of container `id`. */
  logPath(id: string): string {
    return join(this.#dir, `${id}.log`);
  }

  /** The per-container directory of `id` (default working directory). */
  containerDir(id: string): string {
    return join(this.#dir, id);
  }

  #exitPath(id: string): string {
    return join(this.#dir, `${id}.exit`);
  }

  #hostsPath(id: string): string {
    return join(this.#dir, `${id}.hosts`);
  }

  /** Checks the host (Linux /proc, /bin/sh), creates the state directory and reports the host's capacity. */
  async connect(): Promise<NodeInfo> {
    try {
      accessSync("/proc/self/stat", fsConstants.R_OK);
    } catch (err) {
      throw fail("the process runtime needs Linux /proc (to tell its processes from reused pids); /proc/self/stat is not readable", err);
    }
    try {
      accessSync(SHELL, fsConstants.X_OK);
    } catch (err) {
      throw fail(`the process runtime runs programs under ${SHELL}, which is missing or not executable`, err);
    }
    await this.#ensureDir();
    return {
      cpuMillis: Math.max(1, cpus().length) * 1000,
      memoryBytes: totalmem(),
      engine: `process (pid ${process.pid})`,
      platform: `${platform()}/${ARCH_NAMES[arch()] ?? arch()}`,
    };
  }

  /** Every record carrying our owner label, with its state checked against the live processes; sorted by runtimeName, then id. */
  async list(): Promise<ObservedContainer[]> {
    await this.#recover();
    const records = await this.#readAll();
    const out: ObservedContainer[] = [];
    for (const found of records) {
      if (found.labels[LABELS.owner] !== this.#owner) continue;
      let record = found;
      // Liveness is read once per record: read again for the state, a leader that died in between made
      // an "exited" container with no exit code (its exit file not read yet) — seen once on a loaded machine.
      const running = this.#isRunning(found);
      if (!running && found.pid !== undefined && found.finishedAt === undefined) {
        record = this.#locks.has(found.id)
          ? // A stop/start holds the record; report what the exit file says without persisting.
            await this.#settled(found, undefined)
          : await this.#locked(found.id, async () => {
              const fresh = await this.#read(found.id);
              return fresh === undefined ? found : this.#settle(fresh, undefined);
            });
      }
      // A record settled here is not running; one read again under the lock may be a new run: look again.
      out.push(this.#observe(record, record === found ? running : this.#isRunning(record)));
    }
    if (Date.now() - this.#logsCheckedAt >= LOG_CHECK_MS) {
      this.#logsCheckedAt = Date.now();
      await this.#rotateLogs(out.filter((c) => c.state === "running").map((c) => c.id));
    }
    return out.sort((a, b) => (a.runtimeName < b.runtimeName ? -1 : a.runtimeName > b.runtimeName ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * Creates the container (record, per-container directory) and starts its program (not with
   * launch.startLater: the record then has no pid, and the container is "created" until start()). Throws InvalidField
   * for an env entry no environment can hold (env values never appear in what it throws),
   * CommandNotFound when there is no command/args or the program is not on PATH, SecurityContextUnmet for
   * a securityContext setting a local process cannot have (security.ts), RuntimeCallFailed for
   * bridge networking, a name already in use, a missing absolute workingDir or a failed spawn; nothing is
   * left behind on failure.
   */
  async run(launch: ContainerLaunch): Promise<ObservedContainer> {
    checkLaunchEnv(launch);
    try {
      return await this.#run(launch);
    } catch (err) {
      // Node's spawn quotes an environment it refuses: never pass a value on.
      throw withoutEnvValues(err, launch.env, launch.secretEnv);
    }
  }

  async #run(launch: ContainerLaunch): Promise<ObservedContainer> {
    const unmet = unmetSecurity(launch.security, { uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1, groups: process.getgroups?.() ?? [] });
    if (unmet.length > 0) {
      throw new CoxError(
        "SecurityContextUnmet",
        `container ${launch.runtimeName} is not started: the process runtime runs it as a local process of the operator and cannot meet its securityContext: ${unmet.join("; ")}; run the pod on a Docker node`,
        { details: { runtimeName: launch.runtimeName } },
      );
    }
    if (launch.network !== "host") {
      throw fail(`container ${launch.runtimeName} asks for network "${launch.network}"; the process runtime only has host networking (programs listen on their hostPort directly)`, undefined, {
        runtimeName: launch.runtimeName,
        network: launch.network,
      });
    }
    const argv = [...(launch.command ?? []), ...(launch.args ?? [])];
    if (argv.length === 0) {
      throw new CoxError("CommandNotFound", `container ${launch.runtimeName}: the process runtime needs command or args; it has no image to take an entrypoint from`, { details: { runtimeName: launch.runtimeName } });
    }
    const labels = { ...launch.labels };
    const owner = labels[LABELS.owner];
    if (owner === undefined) labels[LABELS.owner] = this.#owner;
    else if (owner !== this.#owner) {
      throw fail(`container ${launch.runtimeName} is labelled ${LABELS.owner}=${owner}, but this runtime belongs to owner "${this.#owner}"`);
    }
    if (this.#creating.has(launch.runtimeName)) {
      throw fail(`a container named ${launch.runtimeName} is already being created`);
    }
    this.#creating.add(launch.runtimeName);
    try {
      await this.#recover();
      await this.#ensureDir();
      const clash = (await this.#readAll()).find((r) => r.runtimeName === launch.runtimeName);
      if (clash !== undefined) {
        throw fail(`a container named ${launch.runtimeName} already exists (id ${clash.id}); remove it first`, undefined, {
          runtimeName: launch.runtimeName,
          id: clash.id,
        });
      }
      const id = randomBytes(8).toString("hex");
      const containerDir = this.containerDir(id);
      const wd = launch.workingDir;
      const cwd = wd === undefined || wd === "" ? containerDir : resolve(containerDir, wd);
      const env = baseEnv();
      Object.assign(env, launch.env);
      if (launch.mounts?.length) env[MOUNT_ROOT_ENV] = containerDir;
      // Resolve before creating anything, so that a typo leaves no trace.
      resolveProgram(argv[0]!, env.PATH ?? DEFAULT_PATH, cwd);
      if (wd !== undefined && isAbsolute(wd)) {
        const st = await stat(wd).catch(() => undefined);
        if (st === undefined || !st.isDirectory()) {
          throw fail(`container ${launch.runtimeName}: workingDir ${wd} does not exist or is not a directory; the process runtime creates relative working directories only (under ${containerDir})`);
        }
      }
      const record: ProcessRecord = {
        version: 1,
        id,
        runtimeName: launch.runtimeName,
        image: launch.image,
        labels,
        argv,
        env,
        cwd,
        createdAt: Date.now(),
        ...(claimsOf(launch).length > 0 ? { claims: claimsOf(launch) } : {}),
      };
      try {
        await mkdir(containerDir, { recursive: true, mode: 0o700 });
        await mkdir(cwd, { recursive: true });
        if (launch.volumes?.length || launch.mounts?.length) await writeVolumes(launch, containerDir, this.#podsDir, this.#claimsDir);
        if (launch.hosts?.length && PRIVATE_HOSTS) {
          const own = (await readFile("/etc/hosts", "utf8").catch(() => "127.0.0.1\tlocalhost\n")).replace(/\n*$/, "\n");
          const lines = launch.hosts.map((h) => `${h.address}\t${h.names.join(" ")}\n`).join("");
          record.hostsFile = this.#hostsPath(id);
          await writeFile(record.hostsFile, `${own}# Services (coxswain)\n${lines}`, { mode: 0o644 });
        }
        await this.#write(record);
        if (launch.startLater) return this.#observe(record);
        // A program that is already gone is reported with its exit code, as list() would: an init
        // container's exit 0 is what lets the next one start, and an unknown code counts as a failure.
        // Liveness is read once: one that dies after it is reported running, and a listing sees the exit.
        let running = false;
        const started = await this.#locked(id, async () => {
          const spawned = await this.#spawn(record);
          running = this.#isRunning(spawned);
          return running ? spawned : this.#settle(spawned, undefined);
        });
        return this.#observe(started, running);
      } catch (err) {
        await this.#removeFiles(id);
        await this.#removePodDirIfUnused(launch.runtimeName, launch.runtimeName);
        throw isCoxError(err) ? err : fail(`creating container ${launch.runtimeName} failed: ${String(err)}`, err);
      }
    } finally {
      this.#creating.delete(launch.runtimeName);
    }
  }

  /**
   * Runs the container's argv again (new pid, startedAt; exit cleared; restartCount + 1, persisted in the
   * record). No-op when it runs. Leftover members of its previous process group are killed first. Throws
   * RuntimeCallFailed for an unknown id, CommandNotFound when the program has disappeared from PATH.
   */
  async start(id: string): Promise<void> {
    await this.#locked(id, async () => {
      const record = await this.#mustRead(id, "start");
      if (this.#isRunning(record)) return;
      await this.#killGroup(await this.#settle(record, undefined), 0);
      await this.#spawn(record);
    });
  }

  /**
   * SIGTERM to the process group, SIGKILL to it after graceSeconds (at once when 0); resolves when no
   * member of the group lives, with the exit recorded. No-op when nothing runs. Throws RuntimeCallFailed
   * for an unknown id or a group that survives SIGKILL for 10 s.
   */
  async stop(id: string, graceSeconds: number): Promise<void> {
    await this.#locked(id, async () => {
      const record = await this.#mustRead(id, "stop");
      await this.#killGroup(record, graceSeconds);
    });
  }

  /**
   * Sends `signal` to the container's process group and returns. SIGTERM/SIGINT/SIGQUIT/SIGHUP reach the
   * program (the wrapper traps them and records the program's exit); after SIGKILL the exit is recorded
   * as 137. No-op when nothing runs; RuntimeCallFailed for an unknown id.
   */
  async kill(id: string, signal: KillSignal): Promise<void> {
    await this.#locked(id, async () => {
      const record = await this.#mustRead(id, "kill");
      if (!this.#isRunning(record)) return;
      if (signal === "SIGKILL") await this.#write({ ...record, killSignal: osConstants.signals.SIGKILL });
      signalGroup(record.pid!, signal);
    });
  }

  /**
   * Runs `command` as a child of the operator in the container's working directory and environment (the
   * record's: INHERITED_ENV plus the launch env), the program looked up on that PATH. The child has its
   * own process group, which is SIGKILLed at the deadline. A program not found is exit code 127 with the
   * reason as output. Throws RuntimeCallFailed for an unknown or stopped container, InvalidArgument for
   * an empty command.
   */
  async exec(id: string, command: readonly string[], timeoutMs: number): Promise<ExecResult> {
    if (command.length === 0 || command[0] === "") {
      throw new CoxError("InvalidArgument", `exec in container ${id}: the command is empty; expected a program and its arguments`);
    }
    const record = await this.#mustRead(id, "exec");
    if (!this.#isRunning(record)) {
      throw fail(`cannot exec in container ${record.runtimeName} (${id}): it is not running`, undefined, { id });
    }
    let program: string;
    try {
      program = resolveProgram(command[0]!, record.env.PATH ?? DEFAULT_PATH, record.cwd);
    } catch (err) {
      if (isCoxError(err, "CommandNotFound")) return { exitCode: 127, output: err.message };
      throw err;
    }
    return runCommand(program, command.slice(1), { cwd: record.cwd, env: record.env, timeoutMs });
  }

  /**
   * The end of `<id>.log` (every run's stdout and stderr), continued from the rotated `<id>.log.1` when the
   * live file holds less than asked for. RuntimeCallFailed for an unknown id.
   */
  async logs(id: string, tail: LogTail): Promise<string> {
    await this.#mustRead(id, "read the log of");
    // A little more than asked for: trailing newlines are not counted.
    const want = tail.bytes + 64;
    const live = await readEnd(this.logPath(id), want);
    const rotated = live.length < want ? await readEnd(`${this.logPath(id)}${ROTATED_LOG}`, want - live.length) : Buffer.alloc(0);
    return logTail(Buffer.concat([rotated, live]), tail);
  }

  /** Rotates the log of each of `ids` that grew past maxLogBytes (see the module comment). */
  async #rotateLogs(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      const path = this.logPath(id);
      const size = await stat(path).then(
        (st) => st.size,
        () => 0,
      );
      if (size <= this.#maxLogBytes) continue;
      try {
        await writeFile(`${path}${ROTATED_LOG}`, await readEnd(path, this.#maxLogBytes), { mode: 0o600 });
        await truncate(path, 0);
      } catch {
        // Best effort: the next check tries again; the container is not disturbed either way.
      }
    }
  }

  /**
   * The CPU time and resident memory of the container's process tree (its wrapper shell and every live
   * descendant, read from /proc: readProcUsage); undefined when it does not run. Resident sets are summed,
   * so pages the processes share count more than once: an upper bound of the working set.
   */
  async usage(id: string): Promise<ContainerUsage | undefined> {
    const record = await this.#read(id);
    if (record === undefined || record.pid === undefined || !this.#isRunning(record)) return undefined;
    let cpuNanos = 0;
    let memoryBytes = 0;
    for (const pid of [record.pid, ...liveDescendants(record.pid)]) {
      const u = readProcUsage(pid);
      if (u === undefined) continue;
      cpuNanos += u.cpuNanos;
      memoryBytes += u.rssBytes;
    }
    return { cpuNanos, memoryBytes, at: Date.now() };
  }

  /** Kills the container's process group if anything of it lives, then deletes its record, log and directory. No-op for an unknown id. */
  async remove(id: string): Promise<void> {
    const removed = await this.#locked(id, async () => {
      const record = await this.#read(id);
      if (record === undefined || record.labels[LABELS.owner] !== this.#owner) return false;
      await this.#killGroup(record, 0);
      this.#children.get(id)?.removeAllListeners("exit");
      this.#children.delete(id);
      await this.#removeFiles(id);
      await this.#removePodDirIfUnused(record.runtimeName);
      return true;
    });
    if (removed) this.#notify(id);
  }

  /** The directory of the pods' emptyDir volumes. */
  get #podsDir(): string {
    return join(this.#dir, "pods");
  }

  /** The directory of the claims' data (volumes.ts claimDir). */
  get #claimsDir(): string {
    return join(this.#dir, "claims");
  }

  /** The claims whose directory is on this node, sorted by claim. */
  async claims(): Promise<ClaimVolume[]> {
    const out: ClaimVolume[] = [];
    for (const ns of (await readdir(this.#claimsDir).catch(() => [] as string[])).sort()) {
      for (const name of (await readdir(join(this.#claimsDir, ns)).catch(() => [] as string[])).sort()) {
        out.push({ claim: `${ns}/${name}`, volume: claimDir(this.#claimsDir, `${ns}/${name}`) });
      }
    }
    return out;
  }

  /** Removes a claim's directory; RuntimeCallFailed while a container of this runtime mounts it. */
  async removeClaim(claim: string): Promise<void> {
    const dir = claimDir(this.#claimsDir, claim);
    const users = (await this.#readAll()).filter((r) => r.claims?.includes(claim)).map((r) => r.runtimeName);
    if (users.length > 0) throw new CoxError("RuntimeCallFailed", `claim ${claim} is in use by ${users.sort().join(", ")}; its directory ${dir} is kept`);
    await rm(dir, { recursive: true, force: true });
  }

  /** Removes the emptyDir volumes of `runtimeName`'s pod when no other container of the pod exists or is being created (`creating` aside). */
  async #removePodDirIfUnused(runtimeName: string, creating?: string): Promise<void> {
    const pod = podPart(runtimeName);
    const others = (await this.#readAll()).some((r) => podPart(r.runtimeName) === pod);
    const beingCreated = [...this.#creating].some((n) => n !== creating && podPart(n) === pod);
    if (!others && !beingCreated) await rm(join(this.#podsDir, pod), { recursive: true, force: true });
  }

  /** Always empty: the process runtime has no images. */
  async images(): Promise<string[]> {
    return [];
  }

  /** Calls `listener` (best effort) when a child spawned by this instance exits or a container is removed. */
  watch(listener: RuntimeChangeListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Stops watching children and drops listeners; processes keep running, and the next instance finds them. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    for (const child of this.#children.values()) child.removeAllListeners("exit");
    this.#children.clear();
  }

  // ---- internals ----

  async #ensureDir(): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
  }

  #recover(): Promise<void> {
    this.#recovered ??= this.#adoptUnrecorded();
    return this.#recovered;
  }

  /** Adopts or kills the wrappers no record names (see the module comment); each under its container's lock. */
  async #adoptUnrecorded(): Promise<void> {
    const prefix = `${this.#dir}/`;
    const leaders = groupLeadersByArgument((arg) => {
      if (!arg.startsWith(prefix) || !arg.endsWith(".exit")) return undefined;
      const id = arg.slice(prefix.length, -".exit".length);
      return /^[0-9a-f]{16}$/.test(id) ? id : undefined;
    });
    for (const { pid, startTime, found: id } of leaders) {
      await this.#locked(id, async () => {
        const record = await this.#read(id);
        if (record !== undefined && record.labels[LABELS.owner] !== this.#owner) return; // not ours to judge
        if (record?.pid === pid && record.startTime === startTime) return; // recorded: the usual adoption
        if (!isAlive(pid, startTime)) return; // ended meanwhile
        if (record === undefined || this.#isRunning(record)) {
          signalGroup(pid, "SIGKILL");
          return;
        }
        const adopted: ProcessRecord = {
          ...record,
          pid,
          startTime,
          startedAt: Date.now(),
          restartCount: (record.restartCount ?? 0) + (record.pid !== undefined ? 1 : 0),
        };
        delete adopted.finishedAt;
        delete adopted.exitCode;
        delete adopted.killSignal;
        await this.#write(adopted);
      });
    }
  }

  #observe(record: ProcessRecord, running = this.#isRunning(record)): ObservedContainer {
    const observed: ObservedContainer = {
      id: record.id,
      runtimeName: record.runtimeName,
      image: record.image,
      labels: { ...record.labels },
      state: running ? "running" : record.pid === undefined ? "created" : "exited",
      createdAt: record.createdAt,
      restartCount: record.restartCount ?? 0,
    };
    if (record.startedAt !== undefined) observed.startedAt = record.startedAt;
    if (!running && record.pid !== undefined) {
      if (record.exitCode !== undefined) observed.exitCode = record.exitCode;
      if (record.finishedAt !== undefined) observed.finishedAt = record.finishedAt;
    }
    return observed;
  }

  #isRunning(record: ProcessRecord): boolean {
    return record.pid !== undefined && record.startTime !== undefined && record.finishedAt === undefined && isAlive(record.pid, record.startTime);
  }

  /**
   * Live members of the record's process group. Empty when the leader's pid now belongs to another
   * program: Linux never hands out a pid that is still some group's id, so a reused leader pid proves
   * our group is gone, and a group without its leader can only be ours.
   */
  #group(record: ProcessRecord): number[] {
    if (record.pid === undefined) return [];
    const leader = readProcStat(record.pid);
    if (leader !== undefined && leader.startTime !== record.startTime) return [];
    return liveGroupMembers(record.pid);
  }

  /**
   * True once the program runs: some member of the group has a command line other than the wrapper's
   * (a forked child shows the wrapper's until it execs the program). Also true when the wrapper is gone.
   */
  #programStarted(record: ProcessRecord, members: number[]): boolean {
    const pgid = record.pid;
    if (pgid === undefined || !members.includes(pgid)) return true;
    const wrapper = readCmdline(pgid);
    return members.some((pid) => pid !== pgid && readCmdline(pid) !== wrapper);
  }

  /**
   * Waits up to `ms` for the group to vanish. With `resendTerm`, sends SIGTERM again once, as soon as the
   * program has started (see #killGroup).
   */
  async #waitGone(record: ProcessRecord, ms: number, resendTerm = false): Promise<boolean> {
    const deadline = Date.now() + ms;
    let pending = resendTerm;
    for (;;) {
      const members = this.#group(record);
      if (members.length === 0) return true;
      if (pending && this.#programStarted(record, members)) {
        pending = false;
        signalGroup(record.pid!, "SIGTERM");
      }
      if (Date.now() >= deadline) return false;
      await sleep(Math.min(POLL_MS, Math.max(1, deadline - Date.now())));
    }
  }

  /** The stop sequence; caller holds the lock. Settles the record when the group is gone. */
  async #killGroup(record: ProcessRecord, graceSeconds: number): Promise<ProcessRecord> {
    if (record.pid === undefined) return record;
    const pgid = record.pid;
    let killed = false;
    let termed = false;
    const members = this.#group(record);
    if (members.length > 0) {
      if (graceSeconds > 0) {
        // A SIGTERM that lands while the wrapper is still starting the program is swallowed: by the
        // wrapper's trap before it forks, or by the forked child before it execs (measured here: 10% of
        // stops within 10 ms of a start). So when the program has not started yet, send SIGTERM once
        // more as soon as it has; a program that is already running gets exactly one.
        const started = this.#programStarted(record, members);
        signalGroup(pgid, "SIGTERM");
        termed = true;
        await this.#waitGone(record, graceSeconds * 1000, !started);
      }
      if (this.#group(record).length > 0) {
        signalGroup(pgid, "SIGKILL");
        killed = true;
        if (!(await this.#waitGone(record, KILL_WAIT_MS))) {
          throw fail(`container ${record.runtimeName} (process group ${pgid}) still has live processes ${KILL_WAIT_MS} ms after SIGKILL`);
        }
      }
    }
    // SIGKILL leaves the wrapper no chance to write the exit file: the status is 128 + 9. A wrapper that
    // dies of our SIGTERM before its trap is set writes none either: 128 + 15.
    const hint = killed ? 128 + osConstants.signals.SIGKILL : termed ? 128 + osConstants.signals.SIGTERM : undefined;
    return this.#settle(record, hint);
  }

  /** Spawns the wrapper for the record's argv; caller holds the lock. Returns the updated, persisted record. */
  async #spawn(record: ProcessRecord): Promise<ProcessRecord> {
    const program = resolveProgram(record.argv[0]!, record.env.PATH ?? DEFAULT_PATH, record.cwd);
    await unlink(this.#exitPath(record.id)).catch((err: unknown) => {
      if (errnoCode(err) !== "ENOENT") throw err;
    });
    await mkdir(record.cwd, { recursive: true });
    const logFd = openSync(this.logPath(record.id), "a", 0o600);
    let child: ChildProcess;
    try {
      const wrapper = [SHELL, "-c", WRAPPER_SCRIPT, this.#exitPath(record.id), program, ...record.argv.slice(1)];
      // unshare and sh exec in place: the pid that leads the process group is still the wrapper's.
      const argv = record.hostsFile && PRIVATE_HOSTS ? [PRIVATE_HOSTS.unshare, "--mount", "--propagation", "private", SHELL, "-c", HOSTS_SCRIPT, record.hostsFile, ...wrapper] : wrapper;
      child = spawn(argv[0]!, argv.slice(1), {
        cwd: record.cwd,
        env: record.env,
        detached: true,
        stdio: ["ignore", logFd, logFd],
      });
    } finally {
      closeSync(logFd);
    }
    const spawnError = new Promise<Error>((res) => child.once("error", res));
    child.on("error", () => {}); // an 'error' after spawn (e.g. from kill) must never crash the operator
    const pid = child.pid;
    if (pid !== undefined && !this.#closed) {
      // Listen before the first await: a program that exits at once would otherwise exit unheard. The
      // handler takes the record's lock, which this spawn holds, so it sees the record written below.
      this.#children.set(record.id, child);
      child.once("exit", (code, signal) => this.#onExit(record.id, pid, child, code, signal));
    }
    if (pid === undefined) {
      const err = await spawnError;
      throw fail(`spawning ${SHELL} for container ${record.runtimeName} in ${record.cwd} failed: ${err.message}`, err);
    }
    // Our unreaped child cannot vanish from /proc before the event loop turns, so this read is safe.
    const stat = readProcStat(pid);
    if (stat === undefined) throw fail(`spawned process ${pid} of container ${record.runtimeName} has no /proc entry`);
    child.unref();
    const restarted = record.pid !== undefined; // it ran before: this start is a restart in place
    const next: ProcessRecord = {
      ...record,
      pid,
      startTime: stat.startTime,
      startedAt: Date.now(),
      restartCount: (record.restartCount ?? 0) + (restarted ? 1 : 0),
    };
    delete next.finishedAt;
    delete next.exitCode;
    delete next.killSignal;
    await this.#write(next);
    return next;
  }

  #onExit(id: string, pid: number, child: ChildProcess, _code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#children.get(id) === child) this.#children.delete(id);
    if (this.#closed) return;
    const hint = signal === null ? undefined : 128 + (osConstants.signals[signal] ?? 0);
    void this.#locked(id, async () => {
      const record = await this.#read(id);
      if (record === undefined || record.pid !== pid || record.finishedAt !== undefined) return;
      if (this.#isRunning(record)) return;
      await this.#settle(record, hint);
    })
      .catch(() => {}) // best effort: list() settles from the exit file anyway
      .then(() => this.#notify(id));
  }

  #notify(id: string): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(id);
      } catch {
        // a listener's failure is its own business
      }
    }
  }

  /** The record with the current run's exit filled in (exit file first, then the hint); not persisted. */
  async #settled(record: ProcessRecord, hint: number | undefined): Promise<ProcessRecord> {
    if (record.pid === undefined || record.finishedAt !== undefined || this.#isRunning(record)) return record;
    const exit = await readExitFile(this.#exitPath(record.id));
    const next: ProcessRecord = { ...record, finishedAt: Math.max(exit?.at ?? Date.now(), record.startedAt ?? 0) };
    const code = exit?.code ?? hint ?? (record.killSignal === undefined ? undefined : 128 + record.killSignal);
    if (code !== undefined) next.exitCode = code;
    return next;
  }

  /** Fills in and persists the current run's exit when the leader is dead; caller holds the lock. */
  async #settle(record: ProcessRecord, hint: number | undefined): Promise<ProcessRecord> {
    const next = await this.#settled(record, hint);
    if (next !== record) await this.#write(next);
    return next;
  }

  async #locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(id) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((res) => {
      release = res;
    });
    const tail = previous.then(() => mine);
    this.#locks.set(id, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.#locks.get(id) === tail) this.#locks.delete(id);
    }
  }

  async #read(id: string): Promise<ProcessRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.recordPath(id), "utf8");
    } catch (err) {
      if (errnoCode(err) === "ENOENT") return undefined;
      throw fail(`reading the record of container ${id} failed: ${String(err)}`, err);
    }
    try {
      const record = JSON.parse(text) as ProcessRecord;
      return record.version === 1 && record.id === id ? record : undefined;
    } catch {
      return undefined; // records are written by rename, so a torn file means someone else's file
    }
  }

  async #mustRead(id: string, op: string): Promise<ProcessRecord> {
    const record = await this.#read(id);
    if (record === undefined || record.labels[LABELS.owner] !== this.#owner) {
      throw fail(`cannot ${op} container ${id}: the process runtime has no such container (owner "${this.#owner}")`, undefined, { id });
    }
    return record;
  }

  async #readAll(): Promise<ProcessRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch (err) {
      if (errnoCode(err) === "ENOENT") return [];
      throw fail(`listing ${this.#dir} failed: ${String(err)}`, err);
    }
    await this.#sweepTemporaries(names);
    const ids = names
      .filter((n) => n.endsWith(".json"))
      .map((n) => n.slice(0, -".json".length))
      .sort();
    const records: ProcessRecord[] = [];
    for (const id of ids) {
      const record = await this.#read(id);
      if (record !== undefined) records.push(record);
    }
    return records;
  }

  /**
   * Removes the temporary record files of writers that are gone (a kill between write and rename leaves
   * `<id>.json.tmp-<pid>-<random>`). Only a file whose pid no longer exists is taken: a live writer — this
   * process or another instance on the same directory — may be about to rename it. A pid reused by some other
   * program keeps its file until the container is removed (#removeFiles takes it then): harmless, never wrong.
   */
  async #sweepTemporaries(names: readonly string[]): Promise<void> {
    for (const name of names) {
      const at = name.indexOf(RECORD_TMP);
      if (at < 0) continue;
      const pid = Number.parseInt(name.slice(at + RECORD_TMP.length), 10);
      if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || pidExists(pid)) continue;
      await rm(join(this.#dir, name), { force: true });
    }
  }

  async #write(record: ProcessRecord): Promise<void> {
    const path = this.recordPath(record.id);
    // A name of this write's own: two runtimes on one state directory in one process (an operator and
    // `coxswain status`, or a test beside an operator) may settle the same record at once, and with a
    // shared name one's rename took the other's file and the other failed with ENOENT.
    const tmp = `${path}${RECORD_TMP}${process.pid}-${randomBytes(4).toString("hex")}`;
    try {
      await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async #removeFiles(id: string): Promise<void> {
    await rm(this.containerDir(id), { recursive: true, force: true });
    await rm(this.logPath(id), { force: true });
    await rm(`${this.logPath(id)}${ROTATED_LOG}`, { force: true });
    await rm(this.#exitPath(id), { force: true });
    await rm(this.#hostsPath(id), { force: true });
    const tmpPrefix = `${id}.json${RECORD_TMP}`;
    for (const name of await readdir(this.#dir).catch(() => [] as string[])) {
      if (name.startsWith(tmpPrefix)) await rm(join(this.#dir, name), { force: true }); // left by a crash mid-write
    }
    await rm(this.recordPath(id), { force: true });
  }
}

/** The environment a program starts from: INHERITED_ENV from the operator, PATH defaulted. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED_ENV) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  env.PATH ??= DEFAULT_PATH;
  return env;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if (errnoCode(err) !== "ESRCH") throw fail(`sending ${signal} to process group ${pgid} failed: ${String(err)}`, err);
  }
}

/** The last (at most) `bytes` bytes of the file at `path`; empty when it does not exist. */
async function readEnd(path: string, bytes: number): Promise<Buffer> {
  let file: FileHandle;
  try {
    file = await open(path, "r");
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return Buffer.alloc(0); // never started, or never rotated
    throw err;
  }
  try {
    const { size } = await file.stat();
    const length = Math.min(size, bytes);
    const buf = Buffer.alloc(length);
    const { bytesRead } = await file.read(buf, 0, length, size - length);
    return buf.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

async function readExitFile(path: string): Promise<{ code: number; at: number } | undefined> {
  try {
    const [text, st] = await Promise.all([readFile(path, "utf8"), stat(path)]);
    const code = Number.parseInt(text.trim(), 10);
    return Number.isInteger(code) ? { code, at: Math.round(st.mtimeMs) } : undefined;
  } catch {
    return undefined;
  }
}
