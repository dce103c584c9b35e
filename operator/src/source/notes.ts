/** Git notes of a GitRepository (source/repository.ts): one note per commit under a notes ref, read in the git CLI's layouts. */
import * as git from "isomorphic-git";
import type { TreeEntry } from "isomorphic-git";
import { RepositoryCommits } from "./commits.js";
import { gitFs as fs } from "./fs.js";
import { assertRefName } from "./refs.js";

/** The notes of a GitRepository. */
export class RepositoryNotes extends RepositoryCommits {
  /**
   * Sets the note on `commit` under notesRef, replacing an earlier one; no new notes commit when the text
   * is unchanged. Notes are stored flat (one entry per annotated commit at the tree root), as
   * isomorphic-git's addNote does. Caveat: the git CLI switches a notes tree to fan-out (ab/cdef…) once it
   * holds ~256 notes; we read fan-out entries (readNote) but always write flat, so keep notes to small
   * per-commit markers and the real record on the status branch.
   */
  async setNote(notesRef: string, commit: string, text: string): Promise<void> {
    assertRefName(notesRef);
    const body = text.endsWith("\n") ? text : `${text}\n`;
    await this.locks.refs.run(notesRef, () =>
      this.locks.gate.shared(async () => {
        const current = await this.readRef(notesRef);
        if (current !== undefined && (await this.readNoteAt(current, commit)) === body) return;
        const entries: TreeEntry[] = current === undefined ? [] : (await this.readTreeOf(current)).filter((e) => e.path !== commit);
        const blob = await git.writeBlob({ fs, gitdir: this.gitdir, blob: new TextEncoder().encode(body) });
        entries.push({ mode: "100644", path: commit, oid: blob, type: "blob" });
        const tree = await git.writeTree({ fs, gitdir: this.gitdir, tree: entries });
        const oid = await this.writeCommitObject(tree, current === undefined ? [] : [current], "Notes added by 'git notes add'\n");
        await this.moveRef(notesRef, oid, current);
      }),
    );
  }

  /** The note on commit under notesRef (flat or fan-out layout), without the trailing newline git adds. */
  async readNote(notesRef: string, commit: string): Promise<string | undefined> {
    const tip = await this.readRef(notesRef);
    if (tip === undefined) return undefined;
    const text = await this.readNoteAt(tip, commit);
    return text === undefined ? undefined : text.replace(/\n$/, "");
  }

  /** Note text at a notes commit: flat "<oid>", then fan-out "ab/<rest>" and "ab/cd/<rest>" (the git CLI's layouts). */
  private async readNoteAt(notesCommit: string, commit: string): Promise<string | undefined> {
    const paths = [commit, `${commit.slice(0, 2)}/${commit.slice(2)}`, `${commit.slice(0, 2)}/${commit.slice(2, 4)}/${commit.slice(4)}`];
    for (const filepath of paths) {
      try {
        const { blob } = await this.withFreshCacheRetry(() => git.readBlob({ fs, gitdir: this.gitdir, cache: this.cache, oid: notesCommit, filepath }));
        return new TextDecoder().decode(blob);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code !== "NotFoundError" && code !== "ObjectTypeError") throw err;
      }
    }
    return undefined;
  }
}
