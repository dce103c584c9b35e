/** The CronJob decision (rollout/cronjob.ts): missed runs, deadline, concurrency, suspend, history, time zones and DST. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseSchedule } from "../../../operator/src/api/schedule.js";
import { cronJobStep, runName, type CronJobParams, type CronRun } from "../../../operator/src/rollout/cronjob.js";

const base: CronJobParams = { schedule: "*/5 * * * *", concurrencyPolicy: "Allow", suspend: false, successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1 };
const at = (iso: string) => Date.parse(iso);
const step = (params: Partial<CronJobParams>, now: string, extra: { runs?: CronRun[]; last?: string; created?: string } = {}) =>
  cronJobStep({
    name: "report",
    params: { ...base, ...params },
    runs: extra.runs ?? [],
    ...(extra.last ? { lastScheduleTime: at(extra.last) } : {}),
    createdAt: at(extra.created ?? "2026-01-01T00:00:30Z"),
    now: at(now),
  });

describe("cronJobStep", () => {
  it("starts the run that is due, named after its scheduled minute, and says when the next one is", () => {
    const s = step({}, "2026-01-01T00:05:02Z");
    expect(s.start).toEqual({ name: `report-${at("2026-01-01T00:05:00Z") / 60_000}`, scheduledAt: at("2026-01-01T00:05:00Z") });
    expect(s.lastScheduleTime).toBe(at("2026-01-01T00:05:00Z"));
    expect(s.nextRunAt).toBe(at("2026-01-01T00:10:00Z"));
  });

  it("nothing is due before the first time after creation", () => {
    expect(step({}, "2026-01-01T00:04:59Z").start).toBeUndefined();
  });

  it("a run already started for that time is not started again (after a restart too: the name is found)", () => {
    const name = runName("report", at("2026-01-01T00:05:00Z"));
    expect(step({}, "2026-01-01T00:06:00Z", { runs: [{ name, scheduledAt: at("2026-01-01T00:05:00Z"), phase: "Running" }] }).start).toBeUndefined();
  });

  it("after downtime only the most recent missed time is started (one catch-up)", () => {
    const s = step({}, "2026-01-01T01:02:00Z", { last: "2026-01-01T00:05:00Z" });
    expect(s.start?.scheduledAt).toBe(at("2026-01-01T01:00:00Z"));
  });

  it("startingDeadlineSeconds: a missed time older than the deadline is not started", () => {
    expect(step({ startingDeadlineSeconds: 60 }, "2026-01-01T01:02:00Z", { last: "2026-01-01T00:05:00Z" }).start).toBeUndefined();
    expect(step({ startingDeadlineSeconds: 180 }, "2026-01-01T01:02:00Z", { last: "2026-01-01T00:05:00Z" }).start?.scheduledAt).toBe(at("2026-01-01T01:00:00Z"));
  });

  it("more than 100 missed times start nothing (TooManyMissedStarts)", () => {
    const s = step({ schedule: "* * * * *" }, "2026-01-01T03:00:00Z", { last: "2026-01-01T00:00:00Z" });
    expect(s.start).toBeUndefined();
    expect(s.skipped?.reason).toBe("TooManyMissedStarts");
  });

  it("suspend starts nothing", () => {
    expect(step({ suspend: true }, "2026-01-01T00:05:02Z").skipped?.reason).toBe("Suspended");
  });

  const running: CronRun = { name: "report-1", scheduledAt: at("2026-01-01T00:00:00Z"), phase: "Running" };
  it("Forbid waits while a run is active; Replace removes it and starts; Allow overlaps", () => {
    const forbid = step({ concurrencyPolicy: "Forbid" }, "2026-01-01T00:05:02Z", { runs: [running] });
    expect(forbid.start).toBeUndefined();
    expect(forbid.skipped?.reason).toBe("ConcurrencyForbidden");
    const replace = step({ concurrencyPolicy: "Replace" }, "2026-01-01T00:05:02Z", { runs: [running] });
    expect(replace.start).toBeDefined();
    expect(replace.remove).toEqual(["report-1"]);
    const allow = step({}, "2026-01-01T00:05:02Z", { runs: [running] });
    expect([allow.start !== undefined, allow.remove]).toEqual([true, []]);
  });

  it("keeps the newest successfulJobsHistoryLimit Complete and failedJobsHistoryLimit Failed runs", () => {
    const runs: CronRun[] = [1, 2, 3, 4].map((i) => ({ name: `ok-${i}`, scheduledAt: i, phase: "Complete", finishedAt: i * 10 }));
    runs.push({ name: "bad-1", scheduledAt: 1, phase: "Failed", finishedAt: 5 }, { name: "bad-2", scheduledAt: 2, phase: "Failed", finishedAt: 6 });
    expect(step({}, "2026-01-01T00:01:00Z", { runs }).remove).toEqual(["bad-1", "ok-1"]);
  });

  it("a time zone: 02:30 in Berlin is 01:30 UTC in winter and 00:30 UTC in summer", () => {
    const p = { schedule: "30 2 * * *", timeZone: "Europe/Berlin" };
    expect(step(p, "2026-01-15T01:31:00Z", { created: "2026-01-14T12:00:00Z" }).start?.scheduledAt).toBe(at("2026-01-15T01:30:00Z"));
    expect(step(p, "2026-07-15T00:31:00Z", { created: "2026-07-14T12:00:00Z" }).start?.scheduledAt).toBe(at("2026-07-15T00:30:00Z"));
  });

  it("DST: a time the spring-forward skips runs once, right after the gap; a time the fall-back repeats runs once", () => {
    // 2026-03-29 in Berlin: 02:00 → 03:00. 02:30 does not exist: the run is at 03:00 CEST (01:00 UTC).
    const spring = step({ schedule: "30 2 * * *", timeZone: "Europe/Berlin" }, "2026-03-29T01:05:00Z", { created: "2026-03-28T12:00:00Z" });
    expect(spring.start?.scheduledAt).toBe(at("2026-03-29T01:00:00Z"));
    // 2026-11-01 in New York: 01:30 happens twice (EDT, then EST): one run, at the first.
    const p = { schedule: "30 1 * * *", timeZone: "America/New_York" };
    const first = step(p, "2026-11-01T05:31:00Z", { created: "2026-10-31T12:00:00Z" });
    expect(first.start?.scheduledAt).toBe(at("2026-11-01T05:30:00Z"));
    const again = step(p, "2026-11-01T06:31:00Z", { created: "2026-10-31T12:00:00Z", last: "2026-11-01T05:30:00Z" });
    expect(again.start).toBeUndefined();
    expect(again.nextRunAt).toBe(at("2026-11-02T06:30:00Z"));
  });

  it("property: whatever the downtime, at most one run starts, at a schedule time in the window and not after now", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 * 86_400_000 }), fc.integer({ min: 0, max: 86_400_000 }), fc.constantFrom("*/5 * * * *", "0 * * * *", "15 3 * * 1-5", "@daily"), (down, offset, schedule) => {
        const last = at("2026-02-01T00:00:00Z") + offset;
        const now = last + down;
        const s = cronJobStep({ name: "x", params: { ...base, schedule, startingDeadlineSeconds: 3600 }, runs: [], lastScheduleTime: last, createdAt: 0, now });
        if (s.start) {
          expect(s.start.scheduledAt).toBeGreaterThan(Math.max(last, now - 3_600_000));
          expect(s.start.scheduledAt).toBeLessThanOrEqual(now);
          expect(s.start.scheduledAt % 60_000).toBe(0);
        }
        expect(s.nextRunAt!).toBeGreaterThan(now);
      }),
    );
  });
});

describe("parseSchedule", () => {
  it("accepts five fields and macros, refuses seconds fields, TZ= prefixes and unknown time zones", () => {
    for (const ok of ["*/5 * * * *", "0 3 * * 1-5", "@hourly", "@Daily"]) expect("cron" in parseSchedule(ok), ok).toBe(true);
    for (const bad of ["0 */5 * * * *", "TZ=UTC 0 * * * *", "CRON_TZ=UTC 0 * * * *", "0 * *", "61 * * * *"]) expect("error" in parseSchedule(bad), bad).toBe(true);
    expect("error" in parseSchedule("0 * * * *", "Mars/Olympus")).toBe(true);
    expect("cron" in parseSchedule("0 * * * *", "Asia/Kolkata")).toBe(true);
  });
});
