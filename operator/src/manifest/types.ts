/**
 * What manifest/ produces: validated, defaulted objects with their place in the repository, and
 * diagnostics that name file, line, column, field path and what was expected.
 */
import type { ErrorCode } from "../api/errors.js";
import type { DesiredObject, ResourceKey } from "../api/objects.js";

/** A place in a repository file; line and col are 1-based. */
export interface SourcePosition {
  file: string;
  line: number;
  col: number;
}

/** Where a field of an object sits, and which object it belongs to, so that a diagnostic built from it names the object. */
export interface ObjectPosition extends SourcePosition {
  /** The object as messages name it: its key, e.g. "Deployment/shop/cart" (see objectLabel in check.ts). */
  object: string;
}

/** One problem found in a commit's manifests. */
export interface Diagnostic extends SourcePosition {
  code: ErrorCode;
  /**
   * The object the problem is about, e.g. "Deployment/shop/cart" ("Kind/name" for cluster-scoped kinds);
   * absent when the document does not say what it is (no kind, no name) or the problem is the file's.
   */
  object?: string;
  /** Errors block the whole commit; warnings are reported and the commit applies. */
  severity: "error" | "warning";
  /** Field path inside the object, e.g. "spec.template.spec.containers[0].image"; "" for the document. */
  field: string;
  /** What was wrong and what was expected, e.g. "must be integer (got string "three")". */
  message: string;
}

/** A validated object and where it came from. */
export interface ManifestObject {
  key: ResourceKey;
  /** The object with Kubernetes' defaults applied (replicas 1, maxSurge 25%, …). */
  object: DesiredObject;
  /** Position of the document (its first line). */
  source: SourcePosition;
  /** Position of a field path (e.g. ["spec", "replicas"]); falls back to the nearest existing parent. Names the object (its key). */
  locate(path: readonly (string | number)[]): ObjectPosition;
}

/** A file to read manifests from: repository path, content, and blob oid when it comes from Git (cache key). */
export interface ManifestFile {
  path: string;
  /** The file's text or bytes; for a symbolic link, the path it points to. */
  content: string | Uint8Array;
  oid?: string;
  /** A symbolic link: reported as SymlinkNotAllowed, never read as a manifest. */
  symlink?: boolean;
}

/** The result of reading a set of files: objects sorted by key, diagnostics sorted by file, line, col, code. */
export interface ManifestSet {
  objects: ManifestObject[];
  diagnostics: Diagnostic[];
  /**
   * What was read: files parsed, their non-empty YAML documents (every object, including those with errors
   * and those of ignored kinds), and how many of those are of kinds coxswain ignores (IGNORED_KINDS).
   */
  read: { files: number; documents: number; ignored: number };
  /**
   * Set when reading stopped early (the total size limit): files after the one reported were not read, so
   * checks across objects (references, cycles) would report what is only missing from the reading.
   */
  incomplete?: true;
}

/**
 * Formats a diagnostic as one line: "file:line:col: error Code Kind/namespace/name field: message" (the
 * object and the field when known, e.g. "web.yaml:12:9: error SchemaViolation Deployment/shop/cart
 * spec.replicas: must be integer (got string "three")").
 */
export function formatDiagnostic(d: Diagnostic): string {
  const object = d.object ? ` ${d.object}` : "";
  const field = d.field ? ` ${d.field}` : "";
  const where = object || field ? `${object}${field}:` : "";
  return `${d.file}:${d.line}:${d.col}: ${d.severity} ${d.code}${where} ${d.message}`;
}

/** Sorts diagnostics deterministically (file, line, col, code, field, message). */
export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  const ka = [a.file, a.line, a.col, a.code, a.field, a.message];
  const kb = [b.file, b.line, b.col, b.code, b.field, b.message];
  for (let i = 0; i < ka.length; i++) {
    const x = ka[i]!;
    const y = kb[i]!;
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return 0;
}
