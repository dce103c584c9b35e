/**
 * The rollout decision: resolving a Deployment's rolling-update parameters and computing the next step
 * of a rolling update from a snapshot of its pods. Pure.
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
