/**
 * Real Git work-tree repositories for tests, made with the git CLI in temporary directories. Author,
 * committer and dates are fixed per commit (dates advance one second per commit), and user/system git
 * config is ignored, so runs are deterministic enough to compare oids across the same sequence of steps.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** The environment every git CLI call of the test support runs with. */
export function gitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    GIT_AUTHOR_NAME: "Test Author",
    GIT_AUTHOR_EMAIL: "author@example.com",
    GIT_COMMITTER_NAME: "Test Committer",
    GIT_COMMITTER_EMAIL: "committer@example.com",
    LANG: "C",
    LC_ALL: "C",
    ...extra,
  };
}

/** Runs git with the test environment; resolves with stdout (trimmed of one trailing newline). */
export function runGit(args: readonly string[], opts: { cwd?: string; env?: Record<string, string>; input?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile("git", args, { cwd: opts.cwd, env: gitEnv(opts.env), maxBuffer: 256 * 1024 * 1024, encoding: "utf8" }, (err, stdout, stderr) => {
      if (err) reject(new Error(`git ${args.join(" ")} failed: ${stderr || err.message}`));
      else resolve(stdout.replace(/\n$/, ""));
    });
    if (opts.input !== undefined) {
      child.stdin?.on("error", () => undefined); // git may exit before reading it all; its exit code tells
      child.stdin?.end(opts.input);
    }
  });
}

/** A work-tree repository on disk. */
export interface TestRepo {
  /** The work tree. */
  readonly dir: string;
  /** The .git directory. */
  readonly gitdir: string;
  /** Runs git in the work tree. */
  git(args: readonly string[], env?: Record<string, string>): Promise<string>;
  /** Writes a file (creating directories). */
  write(path: string, text: string): Promise<void>;
  /** Removes a file or directory from the work tree and the index. */
  rm(path: string): Promise<void>;
  /** Stages everything and commits (allowing empty commits); returns the new commit oid. */
  commit(message: string): Promise<string>;
  /** Reverts a commit (a new commit); returns its oid. */
  revert(oid: string): Promise<string>;
  /** Pushes a branch to a remote (a name or a URL). */
  push(remote: string, branch: string): Promise<void>;
  /** The oid a ref or revision names. */
  revParse(rev: string): Promise<string>;
  /** Removes the temporary directory (only when makeRepo created it). */
  cleanup(): Promise<void>;
}

let dateCounter = 0;
/** Fixed, advancing commit dates: 2024-01-01T00:00:00Z plus one second per commit made by the support code. */
function nextDate(): string {
  dateCounter++;
  return `${1_704_067_200 + dateCounter} +0000`;
}

/** Makes a work-tree repository with branch main, in `dir` or in a new temporary directory. */
export async function makeRepo(dir?: string): Promise<TestRepo> {
  const created = dir === undefined;
  const root = dir ?? (await mkdtemp(join(tmpdir(), "coxswain-repo-")));
  await mkdir(root, { recursive: true });
  await runGit(["init", "--quiet", "--initial-branch=main", root]);
  const git = (args: readonly string[], env?: Record<string, string>): Promise<string> => runGit(args, { cwd: root, ...(env ? { env } : {}) });
  const dated = (): Record<string, string> => {
    const d = nextDate();
    return { GIT_AUTHOR_DATE: d, GIT_COMMITTER_DATE: d };
  };
  return {
    dir: root,
    gitdir: join(root, ".git"),
    git,
    async write(path, text) {
      const full = join(root, path);
      await mkdir(dirname(full), { recursive: true });
      await writeFile(full, text);
    },
    async rm(path) {
      await git(["rm", "-r", "--quiet", "--", path]);
    },
    async commit(message) {
      await git(["add", "-A"]);
      await git(["commit", "--quiet", "--allow-empty", "--no-verify", "-m", message], dated());
      return git(["rev-parse", "HEAD"]);
    },
    async revert(oid) {
      await git(["revert", "--no-edit", oid], dated());
      return git(["rev-parse", "HEAD"]);
    },
    async push(remote, branch) {
      await git(["push", "--quiet", remote, `${branch}:${branch}`]);
    },
    revParse(rev) {
      return git(["rev-parse", "--verify", "--quiet", `${rev}^{commit}`]);
    },
    async cleanup() {
      if (created) await rm(root, { recursive: true, force: true });
    },
  };
}

/** A new empty temporary directory; remove it with `rm(dir, { recursive: true, force: true })`. */
export function tempDir(prefix = "coxswain-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}
