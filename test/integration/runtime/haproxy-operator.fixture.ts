/**
 * A stand-in operator for the adoption test of the node proxy: it starts a HaproxyProcess on a state
 * directory with the configuration in a file, prints its health as one JSON line, and then idles until it
 * is killed (the test kills it with -9, leaving the proxy running as a crashed operator would).
 *
 * Usage: node --import tsx haproxy-operator.fixture.ts <stateDir> <configFile>
 */
import { readFileSync } from "node:fs";
import { HaproxyProcess } from "../../../operator/src/runtime/proxy/haproxy-process.js";

const [stateDir, configFile] = process.argv.slice(2);
if (stateDir === undefined || configFile === undefined) {
  process.stderr.write("usage: haproxy-operator.fixture.ts <stateDir> <configFile>\n");
  process.exit(2);
}
const proxy = new HaproxyProcess({ stateDir });
await proxy.apply({ reload: true, text: readFileSync(configFile, "utf8") });
process.stdout.write(`${JSON.stringify(proxy.health())}\n`);
setInterval(() => {}, 60_000);
