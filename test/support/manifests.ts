/**
 * Manifest builders for tests: small YAML documents with the fields a test cares about.
 */
import { stringify } from "yaml";

/** Options of a test Deployment. */
export interface DeploymentOptions {
  name?: string;
  namespace?: string;
  replicas?: number;
  image?: string;
  maxSurge?: number | string;
  maxUnavailable?: number | string;
  minReadySeconds?: number;
  progressDeadlineSeconds?: number;
  cpu?: string;
  memory?: string;
  /** Adds a readiness probe (httpGet /healthz on the named port "http"). */
  probe?: boolean;
  /** Env entries as YAML lines (already indented for the env list). */
  env?: { name: string; value?: string; configMap?: { name: string; key: string } }[];
  command?: string[];
  args?: string[];
  ports?: boolean;
  grace?: number;
  podReplacementPolicy?: "TerminationStarted" | "TerminationComplete";
}

/** A Deployment manifest. */
export function deploymentYaml(o: DeploymentOptions = {}): string {
  const name = o.name ?? "web";
  const lines = [
    "apiVersion: apps/v1",
    "kind: Deployment",
    "metadata:",
    `  name: ${name}`,
    ...(o.namespace ? [`  namespace: ${o.namespace}`] : []),
    "spec:",
    `  replicas: ${o.replicas ?? 3}`,
    ...(o.minReadySeconds !== undefined ? [`  minReadySeconds: ${o.minReadySeconds}`] : []),
    ...(o.progressDeadlineSeconds !== undefined ? [`  progressDeadlineSeconds: ${o.progressDeadlineSeconds}`] : []),
    ...(o.podReplacementPolicy !== undefined ? [`  podReplacementPolicy: ${o.podReplacementPolicy}`] : []),
    "  selector:",
    "    matchLabels:",
    `      app: ${name}`,
  ];
  if (o.maxSurge !== undefined || o.maxUnavailable !== undefined) {
    lines.push("  strategy:", "    type: RollingUpdate", "    rollingUpdate:");
    if (o.maxSurge !== undefined) lines.push(`      maxSurge: ${JSON.stringify(o.maxSurge)}`);
    if (o.maxUnavailable !== undefined) lines.push(`      maxUnavailable: ${JSON.stringify(o.maxUnavailable)}`);
  }
  lines.push(
    "  template:",
    "    metadata:",
    "      labels:",
    `        app: ${name}`,
    "    spec:",
    `      terminationGracePeriodSeconds: ${o.grace ?? 5}`,
    "      containers:",
    "        - name: app",
    `          image: ${o.image ?? "coxswain-test/app:v1"}`,
  );
  if (o.command) lines.push(`          command: ${JSON.stringify(o.command)}`);
  if (o.args) lines.push(`          args: ${JSON.stringify(o.args)}`);
  if (o.env?.length) {
    lines.push("          env:");
    for (const e of o.env) {
      lines.push(`            - name: ${e.name}`);
      if (e.configMap) lines.push("              valueFrom:", "                configMapKeyRef:", `                  name: ${e.configMap.name}`, `                  key: ${e.configMap.key}`);
      else lines.push(`              value: ${JSON.stringify(e.value ?? "")}`);
    }
  }
  if (o.ports !== false) lines.push("          ports:", "            - name: http", "              containerPort: 8080");
  if (o.cpu || o.memory) {
    lines.push("          resources:", "            requests:");
    if (o.cpu) lines.push(`              cpu: ${o.cpu}`);
    if (o.memory) lines.push(`              memory: ${o.memory}`);
  }
  if (o.probe) {
    lines.push("          readinessProbe:", "            httpGet:", "              path: /healthz", "              port: http", "            periodSeconds: 1", "            failureThreshold: 1");
  }
  return lines.join("\n") + "\n";
}

/** A ConfigMap manifest. */
export function configMapYaml(name: string, data: Record<string, string>, namespace?: string): string {
  return (
    ["apiVersion: v1", "kind: ConfigMap", "metadata:", `  name: ${name}`, ...(namespace ? [`  namespace: ${namespace}`] : []), "data:", ...Object.entries(data).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`)].join(
      "\n",
    ) + "\n"
  );
}

/** A v1 Service selecting `app: <selector>` (default: its own name), one line per port. */
export function serviceYaml(o: { name?: string; selector?: string; type?: "ClusterIP" | "NodePort" | "LoadBalancer"; ports?: { name?: string; port: number; targetPort?: number | string; nodePort?: number }[] }): string {
  const name = o.name ?? "web";
  const ports = o.ports ?? [{ port: 80, targetPort: "http" }];
  return (
    [
      "apiVersion: v1",
      "kind: Service",
      "metadata:",
      `  name: ${name}`,
      "spec:",
      ...(o.type ? [`  type: ${o.type}`] : []),
      "  selector:",
      `    app: ${o.selector ?? name}`,
      "  ports:",
      ...ports.map((p) => `    - ${JSON.stringify(p)}`),
    ].join("\n") + "\n"
  );
}

/** Node manifests for named nodes (endpoints need not exist when a fake runtime factory is used). */
export function nodesYaml(nodes: { name: string; endpoint?: string; portRange?: string; unschedulable?: boolean; capacityPods?: number }[]): string {
  return (
    nodes
      .map((n, i) =>
        [
          "apiVersion: coxswain.io/v1alpha1",
          "kind: Node",
          "metadata:",
          `  name: ${n.name}`,
          "spec:",
          `  endpoint: ${n.endpoint ?? `unix:///fake/${n.name}.sock`}`,
          "  network: host",
          "  address: 127.0.0.1",
          `  portRange: ${n.portRange ?? `${40000 + i * 1000}-${40999 + i * 1000}`}`,
          ...(n.unschedulable ? ["  unschedulable: true"] : []),
          ...(n.capacityPods !== undefined ? ["  capacity:", `    pods: ${n.capacityPods}`] : []),
        ].join("\n"),
      )
      .join("\n---\n") + "\n"
  );
}

/** A Rollout (coxswain.io/v1alpha1 unless `argo`), canary or blue/green, with one container. */
export function rolloutYaml(o: {
  name?: string;
  replicas?: number;
  image: string;
  argo?: boolean;
  canary?: ({ setWeight: number } | { pause: { duration?: string } })[];
  /** Canary: maxSurge and maxUnavailable (Argo's 25 % each when absent), Service fields, trafficRouting: {}. */
  maxSurge?: number | string;
  maxUnavailable?: number | string;
  canaryService?: string;
  stableService?: string;
  trafficRouting?: boolean;
  blueGreen?: { autoPromotionEnabled?: boolean; scaleDownDelaySeconds?: number; activeService?: string; previewService?: string };
  promote?: string;
  /** The container's command and environment (the process runtime runs the command). */
  command?: string[];
  env?: { name: string; value: string }[];
  /** Adds a readiness probe (httpGet /healthz on the port "http", every second). */
  probe?: boolean;
}): string {
  const name = o.name ?? "web";
  const lines = [
    `apiVersion: ${o.argo ? "argoproj.io/v1alpha1" : "coxswain.io/v1alpha1"}`,
    "kind: Rollout",
    "metadata:",
    `  name: ${name}`,
    ...(o.promote !== undefined ? ["  annotations:", `    coxswain.io/promote: ${JSON.stringify(o.promote)}`] : []),
    "spec:",
    `  replicas: ${o.replicas ?? 4}`,
    "  selector:",
    "    matchLabels:",
    `      app: ${name}`,
    "  strategy:",
  ];
  if (o.canary) {
    lines.push("    canary:");
    if (o.maxSurge !== undefined) lines.push(`      maxSurge: ${JSON.stringify(o.maxSurge)}`);
    if (o.maxUnavailable !== undefined) lines.push(`      maxUnavailable: ${JSON.stringify(o.maxUnavailable)}`);
    if (o.canaryService) lines.push(`      canaryService: ${o.canaryService}`);
    if (o.stableService) lines.push(`      stableService: ${o.stableService}`);
    if (o.trafficRouting) lines.push("      trafficRouting: {}");
    lines.push("      steps:");
    for (const st of o.canary) {
      if ("setWeight" in st) lines.push(`        - setWeight: ${st.setWeight}`);
      else lines.push(st.pause.duration ? `        - pause: { duration: ${st.pause.duration} }` : "        - pause: {}");
    }
  } else {
    lines.push("    blueGreen:");
    lines.push(`      autoPromotionEnabled: ${o.blueGreen?.autoPromotionEnabled ?? true}`);
    lines.push(`      scaleDownDelaySeconds: ${o.blueGreen?.scaleDownDelaySeconds ?? 1}`);
    if (o.blueGreen?.activeService) lines.push(`      activeService: ${o.blueGreen.activeService}`);
    if (o.blueGreen?.previewService) lines.push(`      previewService: ${o.blueGreen.previewService}`);
  }
  lines.push("  template:", "    metadata:", "      labels:", `        app: ${name}`, "    spec:", "      terminationGracePeriodSeconds: 5", "      containers:", "        - name: app", `          image: ${o.image}`);
  if (o.command) lines.push(`          command: ${JSON.stringify(o.command)}`);
  if (o.env?.length) {
    lines.push("          env:");
    for (const e of o.env) lines.push(`            - name: ${e.name}`, `              value: ${JSON.stringify(e.value)}`);
  }
  lines.push("          ports:", "            - name: http", "              containerPort: 8080");
  if (o.probe) {
    lines.push("          readinessProbe:", "            httpGet:", "              path: /healthz", "              port: http", "            periodSeconds: 1", "            failureThreshold: 1");
  }
  return lines.join("\n") + "\n";
}

/** A kubernetes.io/tls Secret holding `pair` (PEM text, e.g. from test/support/tls.ts). */
export function tlsSecretYaml(name: string, pair: { cert: string; key: string }): string {
  return stringify({ apiVersion: "v1", kind: "Secret", metadata: { name }, type: "kubernetes.io/tls", stringData: { "tls.crt": pair.cert, "tls.key": pair.key } });
}

/** An Ingress backend: a Service and the port number it serves on. */
export interface IngressBackendOptions {
  service: string;
  port: number;
}

/** A networking.k8s.io/v1 Ingress: rules by host (undefined: every host) of Prefix paths unless said otherwise. */
export function ingressYaml(o: {
  name: string;
  className?: string;
  defaultBackend?: IngressBackendOptions;
  tls?: { hosts: string[]; secretName: string }[];
  rules?: { host?: string; paths: ({ path: string; pathType?: "Prefix" | "Exact" | "ImplementationSpecific" } & IngressBackendOptions)[] }[];
}): string {
  const backend = (b: IngressBackendOptions) => ({ service: { name: b.service, port: { number: b.port } } });
  return stringify({
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { name: o.name },
    spec: {
      ...(o.className !== undefined ? { ingressClassName: o.className } : {}),
      ...(o.defaultBackend ? { defaultBackend: backend(o.defaultBackend) } : {}),
      ...(o.tls ? { tls: o.tls } : {}),
      ...(o.rules
        ? {
            rules: o.rules.map((r) => ({
              ...(r.host !== undefined ? { host: r.host } : {}),
              http: { paths: r.paths.map((p) => ({ path: p.path, pathType: p.pathType ?? "Prefix", backend: backend(p) })) },
            })),
          }
        : {}),
    },
  });
}
