/**
 * Everything that can be decided about one file on its own: YAML parsing, document-level checks, schema
 * validation, rules beyond the schema and defaulting. The result does not depend on the file's path or on
 * other files, which is what makes it cacheable by blob oid. Cross-document checks live in load.ts.
 */
import { DEFAULT_NAMESPACE, KINDS, describeApiVersions, isKind, makeKey, type DesiredObject } from "../api/objects.js";
import { deepFreeze, type CheckedDocument, type CheckedFile } from "./cache.js";
import { describeGot, showValue, type Issue } from "./issue.js";
import { decodeUtf8, firstControlCharacter } from "./decode.js";
import { LIMIT_FLAGS } from "./limits.js";
import { ignoredKind } from "./ignored.js";
import { FilePositions, MAX_FLOW_DEPTH, tooDeepFlow, yamlDocuments, type FileIssue, type ParsedDocument, type PositionIndex } from "./parse.js";
import { formatFieldPath } from "./paths.js";
import { SERVER_SET_ANNOTATIONS, SERVER_SET_METADATA_FIELDS, validateSchema } from "./schema.js";
import { applyDefaults, semanticIssues } from "./semantic.js";
import { documentKey, mightBeSops, openSopsFile, type AgeKeyring } from "./sops.js";

/**
 * What a document that is not a manifest is told: coxswain reads every YAML file under the manifest path,
 * so a Compose file, Helm values or a kustomization kept there is read too.
 */
const NOT_A_MANIFEST =
  "coxswain reads every *.yaml and *.yml under the manifest path, so keep other YAML (a Compose file, Helm values, a kustomization) out of it, or point --path (run, plan) or validate's directory at the folder of the manifests";

/** Where the list of kinds is, for messages about a kind (printed once by `coxswain kinds`, not in every message). */
const KINDS_POINTER = "`coxswain kinds` lists the kinds coxswain reads and those it ignores";

/**
 * Parses and checks one file's content (UTF-8 text or bytes). Bytes are decoded strictly (decode.ts): a
 * file that is not UTF-8 is one YamlSyntax error at its first invalid byte. A file with more non-empty
 * documents than `maxDocuments` is one TooManyDocuments error where the first document past the limit
 * starts, and none of its documents are returned (a commit is applied whole or not at all, so there is
 * nothing to gain from checking the rest). Documents are checked as they are parsed, so only one
 * document's syntax tree exists at a time — except in a SOPS file (manifest/sops.ts), which is decrypted
 * whole with `opts.age` (unlocked for this content before) and then checked; when it cannot be decrypted,
 * its SecretUndecryptable errors are the file's and none of its documents yields an object.
 */
export function checkFile(content: string | Uint8Array, opts: { maxDocuments?: number; age?: AgeKeyring } = {}): CheckedFile {
  let text: string;
  const bytes = typeof content === "string" ? Buffer.byteLength(content, "utf8") : content.byteLength;
  if (typeof content === "string") text = content;
  else {
    const decoded = decodeUtf8(content);
    if ("invalidAt" in decoded) {
      const { line, col, offset } = decoded.invalidAt;
      return {
        bytes,
        documentCount: 0,
        documents: [],
        issues: [
          { line, col, code: "YamlSyntax", severity: "error", field: "", message: `the file is not valid UTF-8 (byte 0x${content[offset]!.toString(16).padStart(2, "0")} at offset ${offset}); expected UTF-8 YAML` },
        ],
      };
    }
    text = decoded.text;
  }
  const control = firstControlCharacter(text);
  if (control) {
    const { line, col, code } = control;
    const name = `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
    const escaped = code === 0 ? "\\0" : code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).toUpperCase()}`;
    return {
      bytes,
      documentCount: 0,
      documents: [],
      issues: [
        {
          line,
          col,
          code: "YamlSyntax",
          severity: "error",
          field: "",
          message: `the file holds the control character ${name}, which YAML does not allow written as it is; expected printable text (in a double-quoted string it can be written as "${escaped}")`,
        },
      ],
    };
  }
  const deep = tooDeepFlow(text);
  if (deep) {
    return {
      bytes,
      documentCount: 0,
      documents: [],
      issues: [
        {
          ...deep,
          code: "YamlSyntax",
          severity: "error",
          field: "",
          message: `flow collections ([…], {…}) are nested deeper than ${MAX_FLOW_DEPTH} levels here; expected a manifest (one written as JSON nests about 20 deep)`,
        },
      ],
    };
  }
  const maxDocuments = opts.maxDocuments ?? Infinity;
  const positions = new FilePositions(text);
  const out: CheckedFile = { bytes, documentCount: 0, documents: [], issues: [] };
  // A SOPS file is one unit (its MAC covers every document): its documents are collected, then decrypted.
  const sops = mightBeSops(text);
  const parsed: ParsedDocument[] = [];
  for (const item of yamlDocuments(text, maxDocuments)) {
    if ("document" in item) {
      if (sops) parsed.push(item.document);
      else out.documents.push(checkDocument(item.document, positions, out.documents.length));
    } else if ("issue" in item) out.issues.push(item.issue);
    else if ("counted" in item) out.documentCount = item.counted;
    else {
      return {
        bytes,
        documentCount: maxDocuments + 1,
        stoppedAtLimit: maxDocuments,
        documents: [],
        issues: [
          {
            ...item.tooMany,
            code: "TooManyDocuments",
            severity: "error",
            field: "",
            message: `the file holds more than ${maxDocuments} YAML documents (this is document ${maxDocuments + 1}); split it into several files or raise ${LIMIT_FLAGS.maxDocumentsPerFile}`,
          },
        ],
      };
    }
  }
  if (!sops) return out;
  const opened = openSopsFile(text, opts.age);
  if (opened === undefined) {
    out.documents = parsed.map((d, i) => checkDocument(d, positions, i));
    return out;
  }
  out.keyDependent = true;
  if ("errors" in opened) {
    out.documents = parsed.map((d, i) => ({ start: d.start, positions, ordinal: i, issues: [], ...secretIdentity(d.data) }));
    for (const e of opened.errors) {
      // Named after the document the error sits in, when its kind and name are readable.
      const doc = out.documents.filter((d) => d.start.line <= e.line).at(-1);
      out.issues.push(doc?.identity ? { ...e, object: doc.identity.key } : e);
    }
    return out;
  }
  out.documents = parsed.map((d, i) => checkDocument({ ...d, data: opened.documents.get(documentKey(d.start)) ?? d.data }, positions, i));
  return out;
}

/**
 * The identity of a SOPS document that could not be decrypted, when its kind and name are in plain text
 * (encrypted_regex leaves them so), so that checks across objects still see the Secret.
 */
function secretIdentity(data: unknown): Pick<CheckedDocument, "identity"> {
  if (!isMapping(data) || data.kind !== "Secret" || !isMapping(data.metadata)) return {};
  const { name, namespace } = data.metadata;
  if (typeof name !== "string" || name === "" || name.startsWith("ENC[")) return {};
  return { identity: { kind: "Secret", key: makeKey("Secret", name, typeof namespace === "string" && !namespace.startsWith("ENC[") ? namespace : undefined) } };
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** True for null and for mappings that hold nothing but such values ({}, {loadBalancer: {}}): nothing said. */
function isEmptyValue(v: unknown): boolean {
  return v === null || (isMapping(v) && Object.values(v).every(isEmptyValue));
}

/**
 * How messages name an object: its key for the kinds coxswain reads (Deployment/shop/cart, Node/a), and
 * the same shape for the others (Kind/namespace/name when the kind is namespaced or the document names a
 * namespace, Kind/name otherwise). Undefined when the document has no usable name.
 */
function objectLabel(kind: string, metadata: unknown): string | undefined {
  if (!isMapping(metadata) || typeof metadata.name !== "string" || metadata.name === "") return undefined;
  const name = metadata.name;
  const namespace = typeof metadata.namespace === "string" && metadata.namespace !== "" ? metadata.namespace : undefined;
  if (isKind(kind)) return makeKey(kind, name, namespace);
  const namespaced = ignoredKind(kind)?.namespaced ?? namespace !== undefined;
  return namespaced ? `${kind}/${namespace ?? DEFAULT_NAMESPACE}/${name}` : `${kind}/${name}`;
}

/** How to rewrite an object written in an older apiVersion that Kubernetes still serves ("<kind> <apiVersion>" → hint). */
const OLD_API_VERSION_HINTS: Readonly<Record<string, string>> = {
  "HorizontalPodAutoscaler autoscaling/v1":
    ": write spec.targetCPUUtilizationPercentage: N as autoscaling/v2's metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: N}}}] (scaleTargetRef, minReplicas and maxReplicas stay as they are)",
};

/** The message for a kind coxswain neither reads nor ignores; a List and a kustomization get a hint of their own. */
function unknownKindMessage(kind: string, apiVersion: string): string {
  if (kind === "List") {
    return `a List (what kubectl get -o yaml prints for several objects) is not read: write each of its items as a YAML document of its own, separated by "---"`;
  }
  if (kind === "Kustomization") {
    return `a kustomization is not a manifest: coxswain does not run kustomize; commit what \`kubectl kustomize\` renders and point --path at it`;
  }
  return `unknown kind ${showValue(kind)} (apiVersion ${apiVersion}): coxswain neither runs nor ignores it; ${KINDS_POINTER}`;
}

/**
 * Runs the per-document pipeline: identity, kinds coxswain ignores, server-set fields, schema, cluster
 * scope, rules, defaults. Every issue of a document that says what it is carries the object's name.
 */
function checkDocument(doc: ParsedDocument, positions: FilePositions, ordinal: number): CheckedDocument {
  const issues: Issue[] = [];
  let object: string | undefined;
  const result = (extra: Partial<CheckedDocument> = {}): CheckedDocument => ({
    start: doc.start,
    positions,
    ordinal,
    issues: issues.map((i) => place(i, doc.positions(), object)),
    ...extra,
  });
  const invalid = (path: string[], message: string): CheckedDocument => {
    issues.push({ code: "InvalidDocument", severity: "error", path, at: "value", message });
    return result();
  };

  const data = doc.data;
  if (!isMapping(data)) return invalid([], `a document must be a mapping with apiVersion, kind and metadata (${describeGot(data)}); if this file is not a Kubernetes manifest: ${NOT_A_MANIFEST}`);
  const kind = data.kind;
  const apiVersion = data.apiVersion;
  if (kind === undefined && apiVersion === undefined) return invalid([], `no "apiVersion" and no "kind", so this is not a Kubernetes manifest: ${NOT_A_MANIFEST}`);
  if (kind === undefined) return invalid(["kind"], `missing "kind" (Deployment, Service, …); if this file is not a Kubernetes manifest: ${NOT_A_MANIFEST}`);
  if (typeof kind !== "string") return invalid(["kind"], `"kind" must be a string (${describeGot(kind)})`);
  object = objectLabel(kind, data.metadata);
  const ignored = ignoredKind(kind);
  if (apiVersion === undefined) {
    const expected = isKind(kind) ? `; ${kind} is ${describeApiVersions(kind)}` : ignored ? `; ${kind} is ${ignored.apiVersions.join(" or ")}` : "";
    return invalid(["apiVersion"], `missing "apiVersion"${expected}`);
  }
  if (typeof apiVersion !== "string") return invalid(["apiVersion"], `"apiVersion" must be a string (${describeGot(apiVersion)})`);
  if (!isKind(kind) && !ignored) {
    issues.push({ code: "UnknownKind", severity: "error", path: ["kind"], at: "value", message: unknownKindMessage(kind, apiVersion) });
    return result();
  }
  const apiVersions = isKind(kind) ? KINDS[kind].apiVersions : ignored!.apiVersions;
  if (!apiVersions.includes(apiVersion)) {
    issues.push({
      code: "UnsupportedApiVersion",
      severity: "error",
      path: ["apiVersion"],
      at: "value",
      message: `${kind} is accepted as apiVersion ${apiVersions.join(" or ")} (got ${showValue(apiVersion)})${OLD_API_VERSION_HINTS[`${kind} ${apiVersion}`] ?? ""}`,
    });
    return result();
  }
  const metadata = data.metadata;
  if (metadata === undefined) return invalid(["metadata"], `missing "metadata"; expected a mapping with at least "name"`);
  if (!isMapping(metadata)) return invalid(["metadata"], `"metadata" must be a mapping with at least "name" (${describeGot(metadata)})`);
  const name = metadata.name;
  if (name === undefined) return invalid(["metadata", "name"], `missing "metadata.name"; every object needs a name`);
  if (typeof name !== "string" || name === "") return invalid(["metadata", "name"], `"metadata.name" must be a non-empty string (${describeGot(name)})`);

  if (!isKind(kind)) {
    // A kind coxswain ignores (unknown ones were refused above), read for its name only: nothing of it is
    // used, so its fields are not checked.
    issues.push({ code: "IgnoredKind", severity: "warning", path: ["kind"], at: "value", message: `${kind} is ignored: ${ignored!.why}` });
    return result({ ignored: true });
  }
  const namespace = typeof metadata.namespace === "string" ? metadata.namespace : undefined;
  const identity = { kind, key: makeKey(kind, name, namespace) };

  // Fields the API server sets (kubectl get -o yaml): reported, then dropped so the schema does not see them.
  // A null one (kubectl create --dry-run=client writes creationTimestamp: null) and an empty status say
  // nothing and are dropped without a word.
  const serverSet = (path: string[], who = "the API server sets it"): void => {
    issues.push({ code: "SchemaViolation", severity: "warning", path, at: "key", message: `is ignored: ${who}` });
  };
  for (const f of SERVER_SET_METADATA_FIELDS) {
    if (!(f in metadata)) continue;
    if (metadata[f] !== null) serverSet(["metadata", f]);
    delete metadata[f];
  }
  const annotations = metadata.annotations;
  if (isMapping(annotations)) {
    const before = Object.keys(annotations).length;
    for (const [a, who] of Object.entries(SERVER_SET_ANNOTATIONS)) {
      if (!(a in annotations)) continue;
      serverSet(["metadata", "annotations", a], who);
      delete annotations[a];
    }
    if (before > 0 && Object.keys(annotations).length === 0) delete metadata.annotations;
  }
  if ("status" in data) {
    if (!isEmptyValue(data.status)) serverSet(["status"], "the API server sets it (coxswain writes status to its status branch)");
    delete data.status;
  }
  // A pod template's metadata as kubectl writes it: creationTimestamp: null.
  const template = isMapping(data.spec) && isMapping(data.spec.template) && isMapping(data.spec.template.metadata) ? data.spec.template.metadata : undefined;
  if (template && "creationTimestamp" in template) {
    if (template.creationTimestamp !== null) {
      issues.push({
        code: "SchemaViolation",
        severity: "warning",
        path: ["spec", "template", "metadata", "creationTimestamp"],
        at: "key",
        message: "is ignored: a pod template has no creation time of its own",
      });
    }
    delete template.creationTimestamp;
  }

  issues.push(...validateSchema(kind, data));
  if (!KINDS[kind].namespaced && metadata.namespace !== undefined) {
    issues.push({
      code: "InvalidField",
      severity: "error",
      path: ["metadata", "namespace"],
      at: "value",
      message: `${kind} is cluster-scoped: metadata.namespace must be omitted (got ${showValue(metadata.namespace)})`,
    });
  }
  const hasError = (): boolean => issues.some((i) => i.severity === "error");
  if (hasError()) return result({ identity });

  const obj = data as unknown as DesiredObject;
  issues.push(...semanticIssues(obj));
  if (hasError()) return result({ identity });
  applyDefaults(obj);
  return result({ identity, object: deepFreeze(obj) });
}

/** Gives an issue its line:col (the key's position for unknown fields and bad keys, the value's otherwise) and the object it is about. */
function place(issue: Issue, positions: PositionIndex, object: string | undefined): FileIssue {
  const pos = issue.at === "key" ? positions.locateKey(issue.path) : positions.locate(issue.path);
  return {
    line: pos.line,
    col: pos.col,
    code: issue.code,
    severity: issue.severity,
    ...(object !== undefined ? { object } : {}),
    field: formatFieldPath(issue.path),
    message: issue.message,
  };
}
