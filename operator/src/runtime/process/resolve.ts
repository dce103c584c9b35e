/**
 * Program resolution for the process runtime, done before spawning so that a missing program is a
 * precise CommandNotFound instead of a wrapper shell exiting 127 later.
 */
import { accessSync, constants, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { CoxError } from "../../api/errors.js";

/** PATH used when neither the launch nor the operator's environment has one (Debian's default). */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolves `program` the way execvp does: a name containing "/" is a path (relative to `cwd`), any other
 * name is searched in the directories of `pathVar` in order (empty entries are skipped: searching the
 * working directory implicitly is a hazard). Returns the path to execute; throws CommandNotFound naming
 * the program, but not the PATH searched (it is the operator's environment), when nothing executable is found.
 */
export function resolveProgram(program: string, pathVar: string, cwd: string): string {
  if (program === "") {
    throw new CoxError("CommandNotFound", "the container's command is an empty string; expected a program name or path");
  }
  if (program.includes("/")) {
    const full = isAbsolute(program) ? program : resolve(cwd, program);
    if (isExecutableFile(full)) return full;
    throw new CoxError("CommandNotFound", `program "${program}" (${full}) does not exist or is not an executable file`, { details: { program, path: full } });
  }
  const dirs = pathVar.split(":").filter((d) => d !== "");
  for (const dir of dirs) {
    const candidate = join(isAbsolute(dir) ? dir : resolve(cwd, dir), program);
    if (isExecutableFile(candidate)) return candidate;
  }
  // The PATH itself is not shown: it is the operator's own unless the container's env sets one, and
  // this message goes to the status branch, which whoever can read the repository reads.
  throw new CoxError(
    "CommandNotFound",
    `program "${program}" is not an executable file in any directory of the container's PATH ` +
      `(${dirs.length} searched; the container's env PATH, else the operator's); install it, set PATH in env, or give its absolute path`,
    { details: { program, pathDirectories: dirs.length } },
  );
}
