/** The in-memory fake runtime for tests and scale benchmarks (see runtime.ts). */
export { FAKE_OPS, FAKE_SIGKILL_EXIT, FAKE_SIGTERM_EXIT, FakeRuntime } from "./runtime.js";
export type { FakeOp } from "./runtime.js";
export { FakeProxy } from "./proxy.js";
