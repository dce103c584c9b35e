/**
 * Comments cite only what a reader of this repository can open: its own files, or public sources (a
 * Kubernetes documentation URL, a library's docs). Notes kept outside the repository — a sibling "shared"
 * directory with its semantics, design and library notes, seed files, absolute paths of the machine the
 * code was written on — mean nothing to anyone else, so a comment that names one fails here. Comments are
 * found with TypeScript's own parser (so test data in strings, such as a symlink target, is not a comment),
 * and as '#' lines of the YAML and shell files.
 */
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** What a comment must not name (built from strings, so that this file's own text is no match). */
const OUTSIDE: readonly RegExp[] = [
  new RegExp(["\\.\\.", "shared"].join("/")),
  new RegExp(`\\b${"SEMANTICS"}(\\.md)?\\b`),
  new RegExp(`\\b${"DESIGN"}\\.md\\b`),
  new RegExp(`\\b${"LIBRARIES"}(\\.md)?\\b`),
  new RegExp(`\\b${"seeds"}/`),
  new RegExp(["", "work", ""].join("/")),
];

function filesUnder(dir: string, keep: (path: string) => boolean): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (name === "node_modules" || name.startsWith(".")) return [];
    const p = join(dir, name);
    // Symbolic links are never followed: the bad-input fixtures hold links out of the repository on purpose.
    const st = lstatSync(p);
    if (st.isSymbolicLink()) return [];
    return st.isDirectory() ? filesUnder(p, keep) : keep(p) ? [p] : [];
  });
}

/** Every comment of a TypeScript file, with its line. */
function tsComments(file: string): { line: number; text: string }[] {
  const text = readFileSync(file, "utf8");
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const seen = new Set<number>();
  const out: { line: number; text: string }[] = [];
  const take = (ranges: ts.CommentRange[] | undefined) => {
    for (const r of ranges ?? []) {
      if (seen.has(r.pos)) continue;
      seen.add(r.pos);
      out.push({ line: source.getLineAndCharacterOfPosition(r.pos).line + 1, text: text.slice(r.pos, r.end) });
    }
  };
  const visit = (node: ts.Node) => {
    take(ts.getLeadingCommentRanges(text, node.pos));
    take(ts.getTrailingCommentRanges(text, node.end));
    ts.forEachChild(node, visit);
  };
  visit(source);
  take(ts.getLeadingCommentRanges(text, source.endOfFileToken.pos));
  return out;
}

/** The '#' comment lines of a YAML or shell file. */
function hashComments(file: string): { line: number; text: string }[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .flatMap((l, i) => {
      const at = l.search(/(^|\s)#/);
      return at < 0 ? [] : [{ line: i + 1, text: l.slice(at) }];
    });
}

const TS_FILES = ["operator/src", "operator/scripts", "test"].flatMap((d) => filesUnder(join(ROOT, d), (p) => /\.(ts|tsx)$/.test(p)));
const HASH_FILES = ["crds", "charts", "examples-repo", "operator/systemd", "test/fixtures", ".ci"].flatMap((d) => {
  try {
    return filesUnder(join(ROOT, d), (p) => /\.(ya?ml|sh)$/.test(p) || !/\.[a-z]+$/.test(p));
  } catch {
    return [];
  }
});

describe("comments cite only this repository and public sources", () => {
  it("finds the code and its comments", { timeout: 60_000 }, () => {
    expect(TS_FILES.length).toBeGreaterThan(300);
    expect(tsComments(fileURLToPath(import.meta.url)).length).toBeGreaterThan(3);
  });

  it("no comment names a file outside the repository", { timeout: 120_000 }, () => {
    const found: string[] = [];
    for (const [files, comments] of [
      [TS_FILES, tsComments],
      [HASH_FILES, hashComments],
    ] as const) {
      for (const file of files) {
        for (const c of comments(file)) {
          if (OUTSIDE.some((re) => re.test(c.text)))
            found.push(
              `${relative(ROOT, file)}:${c.line}: ${c.text
                .split("\n")
                .find((l) => OUTSIDE.some((re) => re.test(l)))
                ?.trim()}`,
            );
        }
      }
    }
    expect(found).toEqual([]);
  });
});
