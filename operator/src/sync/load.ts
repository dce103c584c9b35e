/**
 * Reading one commit: its files under the manifest path → manifest/'s readManifestFiles (the same reading
 * `coxswain validate` does of a directory) → the graph. Used by the sync loop, proposals, auto-revert and
 * `coxswain plan`.
 *
 * Nothing here keeps a commit's content: a blob is read only when the parse cache does not hold its oid,
 * and its bytes are dropped once parsed. What outlives the call is the returned graph (which the caller
 * keeps or drops) and the parse cache, which is bounded in bytes.
 */
import { isCoxError } from "../api/errors.js";
import { buildGraph, type DesiredGraph } from "../graph/index.js";
import { readManifestFiles, type LoadOptions, type SourceFile } from "../manifest/index.js";
import type { Diagnostic } from "../manifest/types.js";
import type { Node } from "../api/objects.js";
import type { NodeConfig } from "../runtime/fleet.js";
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
    // Only a missing directory is the commit's fault. A Git error (an object the mirror lacks or lost) says
    // nothing of the commit: thrown, so that it is read again rather than recorded Invalid for ever.
    if (!isCoxError(err, "PathNotFound")) throw err;
    return { commit, diagnostics: [{ code: err.code, severity: "error", file: path || ".", line: 1, col: 1, field: "", message: err.message }] };
  }
  const decoder = new TextDecoder();
  const sources: SourceFile[] = files.map((f) => ({
    path: f.path,
    oid: f.oid,
    ...(f.symlink ? { symlink: true } : {}),
    // Git trees record no sizes, but an object's header does: a blob above the limit is not even inflated.
    read: (maxBytes: number) => repo.reader.readBlobBounded(f.oid, maxBytes),
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

/** How many commits back leavingNodeConfigs looks for a leaving node's last Node object. */
const LEAVING_LOOKBACK = 50;

/**
 * The fleet configurations of nodes that were leaving (removed from Git, still draining) when the operator
 * stopped: summary.yaml names them, but their Node objects — endpoint, TLS Secret — are no longer in the applied
 * commit. Each is read from the newest ancestor of `applied` (first parents, at most LEAVING_LOOKBACK commits)
 * that still declares it, so a restart carries on with the drain instead of forgetting the node and its pods.
 * A name not found that far back, or in commits that no longer read as valid, is left out.
 */
export async function leavingNodeConfigs(
  repo: Repository,
  applied: string,
  names: readonly string[],
  path: string,
  opts: ManifestReadOptions,
  configOf: (node: Node, graph: DesiredGraph) => NodeConfig,
): Promise<NodeConfig[]> {
  const wanted = new Set(names);
  const found: NodeConfig[] = [];
  // The applied commit itself no longer declares them: the search starts at its parent.
  let commit = (await repo.reader.readCommit(applied)).parents[0];
  for (let i = 0; commit !== undefined && wanted.size > 0 && i < LEAVING_LOOKBACK; i++) {
    const graph = (await loadCommit(repo, commit, path, opts)).graph;
    for (const m of graph?.ofKind("Node") ?? []) {
      if (wanted.delete(m.object.metadata.name)) found.push(configOf(m.object as Node, graph!));
    }
    commit = (await repo.reader.readCommit(commit)).parents[0];
  }
  return found.sort((a, b) => (a.name < b.name ? -1 : 1));
}
