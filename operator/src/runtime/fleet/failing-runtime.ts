import type { CoxError } from "../../api/errors.js";
import type { NodeRuntime } from "../types.js";

/** A runtime whose every call fails with `err`: a node that cannot even be set up still shows in status. */
export function failingRuntime(err: CoxError): NodeRuntime {
  const fail = async (): Promise<never> => {
    throw err;
  };
  return {
    type: "unavailable",
    connect: fail,
    list: fail,
    run: fail,
    start: fail,
    stop: fail,
    kill: fail,
    remove: fail,
    exec: fail,
    images: fail,
    watch: () => () => undefined,
    close: async () => undefined,
  };
}
