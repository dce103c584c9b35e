/**
 * The label registry: every label coxswain puts on a container, in one place. Observed state is rebuilt
 * from these after a restart, so their names and meanings are a compatibility promise.
 */

/** Prefix of every coxswain label. */
export const LABEL_PREFIX = "io.coxswain.";

/** Label names. */
export const LABELS = {
  /** Operator instance that owns the container (default "coxswain"); containers of other owners are never touched. */
  owner: "io.coxswain.owner",
  /** Namespace of the workload. */
  namespace: "io.coxswain.namespace",
  /** Kind of the owning workload, e.g. "Deployment". */
  kind: "io.coxswain.kind",
  /** Name of the owning workload. */
  workload: "io.coxswain.workload",
  /**
   * On a claim's Docker volume (not a container): the PersistentVolumeClaim, "namespace/name". With the owner,
   * namespace and node labels it records where the claim is bound; the operator reads it back after a restart.
   */
  claim: "io.coxswain.claim",
  /** Pod name: "<workload>-<revision>-<suffix>"; all containers of a pod share it. */
  pod: "io.coxswain.pod",
  /** Container name within the pod (from the manifest). */
  container: "io.coxswain.container",
  /** Pod-template hash: the revision the pod belongs to. */
  revision: "io.coxswain.revision",
  /** Hash of the container's full launch spec (resolved env, ports, limits): recreate when it differs. */
  specHash: "io.coxswain.spec-hash",
  /** Commit of the deploy branch that created the container. */
  commit: "io.coxswain.commit",
  /** Node name the container was placed on. */
  node: "io.coxswain.node",
  /** Assigned ports, JSON: [{"name":"http","containerPort":8080,"hostPort":30001,"protocol":"TCP"}]. */
  ports: "io.coxswain.ports",
  /**
   * The container's requests, JSON {"cpuMillis":100,"memoryBytes":0} (0 = unset) with "extended" {"example.com/dongle":1}
   * when it asks for extended resources, so capacity accounting survives restarts.
   */
  requests: "io.coxswain.requests",
  /**
   * Readiness probe as resolved at create time, JSON (see ReadinessLabel in runtime/fleet.ts): the host
   * port is already assigned, so the fleet can probe after a restart without reading the repository.
   */
  readiness: "io.coxswain.readiness",
  /** The pod template's labels, JSON, so that selectors (spreading, inter-pod affinity) see running pods after a restart. */
  podLabels: "io.coxswain.pod-labels",
  /** The pod's scheduling priority (integer as text), from its PriorityClass or coxswain.io/priority; for preemption. */
  priority: "io.coxswain.priority",
  /**
   * Liveness and startup probes as resolved at create time, JSON {"liveness":…, "startup":…} (same shape as
   * readiness), with the pod's terminationGracePeriodSeconds as "grace"; on every container. Earlier versions wrote
   * it only with probes or a postStart hook: a pod none of whose containers has it is stopped with the default 30 s.
   */
  probes: "io.coxswain.probes",
  /**
   * On an init container only: its place in the pod's initContainers (0-based, as text). The kubelet starts it
   * when every init container before it has exited 0, and the pod's containers when all have; a stopped init
   * container with exit code 0 is the durable record that it succeeded (it is kept, as the kubelet keeps it).
   */
  init: "io.coxswain.init",
  /**
   * On every container of a pod that has init containers: how many it has (as text). The kubelet starts the pod's
   * containers only when that many init containers have succeeded, so a view of the pod that lacks one of them
   * (a listing that missed it) cannot pass for an initialized pod. Not part of the spec hash or the revision: pods
   * made before it carry none, keep running as they are, and the kubelet counts the init containers it sees.
   */
  initCount: "io.coxswain.init-count",
  /**
   * The pod's restartPolicy when it is not Always ("OnFailure" or "Never"; a Job's pods), on every container of
   * the pod. The kubelet restarts an exited container only as the policy allows, and the fleet gives a pod whose
   * containers all exited the phase Succeeded or Failed; absent means Always (Deployments, Rollouts).
   */
  restartPolicy: "io.coxswain.restart-policy",
  /** A pod of an Indexed Job: its completion index (as text), also given to its containers as JOB_COMPLETION_INDEX. */
  completionIndex: "io.coxswain.completion-index",
  /** The container's preStop hook as resolved at create time, JSON (HookLabel in runtime/hooks.ts; host port assigned). */
  preStop: "io.coxswain.pre-stop",
  /** The container's postStart hook as resolved at create time, JSON (HookLabel in runtime/hooks.ts; host port assigned). */
  postStart: "io.coxswain.post-start",
  /**
   * Marks the node's proxy container (runtime/proxy/docker-proxy.ts), one per node and owner, named
   * "cx-proxy-<owner>"; the value is the node's name. It is never a pod (it carries no pod label), so the
   * fleet does not count or schedule it; a new operator adopts it by name, owner and this label.
   */
  nodeProxy: "io.coxswain.node-proxy",
  /**
   * Marks a Service forwarder on a bridge network (runtime/docker/forwarders.ts, traffic/bridge.ts); the
   * value is the Service's "namespace/name". Like the node proxy it is never a pod; a new operator adopts it
   * by owner, this label and its spec hash (io.coxswain.spec-hash), and removes it when its Service is gone.
   */
  serviceForwarder: "io.coxswain.service-forwarder",
} as const;

/** The default owner label value; `coxswain run --instance` changes it. */
export const DEFAULT_OWNER = "coxswain";
