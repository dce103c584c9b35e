/**
 * The gRPC Health Checking Protocol (grpc.health.v1.Health), which gRPC probes speak.
 *
 * The descriptor below is grpc's own health.proto (https://github.com/grpc/grpc-proto, file
 * grpc/health/v1/health.proto, Apache-2.0), transcribed field for field into protobuf.js' JSON form, so that
 * @grpc/proto-loader builds the serializers from it without a .proto file to ship beside the compiled code.
 */
import type { handleServerStreamingCall, handleUnaryCall, ServiceDefinition } from "@grpc/grpc-js";
import { fromJSON } from "@grpc/proto-loader";

const HEALTH_PROTO: Parameters<typeof fromJSON>[0] = {
  nested: {
    grpc: {
      nested: {
        health: {
          nested: {
            v1: {
              nested: {
                HealthCheckRequest: { fields: { service: { type: "string", id: 1 } } },
                HealthCheckResponse: {
                  fields: { status: { type: "ServingStatus", id: 1 } },
                  nested: { ServingStatus: { values: { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } } },
                },
                Health: {
                  methods: {
                    Check: { requestType: "HealthCheckRequest", responseType: "HealthCheckResponse", comment: "" },
                    Watch: { requestType: "HealthCheckRequest", responseType: "HealthCheckResponse", responseStream: true, comment: "" },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

/** A HealthCheckRequest: the service to ask about; "" asks about the server as a whole. */
export interface HealthCheckRequest {
  service: string;
}

/** A HealthCheckResponse, its status as the enum's name ("UNKNOWN" when the server left it out). */
export interface HealthCheckResponse {
  status: "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";
}

/**
 * grpc.health.v1.Health as grpc-js takes it: a client calls HEALTH_SERVICE.Check (path, serializers), a
 * server implements it with addService. Enums decode to their names and unset fields to their defaults,
 * as the protocol's proto3 semantics say.
 */
export const HEALTH_SERVICE = fromJSON(HEALTH_PROTO, { enums: String, defaults: true })["grpc.health.v1.Health"] as unknown as ServiceDefinition<{
  Check: handleUnaryCall<HealthCheckRequest, HealthCheckResponse>;
  Watch: handleServerStreamingCall<HealthCheckRequest, HealthCheckResponse>;
}>;
