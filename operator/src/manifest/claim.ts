/**
 * The rules of a PersistentVolumeClaim beyond its schema: what coxswain can provision. It has one kind of
 * storage, a local volume of one node (a Docker named volume, or a directory on the process runtime), so a
 * claim must be ReadWriteOnce, Filesystem, and of no storage class other than coxswain's own.
 */
import type { PersistentVolumeClaim } from "../api/objects.js";
import { quantityOrIssue } from "./pod.js";
import { fieldError, showValue, type Issue } from "./issue.js";

/** The one storage class coxswain provisions; absent and "" mean it too. */
const LOCAL_STORAGE_CLASS = "coxswain-local";

/** Why each access mode other than ReadWriteOnce is refused. */
const REFUSED_ACCESS_MODES: Readonly<Record<string, string>> = {
  ReadOnlyMany: "a claim is a volume on one node's engine, which pods of other nodes cannot mount",
  ReadWriteMany: "a claim is a volume on one node's engine, which pods of other nodes cannot mount",
  ReadWriteOncePod: "coxswain does not keep a second pod of the node off a claim; use ReadWriteOnce (pods of the bound node share it)",
};

/** InvalidField and SchemaViolation errors of a claim coxswain cannot provision. */
export function claimIssues(claim: PersistentVolumeClaim): Issue[] {
  const issues: Issue[] = [];
  const spec = claim.spec;
  spec.accessModes.forEach((mode, i) => {
    const why = REFUSED_ACCESS_MODES[mode];
    if (why) issues.push(fieldError("SchemaViolation", ["spec", "accessModes", i], `${showValue(mode)} is not supported by coxswain: ${why}`));
  });
  const cls = spec.storageClassName;
  if (cls !== undefined && cls !== "" && cls !== LOCAL_STORAGE_CLASS) {
    issues.push(
      fieldError(
        "InvalidField",
        ["spec", "storageClassName"],
        `coxswain has no provisioner for storage class ${showValue(cls)}: expected "${LOCAL_STORAGE_CLASS}", "" or no storageClassName (a local volume on the node the claim is bound to)`,
      ),
    );
  }
  if (spec.volumeMode === "Block") {
    issues.push(fieldError("SchemaViolation", ["spec", "volumeMode"], '"Block" is not supported by coxswain: a claim is a directory (a Docker volume); use Filesystem'));
  }
  quantityOrIssue("memory", spec.resources.requests.storage, ["spec", "resources", "requests", "storage"], issues);
  return issues;
}
