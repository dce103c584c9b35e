/**
 * Loggers for tests (operator/src/api/log.ts's Logger): one that records every line with its level and
 * fields (its children's fields merged in, as pino does), and one that hands each message on as a line of
 * text, for the tests that read what the operator says.
 */
import type { LogFields, Logger, LogLevel } from "../../operator/src/api/log.js";

/** One line as a module logged it. */
export interface RecordedLine {
  level: LogLevel;
  msg: string;
  /** Its own fields and those of the child loggers it went through. */
  fields: LogFields;
}

/** A logger that calls `onLine` with every line; `bound` are the fields of its parents. */
export function recordingLogger(onLine: (line: RecordedLine) => void, bound: LogFields = {}): Logger {
  const at =
    (level: LogLevel) =>
    (msg: string, fields?: LogFields): void =>
      onLine({ level, msg, fields: { ...bound, ...fields } });
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error"), child: (fields) => recordingLogger(onLine, { ...bound, ...fields }) };
}

/** A logger that hands each message, whatever its level, to `line`. */
export function lineLogger(line: (msg: string) => void): Logger {
  return recordingLogger((l) => line(l.msg));
}
