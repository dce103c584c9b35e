/**
 * Everything that can be decided about one file on its own: YAML parsing, document-level checks, schema
 * validation, rules beyond the schema and defaulting. The result does not depend on the file's path or on
 * other files, which is what makes it cacheable by blob oid. Cross-document checks live in load.ts.
 */
import { KINDS, describeApiVersions, isKind, makeKey, type DesiredObject, type Kind } from "../api/objects.js";
import { deepFreeze, type CheckedDocument, type CheckedFile } from "./cache.js";
import { describeGot, showValue, type Issue } from "./issue.js";
import { decodeUtf8 } from "./decode.js";
import { LIMIT_FLAGS } from "./limits.js";
import { FilePositions, yamlDocuments, type FileIssue, type ParsedDocument, type PositionIndex } from "./parse.js";
import { formatFieldPath } from "./paths.js";
import { SERVER_SET_METADATA_FIELDS, validateSchema } from "./schema.js";
import { applyDefaults, semanticIssues } from "./semantic.js";

/** The supported kinds with their apiVersions, sorted, for messages. */
function supportedKinds(): string {
  return (Object.keys(KINDS) as Kind[])
    .sort()
    .map((k) => `${k} (${describeApiVersions(k)})`)
    .join(", ");
}

/**
 * Parses and checks one file's content (UTF-8 text or bytes). Bytes are decoded strictly (decode.ts): a
 * file that is not UTF-8 is one YamlSyntax error at its first invalid byte. A file with more non-empty
 * documents than `maxDocuments` is one TooManyDocuments error where the first document past the limit
 * starts, and none of its documents are returned (a commit is applied whole or not at all, so there is
 * nothing to gain from checking the rest). Documents are checked as they are parsed, so only one
 * document's syntax tree exists at a time.
 */
export function checkFile(content: string | Uint8Array, opts: { maxDocuments?: number } = {}): CheckedFile {
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
        issues: [{ line, col, code: "YamlSyntax", severity: "error", field: "", message: `the file is not valid UTF-8 (byte 0x${content[offset]!.toString(16).padStart(2, "0")} at offset ${offset}); expected UTF-8 YAML` }],
      };
    }
    text = decoded.text;
  }
  const maxDocuments = opts.maxDocuments ?? Infinity;
  const positions = new FilePositions(text);
  const out: CheckedFile = { bytes, documentCount: 0, documents: [], issues: [] };
  for (const item of yamlDocuments(text, maxDocuments)) {
    if ("document" in item) out.documents.push(checkDocument(item.document, positions, out.documents.length));
    else if ("issue" in item) out.issues.push(item.issue);
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
  return out;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Runs the per-document pipeline: identity, server-set fields, schema, cluster scope, rules, defaults. */
export function checkDocument(doc: ParsedDocument, positions: FilePositions, ordinal: number): CheckedDocument {
  const issues: Issue[] = [];
  const result = (extra: Partial<CheckedDocument> = {}): CheckedDocument => ({
    start: doc.start,
    positions,
    ordinal,
    issues: issues.map((i) => place(i, doc.positions())),
    ...extra,
  });
  const invalid = (path: string[], message: string): CheckedDocument => {
    issues.push({ code: "InvalidDocument", severity: "error", path, at: "value", message });
    return result();
  };

  const data = doc.data;
  if (!isMapping(data)) return invalid([], `a document must be a mapping with apiVersion, kind and metadata (${describeGot(data)})`);
  const kind = data.kind;
  if (kind === undefined) return invalid(["kind"], `missing "kind"; expected one of ${supportedKinds()}`);
  if (typeof kind !== "string") return invalid(["kind"], `"kind" must be a string (${describeGot(kind)})`);
  const apiVersion = data.apiVersion;
  if (apiVersion === undefined) return invalid(["apiVersion"], `missing "apiVersion"${isKind(kind) ? `; ${kind} is ${describeApiVersions(kind)}` : ""}`);
  if (typeof apiVersion !== "string") return invalid(["apiVersion"], `"apiVersion" must be a string (${describeGot(apiVersion)})`);
  if (!isKind(kind)) {
    issues.push({
      code: "UnknownKind",
      severity: "error",
      path: ["kind"],
      at: "value",
      message: `unknown kind ${showValue(kind)} (apiVersion ${apiVersion}); coxswain supports ${supportedKinds()}`,
    });
    return result();
  }
  if (!KINDS[kind].apiVersions.includes(apiVersion)) {
    issues.push({
      code: "UnsupportedApiVersion",
      severity: "error",
      path: ["apiVersion"],
      at: "value",
      message: `${kind} is accepted as apiVersion ${describeApiVersions(kind)} (got ${showValue(apiVersion)})`,
    });
    return result();
  }
  const metadata = data.metadata;
  if (metadata === undefined) return invalid(["metadata"], `missing "metadata"; expected a mapping with at least "name"`);
  if (!isMapping(metadata)) return invalid(["metadata"], `"metadata" must be a mapping with at least "name" (${describeGot(metadata)})`);
  const name = metadata.name;
  if (name === undefined) return invalid(["metadata", "name"], `missing "metadata.name"; every object needs a name`);
  if (typeof name !== "string" || name === "") return invalid(["metadata", "name"], `"metadata.name" must be a non-empty string (${describeGot(name)})`);

  const namespace = typeof metadata.namespace === "string" ? metadata.namespace : undefined;
  const identity = { kind, key: makeKey(kind, name, namespace) };

  // Fields the API server sets (kubectl get -o yaml): reported, then dropped so the schema does not see them.
  for (const f of SERVER_SET_METADATA_FIELDS) {
    if (!(f in metadata)) continue;
    issues.push({ code: "SchemaViolation", severity: "warning", path: ["metadata", f], at: "key", message: `metadata.${f} is ignored, set by the server` });
    delete metadata[f];
  }
  if ("status" in data) {
    issues.push({ code: "SchemaViolation", severity: "warning", path: ["status"], at: "key", message: "status is ignored, set by the server (coxswain writes status to its status branch)" });
    delete data.status;
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

/** Gives an issue its line:col: the key's position for unknown fields and bad keys, the value's otherwise. */
function place(issue: Issue, positions: PositionIndex): FileIssue {
  const pos = issue.at === "key" ? positions.locateKey(issue.path) : positions.locate(issue.path);
  return { line: pos.line, col: pos.col, code: issue.code, severity: issue.severity, field: formatFieldPath(issue.path), message: issue.message };
}
