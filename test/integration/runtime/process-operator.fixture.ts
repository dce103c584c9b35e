/**
 * A stand-in operator for the restart tests of the process runtime: it creates a ProcessRuntime, runs one
 * container, prints it as one JSON line, and then idles until it is killed (the test kills it with -9).
 *
 * Usage: node --import tsx process-operator.fixture.ts <stateDir> <owner> <runtimeName> <program> [args…]
 */
import { ProcessRuntime } from "../../../operator/src/runtime/process/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";

const [stateDir, owner, runtimeName, ...argv] = process.argv.slice(2);
if (stateDir === undefined || owner === undefined || runtimeName === undefined || argv.length === 0) {
  process.stderr.write("usage: process-operator.fixture.ts <stateDir> <owner> <runtimeName> <program> [args…]\n");
  process.exit(2);
}
const runtime = new ProcessRuntime({ stateDir, owner });
const container = await runtime.run({
  runtimeName,
  image: "none",
  command: argv,
  env: {},
  network: "host",
  ports: [],
  limits: {},
  labels: { [LABELS.owner]: owner, [LABELS.pod]: runtimeName },
});
process.stdout.write(`${JSON.stringify(container)}\n`);
setInterval(() => {}, 60_000);
