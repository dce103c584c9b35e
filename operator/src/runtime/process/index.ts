/** The process runtime: containers as local process groups (see runtime.ts for layout and limits). */
export { DEFAULT_PATH, resolveProgram } from "./resolve.js";
export { INHERITED_ENV, ProcessRuntime, WRAPPER_SCRIPT } from "./runtime.js";
export type { ProcessRecord, ProcessRuntimeOptions } from "./runtime.js";
