/**
 * source/: Git access. `openRepository` opens a repository on disk in place or mirrors a remote one over
 * smart HTTP; the returned Repository gives read access (GitReader), write access for status/ (GitWriter),
 * refresh, head and watch. See repository.ts for how isomorphic-git is used.
 */
export type * from "./types.js";
export { openRepository } from "./open.js";
export { mirrorPath } from "./url.js";
export type { GitCredentials } from "./url.js";
export {
  readCredentialsFile,
  readSecretFile,
  resolveGitCredentials,
} from "./credentials.js";
export { refGlob } from "./refs.js";
export { classifyMove, isMergedInto } from "./moves.js";
export { acquireRepositoryLock, LOCK_FILE, type RepositoryLock } from "./lock.js";
