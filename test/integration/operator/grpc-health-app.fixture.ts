/**
 * The app of the gRPC probe test: a grpc.health.v1 server (test/support/grpc-health.ts) on 127.0.0.1:$PORT
 * whose overall status ("" service) is whatever $STATUS_FILE says at each Check (SERVING, NOT_SERVING, …).
 *
 * Usage: node --import tsx grpc-health-app.fixture.ts (with PORT and STATUS_FILE in the environment)
 */
import { readFileSync } from "node:fs";
import type { HealthCheckResponse } from "../../../operator/src/runtime/grpc-health.js";
import { startGrpcHealthServer } from "../../support/grpc-health.js";

const file = process.env.STATUS_FILE;
if (!file || !process.env.PORT) {
  process.stderr.write("grpc-health-app: PORT and STATUS_FILE must be set\n");
  process.exit(2);
}
await startGrpcHealthServer({ port: Number(process.env.PORT), statusOf: () => readFileSync(file, "utf8").trim() as HealthCheckResponse["status"] });
process.on("SIGTERM", () => process.exit(0));
