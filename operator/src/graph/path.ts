/**
 * Field paths as diagnostics print them: "spec.template.spec.containers[0].env[1].name", with keys that are
 * not plain identifiers quoted ("metadata.annotations[\"coxswain.io/depends-on\"]") so that a path can be
 * read back unambiguously even when a key holds dots or slashes.
 */

/** A path into an object: property names and array indexes, outermost first. */
export type FieldPath = readonly (string | number)[];

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** Formats a field path for diagnostics and change sets; [] formats as "" (the whole document). */
export function formatFieldPath(path: FieldPath): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (IDENTIFIER.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}
