/**
 * A real gRPC server implementing grpc.health.v1.Health (with @grpc/grpc-js, as an application would),
 * for the tests of gRPC probes: the status of each service can be switched, a service it does not know is
 * answered with NOT_FOUND as grpc's own health server does, and it can be told to hang (answer nothing).
 */
import { Server, ServerCredentials, status as grpcStatus, type handleServerStreamingCall, type handleUnaryCall } from "@grpc/grpc-js";
import { HEALTH_SERVICE, type HealthCheckRequest, type HealthCheckResponse } from "../../operator/src/runtime/grpc-health.js";

/** A running health server. */
export interface GrpcHealthServer {
  port: number;
  /** Checks answered so far (hung ones included). */
  readonly checks: number;
  /** Sets a service's status ("" is the server as a whole). */
  set(service: string, status: HealthCheckResponse["status"]): void;
  /** While true, Check calls get no answer at all. */
  hang(on: boolean): void;
  stop(): Promise<void>;
}

/**
 * Starts the server on 127.0.0.1 (`port` 0: any free one). `statusOf`, when given, is asked on every Check
 * for the status of "" (the operator-level test switches it through a file); otherwise "" starts SERVING.
 */
export async function startGrpcHealthServer(o: { port?: number; statusOf?: () => HealthCheckResponse["status"] } = {}): Promise<GrpcHealthServer> {
  const statuses = new Map<string, HealthCheckResponse["status"]>([["", "SERVING"]]);
  let hanging = false;
  let checks = 0;
  const server = new Server();
  const check: handleUnaryCall<HealthCheckRequest, HealthCheckResponse> = (call, callback) => {
    checks++;
    if (hanging) return;
    const service = call.request.service;
    const status = service === "" && o.statusOf ? o.statusOf() : statuses.get(service);
    if (status === undefined) return callback({ code: grpcStatus.NOT_FOUND, details: "unknown service" });
    callback(null, { status });
  };
  const watch: handleServerStreamingCall<HealthCheckRequest, HealthCheckResponse> = (call) => void call.emit("error", { code: grpcStatus.UNIMPLEMENTED, details: "Watch is not used by probes" });
  server.addService(HEALTH_SERVICE, { Check: check, Watch: watch });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(`127.0.0.1:${o.port ?? 0}`, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return {
    port,
    get checks() {
      return checks;
    },
    set: (service, status) => void statuses.set(service, status),
    hang: (on) => void (hanging = on),
    // forceShutdown: a hung call would keep tryShutdown waiting for good.
    stop: async () => server.forceShutdown(),
  };
}
