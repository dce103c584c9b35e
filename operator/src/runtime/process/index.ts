/** The process runtime: containers as local process groups (see runtime.ts for layout and limits). */
export { INHERITED_ENV, ProcessRuntime, WRAPPER_SCRIPT } from "./runtime.js";
export type { ProcessRecord } from "./runtime.js";
