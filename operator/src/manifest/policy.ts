/**
 * The operator's policy file (`--policy-file`): what pods of a namespace may ask for beyond an ordinary
 * container — privileged containers, the node's process and IPC namespaces, hostPath volumes, added Linux
 * capabilities. Default deny: without a file, or in a namespace the file does not name (and no "*" entry),
 * none of it is allowed. A pod template that asks for more than its namespace allows is a PolicyDenied error
 * at the field, so the commit applies nothing (load.ts runs policyDiagnostics on every reading: the
 * operator's commits, proposals, `plan` and `validate`).
 *
 *     namespaces:
 *       "*":        { allowedCapabilities: [NET_BIND_SERVICE] }
 *       monitoring: { allowPrivileged: true, allowHostPID: true, allowedCapabilities: [NET_ADMIN, SYS_TIME] }
 *
 * A namespace's own entry is used whole (it does not inherit from "*"); unset keys are false / empty.
 */
import { readFileSync } from "node:fs";
import { capabilityName } from "../api/capabilities.js";
import { CoxError } from "../api/errors.js";
import { podTemplated } from "../api/objects.js";
import { parseYamlFile } from "./parse.js";
import { formatFieldPath, type PathSegment } from "./paths.js";
import { DNS1123_LABEL } from "./schema.js";
import type { Diagnostic, ManifestObject } from "./types.js";

/** What the pods of one namespace may ask for. allowedCapabilities holds bare names (api/capabilities.ts) or "*" for any. */
export interface NamespacePolicy {
  allowPrivileged: boolean;
  allowHostPath: boolean;
  allowHostPID: boolean;
  allowHostIPC: boolean;
  allowedCapabilities: readonly string[];
}

/** A loaded policy file: its path (for messages) and its entries by namespace name or "*". */
export interface Policy {
  file: string;
  namespaces: ReadonlyMap<string, NamespacePolicy>;
}

const DENY: NamespacePolicy = Object.freeze({ allowPrivileged: false, allowHostPath: false, allowHostPID: false, allowHostIPC: false, allowedCapabilities: [] });
const FLAGS = ["allowPrivileged", "allowHostPath", "allowHostPID", "allowHostIPC"] as const;
const NAMESPACE = new RegExp(DNS1123_LABEL);

/**
 * Parses a policy file's text. Every problem is reported at once, as "<file>:<line>:<col>: <field>: <what
 * was expected>", in one InvalidArgument error: the operator does not start with a policy it misread.
 */
export function parsePolicy(text: string, file: string): Policy {
  const parsed = parseYamlFile(text);
  const problems: string[] = parsed.issues.map((i) => `${file}:${i.line}:${i.col}: ${i.message}`);
  const doc = parsed.documents[0];
  if (problems.length === 0 && (!doc || parsed.documents.length > 1)) problems.push(`${file}:1:1: expected one YAML document, a mapping with "namespaces"`);
  const namespaces = new Map<string, NamespacePolicy>();
  if (problems.length === 0 && doc) {
    const at = (path: readonly PathSegment[], message: string) => {
      const { line, col } = doc.positions().locate(path);
      problems.push(`${file}:${line}:${col}: ${path.length > 0 ? `${formatFieldPath(path)}: ` : ""}${message}`);
    };
    const root = doc.data;
    if (!isMapping(root)) at([], 'expected a mapping with namespaces: { <namespace or "*">: { allowPrivileged, allowHostPID, allowHostIPC, allowHostPath, allowedCapabilities } }');
    else {
      for (const key of Object.keys(root)
        .filter((k) => k !== "namespaces")
        .sort())
        at([key], 'unknown field; expected only "namespaces"');
      const entries = root.namespaces;
      if (!isMapping(entries)) at(["namespaces"], 'expected a mapping of namespace names (or "*" for every other namespace) to what their pods may do');
      else {
        for (const [ns, value] of Object.entries(entries)) {
          const path = ["namespaces", ns];
          if (ns !== "*" && !NAMESPACE.test(ns)) at(path, `${JSON.stringify(ns)} is not a namespace name (lower-case letters, digits and '-', at most 63) or "*"`);
          if (!isMapping(value)) {
            at(path, `expected a mapping with ${FLAGS.join(", ")} (true or false) and allowedCapabilities (a list)`);
            continue;
          }
          const entry = { ...DENY, allowedCapabilities: [] as string[] };
          for (const [field, v] of Object.entries(value)) {
            if ((FLAGS as readonly string[]).includes(field)) {
              if (typeof v === "boolean") entry[field as (typeof FLAGS)[number]] = v;
              else at([...path, field], `expected true or false (got ${JSON.stringify(v)})`);
            } else if (field === "allowedCapabilities") {
              if (!Array.isArray(v)) at([...path, field], 'expected a list of capability names like NET_ADMIN, or "*" for any');
              else
                v.forEach((name: unknown, i) => {
                  const bare = typeof name === "string" ? (name === "*" ? "*" : capabilityName(name)) : undefined;
                  if (bare === undefined) at([...path, field, i], `${JSON.stringify(name)} is not a Linux capability; expected a name like NET_ADMIN or CAP_NET_ADMIN, ALL, or "*" for any`);
                  else entry.allowedCapabilities.push(bare);
                });
            } else at([...path, field], `unknown field; expected ${FLAGS.join(", ")} or allowedCapabilities`);
          }
          namespaces.set(ns, Object.freeze({ ...entry, allowedCapabilities: Object.freeze([...new Set(entry.allowedCapabilities)].sort()) }));
        }
      }
    }
  }
  if (problems.length > 0) throw new CoxError("InvalidArgument", `the policy file is not valid:\n${problems.join("\n")}`, { details: { file } });
  return { file, namespaces };
}

/** Reads and parses a policy file (parsePolicy); InvalidArgument when it cannot be read. */
export function loadPolicyFile(path: string): Policy {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new CoxError("InvalidArgument", `--policy-file: cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parsePolicy(text, path);
}

/** What `namespace` is allowed: its own entry, else "*", else nothing. */
function namespacePolicy(policy: Policy | undefined, namespace: string): { rule: NamespacePolicy; source: string } {
  if (!policy) return { rule: DENY, source: "no policy file is given (--policy-file), so none of it is allowed" };
  const own = policy.namespaces.get(namespace);
  if (own) return { rule: own, source: `the policy file ${policy.file} does not allow it for namespace ${JSON.stringify(namespace)}` };
  const any = policy.namespaces.get("*");
  if (any) return { rule: any, source: `the policy file ${policy.file} does not allow it in its "*" entry, and has none for namespace ${JSON.stringify(namespace)}` };
  return { rule: DENY, source: `the policy file ${policy.file} names neither namespace ${JSON.stringify(namespace)} nor "*", so none of it is allowed there` };
}

/**
 * PolicyDenied errors for the pod templates of `objects` that ask for more than their namespace allows:
 * privileged containers, hostPID, hostIPC, hostPath volumes and capabilities added beyond
 * allowedCapabilities. Each error points at the field; sorted by the caller with the other diagnostics.
 */
export function policyDiagnostics(policy: Policy | undefined, objects: readonly ManifestObject[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const m of objects) {
    const templated = podTemplated(m.object);
    if (!templated) continue;
    const namespace = m.object.metadata.namespace ?? "default";
    const { rule, source } = namespacePolicy(policy, namespace);
    const spec = templated.owner.spec.template.spec;
    const base: PathSegment[] = templated.path(["spec", "template", "spec"]);
    const deny = (path: PathSegment[], what: string) => out.push({ ...m.locate(path), code: "PolicyDenied", severity: "error", field: formatFieldPath(path), message: `${what} is not allowed: ${source}` });
    if (spec.hostPID === true && !rule.allowHostPID) deny([...base, "hostPID"], "hostPID (sharing the node's process namespace)");
    if (spec.hostIPC === true && !rule.allowHostIPC) deny([...base, "hostIPC"], "hostIPC (sharing the node's IPC namespace)");
    // hostPath volumes: the volumes field is typed by the volume schema where coxswain supports them.
    const volumes = (spec as { volumes?: readonly { hostPath?: unknown }[] }).volumes ?? [];
    volumes.forEach((v, i) => {
      if (v.hostPath !== undefined && !rule.allowHostPath) deny([...base, "volumes", i, "hostPath"], "a hostPath volume (a directory of the node)");
    });
    const all = [...(spec.initContainers ?? []).map((c, ci) => ({ c, at: [...base, "initContainers", ci] })), ...spec.containers.map((c, ci) => ({ c, at: [...base, "containers", ci] }))];
    all.forEach(({ c, at }) => {
      const sc = c.securityContext;
      if (!sc) return;
      const path: PathSegment[] = [...at, "securityContext"];
      if (sc.privileged === true && !rule.allowPrivileged) deny([...path, "privileged"], `privileged (container ${JSON.stringify(c.name)} with every capability and device of the node)`);
      (sc.capabilities?.add ?? []).forEach((name, i) => {
        const bare = capabilityName(name);
        if (bare === undefined || rule.allowedCapabilities.includes("*") || rule.allowedCapabilities.includes(bare)) return;
        deny([...path, "capabilities", "add", i], `adding capability ${bare}`);
      });
    });
  }
  return out;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
