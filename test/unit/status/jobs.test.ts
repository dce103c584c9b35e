/**
 * A Job's status file read back as written (what an operator restart relies on), the evictions of a drain
 * included — the pods are gone, so the file is where they still count as failed — and absent when none was.
 */
import { describe, expect, it } from "vitest";
import { readJobRecord, renderJobRecord, type JobRecord } from "../../../operator/src/status/jobs.js";

const BASE: JobRecord = {
  namespace: "default",
  name: "work",
  revision: "r1",
  commit: "c".repeat(40),
  phase: "Running",
  message: "0/1 completions, 1 active",
  completions: 1,
  parallelism: 1,
  succeeded: 0,
  failed: 2,
  active: 1,
  startTime: "2026-01-01T00:00:00.000Z",
  failures: [{ pod: "work-abcde", container: "main", exitCode: 3, finishedAt: "2026-01-01T00:00:05.000Z", log: "boom" }],
};

describe("a Job's status file", () => {
  it("reads back the evictions as written, oldest first, with their index when Indexed", () => {
    const r: JobRecord = {
      ...BASE,
      evicted: [
        { pod: "work-fghij", node: "a", at: "2026-01-01T00:00:10.000Z" },
        { pod: "work-2-klmno", index: 2, node: "b", at: "2026-01-01T00:00:20.000Z" },
      ],
    };
    const text = renderJobRecord(r);
    expect(readJobRecord(text)).toEqual(r);
    expect(text.indexOf("work-fghij")).toBeLessThan(text.indexOf("work-2-klmno"));
  });

  it("has no evicted list when none was, and reads nothing from a record with an entry it cannot read (never part of it)", () => {
    expect(renderJobRecord(BASE)).not.toContain("evicted");
    expect(readJobRecord(renderJobRecord(BASE))).toEqual(BASE);
    const good = `${renderJobRecord(BASE)}evicted:\n  - {pod: y, node: a, at: "2026-01-01T00:00:10.000Z"}\n`;
    expect(readJobRecord(good)?.evicted).toEqual([{ pod: "y", node: "a", at: "2026-01-01T00:00:10.000Z" }]);
    expect(readJobRecord(`${renderJobRecord(BASE)}evicted:\n  - {pod: x, node: a, at: "not a time"}\n`)).toBeUndefined();
    expect(readJobRecord(`${renderJobRecord(BASE)}evicted:\n  - {node: a}\n`)).toBeUndefined();
  });
});
