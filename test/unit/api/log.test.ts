/**
 * api/log.ts's helpers: the commit and workload fields, and a logger whose lines carry fields as they are
 * when each line is written (the applied commit under a long-lived controller).
 */
import { describe, expect, it } from "vitest";
import { commitFields, silentLogger, withCurrentFields, workloadFields } from "../../../operator/src/api/log.js";
import { recordingLogger, type RecordedLine } from "../../support/log.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";

describe("log fields", () => {
  it("name a commit by its short sha, and a workload by its key", () => {
    expect(commitFields(SHA)).toEqual({ commit: "0123456" });
    expect(commitFields(undefined)).toEqual({});
    expect(workloadFields("Deployment/default/web", SHA)).toEqual({ commit: "0123456", workload: "Deployment/default/web" });
    expect(workloadFields("Deployment/default/web", undefined)).toEqual({ workload: "Deployment/default/web" });
  });

  it("withCurrentFields reads the fields at each line, beneath the line's own and its children's", () => {
    const lines: RecordedLine[] = [];
    let commit: string | undefined;
    const log = withCurrentFields(
      recordingLogger((l) => lines.push(l)),
      () => commitFields(commit),
    );
    log.info("before any commit");
    commit = SHA;
    log.warn("proxy of n1: failed", { node: "n1" });
    commit = "fedcba9876543210fedcba9876543210fedcba98";
    log.child({ node: "n2" }).info("proxy of n2 serves again");
    expect(lines).toEqual([
      { level: "info", msg: "before any commit", fields: {} },
      { level: "warn", msg: "proxy of n1: failed", fields: { commit: "0123456", node: "n1" } },
      { level: "info", msg: "proxy of n2 serves again", fields: { node: "n2", commit: "fedcba9" } },
    ]);
  });

  it("the silent logger writes nothing, nor do its children", () => {
    expect(silentLogger.child({ commit: "x" })).toBe(silentLogger);
    expect(() => silentLogger.child({}).error("nothing")).not.toThrow();
  });
});
