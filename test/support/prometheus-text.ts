/**
 * A strict reader of Prometheus' text exposition format (version 0.0.4, what /metrics serves), for tests:
 * no exposition parser is installed (prom-client writes the format but does not read it), so this one is
 * written on the format's grammar, and throws with the line number on anything the grammar or the format's
 * rules refuse:
 *
 * - `# HELP <name> <text>` and `# TYPE <name> <counter|gauge|histogram|summary|untyped>`, each at most
 *   once per family, TYPE before the family's first sample; other `#` lines are comments.
 * - `<name>[{<label>="<value>",…}] <value> [<timestamp>]`: metric names `[a-zA-Z_:][a-zA-Z0-9_:]*`, label
 *   names `[a-zA-Z_][a-zA-Z0-9_]*` (not starting with `__`), values with `\\`, `\"` and `\n` escapes only,
 *   decimal numbers, and NaN and ±Inf in any case as Go's ParseFloat reads them (not its hexadecimal
 *   floats, which no exposition writer uses); timestamps integers.
 * - A sample belongs to the family its name is, or (histogram, summary) its name less `_bucket`, `_sum`,
 *   `_count`; a family's samples are contiguous; no two samples have the same name and labels; no label
 *   repeated in one sample.
 * - Histograms: every series has `le` buckets in ascending order with non-decreasing counts, a `+Inf`
 *   bucket equal to its `_count`, and a `_sum`. Counters are never negative.
 */

/** One sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** One metric family: its TYPE, HELP and samples. */
export interface MetricFamily {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help?: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);
const FLOAT = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)$/;

/** Parses exposition text into families (in the order they appear); throws on any violation. */
export function parseExposition(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const seen = new Set<string>();
  let current: MetricFamily | undefined;
  const fail = (n: number, why: string, line: string): never => {
    throw new Error(`exposition line ${n}: ${why}: ${JSON.stringify(line)}`);
  };
  const family = (name: string, n: number, line: string): MetricFamily => {
    let f = families.get(name);
    if (!f) {
      f = { name, type: "untyped", samples: [] };
      families.set(name, f);
    } else if (f !== current && f.samples.length > 0) fail(n, `family ${name} is not contiguous`, line);
    current = f;
    return f;
  };
  if (text !== "" && !text.endsWith("\n")) throw new Error("exposition: the text must end with a line feed");
  const lines = text.split("\n");
  lines.pop();
  lines.forEach((line, i) => {
    const n = i + 1;
    if (line.trim() === "") return;
    if (line.startsWith("#")) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/.exec(line);
      if (!m) return; // a comment
      const [, kind, name, rest = ""] = m;
      if (!METRIC_NAME.test(name!)) fail(n, "bad metric name", line);
      const f = family(name!, n, line);
      if (kind === "HELP") {
        if (f.help !== undefined) fail(n, "second HELP", line);
        if (/\\([^\\n]|$)/.test(rest.replace(/\\\\/g, ""))) fail(n, "bad escape in HELP", line);
        f.help = rest;
      } else {
        if (!TYPES.has(rest)) fail(n, "unknown TYPE", line);
        if ((f as { typed?: boolean }).typed) fail(n, "second TYPE", line);
        if (f.samples.length > 0) fail(n, "TYPE after samples", line);
        f.type = rest as MetricFamily["type"];
        (f as { typed?: boolean }).typed = true;
      }
      return;
    }
    const { name, labels, rest } = readSeries(line, n, fail);
    const parts = rest.trim().split(/[ \t]+/);
    if (!/^[ \t]/.test(rest) || parts.length < 1 || parts.length > 2) fail(n, "expected a value and an optional timestamp", line);
    const value = readFloat(parts[0]!);
    if (value === undefined) fail(n, "bad value", line);
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) fail(n, "bad timestamp", line);
    const base = familyOf(name, families);
    const f = family(base, n, line);
    if (base !== name && f.type !== "histogram" && f.type !== "summary") fail(n, `${name} is not a sample of ${base}`, line);
    const key = `${name}{${Object.entries(labels)
      .sort()
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(",")}}`;
    if (seen.has(key)) fail(n, "duplicate series", line);
    seen.add(key);
    if (f.type === "counter" && !(value! >= 0)) fail(n, "negative counter", line);
    f.samples.push({ name, labels, value: value! });
  });
  for (const f of families.values()) {
    delete (f as { typed?: boolean }).typed;
    if (f.type === "histogram") checkHistogram(f);
  }
  return families;
}

/** The sample of `name` with exactly these labels; undefined when absent. */
export function sampleValue(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      const keys = Object.keys(s.labels);
      if (keys.length === Object.keys(labels).length && keys.every((k) => s.labels[k] === labels[k])) return s.value;
    }
  }
  return undefined;
}

function readSeries(line: string, n: number, fail: (n: number, why: string, line: string) => never): { name: string; labels: Record<string, string>; rest: string } {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (!m) fail(n, "bad metric name", line);
  const name = m![1]!;
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === "{") {
    i++;
    for (;;) {
      if (line[i] === "}") {
        i++;
        break;
      }
      const ln = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(i));
      if (!ln) fail(n, "bad label", line);
      const label = ln![1]!;
      if (!LABEL_NAME.test(label) || label.startsWith("__")) fail(n, "bad label name", line);
      if (label in labels) fail(n, `label ${label} repeated`, line);
      i += ln![0].length;
      let value = "";
      for (;;) {
        const c = line[i];
        if (c === undefined) fail(n, "unterminated label value", line);
        if (c === '"') break;
        if (c === "\\") {
          const e = line[i + 1];
          if (e === "\\") value += "\\";
          else if (e === '"') value += '"';
          else if (e === "n") value += "\n";
          else fail(n, "bad escape in label value", line);
          i += 2;
          continue;
        }
        value += c;
        i++;
      }
      i++;
      labels[label] = value;
      if (line[i] === ",") i++;
      else if (line[i] !== "}") fail(n, "expected , or } after a label", line);
    }
  }
  return { name, labels, rest: line.slice(i) };
}

function readFloat(text: string): number | undefined {
  // Go's ParseFloat, which Prometheus reads values with, takes NaN and Inf in any case (prom-client writes "Nan").
  if (/^nan$/i.test(text)) return Number.NaN;
  if (/^\+?inf(inity)?$/i.test(text)) return Number.POSITIVE_INFINITY;
  if (/^-inf(inity)?$/i.test(text)) return Number.NEGATIVE_INFINITY;
  return FLOAT.test(text) ? Number(text) : undefined;
}

/** The family a sample name belongs to: itself, or a histogram/summary it is a `_bucket`/`_sum`/`_count` of. */
function familyOf(name: string, families: Map<string, MetricFamily>): string {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const f = families.get(base);
    if (f && (f.type === "histogram" || f.type === "summary") && (suffix !== "_bucket" || f.type === "histogram")) return base;
  }
  return name;
}

function checkHistogram(f: MetricFamily): void {
  const series = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const e = series.get(key) ?? { buckets: [] };
    series.set(key, e);
    if (s.name === `${f.name}_bucket`) {
      const bound = le === undefined ? undefined : readFloat(le);
      if (bound === undefined) throw new Error(`histogram ${f.name}: a bucket without a valid le`);
      e.buckets.push([bound, s.value]);
    } else if (s.name === `${f.name}_sum`) e.sum = s.value;
    else if (s.name === `${f.name}_count`) e.count = s.value;
    else throw new Error(`histogram ${f.name}: unexpected sample ${s.name}`);
  }
  for (const [key, e] of series) {
    const where = `histogram ${f.name} ${key}`;
    if (e.sum === undefined || e.count === undefined) throw new Error(`${where}: no _sum or _count`);
    for (let i = 1; i < e.buckets.length; i++) {
      if (!(e.buckets[i]![0] > e.buckets[i - 1]![0])) throw new Error(`${where}: le not ascending`);
      if (e.buckets[i]![1] < e.buckets[i - 1]![1]) throw new Error(`${where}: bucket counts decrease`);
    }
    const last = e.buckets.at(-1);
    if (!last || last[0] !== Number.POSITIVE_INFINITY) throw new Error(`${where}: no +Inf bucket`);
    if (last[1] !== e.count) throw new Error(`${where}: the +Inf bucket is not _count`);
  }
}
