/**
 * Field paths: the segments of a place inside an object (["spec", "template", "spec", "containers", 0])
 * and their printed form ("spec.template.spec.containers[0]"), used in diagnostics and by locate().
 */

/** One step into an object: a mapping key or a list index. */
export type PathSegment = string | number;

/** A key that can be printed bare after a dot; anything else is printed as ["…"] (label keys have dots and slashes). */
const BARE_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/**
 * Prints a path the way diagnostics show it: "spec.template.spec.containers[0].ports[1].containerPort";
 * keys that are not identifiers are quoted, e.g. `metadata.labels["app.kubernetes.io/name"]`. [] → "".
 */
export function formatFieldPath(path: readonly PathSegment[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (BARE_KEY.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/**
 * Parses the printed form back into segments (the inverse of formatFieldPath); throws on malformed input.
 * Used by tests and tools that take a field path from a person.
 */
export function parseFieldPath(text: string): PathSegment[] {
  const out: PathSegment[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === "[") {
      const close = findBracketEnd(text, i);
      const inner = text.slice(i + 1, close);
      if (/^[0-9]+$/.test(inner)) out.push(Number(inner));
      else if (inner.startsWith('"')) out.push(JSON.parse(inner) as string);
      else throw new Error(`malformed field path ${JSON.stringify(text)} at ${i}`);
      i = close + 1;
    } else {
      if (ch === ".") {
        if (out.length === 0) throw new Error(`malformed field path ${JSON.stringify(text)}: leading "."`);
        i++;
      } else if (out.length > 0) {
        throw new Error(`malformed field path ${JSON.stringify(text)} at ${i}`);
      }
      let j = i;
      while (j < text.length && text[j] !== "." && text[j] !== "[") j++;
      if (j === i) throw new Error(`malformed field path ${JSON.stringify(text)}: empty key at ${i}`);
      out.push(text.slice(i, j));
      i = j;
    }
  }
  return out;
}

function findBracketEnd(text: string, open: number): number {
  let inString = false;
  for (let i = open + 1; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === "]") return i;
  }
  throw new Error(`malformed field path ${JSON.stringify(text)}: unclosed "[" at ${open}`);
}

/**
 * Turns an ajv instancePath ("/spec/containers/0/name", RFC 6901 escaped) into segments, using the data to
 * tell list indexes from mapping keys that happen to be digits.
 */
export function pointerToPath(pointer: string, data: unknown): PathSegment[] {
  if (pointer === "") return [];
  const out: PathSegment[] = [];
  let node: unknown = data;
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(node) && /^[0-9]+$/.test(key)) {
      const idx = Number(key);
      out.push(idx);
      node = node[idx];
    } else {
      out.push(key);
      node = node !== null && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined;
    }
  }
  return out;
}

/** Reads the value at a path; undefined when any step is missing. */
export function getAtPath(data: unknown, path: readonly PathSegment[]): unknown {
  let node: unknown = data;
  for (const seg of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string | number, unknown>)[seg];
  }
  return node;
}
