/** The CronJob status file: what is written reads back the same, and what is not one reads as nothing. */
import { describe, expect, it } from "vitest";
import { cronJobPath, readCronJobRecord, renderCronJobRecord, type CronJobRecord } from "../../../operator/src/status/cronjobs.js";

const FULL: CronJobRecord = {
  namespace: "shop",
  name: "report",
  schedule: "30 2 * * 1-5",
  timeZone: "Europe/Berlin",
  suspend: false,
  createdAt: "2026-12-01T00:00:00.000Z",
  lastScheduleTime: "2026-12-04T01:30:00.000Z",
  lastSuccessfulTime: "2026-12-04T01:30:09.000Z",
  nextRunAt: "2026-12-07T01:30:00.000Z",
  skipped: { reason: "ConcurrencyForbidden", message: "report-29946330 still runs" },
  runs: [
    { name: "report-29944890", scheduledAt: "2026-12-03T01:30:00.000Z", phase: "Failed", finishedAt: "2026-12-03T01:31:00.000Z" },
    { name: "report-29946330", scheduledAt: "2026-12-04T01:30:00.000Z", phase: "Running" },
  ],
  removing: ["report-29943450"],
};

describe("CronJob status files", () => {
  it("live at cronjobs/<namespace>/<name>.yaml", () => {
    expect(cronJobPath("shop", "report")).toBe("cronjobs/shop/report.yaml");
  });

  it("read back what was written, with the active runs listed", () => {
    const text = renderCronJobRecord(FULL);
    expect(text).toContain("active:\n  - report-29946330\n");
    expect(readCronJobRecord(text)).toEqual(FULL);
    const minimal: CronJobRecord = { namespace: "default", name: "x", schedule: "@hourly", suspend: true, createdAt: FULL.createdAt, runs: [], removing: [] };
    expect(readCronJobRecord(renderCronJobRecord(minimal))).toEqual(minimal);
  });

  it("read nothing from what is not a record, nor from a record with a run that is not a run (never part of it)", () => {
    expect(readCronJobRecord("")).toBeUndefined();
    expect(readCronJobRecord(": : :")).toBeUndefined();
    expect(readCronJobRecord("namespace: a\nname: b\n")).toBeUndefined();
    const text = renderCronJobRecord(FULL).replace("phase: Failed", "phase: Lost");
    expect(readCronJobRecord(text)).toBeUndefined();
  });
});
