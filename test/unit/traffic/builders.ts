/** Builders of traffic data for tests: defaults that make a valid object, overrides for what a case is about. */
import type { ServicePortSpec, ServiceSpec, TrafficPod, TrafficPodPort } from "../../../operator/src/traffic/types.js";

/** A ClusterIP Service "default/<name>" selecting app=<name>, port 80 → container port 8080, TCP. */
export function service(name: string, over: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    namespace: "default",
    name,
    type: "ClusterIP",
    selector: { app: name },
    ports: [port()],
    sessionAffinity: "None",
    affinityTimeoutSeconds: 10800,
    publishNotReadyAddresses: false,
    headless: false,
    ...over,
  };
}

/** A Service port: 80 → 8080, TCP, tcp mode. */
export function port(over: Partial<ServicePortSpec> = {}): ServicePortSpec {
  return { port: 80, targetPort: 8080, protocol: "TCP", mode: "tcp", ...over };
}

/** A ready pod "default/<name>" on node n1 (10.0.0.1) labelled app=web, container port 8080 on host port 31000. */
export function pod(name: string, over: Partial<TrafficPod> = {}): TrafficPod {
  return {
    namespace: "default",
    name,
    node: "n1",
    labels: { app: "web" },
    address: "10.0.0.1",
    ports: [podPort()],
    ready: true,
    terminating: false,
    ...over,
  };
}

/** A pod port: TCP container port 8080 on host port 31000. */
export function podPort(over: Partial<TrafficPodPort> = {}): TrafficPodPort {
  return { containerPort: 8080, hostPort: 31000, protocol: "TCP", ...over };
}
