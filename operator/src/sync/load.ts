/**
 * Reading one commit: its files under the manifest path → manifest/'s readManifestFiles (the same reading
 * `coxswain validate` does of a directory) → the graph. Used by the sync loop, proposals, auto-revert and
 * `coxswain plan`.
 *
 * Nothing here keeps a commit's content: a blob is read only when the parse cache does not hold its oid,
 * and its bytes are dropped once parsed. What outlives the call is the returned graph (which the caller
 * keeps or drops) and the parse cache, which is bounded in bytes.
 */
import { toCoxError } from "../api/errors.js";
import { buildGraph, type DesiredGraph } from "../graph/index.js";
import { readManifestFiles, type LoadOptions, type SourceFile } from "../manifest/index.js";
import type { Diagnostic } from "../manifest/types.js";
import type { RepoFile, Repository } from "../source/types.js";

/** The result of reading one commit. */
export interface LoadedCommit {
  commit: string;
  graph?: DesiredGraph;
  /** Errors and warnings, sorted. */
  diagnostics: Diagnostic[];
}

/** How commits are read: limits, the parse cache, reads at once (manifest/'s LoadOptions). */
export type ManifestReadOptions = LoadOptions;

/**
 * Reads a commit's manifests under `path` and builds its graph. Pure apart from reading Git. `graph` is
 * undefined when there is any error — including a file or commit over the limits, a symbolic link, or a
 * file that is not UTF-8 — so such a commit applies nothing. Git errors (a missing object) are thrown;
 * a missing path is a PathNotFound diagnostic.
 */
export async function loadCommit(repo: Repository, commit: string, path: string, opts: ManifestReadOptions = {}): Promise<LoadedCommit> {
  let files: RepoFile[];
  try {
    files = await repo.reader.listFiles(commit, path);
  } catch (err) {
    const e = toCoxError(err, "PathNotFound");
    return { commit, diagnostics: [{ code: e.code, severity: "error", file: path || ".", line: 1, col: 1, field: "", message: e.message }] };
  }
  const decoder = new TextDecoder();
  const sources: SourceFile[] = files.map((f) => ({
    path: f.path,
    oid: f.oid,
    ...(f.symlink ? { symlink: true } : {}),
    // Git trees record no sizes: the blob is inflated to learn it, and never decoded or parsed when too large.
    read: () => repo.reader.readBlob(f.oid),
    // A link's blob is the path it points to (for the message only).
    linkTarget: async () => decoder.decode(await repo.reader.readBlob(f.oid)),
  }));
  const set = await readManifestFiles(sources, opts);
  if (set.incomplete) return { commit, diagnostics: set.diagnostics };
  const built = buildGraph(set.objects);
  const diagnostics = [...set.diagnostics, ...built.diagnostics];
  const hasError = diagnostics.some((d) => d.severity === "error");
  return hasError ? { commit, diagnostics } : { commit, graph: built.graph, diagnostics };
}
