/**
 * From a Deployment's pod template to what a runtime runs. Pure.
 *
 * - The revision (pod-template hash) covers the template and the values of the ConfigMap keys it reads:
 *   Docker fixes a container's environment at create, so a changed ConfigMap value can only reach the
 *   app through new containers, and coxswain rolls them out like any template change. (Kubernetes does
 *   not roll on ConfigMap changes; people add checksum annotations to get this behaviour.) (An imagePullPolicy
 *   equal to its default was dropped when loading: writing it out makes no revision of its own.) The contents of the
 *   imagePullSecrets are not in it, only their names: a rotated registry password needs no new pods, and the
 *   next pull (a new pod, or every pod with Always) uses the Secret of the current commit (pullConfigsOf).
 * - Ports: each container port gets a host port from the node's portRange. The container sees PORT (its
 *   first port) and PORT_<NAME> for each named port. In host network mode these are the assigned host
 *   ports, which the app must listen on; in bridge mode they are the declared containerPorts and the
 *   assigned host ports are published to them.
 * - Every container also sees COXSWAIN_POD, COXSWAIN_NODE and COXSWAIN_REVISION (coxswain's small
 *   stand-in for Kubernetes' downward API), and a pod of an Indexed Job JOB_COMPLETION_INDEX.
 * - Volumes (configMap, secret, emptyDir) and volumeMounts are planned in volumes.ts; their content is part
 *   of the revision too.
 * - $(VAR) in env values, command and args is expanded as Kubernetes does: from PORT variables and the
 *   variables defined before it; $$ is a literal $; an unknown $(VAR) stays as written.
 * - env and envFrom (ConfigMaps, Secrets, pod fields, resources) are resolved by env.ts: what does not
 *   depend on the pod when the plan is made (and into the revision), the rest in podLaunches.
 */
import { canonicalJson, shortHash } from "../../api/canonical.js";
import type { Secret, TemplateOwner } from "../../api/objects.js";
import { makeKey } from "../../api/objects.js";
import type { LifecycleHandler, PodSpec, Probe } from "../../api/generated/index.js";
import { parseCpu, parseMemory } from "../../api/quantity.js";
import type { NodeConfig } from "../../runtime/fleet.js";
import { podResources } from "../../runtime/fleet.js";
import { DEFAULT_GRACE_SECONDS, type ProbeLabel, type ProbesLabel } from "../../runtime/kubelet.js";
import { LABELS } from "../../runtime/labels.js";
import type { HookLabel } from "../../runtime/hooks.js";
import { defaultPullPolicy, readPullSecret, type DockerConfig, type PullPolicy } from "../../manifest/image.js";
import { registryCredentials } from "../../runtime/pull.js";
import type { ContainerLaunch, LaunchPort, LaunchSecurity } from "../../runtime/types.js";
import type { HostPort, PodRequest, Resources } from "../../scheduler/types.js";
import { containerVolumes, planVolumes, type VolumesPlan } from "./volumes.js";
import type { Discovery } from "../../traffic/discovery.js";
import { initOf } from "../../manifest/annotations.js";
import { launchSecurity } from "./security.js";
import { expandVars, launchEnv, planEnv, type PlannedEnvVar, type ReferenceLookup } from "./env.js";

/** A container of the template with everything resolved that does not depend on the node. */
export interface ContainerPlan {
  name: string;
  /** An init container's place in initContainers (0-based); absent for the pod's containers. */
  init?: number;
  image: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  /** envFrom and env in the order they apply (env.ts planEnv), missing optional references dropped. */
  env: PlannedEnvVar[];
  /** hostPort set: that fixed host port; otherwise one from the node's portRange. */
  ports: { name?: string; containerPort: number; hostPort?: number; protocol: "TCP" | "UDP" }[];
  requests: Resources;
  limits: { cpuMillis?: number; memoryBytes?: number };
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  /** lifecycle.preStop: run when the pod leaves, after the proxies let it go and before SIGTERM. */
  preStop?: LifecycleHandler;
  /** lifecycle.postStart: run by the kubelet after each start of the container, before it can be ready. */
  postStart?: LifecycleHandler;
  /** The pod's and the container's securityContext merged (security.ts); absent when it asks for nothing. */
  security?: LaunchSecurity;
  /** imagePullPolicy, defaulted as Kubernetes does (runtime/pull.ts defaultPullPolicy). */
  pullPolicy: PullPolicy;
}

/** Scheduling priority of a workload's pods (PriorityClass, coxswain.io/priority, global default). */
export interface PodPriority {
  value: number;
  preemptionPolicy: "PreemptLowerPriority" | "Never";
}

/** What every pod of one revision of a workload (or of a bare Pod, seen through its view) needs. */
export interface TemplatePlan {
  /** Owner key, "Deployment/ns/name", "Pod/ns/name", … */
  owner: string;
  kind: TemplateOwner["kind"];
  namespace: string;
  workload: string;
  revision: string;
  containers: ContainerPlan[];
  /** Sum of real requests (what the scheduler filters on). */
  requests: Resources;
  requestsForScoring: Resources;
  /** Host ports a pod needs from the node's portRange (ports without a fixed hostPort). */
  portCount: number;
  /** Fixed host ports (containers' hostPort). */
  fixedHostPorts: HostPort[];
  graceSeconds: number;
  /** false: the containers' commands are PID 1 themselves (coxswain.io/init: "false"); true: they run under the engine's init. */
  init: boolean;
  /** The template's labels (for selectors: spreading, affinity). */
  podLabels: Record<string, string>;
  priority: PodPriority;
  /** Scheduling constraints of the pod spec, as Kubernetes writes them. */
  scheduling: Pick<PodSpec, "nodeName" | "nodeSelector" | "affinity" | "tolerations" | "topologySpreadConstraints">;
  images: string[];
  /** The names of the pod's imagePullSecrets, in order (Secrets of `namespace`); their contents are not here. */
  pullSecrets: string[];
  /** The pod's volumes and each container's mounts (volumes.ts); absent when the template has none. */
  volumes?: Pick<VolumesPlan, "volumes" | "mounts">;
  /** A Job's restartPolicy (OnFailure or Never; LABELS.restartPolicy); absent: Always. */
  restartPolicy?: "OnFailure" | "Never";
  /** An Indexed Job's pod: its completion index (LABELS.completionIndex, and JOB_COMPLETION_INDEX in its environment). */
  completionIndex?: number;
}

/**
 * Resolves a workload's template against the ConfigMaps and Secrets of the same commit. The priority is resolved by the
 * caller from the graph (graph/priority.ts resolvePriority); 0 when not given.
 */
export function planTemplate(dep: TemplateOwner, refs: ReferenceLookup, priority: PodPriority = { value: 0, preemptionPolicy: "PreemptLowerPriority" }): TemplatePlan {
  const namespace = dep.metadata.namespace ?? "default";
  const resolvedConfig: Record<string, unknown> = {};
  const meta = dep.spec.template.metadata;
  const inits = dep.spec.template.spec.initContainers ?? [];
  const all = [...inits, ...dep.spec.template.spec.containers];
  const pod = { namespace, labels: meta.labels ?? {}, annotations: meta.annotations ?? {}, containers: all };
  // Init containers first, in order: podLaunches creates them first and the kubelet runs them one by one.
  const containers: ContainerPlan[] = all.map((c, i) => {
    const security = launchSecurity(dep.spec.template.spec, c);
    const env = planEnv(c, pod, refs, resolvedConfig);
    const requests: Resources = {
      cpuMillis: c.resources?.requests?.cpu !== undefined ? parseCpu(c.resources.requests.cpu) : 0,
      memoryBytes: c.resources?.requests?.memory !== undefined ? parseMemory(c.resources.requests.memory) : 0,
    };
    // Extended resources (a name with a domain; manifest/pod.ts checked them): whole units, in name order.
    const extended = Object.entries(c.resources?.requests ?? {})
      .filter(([name, q]) => name.includes("/") && q !== undefined)
      .map(([name, q]) => [name, Number(q)] as const)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    if (extended.length > 0) requests.extended = Object.fromEntries(extended);
    const limits: ContainerPlan["limits"] = {};
    if (c.resources?.limits?.cpu !== undefined) limits.cpuMillis = parseCpu(c.resources.limits.cpu);
    if (c.resources?.limits?.memory !== undefined) limits.memoryBytes = parseMemory(c.resources.limits.memory);
    return {
      name: c.name,
      ...(i < inits.length ? { init: i } : {}),
      image: c.image,
      ...(c.command ? { command: c.command } : {}),
      ...(c.args ? { args: c.args } : {}),
      ...(c.workingDir ? { workingDir: c.workingDir } : {}),
      env,
      ports: (c.ports ?? []).map((p) => ({
        ...(p.name ? { name: p.name } : {}),
        containerPort: p.containerPort,
        ...(p.hostPort !== undefined ? { hostPort: p.hostPort } : {}),
        protocol: p.protocol ?? "TCP",
      })),
      requests,
      limits,
      ...(c.readinessProbe ? { readinessProbe: c.readinessProbe } : {}),
      ...(c.livenessProbe ? { livenessProbe: c.livenessProbe } : {}),
      ...(c.startupProbe ? { startupProbe: c.startupProbe } : {}),
      ...(c.lifecycle?.preStop ? { preStop: c.lifecycle.preStop } : {}),
      ...(c.lifecycle?.postStart ? { postStart: c.lifecycle.postStart } : {}),
      ...(security ? { security } : {}),
      pullPolicy: c.imagePullPolicy ?? defaultPullPolicy(c.image),
    };
  });
  const spec = dep.spec.template.spec;
  const volumes = planVolumes(spec, namespace, (k) => {
    const o = refs(k);
    return o?.kind === "ConfigMap" || o?.kind === "Secret" ? o : undefined;
  });
  const revision = shortHash({ template: dep.spec.template, config: resolvedConfig, ...(volumes.revisionInput ? { volumes: volumes.revisionInput } : {}) });
  const scheduling: TemplatePlan["scheduling"] = {};
  if (spec.nodeName) scheduling.nodeName = spec.nodeName;
  if (spec.nodeSelector) scheduling.nodeSelector = spec.nodeSelector;
  if (spec.affinity) scheduling.affinity = spec.affinity;
  if (spec.tolerations) scheduling.tolerations = spec.tolerations;
  if (spec.topologySpreadConstraints) scheduling.topologySpreadConstraints = spec.topologySpreadConstraints;
  return {
    owner: makeKey(dep.kind, dep.metadata.name, namespace),
    kind: dep.kind,
    namespace,
    workload: dep.metadata.name,
    revision,
    containers,
    ...podResources(containers),
    portCount: containers.reduce((n, c) => n + c.ports.filter((p) => p.hostPort === undefined).length, 0),
    fixedHostPorts: containers.flatMap((c) => c.ports.filter((p) => p.hostPort !== undefined).map((p) => ({ port: p.hostPort!, protocol: p.protocol }))),
    graceSeconds: spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS,
    init: initOf(dep.spec.template),
    podLabels: { ...(dep.spec.template.metadata.labels ?? {}) },
    priority,
    scheduling,
    images: [...new Set(containers.map((c) => c.image))].sort(),
    pullSecrets: (spec.imagePullSecrets ?? []).map((r) => r.name),
    ...(volumes.volumes.length > 0 ? { volumes: { volumes: volumes.volumes, mounts: volumes.mounts } } : {}),
    ...(spec.restartPolicy === "OnFailure" || spec.restartPolicy === "Never" ? { restartPolicy: spec.restartPolicy } : {}),
  };
}

/**
 * The registry credentials of a plan's imagePullSecrets, read from `secrets` (the desired graph of the current
 * commit, so that a rotated password reaches the next pull), in the plan's order. A Secret that is missing or
 * unusable is left out (validation refuses such a commit: pull-secrets.ts).
 */
export function pullConfigsOf(plan: TemplatePlan, secrets: (key: string) => Secret | undefined): DockerConfig[] {
  const out: DockerConfig[] = [];
  for (const name of plan.pullSecrets) {
    const secret = secrets(makeKey("Secret", name, plan.namespace));
    if (secret?.kind !== "Secret") continue;
    const read = readPullSecret(secret);
    if ("config" in read) out.push(read.config);
  }
  return out;
}

/** Facts of one pod that the plan does not know: its name, node, host ports and the commit creating it. */
export interface PodPlacement {
  pod: string;
  node: NodeConfig;
  /** Host ports from the node's range, in the order of the template's ports without a fixed hostPort. */
  hostPorts: readonly number[];
  commit: string;
  /** Operator instance (the io.coxswain.owner label value). */
  instance: string;
  /** The Services that exist as the pod starts, as seen from its node (traffic/discovery.ts). */
  discovery?: Discovery;
  /**
   * Bridge network: the pod's own names (traffic/pod-names.ts), given to its first container that is not an
   * init container (each container of a bridge pod has an address of its own; the names are the pod's).
   */
  aliases?: readonly string[];
  /** The pod's pull Secrets, read (pullConfigsOf); none: anonymous pulls. */
  pullConfigs?: readonly DockerConfig[];
  /** The node's allocatable CPU and memory (resourceFieldRef to a limit a container does not set). */
  allocatable?: { cpuMillis: number; memoryBytes: number };
}

/**
 * The container launches of one pod, init containers first. Deterministic for the same plan and placement.
 * With init containers, every launch but the first is created without being started (startLater): the
 * kubelet starts each init container when the one before it has succeeded, and the pod's containers after
 * the last one.
 */
export function podLaunches(plan: TemplatePlan, at: PodPlacement): ContainerLaunch[] {
  let next = 0;
  const initCount = plan.containers.filter((c) => c.init !== undefined).length;
  const hasInit = initCount > 0;
  const named = at.aliases?.length && at.node.network === "bridge" ? plan.containers.find((c) => c.init === undefined) : undefined;
  return plan.containers.map((c) => {
    const ports: LaunchPort[] = c.ports.map((p) => {
      const hostPort = p.hostPort ?? at.hostPorts[next++];
      if (hostPort === undefined) throw new Error(`pod ${at.pod}: not enough host ports assigned`);
      return { ...(p.name ? { name: p.name } : {}), containerPort: p.containerPort, hostPort, protocol: p.protocol };
    });
    const seen = (p: LaunchPort) => (at.node.network === "host" ? p.hostPort : p.containerPort);
    // Injected first, so that the user's env and $(VAR) references can use them.
    // Kubernetes' Service variables come first: the pod's own variables and env override them.
    const vars: Record<string, string> = { ...at.discovery?.env, COXSWAIN_POD: at.pod, COXSWAIN_NODE: at.node.name, COXSWAIN_REVISION: plan.revision };
    if (plan.completionIndex !== undefined) vars.JOB_COMPLETION_INDEX = String(plan.completionIndex);
    if (ports[0]) vars.PORT = String(seen(ports[0]));
    for (const p of ports) if (p.name) vars[`PORT_${p.name.toUpperCase().replace(/-/g, "_")}`] = String(seen(p));
    const env = launchEnv(
      c.env,
      vars,
      {
        pod: at.pod,
        node: at.node.name,
        hostIP: at.node.address,
        ...(at.node.network === "host" ? { podIP: at.node.address } : {}),
        ...(at.allocatable ? { allocatable: at.allocatable } : {}),
      },
      c.name,
    );
    const readiness = c.readinessProbe ? probeLabel(c, c.readinessProbe, ports) : undefined;
    const probes: ProbesLabel = { grace: plan.graceSeconds };
    if (c.livenessProbe) probes.liveness = probeLabel(c, c.livenessProbe, ports);
    if (c.startupProbe) probes.startup = probeLabel(c, c.startupProbe, ports);
    const base = {
      image: c.image,
      ...(c.command ? { command: c.command.map((s) => expandVars(s, env)) } : {}),
      ...(c.args ? { args: c.args.map((s) => expandVars(s, env)) } : {}),
      env,
      ...(c.workingDir ? { workingDir: c.workingDir } : {}),
      network: at.node.network,
      ports,
      limits: c.limits,
      ...(at.discovery?.hosts.length ? { hosts: at.discovery.hosts.map((h) => ({ address: h.address, names: [...h.names] })) } : {}),
      ...(at.discovery?.dnsSearch?.length ? { dnsSearch: [...at.discovery.dnsSearch] } : {}),
      ...(c === named ? { aliases: [...at.aliases!] } : {}),
      ...(c.security ? { security: c.security } : {}),
      ...(plan.volumes ? containerVolumes(plan.volumes, c.name) : {}),
      ...(plan.init ? {} : { noInit: true as const }),
    };
    const labels: Record<string, string> = {
      [LABELS.owner]: at.instance,
      [LABELS.kind]: plan.kind,
      [LABELS.namespace]: plan.namespace,
      [LABELS.workload]: plan.workload,
      [LABELS.pod]: at.pod,
      [LABELS.container]: c.name,
      [LABELS.revision]: plan.revision,
      [LABELS.commit]: at.commit,
      [LABELS.node]: at.node.name,
      [LABELS.ports]: JSON.stringify(ports),
      [LABELS.requests]: JSON.stringify(c.requests),
      [LABELS.specHash]: shortHash(base),
    };
    if (readiness) labels[LABELS.readiness] = canonicalJson(readiness);
    // On every container: the grace period is the pod's own for every stop — the kubelet's (failed liveness or
    // startup probes, a failed postStart) and the fleet's (podGraceSeconds: a removed workload, a preemption).
    labels[LABELS.probes] = canonicalJson(probes);
    if (c.preStop) labels[LABELS.preStop] = canonicalJson(hookLabel(c, "preStop", c.preStop, ports));
    if (c.postStart) labels[LABELS.postStart] = canonicalJson(hookLabel(c, "postStart", c.postStart, ports));
    if (c.init !== undefined) labels[LABELS.init] = String(c.init);
    if (hasInit) labels[LABELS.initCount] = String(initCount);
    if (plan.restartPolicy) labels[LABELS.restartPolicy] = plan.restartPolicy;
    if (plan.completionIndex !== undefined) labels[LABELS.completionIndex] = String(plan.completionIndex);
    labels[LABELS.podLabels] = canonicalJson(plan.podLabels);
    labels[LABELS.priority] = String(plan.priority.value);
    // After the spec hash and outside the labels: the credentials are secret, and a rotated one is no new spec.
    const auth = registryCredentials(c.image, at.pullConfigs ?? []);
    const pull = { policy: c.pullPolicy, ...(auth.length ? { auth } : {}) };
    // Not in the spec hash either: which values are a Secret's changes nothing in the container.
    const secretEnv = [...new Set(c.env.flatMap((e) => ("secret" in e && e.secret ? [e.name] : [])))].sort();
    const startLater = hasInit && c.init !== 0;
    return { runtimeName: runtimeName(plan.namespace, at.pod, c.name), ...base, ...(secretEnv.length ? { secretEnv } : {}), labels, pull, ...(startLater ? { startLater: true as const } : {}) };
  });
}

/** Docker container name of a pod's container: "cx_<namespace>_<pod>_<container>". */
function runtimeName(namespace: string, pod: string, container: string): string {
  return `cx_${namespace}_${pod}_${container}`;
}

/** A probe with its port resolved to the host port: probes go to the node's address (or httpGet.host); a grpc port is a number only. */
function probeLabel(c: ContainerPlan, p: Probe, ports: readonly LaunchPort[]): ProbeLabel {
  const thresholds = {
    initialDelaySeconds: p.initialDelaySeconds ?? 0,
    periodSeconds: p.periodSeconds ?? 10,
    timeoutSeconds: p.timeoutSeconds ?? 1,
    successThreshold: p.successThreshold ?? 1,
    failureThreshold: p.failureThreshold ?? 3,
  };
  if (p.exec) return { type: "exec", command: [...p.exec.command], ...thresholds };
  if (p.grpc) {
    const target = p.grpc.port;
    const port = ports.find((x) => x.containerPort === target);
    if (!port) throw new Error(`container ${c.name}: probe port ${target} is not a declared port`);
    return { type: "grpc", port: port.hostPort, ...(p.grpc.service ? { service: p.grpc.service } : {}), ...thresholds };
  }
  const handler = p.httpGet ?? p.tcpSocket;
  if (!handler) throw new Error(`container ${c.name}: a probe without a handler`);
  const ref = handler.port;
  const port = typeof ref === "string" && !/^[0-9]+$/.test(ref) ? ports.find((x) => x.name === ref) : ports.find((x) => x.containerPort === Number(ref));
  if (!port) throw new Error(`container ${c.name}: probe port ${ref} is not a declared port`);
  if (!p.httpGet) return { type: "tcp", port: port.hostPort, ...thresholds };
  return {
    type: "http",
    port: port.hostPort,
    path: p.httpGet.path ?? "/",
    ...(p.httpGet.host ? { host: p.httpGet.host } : {}),
    ...(p.httpGet.scheme ? { scheme: p.httpGet.scheme } : {}),
    ...(p.httpGet.httpHeaders?.length ? { headers: p.httpGet.httpHeaders.map((h) => ({ name: h.name, value: h.value })) } : {}),
    ...thresholds,
  };
}

function hookLabel(c: ContainerPlan, hook: "postStart" | "preStop", h: LifecycleHandler, ports: readonly LaunchPort[]): HookLabel {
  if (h.exec) return { type: "exec", command: [...h.exec.command] };
  if (h.sleep) return { type: "sleep", seconds: h.sleep.seconds };
  const get = h.httpGet;
  if (!get) throw new Error(`container ${c.name}: a ${hook} hook without a handler`);
  const ref = get.port;
  const port = typeof ref === "string" && !/^[0-9]+$/.test(ref) ? ports.find((x) => x.name === ref) : ports.find((x) => x.containerPort === Number(ref));
  if (!port) throw new Error(`container ${c.name}: ${hook} port ${ref} is not a declared port`);
  return {
    type: "http",
    port: port.hostPort,
    path: get.path ?? "/",
    ...(get.host ? { host: get.host } : {}),
    ...(get.httpHeaders?.length ? { headers: get.httpHeaders.map((x) => ({ name: x.name, value: x.value })) } : {}),
  };
}

/**
 * The scheduler's request for one new pod of a plan. Used by the controller and by plans of proposals
 * (`coxswain plan`, PR plans) so that both ask the scheduler the same question. `claimNode` says where each
 * claim the pod mounts is bound (the fleet's record; undefined: unbound, the placement binds it).
 */
export function podRequest(plan: TemplatePlan, id: string, claimNode: (claim: string) => string | undefined = () => undefined): PodRequest {
  const claims = [...new Set((plan.volumes?.volumes ?? []).flatMap((v) => (v.claim ? [v.claim.name] : [])))].sort();
  return {
    id,
    owner: plan.owner,
    namespace: plan.namespace,
    labels: plan.podLabels,
    requests: plan.requests,
    requestsForScoring: plan.requestsForScoring,
    ports: plan.portCount,
    priority: plan.priority.value,
    preemptionPolicy: plan.priority.preemptionPolicy,
    ...plan.scheduling,
    ...(plan.fixedHostPorts.length ? { hostPorts: plan.fixedHostPorts } : {}),
    ...(claims.length > 0
      ? {
          claims: claims.map((name) => {
            const node = claimNode(name);
            return node !== undefined ? { name, node } : { name };
          }),
        }
      : {}),
    images: plan.images,
  };
}
