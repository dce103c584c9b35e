/**
 * The one place pino is wired (`coxswain run --log-format text|json --log-level debug|info|warn|error`):
 * every module logs through api/log.ts's Logger, this file turns it into lines.
 *
 * - json: one pino object per line: `level` (a name), `time` (ISO 8601), `msg`, and the fields of the line
 *   and of its child loggers (`commit`, `workload`…).
 * - text (the default, whether or not stdout is a terminal, so that what people read and what a service
 *   manager's journal keeps look the same): `HH:MM:SS msg` in UTC, as coxswain printed before it had
 *   levels, with the level before the message when it is not info (`WARN`, `ERROR`, `DEBUG`). The
 *   messages name their commit and workload already; the fields are in json only.
 *
 * Secrets are kept out of messages where they are made (only where a secret came from is ever said);
 * redaction of fields with a secret's name is the second line of defence.
 */
import { pino } from "pino";
import { CoxError } from "../api/errors.js";
import { LOG_LEVELS, type LogFields, type Logger, type LogLevel } from "../api/log.js";

/** The formats of --log-format. */
export const LOG_FORMATS = ["text", "json"] as const;

/** How `coxswain run` logs. */
export interface LogSettings {
  format: (typeof LOG_FORMATS)[number];
  level: LogLevel;
}

/** The flags of the logger, for parseArgs. */
export const LOG_FLAGS = {
  "log-format": { type: "string" },
  "log-level": { type: "string" },
} as const;

/** Help text of the logger's flags. */
export const LOG_USAGE = `  --log-format <text|json>      text: "HH:MM:SS [LEVEL] message" lines (default); json: one JSON object a line
                                (level, time, msg, and fields such as commit and workload)
  --log-level <level>           debug | info | warn | error: the least severe level written (default info)`;

/** Field names whose values are never written, wherever they appear (a second line of defence). */
const REDACTED_FIELDS = ["token", "password", "secret", "authorization", "credentials", "apiKey", "privateKey"];

/** Reads --log-format and --log-level: anything else than their values is InvalidArgument. */
export function parseLogFlags(values: { "log-format"?: string; "log-level"?: string }): LogSettings {
  const format = values["log-format"] ?? "text";
  if (!(LOG_FORMATS as readonly string[]).includes(format)) {
    throw new CoxError("InvalidArgument", `--log-format: expected ${LOG_FORMATS.join(" or ")} (got ${JSON.stringify(format)})`);
  }
  const level = values["log-level"] ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new CoxError("InvalidArgument", `--log-level: expected ${LOG_LEVELS.join(", ")} (got ${JSON.stringify(level)})`);
  }
  return { format: format as LogSettings["format"], level: level as LogLevel };
}

/** A Logger that writes each line (without its newline) to `write`, as `settings` say. */
export function createLogger(settings: LogSettings, write: (line: string) => void): Logger {
  const destination = {
    write: (json: string) => {
      const line = json.endsWith("\n") ? json.slice(0, -1) : json;
      write(settings.format === "json" ? line : textLine(line));
    },
  };
  const base = pino(
    {
      level: settings.level,
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_FIELDS.flatMap((f) => [f, `*.${f}`]), censor: "[redacted]" },
    },
    destination,
  );
  return adapt(base);
}

/** pino's JSON line as the text format's line. */
function textLine(json: string): string {
  const o = JSON.parse(json) as { level: string; time: string; msg?: string };
  return `${o.time.slice(11, 19)} ${o.level === "info" ? "" : `${o.level.toUpperCase()} `}${o.msg ?? ""}`;
}

/** pino's logger as a Logger (fields first, as pino takes them). */
function adapt(p: pino.Logger): Logger {
  const at =
    (level: LogLevel) =>
    (msg: string, fields?: LogFields): void =>
      fields ? p[level](fields, msg) : p[level](msg);
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error"), child: (fields) => adapt(p.child(fields)) };
}
