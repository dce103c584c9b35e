/**
 * The rollout decisions, pure: Deployment steps (RollingUpdate, Recreate, scaling, paused), canary and
 * blue/green steps (Argo Rollouts), revision history, failure detection and the rollback decision.
 */
export type * from "./types.js";
export {
  DEFAULT_MAX_SURGE,
  DEFAULT_MAX_UNAVAILABLE,
  DEFAULT_MIN_READY_SECONDS,
  DEFAULT_PROGRESS_DEADLINE_SECONDS,
  DEFAULT_REPLICAS,
  resolveRollingParams,
} from "./params.js";
export { compareForRemoval, isAvailable, nextStep } from "./rolling.js";
