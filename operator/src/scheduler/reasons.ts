/**
 * The reasons filters give for rejecting a node, word for word as kube-scheduler's plugins give them (they
 * are counted per node in "0/N nodes are available: …"), and the preemption messages.
 */

/** NodeUnschedulable (ErrReasonUnschedulable): the node is cordoned. */
export const REASON_UNSCHEDULABLE = "node(s) were unschedulable";
/** NodeName (ErrReason): the pod names another node. */
export const REASON_NODE_NAME = "node(s) didn't match the requested node name";
/** NodeAffinity (ErrReasonPod): nodeSelector or required node affinity do not match. */
export const REASON_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector";
/** NodePorts (ErrReason): a fixed host port is taken, or the node's port range has too few free ports. */
export const REASON_NO_FREE_PORTS = "node(s) didn't have free ports for the requested pod ports";
/** NodeResourcesFit: the node already holds allocatable.pods pods (checked first, as Kubernetes does). */
export const REASON_TOO_MANY_PODS = "Too many pods";
/** NodeResourcesFit: the pod's cpu request exceeds allocatable − requested. */
export const REASON_INSUFFICIENT_CPU = "Insufficient cpu";
/** NodeResourcesFit: the pod's memory request exceeds allocatable − requested. */
export const REASON_INSUFFICIENT_MEMORY = "Insufficient memory";
/** NodeResourcesFit: the pod's request of an extended resource exceeds allocatable − requested ("Insufficient example.com/dongle"). */
export function insufficientReason(resource: string): string {
  return `Insufficient ${resource}`;
}
/** PodTopologySpread (ErrReasonConstraintsNotMatch): placing the pod would exceed maxSkew. */
export const REASON_SPREAD = "node(s) didn't match pod topology spread constraints";
/** PodTopologySpread (ErrReasonNodeLabelNotMatch): the node lacks a constraint's topology key. */
export const REASON_SPREAD_MISSING_LABEL = `${REASON_SPREAD} (missing required label)`;
/** InterPodAffinity (ErrReasonAffinityRulesNotMatch): no pod the required affinity asks for in the node's domain. */
export const REASON_POD_AFFINITY = "node(s) didn't match pod affinity rules";
/** InterPodAffinity (ErrReasonAntiAffinityRulesNotMatch): a pod the required anti-affinity forbids is in the node's domain. */
export const REASON_POD_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules";
/** InterPodAffinity (ErrReasonExistingAntiAffinityRulesNotMatch): an existing pod's anti-affinity forbids the pod there. */
export const REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules";
/**
 * VolumeBinding (ErrReasonNodeConflict): the pod mounts a PersistentVolumeClaim bound to another node (a
 * coxswain claim is a volume of one node: ReadWriteOnce, its pods go where its data is).
 */
export const REASON_VOLUME_NODE_CONFLICT = "node(s) had volume node affinity conflict";

/** TaintToleration: the first NoSchedule/NoExecute taint the pod does not tolerate, "{key: value}". */
export function taintReason(key: string, value: string | undefined): string {
  return `node(s) had untolerated taint {${key}: ${value ?? ""}}`;
}

/** DefaultPreemption: a node with no lower-priority pod to remove. */
export const PREEMPTION_NO_VICTIMS = "No preemption victims found for incoming pod";
/** DefaultPreemption: a node rejected for a reason removing pods cannot fix (UnschedulableAndUnresolvable). */
export const PREEMPTION_NOT_HELPFUL = "Preemption is not helpful for scheduling";
/** DefaultPreemption.PodEligibleToPreemptOthers: the pod's preemptionPolicy is Never. */
export const PREEMPTION_POLICY_NEVER = "not eligible due to preemptionPolicy=Never.";
/** DefaultPreemption.PodEligibleToPreemptOthers: the victims of an earlier preemption are still terminating. */
export const PREEMPTION_TERMINATING_VICTIMS = "not eligible due to a terminating pod on the nominated node.";
