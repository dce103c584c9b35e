/**
 * Object metadata and identity shared by every kind. Hand-written (the generated kinds import it).
 */

/** Standard object metadata, the subset of Kubernetes' ObjectMeta that coxswain reads. */
export interface ObjectMeta {
  /** DNS-1123 name, unique per kind and namespace. */
  name: string;
  /** Namespace of a namespaced kind; "default" when omitted. Absent for cluster-scoped kinds. */
  namespace?: string;
  labels?: { [key: string]: string };
  annotations?: { [key: string]: string };
}
