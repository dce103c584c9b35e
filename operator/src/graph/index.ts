/**
 * graph/: the desired-state graph of one commit and the diff of two graphs. Pure: snapshots in, plans out.
 */
export { autoscalerOf, autoscalerTargetKey } from "./autoscalers.js";
export { buildGraph, tlsSecretProblem } from "./build.js";
export { DEPENDS_ON_ANNOTATION, parseDependsOn } from "./depends-on.js";
export { changeDetails, changedFields, diffGraphs, formatChange, type Change, type ChangeSet } from "./diff.js";
export { DesiredGraph, type GraphEdge, type GraphNode } from "./graph.js";
export { resolvePriority, type ResolvedPriority } from "./priority.js";
export { formatFieldPath } from "../manifest/paths.js";
