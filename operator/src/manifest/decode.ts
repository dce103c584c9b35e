/**
 * Bytes → text for manifests: strict UTF-8, the one decoding both the operator and `coxswain validate`
 * use. Lenient decoding would turn a stray byte into U+FFFD and apply it (a container once got the
 * environment value "a\uFFFDb" where the file had "a\xFFb"); a file that is not UTF-8 is an error instead,
 * placed at the first byte that is not. So is a control character (NUL, BEL, ESC, DEL, …) written as it is:
 * YAML allows only printable characters in a stream, Kubernetes' reader refuses them ("control characters
 * are not allowed"), and a NUL byte in a value cannot reach a process's environment or arguments at all.
 */
import type { LineCol } from "./parse.js";

/** The text, or where the first byte that is not UTF-8 sits. */
export type Decoded = { text: string } | { invalidAt: LineCol & { offset: number } };

const fatal = new TextDecoder("utf-8", { fatal: true });
const lenient = new TextDecoder("utf-8");

/**
 * Decodes UTF-8 strictly (a leading byte-order mark is dropped, as TextDecoder does). For invalid input,
 * the line and column of the first offending byte: lines counted by "\n", the column in characters of the
 * valid text before it on its line (the unit the YAML parser's columns use), both 1-based.
 */
export function decodeUtf8(bytes: Uint8Array): Decoded {
  try {
    return { text: fatal.decode(bytes) };
  } catch {
    const offset = firstInvalidUtf8(bytes);
    const lineStart = offset === 0 ? 0 : bytes.lastIndexOf(0x0a, offset - 1) + 1;
    let line = 1;
    for (let i = 0; i < lineStart; i++) if (bytes[i] === 0x0a) line++;
    // The lenient decoder drops a leading byte-order mark too, so columns match the parser's.
    const before = lenient.decode(bytes.subarray(lineStart, offset));
    return { invalidAt: { line, col: before.length + 1, offset } };
  }
}

/**
 * Offset of the first byte that does not start or continue a well-formed UTF-8 sequence (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF); bytes.length when all are well-formed.
 */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0; // overlong
      if (b === 0xed) hi = 0x9f; // surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90; // overlong
      if (b === 0xf4) hi = 0x8f; // above U+10FFFF
    } else return i;
    if (i + need > n - 1) return i; // cut off at the end of the file
    const second = bytes[i + 1]!;
    if (second < lo || second > hi) return i;
    for (let k = 2; k <= need; k++) {
      const c = bytes[i + k]!;
      if (c < 0x80 || c > 0xbf) return i;
    }
    i += need + 1;
  }
  return n;
}

/**
 * Characters YAML 1.2 does not allow in a stream (outside its printable set: tab, LF, CR, U+0020–U+007E,
 * U+0085, U+00A0–U+D7FF, U+E000–U+FFFD and above); in a double-quoted string they can be written escaped.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what this pattern finds
const NOT_PRINTABLE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u0084\u0086-\u009F\uFFFE\uFFFF]/;

/** The first character of text that YAML does not allow written as it is, with its line and column (1-based, as the parser counts). */
export function firstControlCharacter(text: string): (LineCol & { code: number }) | undefined {
  const m = NOT_PRINTABLE.exec(text);
  if (!m) return undefined;
  const lineStart = text.lastIndexOf("\n", m.index - 1) + 1;
  let line = 1;
  for (let i = text.indexOf("\n"); i !== -1 && i < lineStart; i = text.indexOf("\n", i + 1)) line++;
  return { line, col: m.index - lineStart + 1, code: m[0].charCodeAt(0) };
}
