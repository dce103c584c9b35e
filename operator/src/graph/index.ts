/**
 * graph/: the desired-state graph of one commit and the diff of two graphs. Pure: snapshots in, plans out.
 */
export { autoscalerOf, autoscalerTargetKey } from "./autoscalers.js";
export { buildGraph, tlsSecretProblem, NODE_TLS_KEYS, type GraphBuild } from "./build.js";
export { DEPENDS_ON_ANNOTATION, parseDependsOn, type DependsOnEntry } from "./depends-on.js";
export { changeDetails, changedFields, diffGraphs, formatChange, type Change, type ChangeAction, type ChangeSet } from "./diff.js";
export { DesiredGraph, type GraphEdge, type GraphEntry, type GraphNode, type ObjectOfKind, type Wave } from "./graph.js";
export { resolvePriority, type PrioritySource, type ResolvedPriority } from "./priority.js";
export { formatFieldPath } from "../manifest/paths.js";
