/**
 * The kill -9 reliability suites' shared parts: a seeded plan of trials (which phase each kill lands in and
 * how long after its trigger, so that a failing run is replayed from its seed), a kill timed by the operator's
 * own ref locks (a status write in progress), the checks every recovered state must pass on Git (git fsck,
 * no lock left behind, the status branch read back by the status reader) and the figures the suites print.
 */
import { watch, type FSWatcher } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { buildStatusReport, type StatusReport } from "../../operator/src/cli/status.js";
import { openRepository } from "../../operator/src/source/index.js";
import { runGit } from "./git-repo.js";
import type { OperatorProcess } from "./operator-process.js";
import { sleep, waitFor } from "./wait.js";

/**
 * Where a trial's kill lands: during a rolling update, a failing revision's rollback, the recovery of an
 * operator started again, a ref lock of a status write, or a record write of the process runtime.
 */
export type KillPhase = "rollout" | "rollback" | "restart" | "status" | "record";

/** Every kill phase, in the order figures are printed. */
const KILL_PHASES: readonly KillPhase[] = ["rollout", "rollback", "restart", "status", "record"];

/** One planned trial: its phase and the random parts of its timing. */
export interface Trial {
  /** 1-based. */
  index: number;
  phase: KillPhase;
  /** rollout, rollback, restart: ms from the trigger (the new revision's first pod) to the kill. */
  delayMs: number;
  /** restart: ms from the operator's start again to the second kill (during its recovery). */
  restartDelayMs: number;
  /** status, record: the kill lands on this (0-based) file event (a ref lock, a record write) after the commit. */
  eventIndex: number;
}

/**
 * The seed of this run: COXSWAIN_KILL9_SEED when set (to replay a failure), else one drawn now. Printed by
 * the suites with every trial's name.
 */
export function kill9Seed(): number {
  const given = process.env.COXSWAIN_KILL9_SEED;
  if (given !== undefined && given !== "") {
    const n = Number(given);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`COXSWAIN_KILL9_SEED: expected an integer 0…4294967295 (got ${JSON.stringify(given)})`);
    return n;
  }
  return Math.floor(Math.random() * 0x100000000);
}

/** The number of trials: `long` with COXSWAIN_LONG=1, else `short` (what CI runs). */
export function trialCount(short: number, long: number): number {
  return process.env.COXSWAIN_LONG === "1" ? long : short;
}

/** mulberry32: a small, fast generator whose whole state is the seed, so a run is replayed from it. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` trials drawn from `seed`: `phases` in turn from a shuffled cycle (every phase about as often),
 * delays uniform up to the given limits (ms), the file event up to `events`. Pure: the same seed gives the
 * same plan.
 */
export function planTrials(seed: number, count: number, phases: readonly KillPhase[], limits: { rollout: number; rollback: number; restart: number; events: number }): Trial[] {
  const next = generator(seed);
  const upTo = (max: number) => Math.floor(next() * (max + 1));
  const trials: Trial[] = [];
  let cycle: KillPhase[] = [];
  for (let i = 1; i <= count; i++) {
    if (cycle.length === 0) {
      cycle = [...phases];
      for (let j = cycle.length - 1; j > 0; j--) {
        const k = upTo(j);
        [cycle[j], cycle[k]] = [cycle[k]!, cycle[j]!];
      }
    }
    const phase = cycle.shift()!;
    trials.push({
      index: i,
      phase,
      delayMs: upTo(phase === "rollback" ? limits.rollback : limits.rollout),
      restartDelayMs: upTo(limits.restart),
      eventIndex: upTo(limits.events),
    });
  }
  return trials;
}

/** A trial as one line: its number, phase and timing. */
export function describeTrial(t: Trial, total: number): string {
  const when =
    t.phase === "status"
      ? `on the operator's ref lock #${t.eventIndex} after the commit`
      : t.phase === "record"
        ? `on the runtime's record write #${t.eventIndex} after the commit`
        : t.phase === "restart"
          ? `${t.delayMs} ms into a rollout, then ${t.restartDelayMs} ms into the recovery`
          : `${t.delayMs} ms after the new revision's first pod`;
  return `trial ${t.index}/${total}: ${t.phase}, kill -9 ${when}`;
}

/**
 * Calls `kill` at the `index`-th (0-based) file event in `dirs` whose name `match`es — a ref lock created or
 * renamed (a status write in progress), a record's temporary file — or after `timeoutMs` when no more come.
 * Resolves with whether an event triggered it. inotify reports a file's creation within microseconds, while
 * a ref lock lasts for a write and an fsync.
 */
function killOnFileEvent(dirs: readonly string[], match: (name: string) => boolean, index: number, kill: () => void, timeoutMs = 30_000): Promise<boolean> {
  return new Promise((resolve) => {
    const watchers: FSWatcher[] = [];
    let seen = 0;
    let done = false;
    const finish = (byLock: boolean) => {
      if (done) return;
      done = true;
      kill();
      clearTimeout(timer);
      for (const w of watchers) w.close();
      resolve(byLock);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    for (const dir of dirs) {
      try {
        watchers.push(
          watch(dir, (event, name) => {
            if (event === "rename" && name !== null && match(name) && seen++ === index) finish(true);
          }),
        );
      } catch {
        // Not there yet (no status written so far): that directory's events are not watched.
      }
    }
  });
}

/** What a suite gives runTrial: its operator, its fleet as the suite sees it, and its checks. */
export interface TrialTarget {
  /** The operator running now. */
  operator(): OperatorProcess;
  /** Starts the operator (again) on the same repository and state. */
  start(): OperatorProcess;
  /** The repository's gitdir (the status branch and notes are written there). */
  gitdir: string;
  /** The process runtime's record directory, for "record" trials. */
  recordDir?: string;
  /** Commits the trial's change (a new revision; one that never gets ready for a rollback trial). */
  commit(trial: Trial): Promise<string>;
  /** True once a pod of the trial's revision exists. */
  newPodSeen(trial: Trial): Promise<boolean>;
  /** Where a kill landed, read once the operator is dead (the commit's phase, the fleet's revisions). */
  landed(oid: string, trial: Trial): Promise<string>;
  /** Waits until the fleet and Git are back to what the trial wants, checks them; the time it took. */
  converged(oid: string, trial: Trial, since: number): Promise<number>;
}

/**
 * One trial: the commit, the kill -9 where the trial says (after its trigger: the new revision's first
 * pod, or a ref lock), the operator started again (and for a restart trial killed once more during its
 * recovery, and started again), and the convergence. Returns where the kill landed and the time to converge.
 */
export async function runTrial(trial: Trial, target: TrialTarget): Promise<{ landed: string; convergeMs: number }> {
  const kill9 = async (): Promise<void> => {
    const op = target.operator();
    op.kill("SIGKILL");
    const how = await op.exited;
    if (how !== "SIGKILL") throw new Error(`the operator ended with ${how} before the kill:\n${op.lines.slice(-40).join("\n")}`);
  };
  const oid = await target.commit(trial);
  let landed: string;
  if (trial.phase === "status" || trial.phase === "record") {
    const [dirs, match, what] =
      trial.phase === "status"
        ? [[join(target.gitdir, "refs/heads/coxswain"), join(target.gitdir, "refs/notes")], (n: string) => n.endsWith(".lock"), "ref lock"]
        : [[target.recordDir!], (n: string) => n.includes(".json.tmp-"), "record write"];
    const byEvent = await killOnFileEvent(dirs, match, trial.eventIndex, () => target.operator().kill("SIGKILL"));
    await kill9();
    landed = `${byEvent ? what : `after the last ${what}`} ${await target.landed(oid, trial)}`;
  } else {
    await waitFor(`a pod of trial ${trial.index}'s revision`, () => target.newPodSeen(trial), 60_000, 20);
    await sleep(trial.delayMs); // the random point of the kill, not a wait for something to happen
    await kill9();
    landed = await target.landed(oid, trial);
  }
  let since = Date.now();
  target.start();
  if (trial.phase === "restart") {
    await sleep(trial.restartDelayMs);
    await kill9();
    landed = `${landed}, then ${await target.landed(oid, trial)}`;
    since = Date.now();
    target.start();
  }
  return { landed, convergeMs: await target.converged(oid, trial, since) };
}

/**
 * True once Git has caught up with `oid`'s `phase`: its note says so, and no ref lock is left (a lock a kill
 * left behind is taken over by the next write of that ref, which may come a retry later).
 */
export async function gitCaughtUp(dir: string, gitdir: string, oid: string, phase: string): Promise<boolean> {
  const note = await runGit(["notes", "--ref=coxswain", "show", oid], { cwd: dir }).catch(() => "");
  return note.startsWith(`coxswain: ${phase}`) && (await leftoverLocks(gitdir)).length === 0;
}

/** `git fsck --full --strict` of the repository at `dir`; throws with git's output when it finds a problem. */
export async function gitFsck(dir: string): Promise<void> {
  await runGit(["fsck", "--full", "--strict", "--no-dangling", "--no-progress"], { cwd: dir });
}

/** Lock files left under the gitdir's refs (and packed-refs.lock), relative paths, sorted. */
export async function leftoverLocks(gitdir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(gitdir, rel), { withFileTypes: true }).catch(() => [])) {
      const child = `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(child);
      else if (e.name.endsWith(".lock")) found.push(child);
    }
  };
  await walk("refs");
  for (const name of await readdir(gitdir)) if (name === "packed-refs.lock" || name === "HEAD.lock") found.push(name);
  return found.sort();
}

/**
 * The status branch of the repository at `dir`, read back as `coxswain status --output json` reads it
 * (`stateDir`: the reader's own, unused for a repository on disk).
 */
export async function readStatus(dir: string, stateDir: string): Promise<StatusReport> {
  const repo = await openRepository({ repo: dir, stateDir });
  try {
    return await buildStatusReport(repo, { branch: "main", statusBranch: "coxswain/status", notesRef: "refs/notes/coxswain" });
  } finally {
    await repo.close();
  }
}

/** What the suites count over their trials. */
export class Kill9Figures {
  readonly #byPhase = new Map<KillPhase, { trials: number; landed: Map<string, number>; convergeMs: number[] }>();
  #duplicates = 0;
  #orphans = 0;

  /** Records one trial: where its kill landed (as the suite saw the fleet then) and how long recovery took. */
  add(phase: KillPhase, landed: string, convergeMs: number): void {
    const entry = this.#byPhase.get(phase) ?? { trials: 0, landed: new Map<string, number>(), convergeMs: [] };
    entry.trials++;
    entry.landed.set(landed, (entry.landed.get(landed) ?? 0) + 1);
    entry.convergeMs.push(convergeMs);
    this.#byPhase.set(phase, entry);
  }

  /** Adds what a check found (each found one fails the trial too; counted so that the figures say so). */
  found(duplicates: number, orphans: number): void {
    this.#duplicates += duplicates;
    this.#orphans += orphans;
  }

  /** The figures as lines: per phase the trials, where the kills landed and the time to converge (median, max). */
  lines(title: string, seed: number): string[] {
    const out = [`${title} (seed ${seed}; replay with COXSWAIN_KILL9_SEED=${seed})`];
    let total = 0;
    const all: number[] = [];
    for (const phase of KILL_PHASES) {
      const e = this.#byPhase.get(phase);
      if (!e) continue;
      total += e.trials;
      all.push(...e.convergeMs);
      const landed = [...e.landed]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, n]) => `${k} ${n}`)
        .join(", ");
      out.push(`  ${phase.padEnd(8)} ${String(e.trials).padStart(3)} trials; kills landed: ${landed}; converged after restart in ${stats(e.convergeMs)}`);
    }
    out.push(`  total    ${String(total).padStart(3)} trials; converged in ${stats(all)}; duplicate pods found: ${this.#duplicates}; orphans found: ${this.#orphans}`);
    return out;
  }
}

function stats(ms: number[]): string {
  if (ms.length === 0) return "-";
  const sorted = [...ms].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return `median ${(median / 1000).toFixed(1)} s, max ${(sorted.at(-1)! / 1000).toFixed(1)} s`;
}
