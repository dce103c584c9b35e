/**
 * The API's writes, the GitOps way: each is a commit on the deploy branch — author coxswain, a message
 * naming the token's user — pushed like any commit (status/branch-commit.ts, the loop auto-revert uses),
 * which the branch sync then applies as it applies every other. Nothing changes behind Git's back.
 *
 * - promote: the Rollout's manifest gets the coxswain.io/promote value that passes the gate it waits at
 *   (rollout/promote.ts), and spec.paused: false when it was true; edited in place (manifest/edit.ts).
 * - cordon / uncordon: the Node's manifest gets spec.unschedulable true / false.
 * - retry: a quarantined commit's changes are put on the head again (a three-way re-apply: the revert of
 *   its revert; nothing when the head still holds them), in a commit with the trailer
 *   `Coxswain-Retry: <sha>`, which makes the branch sync lift that commit's quarantine and apply it.
 *
 * Each write is decided on the branch head it is committed on (read again when the branch moved), so a
 * push racing the API is never overwritten. Writes run one at a time. Errors are CoxErrors: ApiNotFound,
 * ApiConflict (the object is not in the state the action needs), ManifestNotEditable (file, line),
 * ApiWriteFailed (the commit could not be put on the branch), InvalidArgument.
 */
import { CoxError, isCoxError, toCoxError } from "../api/errors.js";
import { silentLogger, type Logger } from "../api/log.js";
import { makeKey, type DesiredObject } from "../api/objects.js";
import type { Rollout } from "../api/generated/index.js";
import { editManifest, type FieldEdit } from "../manifest/edit.js";
import { PROMOTE_ANNOTATION } from "../manifest/index.js";
import { decidePromote, resolveCanaryParams } from "../rollout/index.js";
import type { ApiWriter, WriteResult } from "../server/api/routes.js";
import type { Repository, TreeEdit } from "../source/types.js";
import { type BranchCommitResult, commitOnBranch } from "../status/branch-commit.js";
import { decideRevert, entriesAt } from "../status/revert.js";
import type { StatusStore } from "../status/store.js";
import { RETRY_TRAILER } from "./branch-sync.js";
import { loadCommit, type ManifestReadOptions } from "./load.js";

/** The trailer naming who asked for a commit the API made. */
const USER_TRAILER = "Coxswain-User";

/** Where the API's commits are built in a mirror before they are pushed. */
function apiScratchRef(branch: string): string {
  return `refs/coxswain/api/${branch}`;
}

/** Options of ApiWrites. */
export interface ApiWritesOptions {
  repo: Repository;
  /** The deploy branch (short name). */
  branch: string;
  /** Directory of the manifests in the repository ("" = root). */
  path: string;
  manifests?: ManifestReadOptions;
  store: StatusStore;
  /** Whether the fleet knows a node (one not declared in Git: the default node, a leaving one). */
  nodeKnown: (name: string) => boolean;
  /** Called with each commit once it is on the branch (the sync should look at the branch at once). */
  onCommitted?: (commit: string) => void;
  log?: Logger;
}

/** What a write does to the head it is committed on: the tree and message, or why not (a CoxError). */
type Plan = { tree: string; message: string } | { stop: CoxError };

/** The API's writes (see the module comment). */
export class ApiWrites implements ApiWriter {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly log: Logger;

  constructor(private readonly opts: ApiWritesOptions) {
    this.log = opts.log ?? silentLogger;
  }

  /** Promotes a paused Rollout (kind must be Rollout); `full` skips every remaining step. */
  promote(kind: string, namespace: string, name: string, user: string, full: boolean): Promise<WriteResult> {
    if (kind.toLowerCase() !== "rollout") return Promise.reject(new CoxError("InvalidArgument", `only a Rollout can be promoted (got ${kind})`));
    const key = makeKey("Rollout", name, namespace);
    const target = `Rollout/${namespace}/${name}`;
    return this.run("promote", target, user, async (head) =>
      this.editObject(head, key, target, user, (obj) => {
        const rollout = obj as Rollout;
        const record = this.opts.store.getWorkload("Rollout", namespace, name);
        if (!record) return new CoxError("ApiConflict", `${target} has no status record yet: it has not started rolling out`);
        const canary = rollout.spec.strategy.canary !== undefined;
        const holder = canary ? record.canary : record.blueGreen;
        const decision = decidePromote({
          strategy: canary ? "Canary" : "BlueGreen",
          ...(canary ? { steps: resolveCanaryParams(rollout.spec).steps, stepIndex: record.canary?.step ?? 0 } : {}),
          ...(holder?.waiting !== undefined ? { waiting: holder.waiting } : {}),
          ...(holder?.promoteBaseline !== undefined ? { baseline: holder.promoteBaseline } : {}),
          ...(rollout.metadata.annotations?.[PROMOTE_ANNOTATION] !== undefined ? { current: rollout.metadata.annotations[PROMOTE_ANNOTATION] } : {}),
          paused: rollout.spec.paused === true,
          full,
        });
        if ("conflict" in decision) return new CoxError("ApiConflict", `${target}: ${decision.conflict}`);
        const edits: FieldEdit[] = [];
        if (decision.annotation !== undefined) edits.push({ path: ["metadata", "annotations", PROMOTE_ANNOTATION], value: decision.annotation });
        if (decision.unpause) edits.push({ path: ["spec", "paused"], value: false });
        const what = [...(decision.annotation !== undefined ? [`${PROMOTE_ANNOTATION}: "${decision.annotation}"`] : []), ...(decision.unpause ? ["spec.paused: false"] : [])].join(" and ");
        return { edits, subject: `Promote Rollout ${namespace}/${name}${full ? " in full" : ""}`, what };
      }),
    );
  }

  /** Cordons (unschedulable true) or uncordons (false) a Node declared in Git. */
  cordon(name: string, unschedulable: boolean, user: string): Promise<WriteResult> {
    const action = unschedulable ? "cordon" : "uncordon";
    const target = `Node/${name}`;
    return this.run(action, target, user, async (head) =>
      this.editObject(head, makeKey("Node", name), target, user, (obj) => {
        const now = (obj as { spec: { unschedulable?: boolean } }).spec.unschedulable === true;
        if (now === unschedulable) return new CoxError("ApiConflict", `node ${name} is ${now ? "already cordoned" : "not cordoned"} in Git (spec.unschedulable: ${now})`);
        return { edits: [{ path: ["spec", "unschedulable"], value: unschedulable }], subject: `${unschedulable ? "Cordon" : "Uncordon"} node ${name}`, what: `spec.unschedulable: ${unschedulable}` };
      }),
    );
  }

  /** Retries a quarantined commit (a full sha, or a prefix of at least 4 hex digits naming one). */
  retry(sha: string, user: string): Promise<WriteResult> {
    const found = /^[0-9a-f]{4,40}$/.test(sha) ? this.opts.store.commits().filter((c) => c.commit.startsWith(sha)) : [];
    if (found.length !== 1) return Promise.reject(new CoxError("ApiNotFound", `no commit ${JSON.stringify(sha)} was processed (a full sha, or a prefix of at least 4 hex digits naming one)`));
    const rec = found[0]!;
    const failed = rec.commit;
    const { repo, branch } = this.opts;
    const writer = repo.writer;
    return this.run("retry", failed, user, async (head) => {
      const now = this.opts.store.getCommit(failed) ?? rec;
      if (!now.quarantined) return { stop: new CoxError("ApiConflict", `commit ${failed.slice(0, 7)} is ${now.phase}, not quarantined: there is nothing to retry`) };
      const info = await repo.reader.readCommit(failed);
      const changes = (await writer.diffTreeEntries(info.parents[0], failed)).map((c) => ({ path: c.path, ...(c.after ? { before: c.after } : {}), ...(c.before ? { after: c.before } : {}) }));
      // Re-applying F's changes is reverting its revert: every path F changed must be at F's version or its parent's.
      const decision = decideRevert(changes, await entriesAt(writer, head, changes));
      if (decision.kind === "conflict") {
        return { stop: new CoxError("ApiConflict", `${branch} changed ${decision.paths.slice(0, 5).join(", ")} since ${failed.slice(0, 7)}; its changes cannot be put back without a conflict — re-apply them by hand`) };
      }
      const tree = decision.kind === "edits" ? await writer.editTree(head, decision.edits) : await writer.treeOf(head);
      const subject = info.message.split("\n", 1)[0] ?? "";
      const why = now.rollback ? ` after its rollout failed (${now.rollback.code}: ${now.rollback.reason.replace(/\s+/g, " ").trim()})` : "";
      const body =
        `Retry commit ${failed}, quarantined${why}.\n` +
        (decision.kind === "edits" ? `This puts its changes back (${decision.edits.map((e) => e.path).join(", ")}).\n` : `${branch} holds its changes: this commit only asks for the retry.\n`);
      return { tree, message: message(`Retry "${subject}"`, body, user, [[RETRY_TRAILER, failed]]) };
    });
  }

  /** Waits for writes in flight. */
  async idle(): Promise<void> {
    await this.queue.catch(() => undefined);
  }

  private run(action: WriteResult["action"], target: string, user: string, build: (head: string) => Promise<Plan>): Promise<WriteResult> {
    const go = this.queue.then(() => this.attempt(action, target, user, build));
    this.queue = go.catch(() => undefined);
    return go;
  }

  private async attempt(action: WriteResult["action"], target: string, user: string, build: (head: string) => Promise<Plan>): Promise<WriteResult> {
    const { repo, branch } = this.opts;
    let subject = "";
    let result: BranchCommitResult<CoxError>;
    try {
      result = await commitOnBranch<CoxError>({
        repo,
        branch,
        scratchRef: apiScratchRef(branch),
        build: async (head) => {
          const plan = await build(head);
          if ("tree" in plan) subject = plan.message.split("\n", 1)[0]!;
          return plan;
        },
      });
    } catch (err) {
      const e = toCoxError(err, "GitFetchFailed");
      throw new CoxError("ApiWriteFailed", `${action} ${target}: ${e.code}: ${e.message}`, { cause: err });
    }
    const fail = (message: string): never => {
      this.log.warn(`api: ${action} ${target} by ${user}: ${message}`);
      throw new CoxError("ApiWriteFailed", `${action} ${target}: ${message}`);
    };
    switch (result.state) {
      case "Stopped":
        throw result.stop;
      case "CheckedOut":
        return fail(`${branch} is checked out in the work tree ${result.at}; coxswain does not move a checked-out branch under your feet — follow a bare repository or a remote for the API's writes`);
      case "NoBranch":
        return fail(`branch ${branch} does not exist`);
      case "PushFailed":
        return fail(`committed ${result.commit.slice(0, 7)} in the mirror but the push to ${repo.location} failed: ${result.error.code}: ${result.error.message}`);
      case "Raced":
        return fail(`${branch} kept moving during ${result.attempts} attempts`);
    }
    this.log.info(`api: ${action} ${target} by ${user}: ${result.state === "Pushed" ? "pushed" : "committed"} ${result.commit.slice(0, 7)} on ${branch}: ${subject}`);
    this.opts.onCommitted?.(result.commit);
    return { action, target, user, commit: result.commit, parent: result.parent, branch, subject, pushed: result.state === "Pushed" };
  }

  /**
   * The commit that edits `key`'s manifest at `head` as `decide` says (or its refusal): the object is read
   * from the head's manifests, its file edited in place, every other file kept byte for byte.
   */
  private async editObject(head: string, key: string, target: string, user: string, decide: (obj: DesiredObject) => { edits: FieldEdit[]; subject: string; what: string } | CoxError): Promise<Plan> {
    const { repo } = this.opts;
    const loaded = await loadCommit(repo, head, this.opts.path, this.opts.manifests);
    if (!loaded.graph) {
      const errors = loaded.diagnostics.filter((d) => d.severity === "error").length;
      return { stop: new CoxError("ApiConflict", `the head of ${this.opts.branch} (${head.slice(0, 7)}) does not read as valid (${errors} error(s)): fix it before writing through the API`) };
    }
    const entry = loaded.graph.get(key);
    if (!entry) {
      const node = key.startsWith("Node/") ? key.slice(5) : undefined;
      if (node !== undefined && this.opts.nodeKnown(node)) {
        return { stop: new CoxError("ApiConflict", `node ${node} is not declared in Git (the default node, or one being removed): declare it with a Node manifest to cordon it`) };
      }
      return { stop: new CoxError("ApiNotFound", `no ${target} at the head of ${this.opts.branch} (${head.slice(0, 7)})`) };
    }
    const decided = decide(entry.object);
    if (decided instanceof CoxError) return { stop: decided };
    const file = entry.source?.file;
    const item = file === undefined ? undefined : await repo.writer.entryAt(head, file);
    if (file === undefined || !item || item.type !== "blob") return { stop: new CoxError("ManifestNotEditable", `${target}: its file is not known`, { details: { file: file ?? "", line: 0 } }) };
    const text = new TextDecoder("utf-8", { fatal: true }).decode(await repo.reader.readBlob(item.oid));
    let edited: string;
    try {
      const ns = key.split("/").length === 3 ? key.split("/")[1] : undefined;
      edited = editManifest(text, file, { kind: entry.object.kind, name: entry.object.metadata.name, ...(ns !== undefined ? { namespace: ns } : {}) }, decided.edits);
    } catch (err) {
      if (isCoxError(err, "ManifestNotEditable")) return { stop: err };
      throw err;
    }
    const blob = await repo.writer.writeBlob(new TextEncoder().encode(edited));
    const edit: TreeEdit = { path: file, entry: { oid: blob, mode: item.mode } };
    const tree = await repo.writer.editTree(head, [edit]);
    return { tree, message: message(decided.subject, `Sets ${decided.what} in ${file}.\n`, user) };
  }
}

/** A commit message of the API: subject, body, who asked, trailers. */
function message(subject: string, body: string, user: string, trailers: [string, string][] = []): string {
  return `${subject}\n\n${body}\nRequested by ${user} through the coxswain API.\n\n${[...trailers, [USER_TRAILER, user]].map(([k, v]) => `${k}: ${v}`).join("\n")}\n`;
}
