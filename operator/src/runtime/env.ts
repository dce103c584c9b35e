/**
 * Environment values on their way into a runtime. They carry tokens and passwords, so they are checked
 * before anything is created (a NUL byte fails every runtime, and Node and runc both quote the value when
 * they refuse it) and kept out of the messages a launch can fail with: an engine's error text may quote
 * the environment, and those messages go to the log and the status branch.
 */
import { CoxError, isCoxError } from "../api/errors.js";
import type { ContainerLaunch } from "./types.js";

/**
 * Throws InvalidField, naming the container and the variable but never the value, when an env entry
 * cannot be put into a process environment: an empty name, a name with "=" or a NUL byte, a value with a
 * NUL byte. The manifest stage refuses these first; this guards every other way into a launch.
 */
export function checkLaunchEnv(launch: Pick<ContainerLaunch, "runtimeName" | "env">): void {
  for (const name of Object.keys(launch.env).sort()) {
    if (name === "" || name.includes("=") || name.includes("\u0000")) {
      throw new CoxError("InvalidField", `container ${launch.runtimeName}: env name ${JSON.stringify(name)} cannot be an environment variable name (empty, or holds "=" or a NUL byte)`, {
        details: { runtimeName: launch.runtimeName },
      });
    }
    if (launch.env[name]!.includes("\u0000")) {
      throw new CoxError("InvalidField", `container ${launch.runtimeName}: env ${name} holds a NUL byte, which no process environment can hold; the value is not shown`, {
        details: { runtimeName: launch.runtimeName, env: name },
      });
    }
  }
}

/**
 * Values shorter than this are not redacted: "1", "true" or a port number would be found all over a
 * message (and a secret that short is not one).
 */
export const MIN_REDACTED_LENGTH = 6;

/**
 * coxswain's own variables in every container (controllers/workload/template.ts): the pod's name, its node's
 * and its revision — what an error message names anyway, so never redacted (an engine's "no such container
 * cx_default_web-1_app" must not read "cx_default_<value of COXSWAIN_POD>_app").
 */
const POD_IDENTITY = new Set(["COXSWAIN_NODE", "COXSWAIN_POD", "COXSWAIN_REVISION"]);

const GO_ESCAPES: Record<number, string> = { 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r" };

/** How Go's %q writes a string's inside (runc and dockerd quote with it). */
function goQuoted(value: string): string {
  let out = "";
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (c < 0x20 || c === 0x7f) out += GO_ESCAPES[c] ?? `\\x${c.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out;
}

/** The forms a value can take in a message: as written, as JSON writes it, as Go's %q writes it. */
function forms(value: string): string[] {
  return [...new Set([value, JSON.stringify(value).slice(1, -1), goQuoted(value)])];
}

/**
 * `text` with every env value of at least MIN_REDACTED_LENGTH characters but the pod's identity (POD_IDENTITY),
 * and every value of a name in `secret` (a Secret's, however short), replaced by "<value of NAME>", in any of the forms a message may
 * quote it in. One pass, longer forms first, so that a value containing another is replaced whole and no
 * replacement is searched again.
 */
export function redactEnv(text: string, env: Readonly<Record<string, string>>, secret: readonly string[] = []): string {
  const byForm = new Map<string, string>();
  const names = Object.keys(env).sort();
  for (const name of names) {
    const value = env[name]!;
    if (POD_IDENTITY.has(name) && !secret.includes(name)) continue;
    if (value.length < (secret.includes(name) ? 1 : MIN_REDACTED_LENGTH)) continue;
    for (const f of forms(value)) if (!byForm.has(f)) byForm.set(f, name);
  }
  if (byForm.size === 0) return text;
  const sorted = [...byForm.keys()].sort((a, b) => b.length - a.length || (a < b ? -1 : a > b ? 1 : 0));
  const pattern = new RegExp(sorted.map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "g");
  return text.replace(pattern, (m) => `<value of ${byForm.get(m)!}>`);
}

/** The messages of an error and of its causes, outermost first. */
function messages(err: unknown): string[] {
  const out: string[] = [];
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) out.push(e.message);
  return out;
}

/**
 * `err` as a CoxError whose message holds no env value of `env` (redactEnv; `secret` names the Secrets'
 * values): unchanged when neither it nor its causes quote one; otherwise a new error with the same code,
 * details and requeue delay, the values redacted, and no cause (the cause would still carry them).
 */
export function withoutEnvValues(err: unknown, env: Readonly<Record<string, string>>, secret: readonly string[] = []): unknown {
  const all = messages(err).join("\n");
  if (redactEnv(all, env, secret) === all) return err;
  const e = isCoxError(err) ? err : new CoxError("RuntimeCallFailed", err instanceof Error ? err.message : String(err));
  return new CoxError(e.code, redactEnv(e.message, env, secret), {
    ...(e.details ? { details: e.details } : {}),
    ...(e.requeueAfterMs !== undefined ? { requeueAfterMs: e.requeueAfterMs } : {}),
  });
}
