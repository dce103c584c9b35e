/**
 * Schema validation against the CRDs in crds/, plus coxswain's schema for `metadata`, with validators that
 * ajv 8 compiled at `npm run gen` time (schema-compile.ts says how: strict mode, Kubernetes' keywords, closed
 * objects, defaults; generated/validators.ts holds the code). Nothing is compiled at run time, in no process
 * and no parse worker thread: on this project's idle 2-core machine a fresh compiled process imports this
 * module in ~20 ms and validates its first Deployment in ~4 ms, every kind in ~15 ms, at 46 MiB of RSS (a
 * bare node: 40 MiB). Compiled at run time, the import took ~55 ms (ajv), the first Deployment ~0.22 s and
 * every kind ~0.7 s, up to ~100 MiB of RSS.
 *
 * - The validators fill the schema defaults (replicas 1, probe periodSeconds 10, …) into the data.
 * - ajv reports several errors for one bad value (each anyOf branch, …): they are grouped by instancePath into
 *   one issue phrased "must be X (got Y)". Unknown fields, missing fields and bad keys get one issue each.
 * - `x-coxswain-unsupported: "<why>"` on a property marks a field coxswain knows (a pod's volumes, Argo
 *   Rollouts' analysis, …) but does not support: using it is one error "<field> is not supported by
 *   coxswain: <why>" at its key, and such fields are not listed among the supported ones in unknown-field
 *   messages. The reason says what coxswain does instead or why it cannot, never what it may do later.
 * - Values under sensitive paths (a Secret's data and stringData, see SENSITIVE_FIELDS) are never shown in
 *   messages: "must be a string (got integer)", never the integer.
 */
import type { ErrorObject } from "ajv";
import type { Kind } from "../api/objects.js";
import { VALIDATORS } from "./generated/validators.js";
import { describeGot, showValue, typeName, type Issue } from "./issue.js";
import { getAtPath, pointerToPath, type PathSegment } from "./paths.js";
import { DNS1123_LABEL, DNS1123_SUBDOMAIN, LABEL_VALUE, QUALIFIED_NAME, UNSUPPORTED_KEYWORD } from "./schema-defs.js";

export { DNS1123_LABEL, DNS1123_SUBDOMAIN, LABEL_VALUE, QUALIFIED_NAME, UNSUPPORTED_KEYWORD } from "./schema-defs.js";

/**
 * Fields of metadata that the API server sets. Manifests exported with `kubectl get -o yaml` carry them;
 * coxswain reports them as warnings ("ignored, set by the server") and drops them instead of failing the
 * commit. Any other field outside name/namespace/labels/annotations is an error.
 */
export const SERVER_SET_METADATA_FIELDS: readonly string[] = ["creationTimestamp", "generation", "managedFields", "resourceVersion", "uid"];

/**
 * Annotations that Kubernetes' tools write onto an object, not its author (kubectl get -o yaml shows them),
 * with who writes them: reported as warnings and dropped like SERVER_SET_METADATA_FIELDS, so that an
 * exported object is the one written by hand.
 */
export const SERVER_SET_ANNOTATIONS: Readonly<Record<string, string>> = Object.freeze({
  "deployment.kubernetes.io/revision": "Kubernetes' Deployment controller writes it",
  "kubectl.kubernetes.io/last-applied-configuration": "kubectl apply writes it",
});

/** Human phrases for the patterns used in crds/ and above; unknown patterns are printed as regular expressions. */
export const PATTERN_PHRASES: Record<string, string> = {
  [DNS1123_LABEL]: "a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit)",
  [DNS1123_SUBDOMAIN]: "a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)",
  [LABEL_VALUE]: "a label value (letters, digits, '-', '_' and '.', starting and ending with a letter or digit, or empty)",
  [QUALIFIED_NAME]: "a qualified name like \"app\" or \"example.com/app\" (name part: at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit)",
  "^[a-z]([-a-z0-9]*[a-z0-9])?$": "a Service name (a DNS-1035 label: lowercase letters, digits and '-', starting with a letter and ending with a letter or digit)",
  "^[0-9]+%?$": 'a non-negative integer or a percentage like "25%"',
  "^[0-9]+%$": 'a percentage like "50%" (a number of pods is written without quotes)',
  "^([0-9]+(\\.[0-9]*)?|\\.[0-9]+)m?$": "a CPU quantity like 250m, 0.5 or 2",
  "^([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([KMGTPE]i|[kMGTPE]|[eE][0-9]+)?$": "a memory quantity like 128Mi, 1G or 1048576",
  "^([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(m|[KMGTPE]i|[kMGTPE])?$": "a resource divisor like 1, 1m or 1Mi",
  "^[-._a-zA-Z][-._a-zA-Z0-9]*$": "an environment variable name (letters, digits, '_', '-' and '.', not starting with a digit)",
  "^[-._a-zA-Z0-9]+$": "a ConfigMap or Secret key (letters, digits, '-', '_' and '.')",
  "^/": 'an absolute path (starting with "/")',
  "^(unix:///|tcp://).+$": "unix:///absolute/path/to/docker.sock or tcp://host:port",
  "^[-A-Za-z0-9]+$": "an HTTP header name (letters, digits and '-')",
  "^[0-9]{1,5}-[0-9]{1,5}$": 'a port range "from-to" like 30000-32767',
  "^127\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}/[0-9]{1,2}$": "a network inside 127.0.0.0/8 like 127.77.0.0/16",
  "^(cpu|memory|ephemeral-storage|hugepages-.+|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$":
    "a resource name: cpu, memory, ephemeral-storage, hugepages-<size>, or an extended resource named with a domain like example.com/dongle",
  "^(cpu|memory|pods|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$": "cpu, memory, pods, or an extended resource named with a domain like example.com/dongle",
  "^([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(m|[KMGTPE]i|[kMGTPE]|[eE][0-9]+)?$": "a quantity like 1, 500m or 64Mi",
};

/**
 * Fields whose values are secret, per kind (top-level field names). Messages about a value under these paths
 * name the field and the problem, never the value.
 */
const SENSITIVE_FIELDS: Readonly<Partial<Record<Kind, readonly string[]>>> = { Secret: ["data", "stringData"] };

/**
 * True when a field path of an object of this kind may hold a value that must not reach a message: under
 * SENSITIVE_FIELDS, or a container's env values — the `env` list, an entry of it, and an entry's `value`
 * (tokens and passwords go there), but not an entry's `name` or `valueFrom`, which name things.
 */
function isSensitivePath(kind: Kind, path: readonly PathSegment[]): boolean {
  const top = path[0];
  if (typeof top === "string" && (SENSITIVE_FIELDS[kind]?.includes(top) ?? false)) return true;
  const env = path.findIndex((seg, i) => seg === "env" && typeof path[i - 1] === "number" && path[i - 2] === "containers");
  if (env < 0) return false;
  const field = path[env + 2];
  return field === undefined || field === "value";
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Validates an object of a known kind against its schema, applying schema defaults to `data` in place.
 * Returns SchemaViolation issues, one per offending field (see the file comment).
 */
export function validateSchema(kind: Kind, data: unknown): Issue[] {
  const validate = VALIDATORS[kind];
  if (validate(data)) return [];
  return issuesFromAjv(validate.errors ?? [], data, (path) => isSensitivePath(kind, path));
}

/**
 * Groups ajv errors into issues: one per bad value, unknown field, missing field, unsupported field or bad
 * key. Values at paths for which `hidden` is true are described by type only.
 */
function issuesFromAjv(errors: readonly ErrorObject[], data: unknown, hidden: (path: readonly PathSegment[]) => boolean = () => false): Issue[] {
  const issues: Issue[] = [];
  const seen = new Set<string>();
  const byValue = new Map<string, ErrorObject[]>();
  const byKey = new Map<string, { pointer: string; key: string; errors: ErrorObject[] }>();

  for (const e of errors) {
    const segs = (): PathSegment[] => pointerToPath(e.instancePath, data);
    if (e.keyword === "additionalProperties") {
      const prop = String((e.params as { additionalProperty: string }).additionalProperty);
      const id = `${e.instancePath}\u0000+${prop}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const props =
        isPlainObject(e.parentSchema) && isPlainObject(e.parentSchema.properties)
          ? Object.entries(e.parentSchema.properties)
              .filter(([, sub]) => !(isPlainObject(sub) && sub[UNSUPPORTED_KEYWORD] !== undefined))
              .map(([name]) => name)
              .sort()
          : [];
      const supported = props.length > 0 ? `supported: ${props.join(", ")}` : "no fields are supported here";
      issues.push({ code: "SchemaViolation", severity: "error", path: [...segs(), prop], at: "key", message: `unknown field ${JSON.stringify(prop)} (${supported})` });
      continue;
    }
    if (e.keyword === "required") {
      const prop = String((e.params as { missingProperty: string }).missingProperty);
      const id = `${e.instancePath}\u0000!${prop}`;
      if (seen.has(id)) continue;
      seen.add(id);
      issues.push({ code: "SchemaViolation", severity: "error", path: [...segs(), prop], at: "value", message: `missing required field ${JSON.stringify(prop)}` });
      continue;
    }
    if (e.keyword === UNSUPPORTED_KEYWORD) {
      const path = segs();
      const name = path[path.length - 1];
      issues.push({ code: "SchemaViolation", severity: "error", path, at: "key", message: `${JSON.stringify(name)} is not supported by coxswain: ${String(e.schema)}` });
      continue;
    }
    if (e.keyword === "propertyNames") continue; // summarised by the errors about the key itself
    if (e.propertyName !== undefined) {
      const id = `${e.instancePath}\u0000${e.propertyName}`;
      let g = byKey.get(id);
      if (!g) byKey.set(id, (g = { pointer: e.instancePath, key: e.propertyName, errors: [] }));
      g.errors.push(e);
      continue;
    }
    let g = byValue.get(e.instancePath);
    if (!g) byValue.set(e.instancePath, (g = []));
    g.push(e);
  }

  for (const [pointer, errs] of byValue) {
    const path = pointerToPath(pointer, data);
    issues.push({ code: "SchemaViolation", severity: "error", path, at: "value", message: valueMessage(errs, getAtPath(data, path), hidden(path)) });
  }
  for (const g of byKey.values()) {
    const path = [...pointerToPath(g.pointer, data), g.key];
    issues.push({ code: "SchemaViolation", severity: "error", path, at: "key", message: `key ${valueMessage(g.errors, g.key)}` });
  }
  return issues;
}

const TYPE_PHRASES: Record<string, string> = {
  integer: "an integer",
  number: "a number",
  string: "a string",
  boolean: "a boolean",
  object: "a mapping",
  array: "a list",
  null: "null",
};

/**
 * One message for all errors about one value: a type mismatch wins; otherwise every constraint it breaks.
 * A hidden value is described by its type only.
 */
function valueMessage(errs: readonly ErrorObject[], value: unknown, hide = false): string {
  const typeErrors = errs.filter((e) => e.keyword === "type");
  if (typeErrors.length > 0) {
    const types = new Set<string>();
    for (const e of typeErrors) for (const t of String((e.params as { type: string }).type).split(",")) types.add(t);
    const expected = [...types].map((t) => TYPE_PHRASES[t] ?? t).join(" or ");
    return `must be ${expected} (${hide ? `got ${typeName(value)}` : describeGot(value)})`;
  }
  const parts: string[] = [];
  for (const e of errs) {
    const p = constraintPhrase(e);
    if (p && !parts.includes(p)) parts.push(p);
  }
  if (parts.length === 0) parts.push("is not valid");
  return `${parts.join("; ")} (${hide ? "the value is not shown" : `got ${showValue(value)}`})`;
}

function constraintPhrase(e: ErrorObject): string | undefined {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "anyOf":
    case "oneOf":
    case "x-kubernetes-int-or-string":
    case "if":
      return undefined; // their branches' errors say what is wrong
    case "enum":
      return `must be one of ${(p.allowedValues as unknown[]).map((v) => (typeof v === "string" ? v : showValue(v))).join(", ")}`;
    case "const":
      return `must be ${showValue(p.allowedValue)}`;
    case "pattern": {
      const pattern = String(p.pattern);
      return `must be ${PATTERN_PHRASES[pattern] ?? `a string matching /${pattern}/`}`;
    }
    case "format":
      return `must be a valid ${String(p.format)}`;
    case "minimum":
      return `must be at least ${String(p.limit)}`;
    case "maximum":
      return `must be at most ${String(p.limit)}`;
    case "exclusiveMinimum":
      return `must be greater than ${String(p.limit)}`;
    case "exclusiveMaximum":
      return `must be less than ${String(p.limit)}`;
    case "multipleOf":
      return `must be a multiple of ${String(p.multipleOf)}`;
    case "minLength":
      return p.limit === 1 ? "must not be empty" : `must be at least ${String(p.limit)} characters long`;
    case "maxLength":
      return `must be at most ${String(p.limit)} characters long`;
    case "minItems":
      return `must have at least ${String(p.limit)} item(s)`;
    case "maxItems":
      return `must have at most ${String(p.limit)} item(s)`;
    case "minProperties":
      return `must have at least ${String(p.limit)} entr${p.limit === 1 ? "y" : "ies"}`;
    case "maxProperties":
      return `must have at most ${String(p.limit)} entr${p.limit === 1 ? "y" : "ies"}`;
    case "uniqueItems":
      return "must not contain duplicate items";
    default:
      return e.message ?? `breaks ${e.keyword}`;
  }
}
