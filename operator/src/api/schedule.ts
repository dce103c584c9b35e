/**
 * A CronJob's schedule read as Kubernetes accepts it, by croner 11: one parser for validation (manifest/) and
 * the decision (rollout/cronjob.ts), so what is accepted is what runs.
 */
import { Cron } from "croner";

/** The macros Kubernetes' cron parser accepts besides five fields. */
const MACROS = new Set(["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"]);

/**
 * The schedule read as Kubernetes accepts it, or why not: five fields or a macro, no seconds field, no
 * `TZ=`/`CRON_TZ=` prefix (timeZone says it), a time zone from the IANA database.
 */
export function parseSchedule(schedule: string, timeZone?: string): { cron: Cron } | { error: string } {
  const text = schedule.trim();
  if (/^(CRON_)?TZ=/.test(text)) return { error: "a time zone in the schedule (TZ=, CRON_TZ=) is not allowed; set spec.timeZone (as Kubernetes requires)" };
  const fields = text.split(/\s+/);
  if (!(fields.length === 5 || (fields.length === 1 && MACROS.has(fields[0]!.toLowerCase())))) {
    return { error: `expected five fields (minute hour day-of-month month day-of-week) or one of ${[...MACROS].join(", ")} (got ${fields.length} field(s))` };
  }
  if (timeZone !== undefined) {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone }).format(0);
    } catch {
      return { error: `unknown time zone ${JSON.stringify(timeZone)}: expected a name of the IANA time zone database, such as "Europe/Berlin" or "Etc/UTC"` };
    }
  }
  try {
    return { cron: new Cron(text, { paused: true, ...(timeZone !== undefined ? { timezone: timeZone } : {}) }) };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}
