/**
 * Reading Linux /proc for the process runtime: a process's identity (pid + start time) and the live
 * members of a process group. Synchronous on purpose: each read is one small file, and a consistent
 * answer matters more than yielding to the event loop.
 */
import { readdirSync, readFileSync } from "node:fs";

/** What /proc/<pid>/stat says about one process. */
export interface ProcStat {
  pid: number;
  /** One-letter state (R, S, D, Z, T, …); "Z" is a zombie: dead, only waiting to be reaped. */
  state: string;
  /** Parent pid. */
  ppid: number;
  /** Process group id. */
  pgrp: number;
  /** Field 22: start time in clock ticks since boot; together with pid it identifies a process. */
  startTime: number;
}

/**
 * Reads /proc/<pid>/stat, or returns undefined when there is no such process. The command name (field 2)
 * may contain spaces and parentheses, so fields are counted after the last ")".
 */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  return parseProcStat(text);
}

/** Parses the text of a /proc/<pid>/stat file; undefined when it is malformed. */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const pid = Number.parseInt(text.slice(0, text.indexOf(" ")), 10);
  // After ") " come fields 3 (state), 4 (ppid), 5 (pgrp), …, 22 (starttime): index = field − 3.
  const rest = text.slice(close + 2).split(" ");
  const state = rest[0];
  const ppid = Number.parseInt(rest[1] ?? "", 10);
  const pgrp = Number.parseInt(rest[2] ?? "", 10);
  const startTime = Number.parseInt(rest[19] ?? "", 10);
  if (state === undefined || !Number.isInteger(pid) || !Number.isInteger(ppid) || !Number.isInteger(pgrp) || !Number.isInteger(startTime)) {
    return undefined;
  }
  return { pid, state, ppid, pgrp, startTime };
}

/**
 * True when the process `pid` exists, is not a zombie, and started at `startTime` (so a pid reused by
 * another program after ours died is not mistaken for ours). Also asks the kernel with kill(pid, 0), as
 * /proc may lag behind; EPERM means "exists, owned by someone else", which the start time then settles.
 */
export function isAlive(pid: number, startTime: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const stat = readProcStat(pid);
  return stat !== undefined && stat.state !== "Z" && stat.startTime === startTime;
}

/**
 * Pids of the live (non-zombie) processes whose process group is `pgid`, sorted. Scans /proc: a group
 * whose only members are unreaped zombies still answers kill(-pgid, 0), so that test alone could wait
 * forever on a host whose init does not reap.
 */
export function liveGroupMembers(pgid: number): number[] {
  const members: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return members;
  }
  for (const entry of entries) {
    const c = entry.charCodeAt(0);
    if (c < 48 || c > 57) continue; // not a pid directory
    const stat = readProcStat(Number(entry));
    if (stat !== undefined && stat.pgrp === pgid && stat.state !== "Z") members.push(stat.pid);
  }
  return members.sort((a, b) => a - b);
}

/**
 * The live (non-zombie) process-group leaders (pid = pgid) one of whose arguments `pick` recognizes, with
 * what it returned for the first such argument, sorted by pid. One scan of /proc.
 */
export function groupLeadersByArgument<T>(pick: (arg: string) => T | undefined): { pid: number; startTime: number; found: T }[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const out: { pid: number; startTime: number; found: T }[] = [];
  for (const entry of entries) {
    const c = entry.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const stat = readProcStat(Number(entry));
    if (stat === undefined || stat.state === "Z" || stat.pgrp !== stat.pid) continue;
    for (const arg of (readCmdline(stat.pid) ?? "").split("\0")) {
      const found = pick(arg);
      if (found === undefined) continue;
      out.push({ pid: stat.pid, startTime: stat.startTime, found });
      break;
    }
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/** The raw /proc/<pid>/cmdline (NUL-separated argv), or undefined when there is no such process. */
export function readCmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "latin1");
  } catch {
    return undefined;
  }
}

/**
 * The live (non-zombie) descendants of `pid` (children, grandchildren, …), sorted; empty when it has
 * none or does not exist. One scan of /proc.
 */
export function liveDescendants(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const children = new Map<number, number[]>();
  for (const entry of entries) {
    const c = entry.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const stat = readProcStat(Number(entry));
    if (stat === undefined || stat.state === "Z") continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(stat.pid);
    children.set(stat.ppid, list);
  }
  const out: number[] = [];
  const stack = [...(children.get(pid) ?? [])];
  while (stack.length > 0) {
    const next = stack.pop()!;
    out.push(next);
    stack.push(...(children.get(next) ?? []));
  }
  return out.sort((a, b) => a - b);
}

/** Clock ticks per second of /proc's times (USER_HZ: 100 on every architecture Linux exports it for). */
const USER_HZ = 100;

/**
 * The CPU time of a process in nanoseconds — its own (utime + stime, fields 14–15) and that of its
 * children it has reaped (cutime + cstime, 16–17), so that summing a process tree counts every exited
 * descendant once — and its resident set in bytes (VmRSS of /proc/<pid>/status). undefined when there is
 * no such process.
 */
export function readProcUsage(pid: number): { cpuNanos: number; rssBytes: number } | undefined {
  let stat: string;
  let status: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const close = stat.lastIndexOf(")");
  if (close < 0) return undefined;
  const rest = stat.slice(close + 2).split(" ");
  // Field n is rest[n − 3].
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + (Number.parseInt(rest[i] ?? "", 10) || 0), 0);
  const rss = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return { cpuNanos: (ticks * 1e9) / USER_HZ, rssBytes: rss ? Number(rss[1]) * 1024 : 0 };
}
