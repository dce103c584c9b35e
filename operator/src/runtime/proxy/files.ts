/**
 * The files of a configuration (ProxyChange.files) as every node proxy takes them: plain names in the
 * proxy's files directory, never paths, so that a change cannot write anywhere else. Both managers check
 * them the same way before they write anything.
 */
import { CoxError } from "../../api/errors.js";
import type { ProxyChangeFile } from "./types.js";

/** A plain file name: letters, digits, '.', '_', '-', not starting with '.'. */
const FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/** Throws ProxyConfigInvalid for a file whose name is not a plain file name or ends in ".tmp" (the managers' names while a file is written). */
export function checkProxyFileNames(files: readonly ProxyChangeFile[]): void {
  for (const f of files) {
    if (!FILE_NAME.test(f.name) || f.name.endsWith(".tmp")) {
      throw new CoxError("ProxyConfigInvalid", `the node proxy's configuration names a file it cannot take: ${JSON.stringify(f.name)}`, { details: { file: f.name } });
    }
  }
}
