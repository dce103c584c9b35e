/**
 * `coxswain run`'s logger (cli/logger.ts, pino behind api/log.ts's Logger): --log-format json writes one
 * JSON object a line with level, time, msg and the fields of the line and of its child loggers (commit,
 * workload); text writes "HH:MM:SS [LEVEL] msg"; --log-level filters; fields named like secrets are
 * redacted; wrong values are InvalidArgument (exit 2).
 */
import { describe, expect, it, vi } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { workloadFields } from "../../../operator/src/api/log.js";
import { createLogger, parseLogFlags } from "../../../operator/src/cli/logger.js";
import { main } from "../../../operator/src/cli/main.js";
import { runOptions } from "../../../operator/src/cli/run.js";

/** A logger as `settings` make it, and the lines it wrote. */
function logged(settings: Parameters<typeof createLogger>[0]) {
  const lines: string[] = [];
  return { log: createLogger(settings, (l) => lines.push(l)), lines };
}

describe("--log-format json", () => {
  it("writes one object a line: level, ISO time, msg, and the fields of the line and its child loggers", () => {
    const { log, lines } = logged({ format: "json", level: "info" });
    log.child({ commit: "0123abc" }).child({ workload: "Deployment/default/web" }).warn("Deployment/default/web revision 2: failed", { node: "n1" });
    expect(lines).toHaveLength(1);
    const o = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(o).toEqual({
      level: "warn",
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      msg: "Deployment/default/web revision 2: failed",
      commit: "0123abc",
      workload: "Deployment/default/web",
      node: "n1",
    });
    expect(Math.abs(Date.parse(o.time as string) - Date.now())).toBeLessThan(60_000);
  });

  it("names a workload's commit by its short sha", () => {
    const { log, lines } = logged({ format: "json", level: "info" });
    log.child(workloadFields("StatefulSet/db/pg", "0123456789abcdef0123456789abcdef01234567")).info("StatefulSet/db/pg: deleted");
    expect(JSON.parse(lines[0]!)).toMatchObject({ commit: "0123456", workload: "StatefulSet/db/pg" });
    log.child(workloadFields("Job/default/once", undefined)).info("Job/default/once: deleted");
    expect(JSON.parse(lines[1]!)).not.toHaveProperty("commit");
  });

  it("writes nothing of a field named like a secret, in the line or one level down", () => {
    const { log, lines } = logged({ format: "json", level: "info" });
    log.child({ password: "pa55-w0rd-value" }).info("a", { token: "tok-3n-value", secret: "s3cr3t-value", authorization: "Bearer b34rer-value" });
    const o = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(o).toMatchObject({ password: "[redacted]", token: "[redacted]", secret: "[redacted]", authorization: "[redacted]" });
    expect(lines[0]).not.toMatch(/value/);
  });
});

describe("--log-level", () => {
  it.each([
    ["debug", ["debug", "info", "warn", "error"]],
    ["info", ["info", "warn", "error"]],
    ["warn", ["warn", "error"]],
    ["error", ["error"]],
  ] as const)("%s writes %j", (level, written) => {
    const { log, lines } = logged({ format: "json", level });
    const child = log.child({ commit: "abcdef0" });
    for (const l of ["debug", "info", "warn", "error"] as const) child[l](`a ${l} line`);
    expect(lines.map((l) => (JSON.parse(l) as { level: string }).level)).toEqual(written);
  });
});

describe("--log-format text", () => {
  it("writes HH:MM:SS and the message, with the level before it when it is not info", () => {
    const { log, lines } = logged({ format: "text", level: "debug" });
    const c = log.child({ commit: "abcdef0", workload: "Deployment/default/web" });
    c.info('commit abcdef0 "v1": valid');
    c.warn("source (fetch): GitFetchFailed: no answer");
    c.error("rollback failed");
    c.debug("webhook generic: ping");
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d commit abcdef0 "v1": valid$/);
    expect(lines[1]).toMatch(/^\d\d:\d\d:\d\d WARN source \(fetch\): GitFetchFailed: no answer$/);
    expect(lines[2]).toMatch(/^\d\d:\d\d:\d\d ERROR rollback failed$/);
    expect(lines[3]).toMatch(/^\d\d:\d\d:\d\d DEBUG webhook generic: ping$/);
  });
});

describe("the flags", () => {
  it("default to text at info", () => {
    expect(parseLogFlags({})).toEqual({ format: "text", level: "info" });
  });

  it("give `run` a logger writing to its output", async () => {
    const lines: string[] = [];
    const opts = await runOptions(["--repo", "/srv/repo", "--log-format", "json", "--log-level", "warn"], (l) => lines.push(l));
    opts.log.info("not written");
    opts.log.child({ commit: "abcdef0" }).warn("written");
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([expect.objectContaining({ level: "warn", msg: "written", commit: "abcdef0" })]);
  });

  it.each([[["--log-format", "yaml"]], [["--log-format", "JSON"]], [["--log-level", "verbose"]], [["--log-level", ""]]])("refuses %j as InvalidArgument, and `coxswain run` exits 2", async (flags) => {
    let code = "ok";
    try {
      await runOptions(["--repo", "/srv/repo", ...flags], () => undefined);
    } catch (err) {
      code = isCoxError(err) ? err.code : "not a CoxError";
    }
    expect(code).toBe("InvalidArgument");
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      expect(await main(["run", "--repo", "/srv/repo", ...flags])).toBe(2);
      expect(stderr.mock.calls.map((c) => String(c[0])).join("")).toMatch(/^error InvalidArgument: --log-(format|level): expected /);
    } finally {
      stderr.mockRestore();
    }
  });
});
