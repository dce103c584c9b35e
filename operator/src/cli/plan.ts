/**
 * `coxswain plan --repo <path|url> [--from REF] [--to REF]`: what applying a commit would create, change
 * and delete. --to defaults to the followed branch's head; --from to the commit the operator last applied
 * (read from the status branch), or nothing when there is none.
 */
import path from "node:path";
import { CoxError } from "../api/errors.js";
import { openRepository } from "../source/index.js";
import { StatusStore } from "../status/store.js";
import { StatusWriter } from "../status/writer.js";
import { formatPlan, planCommits } from "../sync/plan.js";
import { parse, required } from "./args.js";

/** Prints a plan; resolves with the exit code (1 when the target commit is invalid). */
export async function planCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values } = parse(argv, {
    repo: { type: "string" },
    branch: { type: "string" },
    path: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
    "state-dir": { type: "string" },
    "status-branch": { type: "string" },
    output: { type: "string" },
  });
  const repoArg = required("--repo", values.repo);
  const repo = await openRepository({
    repo: /^https?:\/\//.test(repoArg) ? repoArg : path.resolve(repoArg),
    stateDir: path.resolve(values["state-dir"] ?? ".coxswain"),
  });
  try {
    if (repo.remote) await repo.refresh();
    const branch = values.branch ?? "main";
    const toRef = values.to ?? branch;
    const to = await repo.reader.resolve(toRef);
    if (!to) throw new CoxError("InvalidArgument", `--to: ${toRef} does not name a commit in ${repo.location}`);
    let from: string | undefined;
    if (values.from) {
      from = await repo.reader.resolve(values.from);
      if (!from) throw new CoxError("InvalidArgument", `--from: ${values.from} does not name a commit in ${repo.location}`);
    } else {
      const store = new StatusStore();
      const status = new StatusWriter({ writer: repo.writer, store, branch: values["status-branch"] ?? "coxswain/status", notesRef: "refs/notes/coxswain", remote: repo.remote, debounceMs: 0 });
      await status.load();
      from = store.summary()?.applied;
    }
    const plan = await planCommits(repo, from, to, (values.path ?? "").replace(/^\.\/?$/, ""));
    if (values.output === "json") out(JSON.stringify(plan, null, 2));
    else for (const line of formatPlan(plan)) out(line);
    return plan.valid ? 0 : 1;
  } finally {
    await repo.close();
  }
}
