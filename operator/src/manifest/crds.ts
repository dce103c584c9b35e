/**
 * The schemas coxswain validates against: crds/*.yaml, one CustomResourceDefinition per kind, found relative
 * to this module so that the sources (operator/src/manifest) and the build (operator/dist/manifest) both
 * reach the repository's (or the installed package's) crds/ folder three levels up.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { KINDS, type Kind } from "../api/objects.js";

/** Absolute path of the crds/ folder that ships with this copy of coxswain. */
export function resolveCrdDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../crds");
}

/** A JSON-schema object as read from YAML. */
export type JsonSchema = Record<string, unknown>;

/**
 * Reads the openAPIV3Schema of a kind's served version from its CRD file (KINDS names the file and the
 * apiVersion). Throws a plain Error when the file does not describe that kind and version: that is a
 * packaging bug, not a user error.
 */
export function readCrdSchema(kind: Kind, crdDir: string = resolveCrdDir()): JsonSchema {
  const { apiVersion, crd } = KINDS[kind];
  const file = path.join(crdDir, crd);
  const doc = YAML.parse(readFileSync(file, "utf8")) as {
    spec?: { group?: string; names?: { kind?: string }; versions?: { name?: string; served?: boolean; schema?: { openAPIV3Schema?: JsonSchema } }[] };
  };
  const slash = apiVersion.lastIndexOf("/");
  const group = slash < 0 ? "" : apiVersion.slice(0, slash);
  const version = apiVersion.slice(slash + 1);
  if (doc?.spec?.names?.kind !== kind || (doc.spec.group ?? "") !== group) {
    throw new Error(`${file} does not define ${kind} in group ${JSON.stringify(group)}`);
  }
  const v = doc.spec.versions?.find((x) => x.name === version && x.served !== false);
  const schema = v?.schema?.openAPIV3Schema;
  if (!schema) throw new Error(`${file} has no served version ${version} with an openAPIV3Schema`);
  return schema;
}
