/**
 * YAML → plain data plus the source position of every field.
 *
 * Dialect: YAML 1.2 core schema (the `yaml` package's default), so `yes`, `on`, `off` stay strings and
 * `0755` is the decimal 755 (so a file mode written that way, `mode`/`defaultMode: 0644` as Kubernetes users
 * write them, is refused rather than read as another mode: leadingZeroModes). kubectl reads YAML 1.1, where `yes` is true: coxswain deliberately differs, so a
 * label value `yes` is the string "yes" as written, and nobody's `country: NO` turns into false. A document
 * that asks for `%YAML 1.1` explicitly gets 1.1. Merge keys (`<<: *anchor`) are enabled because Kubernetes
 * users rely on them (kubectl supports them). Duplicate keys are errors and documents that expand more than
 * 100 aliases are refused (the package's defaults: uniqueKeys, maxAliasCount), which blocks alias bombs.
 */
import { Composer, Lexer, LineCounter, Parser, isAlias, isMap, isScalar, isSeq } from "yaml";
import type { Node as YamlNode } from "yaml";
import type { Diagnostic } from "./types.js";
import { formatFieldPath, type PathSegment } from "./paths.js";

/** A diagnostic before it is attached to a file (the cache stores these; the file path is added per load). */
export type FileIssue = Omit<Diagnostic, "file">;

/** Line and column, 1-based. */
export interface LineCol {
  line: number;
  col: number;
}

/**
 * Deepest nesting of flow collections (`[…]`, `{…}`) in a file. A manifest written as JSON nests about 20
 * deep; lists nested 1,000,000 deep (2 MB) took the parser 1.2 GB and 80 s before it gave up on its stack.
 */
export const MAX_FLOW_DEPTH = 256;

/** The lexer's control tokens, which are not characters of the text. */
const LEXER_CONTROL = new Set(["\u0002", "\u0018", "\u001f"]);

/**
 * Where flow collections first nest deeper than MAX_FLOW_DEPTH (line, col of that bracket), or undefined.
 * Found by the lexer alone (no syntax tree), and only for a text with that many opening brackets at all.
 */
export function tooDeepFlow(text: string): LineCol | undefined {
  let brackets = 0;
  for (let i = text.indexOf("["); i !== -1 && brackets <= MAX_FLOW_DEPTH; i = text.indexOf("[", i + 1)) brackets++;
  for (let i = text.indexOf("{"); i !== -1 && brackets <= MAX_FLOW_DEPTH; i = text.indexOf("{", i + 1)) brackets++;
  if (brackets <= MAX_FLOW_DEPTH) return undefined;
  let depth = 0;
  let offset = 0;
  for (const token of new Lexer().lex(text)) {
    if (token === "\u0002")
      depth = 0; // a new document
    else if (token === "[" || token === "{") {
      if (++depth > MAX_FLOW_DEPTH) {
        const lineStart = text.lastIndexOf("\n", offset - 1) + 1;
        let line = 1;
        for (let i = text.indexOf("\n"); i !== -1 && i < lineStart; i = text.indexOf("\n", i + 1)) line++;
        return { line, col: offset - lineStart + 1 };
      }
    } else if (token === "]" || token === "}") depth = Math.max(0, depth - 1);
    if (!LEXER_CONTROL.has(token)) offset += token.length;
  }
  return undefined;
}

/** Limit on alias expansion per document: the `yaml` package's default, stated so it cannot drift. */
const MAX_ALIAS_COUNT = 100;

const SEP = "\u0000";

function pathKey(path: readonly PathSegment[]): string {
  return path.join(SEP);
}

/**
 * Where each field of one document sits. For every field two places are kept: the field's own position (its
 * value, or its key when the value is a block mapping or list that starts on a later line) and its key's
 * position (the item's value for list items). Lookups fall back to the nearest parent that exists, so a
 * defaulted field or one reached through an alias or merge key still points somewhere useful.
 */
export class PositionIndex {
  readonly #entries = new Map<string, readonly [number, number, number, number]>();

  /** Records a field: [fieldLine, fieldCol, keyLine, keyCol]. Used by the parser only. */
  set(path: readonly PathSegment[], pos: readonly [number, number, number, number]): void {
    this.#entries.set(pathKey(path), pos);
  }

  /** Position of a field (value, or key for block collections); nearest existing parent otherwise. */
  locate(path: readonly PathSegment[]): LineCol {
    const e = this.#find(path);
    return { line: e[0], col: e[1] };
  }

  /** Position of a field's key (for unknown-field diagnostics); nearest existing parent otherwise. */
  locateKey(path: readonly PathSegment[]): LineCol {
    const e = this.#find(path);
    return { line: e[2], col: e[3] };
  }

  #find(path: readonly PathSegment[]): readonly [number, number, number, number] {
    for (let n = path.length; n >= 0; n--) {
      const e = this.#entries.get(pathKey(path.slice(0, n)));
      if (e) return e;
    }
    // The root is always recorded; this is only reached for an index nobody filled.
    return [1, 1, 1, 1];
  }
}

/**
 * The positions of a file's documents for later locate() calls, kept cheaply: the file's text until the
 * first call, then the rebuilt indexes. A cached file costs its text (bytes) instead of a position entry
 * per field (kilobytes), and only files somebody asks about are indexed again. Parsing is deterministic,
 * so the rebuilt indexes equal the ones the checks used.
 */
export class FilePositions {
  #text: string | Uint8Array | undefined;
  #indexes: PositionIndex[] | undefined;

  /**
   * The file's text, or its bytes when it was checked elsewhere (a parse worker, parse-pool.ts): bytes that
   * checkFile decoded as strict UTF-8 are decoded again only when a position is asked for.
   */
  constructor(text: string | Uint8Array) {
    this.#text = text;
  }

  /** The index of the n-th non-empty document (the order of ParsedFile.documents). */
  document(ordinal: number): PositionIndex {
    if (!this.#indexes) {
      const text = typeof this.#text === "string" ? this.#text : new TextDecoder().decode(this.#text);
      this.#indexes = parseYamlFile(text).documents.map((d) => d.positions());
      this.#text = undefined;
    }
    return this.#indexes[ordinal] ?? new PositionIndex();
  }
}

/** One non-empty YAML document: its data, where it starts, and where its fields are. */
export interface ParsedDocument {
  data: unknown;
  start: LineCol;
  /**
   * The document's position index, built on the first call (most documents have no problem to place, and
   * indexing every field costs about a third of parsing).
   */
  positions(): PositionIndex;
}

/** The documents of one file and the YAML problems found in it (YamlSyntax). */
export interface ParsedFile {
  documents: ParsedDocument[];
  issues: FileIssue[];
}

/**
 * What parsing a file yields, in file order: a document, a problem, and last either that the file holds
 * more non-empty documents than allowed (where the first one past the limit starts; nothing more is
 * parsed) or how many non-empty documents it holds.
 */
export type YamlItem = { document: ParsedDocument } | { issue: FileIssue } | { tooMany: LineCol } | { counted: number };

/**
 * Parses every document of a file (`---` separated). Empty documents (nothing, only comments, or a bare
 * null) are skipped. A document with a syntax error yields one YamlSyntax error (its first problem; the
 * rest usually follow from it) and no data; the other documents of the file are still returned. So does a
 * document holding what JSON cannot (list or mapping keys, !!binary, !!set, !!omap, timestamps, .inf/.nan):
 * one YamlSyntax error per such value, at its position.
 */
export function parseYamlFile(text: string): ParsedFile {
  const out: ParsedFile = { documents: [], issues: [] };
  for (const item of yamlDocuments(text)) {
    if ("document" in item) out.documents.push(item.document);
    else if ("issue" in item) out.issues.push(item.issue);
  }
  return out;
}

/**
 * parseYamlFile one document at a time, stopping after `maxDocuments` non-empty documents (a document
 * counts unless it holds nothing, only comments or a bare null; one with errors counts): the rest of the file is neither parsed nor kept, so a
 * file of a million documents costs what the first maxDocuments + 1 cost. Each document's syntax tree is
 * released once the consumer moves on (positions are rebuilt from the text when asked).
 */
export function* yamlDocuments(text: string, maxDocuments = Infinity): Generator<YamlItem> {
  const lc = new LineCounter();
  const parser = new Parser(lc.addNewLine);
  const composer = new Composer({ merge: true });
  const at = (offset: number): LineCol => lc.linePos(offset);
  let counted = 0;

  for (const doc of composer.compose(parser.parse(text))) {
    const start = at(doc.contents?.range?.[0] ?? doc.range[0]);
    // Empty documents (no content, only comments, a bare null) do not count: a trailing "---" costs nothing.
    const empty = doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null);
    if (!empty || doc.errors.length > 0) {
      counted++;
      if (counted > maxDocuments) {
        yield { tooMany: start };
        return;
      }
    }
    if (doc.errors.length > 0) {
      const errs = [...doc.errors].sort((a, b) => a.pos[0] - b.pos[0]);
      const first = errs[0]!;
      const more = errs.length > 1 ? ` (and ${errs.length - 1} more problem(s) in this document)` : "";
      yield {
        issue: {
          ...at(first.pos[0]),
          code: "YamlSyntax",
          severity: "error",
          field: "",
          message: `${yamlMessage(first.message, first.code)}${more}`,
        },
      };
      continue;
    }
    for (const w of doc.warnings) {
      yield { issue: { ...at(w.pos[0]), code: "YamlSyntax", severity: "warning", field: "", message: yamlMessage(w.message, w.code) } };
    }
    const contents = (doc.contents as YamlNode | null) ?? null;
    let index: PositionIndex | undefined;
    const positions = (): PositionIndex => {
      if (!index) {
        index = new PositionIndex();
        indexNode(contents, [], null, index, at);
      }
      return index;
    };
    // Mapping keys that are lists or mappings cannot become plain data (toJS would stringify them and
    // print a process warning): refuse them first.
    const complexKeys: number[] = [];
    findComplexKeys(contents, complexKeys);
    if (complexKeys.length > 0) {
      for (const offset of complexKeys) {
        yield { issue: { ...at(offset), code: "YamlSyntax", severity: "error", field: "", message: "a mapping key must be a scalar (got a list or mapping as key)" } };
      }
      continue;
    }
    let data: unknown;
    try {
      data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      yield {
        issue: {
          ...start,
          code: "YamlSyntax",
          severity: "error",
          field: "",
          message:
            err instanceof ReferenceError && /alias/i.test(err.message)
              ? `the document expands aliases more than ${MAX_ALIAS_COUNT} times (alias bomb); expected plain data`
              : `cannot read the document: ${err instanceof Error ? err.message : String(err)}`,
        },
      };
      continue;
    }
    if (data === null || data === undefined) continue;
    const foreign = nonJsonValues(data, []);
    if (foreign.length > 0) {
      for (const f of foreign) {
        yield {
          issue: {
            ...positions().locate(f.path),
            code: "YamlSyntax",
            severity: "error",
            field: formatFieldPath(f.path),
            message: `${f.what} is not supported; expected a string, number, boolean, null, list or mapping`,
          },
        };
      }
      continue;
    }
    const modes: { path: PathSegment[]; source: string }[] = [];
    leadingZeroModes(contents, [], modes);
    if (modes.length > 0) {
      for (const m of modes) {
        const octal = Number.parseInt(m.source, 8);
        const fix = Number.isNaN(octal) || /[89]/.test(m.source) ? "" : ` or as the decimal ${octal}`;
        yield {
          issue: {
            ...positions().locate(m.path),
            code: "InvalidField",
            severity: "error",
            field: formatFieldPath(m.path),
            message: `${m.source} is the decimal number ${Number(m.source)} in YAML 1.2, which coxswain reads, not the octal file mode kubectl's YAML 1.1 makes of it: write it as 0o${m.source.replace(/^0+/, "")}${fix}`,
          },
        };
      }
      continue;
    }
    yield { document: { data, positions, start } };
  }
  yield { counted };
}

/**
 * The file modes (keys `mode` and `defaultMode`) written as plain integers with a leading zero and read as
 * decimal, with their paths (a `%YAML 1.1` document reads them as octal, as kubectl does: those pass).
 */
function leadingZeroModes(node: YamlNode | null, path: PathSegment[], out: { path: PathSegment[]; source: string }[]): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const k = pair.key as YamlNode | null;
      if (!isScalar(k)) continue;
      const name = k.value === null ? "" : String(k.value);
      const v = pair.value as YamlNode | null;
      // One path, pushed and popped on the way down and copied for a mode found (as in nonJsonValues).
      path.push(name);
      if ((name === "mode" || name === "defaultMode") && isScalar(v) && typeof v.value === "number" && /^0[0-9]+$/.test(v.source ?? "") && v.value === Number(v.source)) {
        out.push({ path: [...path], source: v.source! });
      } else leadingZeroModes(v ?? null, path, out);
      path.pop();
    }
  } else if (isSeq(node)) {
    for (let i = 0; i < node.items.length; i++) {
      path.push(i);
      leadingZeroModes((node.items[i] as YamlNode | null) ?? null, path, out);
      path.pop();
    }
  }
}

function yamlMessage(message: string, code: string): string {
  const firstLine = message.split("\n")[0] ?? message;
  return `${firstLine.replace(/ at line \d+, column \d+:?$/, "")} (${code})`;
}

function indexNode(node: YamlNode | null, path: PathSegment[], keyNode: YamlNode | null, index: PositionIndex, at: (offset: number) => LineCol): void {
  const keyOffset = keyNode?.range?.[0];
  const valueOffset = node?.range?.[0];
  const keyPos = at(keyOffset ?? valueOffset ?? 0);
  let fieldOffset = valueOffset ?? keyOffset ?? 0;
  const blockCollection = (isMap(node) || isSeq(node)) && !node.flow;
  const emptyScalar = isScalar(node) && node.value === null && node.source === "";
  if (keyOffset !== undefined && (blockCollection || emptyScalar || valueOffset === undefined)) fieldOffset = keyOffset;
  const fieldPos = at(fieldOffset);
  index.set(path, [fieldPos.line, fieldPos.col, keyPos.line, keyPos.col]);

  if (isMap(node)) {
    for (const pair of node.items) {
      const k = pair.key as YamlNode | null;
      if (!isScalar(k)) continue; // refused by findComplexKeys before anyone asks for positions
      const name = k.value === null ? "" : String(k.value);
      if (name === "<<" && (isAlias(pair.value) || isMap(pair.value) || isSeq(pair.value))) continue; // merge key
      indexNode((pair.value as YamlNode | null) ?? null, [...path, name], k, index, at);
    }
  } else if (isSeq(node)) {
    for (const [i, item] of node.items.entries()) indexNode((item as YamlNode | null) ?? null, [...path, i], null, index, at);
  }
  // Aliases are not followed: fields reached through one point at the alias.
}

/** Collects the offsets of mapping keys that are not scalars (lists, mappings). */
function findComplexKeys(node: YamlNode | null, out: number[]): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const k = pair.key as YamlNode | null;
      if (k !== null && !isScalar(k)) out.push(k.range?.[0] ?? node.range?.[0] ?? 0);
      findComplexKeys((pair.value as YamlNode | null) ?? null, out);
    }
  } else if (isSeq(node)) {
    for (const item of node.items) findComplexKeys((item as YamlNode | null) ?? null, out);
  }
}

/**
 * Values YAML can express but JSON (and so Kubernetes) cannot: !!binary, !!set, !!omap, timestamps under
 * %YAML 1.1, .inf and .nan. Returns each with its path; plain data yields [].
 */
function nonJsonValues(v: unknown, path: PathSegment[], out: { path: PathSegment[]; what: string }[] = []): { path: PathSegment[]; what: string }[] {
  // One path, pushed and popped on the way down, copied only for a value found: every document of every
  // file goes through here, and a path array per field was a good part of the load's garbage.
  const found = (what: string): void => {
    out.push({ path: [...path], what });
  };
  if (typeof v === "number") {
    if (!Number.isFinite(v)) found(`the number ${String(v)}`);
  } else if (v === null || typeof v !== "object") {
    // a string, a boolean or null
  } else if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      path.push(i);
      nonJsonValues(v[i], path, out);
      path.pop();
    }
  } else if (v instanceof Uint8Array) found("binary data (!!binary)");
  else if (v instanceof Set) found("a set (!!set)");
  else if (v instanceof Map) found("an ordered map (!!omap)");
  else if (v instanceof Date) found("a timestamp");
  else if (Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null) found("a tagged value");
  else {
    for (const k of Object.keys(v)) {
      path.push(k);
      nonJsonValues((v as Record<string, unknown>)[k], path, out);
      path.pop();
    }
  }
  return out;
}
