/**
 * Typed errors. Every error coxswain raises or reports carries a stable code and a retry decision, so
 * that the engine knows what to do with it and tests can assert codes instead of message text.
 *
 * - stalled:   the user must act (fix the manifest, the flag, the repository); retrying cannot help.
 * - waiting:   nothing is wrong yet, the condition may clear by itself; requeue after a delay.
 * - transient: an effect failed (network, engine); retry with exponential backoff.
 *
 * Every code is documented in operator/docs/errors.md; test/unit/api/errors.test.ts keeps the two in sync.
 */

/** What the engine does after an error. */
export type RetryDecision = "stalled" | "waiting" | "transient";

/** The registry of error codes: code → retry decision. Add a code here and a row in operator/docs/errors.md. */
export const ERROR_CODES = {
  // manifest: reading and validating a commit's files
  YamlSyntax: "stalled",
  InvalidDocument: "stalled",
  UnknownKind: "stalled",
  IgnoredKind: "stalled",
  UnsupportedApiVersion: "stalled",
  SchemaViolation: "stalled",
  InvalidField: "stalled",
  HookUnsupported: "stalled",
  PolicyDenied: "stalled",
  DuplicateObject: "stalled",
  SymlinkNotAllowed: "stalled",
  FileTooLarge: "stalled",
  TooManyDocuments: "stalled",
  ManifestsTooLarge: "stalled",
  MissingReference: "stalled",
  DependencyCycle: "stalled",
  SecretUndecryptable: "stalled",
  ParseWorkerFailed: "transient",
  // source: Git
  RepoNotFound: "stalled",
  BranchNotFound: "waiting",
  PathNotFound: "stalled",
  GitFetchFailed: "transient",
  GitTimeout: "transient",
  GitAuthFailed: "stalled",
  GitPushRejected: "transient",
  MirrorCorrupt: "transient",
  // runtime: Docker engines and local processes
  NodeUnreachable: "transient",
  EngineApiUnsupported: "stalled",
  ImagePullFailed: "transient",
  ImageNeverPull: "transient",
  RuntimeCallFailed: "transient",
  CommandNotFound: "stalled",
  RuntimeUndecided: "stalled",
  SecurityContextUnmet: "stalled",
  // node proxy (HAProxy)
  ProxyConfigInvalid: "stalled",
  ProxyBindFailed: "transient",
  ProxyCommandRejected: "transient",
  ProxyUnreachable: "transient",
  BridgeNetworkUnusable: "stalled",
  // scheduler and rollout
  Unschedulable: "waiting",
  PortRangeExhausted: "waiting",
  NodeNotReady: "transient",
  ProgressDeadlineExceeded: "stalled",
  PodStartDeadlineExceeded: "stalled",
  CrashLoopBackOff: "waiting",
  PodFailed: "stalled",
  BackoffLimitExceeded: "stalled",
  DeadlineExceeded: "stalled",
  AnalysisFailed: "stalled",
  RolloutFailed: "stalled",
  RollbackFailed: "stalled",
  CommitQuarantined: "stalled",
  RevertConflict: "stalled",
  // secrets and TLS
  SecretInvalid: "stalled",
  // HTTP surface (webhooks)
  WebhookUnauthorized: "stalled",
  RequestTooLarge: "stalled",
  RateLimited: "waiting",
  // forge (pull/merge request comments and commit statuses)
  ForgeRequestFailed: "transient",
  // HTTP surface (the API and its writes)
  ApiUnauthorized: "stalled",
  ApiForbidden: "stalled",
  ApiNotFound: "stalled",
  ApiTokensRequired: "stalled",
  ApiConflict: "stalled",
  ApiWriteFailed: "transient",
  ManifestNotEditable: "stalled",
  // status and CLI
  StatusWriteFailed: "transient",
  StatusRecordInvalid: "stalled",
  InvalidArgument: "stalled",
} as const satisfies Record<string, RetryDecision>;

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Options of a CoxError besides code and message. */
export interface CoxErrorOptions {
  /** For "waiting" errors: when to look again. */
  requeueAfterMs?: number;
  /** Structured facts for status and logs (never secrets). */
  details?: Record<string, unknown>;
  /** The underlying error. */
  cause?: unknown;
}

/** An error with a stable code and the retry decision that comes with it. */
export class CoxError extends Error {
  /** Stable code, documented in operator/docs/errors.md. */
  readonly code: ErrorCode;
  /** What the engine does next; fixed by the code. */
  readonly retry: RetryDecision;
  /** For "waiting" errors: when to look again. */
  readonly requeueAfterMs: number | undefined;
  /** Structured facts for status and logs. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: CoxErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CoxError";
    this.code = code;
    this.retry = ERROR_CODES[code];
    this.requeueAfterMs = options.requeueAfterMs;
    this.details = options.details;
  }
}

/** Returns true when err is a CoxError, optionally with the given code. */
export function isCoxError(err: unknown, code?: ErrorCode): err is CoxError {
  return err instanceof CoxError && (code === undefined || err.code === code);
}

/** Wraps anything thrown into a CoxError; errors that are not ours get the fallback code. */
export function toCoxError(err: unknown, fallback: ErrorCode = "RuntimeCallFailed"): CoxError {
  if (err instanceof CoxError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new CoxError(fallback, message, { cause: err });
}
