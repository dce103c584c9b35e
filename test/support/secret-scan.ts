/**
 * The suite's one scan for Secret values (a Secret's values must never reach what coxswain writes or
 * prints: the status branch, its plans/, the notes, its log, `plan`, `status` and `history` output). A test
 * gathers those texts, each named by where it came from, and asks where any value appears — as written,
 * and in base64 at any byte offset: whole (a Secret's `data`) or inside a longer base64 text (the `auth` of a
 * .dockerconfigjson, which encodes "user:password"). The answer names the value by its position and the
 * text by where, never repeating the value itself.
 */
import { runGit } from "./git-repo.js";

/** A text coxswain wrote or printed, and where it came from (for the failure message). */
export interface ScannedText {
  where: string;
  text: string;
}

/**
 * What coxswain wrote to Git in `repoDir`: `git log -p` of the status branch (every version of every file,
 * plans/ included) and of the notes ref. A ref that does not exist gives no text: a test asserts that what
 * it expects to be written is there (a name, a code) so that an empty scan cannot pass unnoticed.
 */
export async function gitWritten(repoDir: string, refs: { status?: string; notes?: string } = {}): Promise<ScannedText[]> {
  const texts: ScannedText[] = [];
  for (const ref of [refs.status ?? "coxswain/status", refs.notes ?? "refs/notes/coxswain"]) {
    const text = await runGit(["log", "-p", ref], { cwd: repoDir }).catch(() => undefined);
    if (text !== undefined) texts.push({ where: `git log -p ${ref}`, text });
  }
  return texts;
}

/**
 * The base64 characters that depend on `bytes` alone when they are encoded after 0, 1 or 2 other bytes:
 * whatever surrounds a value in a longer base64 text, one of these three is in it.
 */
function base64Cores(bytes: Buffer): string[] {
  return [0, 1, 2].map((k) => {
    const encoded = Buffer.concat([Buffer.alloc(k), bytes]).toString("base64");
    return encoded.slice(Math.ceil((8 * k) / 6), Math.floor((8 * (k + bytes.length)) / 6));
  });
}

/**
 * Where any of `values` appears in `texts`, plainly or in base64: one line per finding, e.g. "value 2
 * (base64) in git log -p coxswain/status"; empty when none does. Values shorter than 8 bytes are refused:
 * their base64 is too short to tell from chance.
 */
export function findSecrets(texts: readonly ScannedText[], values: readonly string[]): string[] {
  const found: string[] = [];
  values.forEach((value, i) => {
    const bytes = Buffer.from(value, "utf8");
    if (bytes.length < 8) throw new Error(`findSecrets: value ${i} is shorter than 8 bytes; give the test a longer secret`);
    const cores = base64Cores(bytes);
    for (const { where, text } of texts) {
      if (text.includes(value)) found.push(`value ${i} in ${where}`);
      else if (cores.some((c) => text.includes(c))) found.push(`value ${i} (base64) in ${where}`);
    }
  });
  return found;
}
