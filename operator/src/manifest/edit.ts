/**
 * Edits of one object's fields in a manifest file's text, as a person would make them: only the value
 * changed (or the missing keys added) is touched, so every other byte — comments, quoting, indentation,
 * key order, the other documents of the file — stays as it was, and the commit's diff is the edit alone.
 *
 * The `yaml` package's Document API finds the nodes and their byte ranges; the text is spliced there. A
 * value is replaced only when it is a plain or quoted scalar, and keys are added only to a block mapping;
 * anything else (a flow mapping, an alias, a block scalar, an empty value) is ManifestNotEditable with the
 * file and line. Every edit is checked by reading the result again: the object must hold exactly the
 * edited values and every other document and field must read as before. Pure.
 */
import { isAlias, isMap, isScalar, parseAllDocuments, type Document, type Pair } from "yaml";
import { CoxError } from "../api/errors.js";

/** One field to set: a path of mapping keys from the document's root, and its new value. */
export interface FieldEdit {
  path: readonly string[];
  value: string | boolean;
}

/** Which document of the file: kind, metadata.name and (for namespaced kinds) the namespace, default "default". */
export interface EditTarget {
  kind: string;
  name: string;
  namespace?: string;
}

/**
 * The file's text with `edits` applied to the document of `target`; ManifestNotEditable (details: file,
 * line) when the document is missing or a field cannot be edited in place. Pure.
 */
export function editManifest(text: string, file: string, target: EditTarget, edits: readonly FieldEdit[]): string {
  let out = text;
  for (const edit of edits) out = applyOne(out, file, target, edit);
  const before = readAll(text, file);
  const after = readAll(out, file);
  const index = findDocument(before.docs, target);
  const expected = before.values.map((v, i) => (i === index ? withEdits(v, edits) : v));
  if (JSON.stringify(after.values) !== JSON.stringify(expected)) {
    throw notEditable(file, lineAt(text, before.docs[index!]!.range?.[0] ?? 0), "the edited file would not read as the object with only these fields changed");
  }
  return out;
}

function applyOne(text: string, file: string, target: EditTarget, edit: FieldEdit): string {
  const { docs } = readAll(text, file);
  const index = findDocument(docs, target);
  if (index === undefined) throw notEditable(file, 1, `no document of ${describe(target)} in the file`);
  const doc = docs[index]!;
  let node: unknown = doc.contents;
  for (let i = 0; i < edit.path.length; i++) {
    const key = edit.path[i]!;
    const where = lineAt(text, rangeOf(node)?.[0] ?? doc.range?.[0] ?? 0);
    if (isAlias(node)) throw notEditable(file, where, `${edit.path.slice(0, i).join(".")} is an alias; edit the anchored value by hand`);
    if (!isMap(node)) throw notEditable(file, where, `${edit.path.slice(0, i).join(".") || "the document"} is not a mapping`);
    const pair = node.items.find((p: Pair) => isScalar(p.key) && p.key.value === key);
    if (!pair) {
      if (node.flow) throw notEditable(file, where, `${edit.path.slice(0, i).join(".")} is a flow mapping ({ … }); add ${edit.path.slice(i).join(".")} by hand`);
      return insertKeys(text, file, node.items, edit.path.slice(i), edit.value, where);
    }
    const value = pair.value;
    if (i === edit.path.length - 1) {
      const r = rangeOf(value);
      if (!isScalar(value) || !r || value.type === "BLOCK_FOLDED" || value.type === "BLOCK_LITERAL" || r[0] === r[1]) {
        throw notEditable(file, lineAt(text, r?.[0] ?? rangeOf(pair.key)?.[0] ?? 0), `${edit.path.join(".")} is not a plain or quoted value`);
      }
      return text.slice(0, r[0]) + scalar(edit.value) + text.slice(r[1]);
    }
    if (isScalar(value) && (value.value === null || value.value === undefined)) {
      throw notEditable(file, lineAt(text, rangeOf(pair.key)?.[0] ?? 0), `${edit.path.slice(0, i + 1).join(".")} is empty; give it a value by hand`);
    }
    node = value;
  }
  return text;
}

/** Adds `keys` (the first one missing in the block mapping `items`) after the mapping's last entry. */
function insertKeys(text: string, file: string, items: readonly Pair[], keys: readonly string[], value: string | boolean, where: number): string {
  const first = rangeOf(items[0]?.key);
  const last = items[items.length - 1];
  const end = rangeOf(last?.value)?.[1] ?? rangeOf(last?.key)?.[1];
  if (!first || end === undefined) throw notEditable(file, where, "an empty mapping; add the field by hand");
  const indent = first[0] - (text.lastIndexOf("\n", first[0] - 1) + 1);
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const lines = keys.map((k, j) => `${" ".repeat(indent + 2 * j)}${key(k)}:${j === keys.length - 1 ? ` ${scalar(value)}` : ""}`).join(eol) + eol;
  const nl = text[end - 1] === "\n" ? end - 1 : text.indexOf("\n", end);
  if (nl === -1) return `${text}${eol}${lines}`;
  const at = nl + 1;
  return text.slice(0, at) + lines + text.slice(at);
}

function readAll(text: string, file: string): { docs: Document[]; values: unknown[] } {
  const docs = parseAllDocuments(text) as Document[] | { errors: unknown[] };
  if (!Array.isArray(docs)) throw notEditable(file, 1, "the file holds no YAML document");
  const broken = docs.find((d) => d.errors.length > 0);
  if (broken) throw notEditable(file, lineAt(text, broken.errors[0]!.pos[0]), `the file does not read as YAML (${broken.errors[0]!.code})`);
  return { docs, values: docs.map((d) => d.toJS()) };
}

function findDocument(docs: readonly Document[], target: EditTarget): number | undefined {
  const i = docs.findIndex((d) => {
    const name = d.getIn(["metadata", "name"]);
    const ns = d.getIn(["metadata", "namespace"]) ?? "default";
    return d.get("kind") === target.kind && name === target.name && (target.namespace === undefined || ns === target.namespace);
  });
  return i < 0 ? undefined : i;
}

function withEdits(value: unknown, edits: readonly FieldEdit[]): unknown {
  const copy = structuredClone(value) as Record<string, unknown>;
  for (const e of edits) {
    let node = copy;
    e.path.forEach((k, i) => {
      if (i === e.path.length - 1) node[k] = e.value;
      else node = (node[k] ??= {}) as Record<string, unknown>;
    });
  }
  return copy;
}

function rangeOf(node: unknown): readonly [number, number, number] | undefined {
  return (node as { range?: [number, number, number] } | null | undefined)?.range ?? undefined;
}

/** A scalar as YAML text: booleans bare, strings double-quoted (a JSON string is a YAML one). */
function scalar(v: string | boolean): string {
  return typeof v === "boolean" ? String(v) : JSON.stringify(v);
}

function key(k: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(k) ? k : JSON.stringify(k);
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function describe(t: EditTarget): string {
  return `${t.kind} ${t.namespace ? `${t.namespace}/` : ""}${t.name}`;
}

function notEditable(file: string, line: number, why: string): CoxError {
  return new CoxError("ManifestNotEditable", `${file}:${line}: ${why}`, { details: { file, line } });
}
