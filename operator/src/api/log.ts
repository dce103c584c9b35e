/**
 * The operator's logger, as its modules see it: four levels and child loggers that add fields (the commit,
 * the workload) to every line they write. Modules take a `Logger` in their options and never import the
 * library behind it: `coxswain run` wires pino (cli/logger.ts), tests pass one that records.
 */

/** The levels, from the most chatty to the most severe. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** One of LOG_LEVELS. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Fields of a line, beside its message: `commit` (short sha), `workload` (kind/ns/name), `node`… */
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

/** A levelled, structured logger. A message is one line for people; fields are for machines. */
export interface Logger {
  /** Chatty details, off by default. */
  debug(msg: string, fields?: LogFields): void;
  /** Progress: what happened, as it happens. */
  info(msg: string, fields?: LogFields): void;
  /** A fault coxswain works around or retries (a node lost, a fetch failed, a request refused). */
  warn(msg: string, fields?: LogFields): void;
  /** A fault it cannot work around: something a person has to look at. */
  error(msg: string, fields?: LogFields): void;
  /** A logger whose lines all carry `fields` too. */
  child(fields: LogFields): Logger;
}

/** The logger of a module given none: it writes nothing. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};

/** The field of the lines about `commit`: its short sha (none without a commit). */
export function commitFields(commit: string | undefined): LogFields {
  return commit ? { commit: commit.slice(0, 7) } : {};
}

/** The fields of the lines about workload `key` (kind/ns/name) at `commit`, which they name by its short sha. */
export function workloadFields(key: string, commit: string | undefined): LogFields {
  return { ...commitFields(commit), workload: key };
}

/**
 * A logger whose lines carry `fields()` as they are when each line is written: the commit a long-lived
 * controller acts on changes under it, where a child logger's fields are fixed when it is made.
 */
export function withCurrentFields(base: Logger, fields: () => LogFields): Logger {
  const at =
    (level: LogLevel) =>
    (msg: string, own?: LogFields): void =>
      base[level](msg, { ...fields(), ...own });
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error"), child: (f) => withCurrentFields(base.child(f), fields) };
}
