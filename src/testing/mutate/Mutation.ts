/**
 * A catalogued bug class (`catalogue.ts`) as anchored text patches: each names a file of the
 * repository, an exact anchor that must occur in it exactly once, and its replacement. Applied to
 * a scratch copy of the sources (`scratch.ts`), never to the working tree. A patch whose anchor is
 * missing or ambiguous is an error of the catalogue (the code moved), reported as such — never
 * counted as "not caught".
 */

/** One anchored replacement in one file (paths relative to the repository root). */
export interface Patch {
  readonly file: string
  /** Text that must occur exactly once in `file`. */
  readonly anchor: string
  readonly replacement: string
}

export interface Mutation {
  /** A short id, used on the command line (`--only`). */
  readonly id: string
  /** The bug class, as the table prints it. */
  readonly title: string
  /** Where it comes from: the issue's list, or a regression file under `test/regressions`. */
  readonly source: string
  readonly patches: ReadonlyArray<Patch>
}

/** Why a patch could not be applied. */
export interface PatchError {
  readonly file: string
  readonly reason: "AnchorMissing" | "AnchorAmbiguous" | "FileMissing"
  readonly anchor: string
}

const occurrences = (text: string, anchor: string): number => {
  let n = 0
  for (let at = text.indexOf(anchor); at >= 0; at = text.indexOf(anchor, at + 1)) n++
  return n
}

/**
 * Applies `mutation` to the files `read` returns (`undefined`: no such file): the patched texts by
 * file, or every patch that does not apply. Patches of one file apply in order, each to the
 * result of the previous.
 */
export const applyMutation = (
  mutation: Mutation,
  read: (file: string) => string | undefined
): { readonly _tag: "Patched"; readonly files: ReadonlyMap<string, string> } | { readonly _tag: "Failed"; readonly errors: ReadonlyArray<PatchError> } => {
  const files = new Map<string, string>()
  const errors: Array<PatchError> = []
  for (const p of mutation.patches) {
    const text = files.get(p.file) ?? read(p.file)
    if (text === undefined) {
      errors.push({ file: p.file, reason: "FileMissing", anchor: p.anchor })
      continue
    }
    const n = occurrences(text, p.anchor)
    if (n !== 1) {
      errors.push({ file: p.file, reason: n === 0 ? "AnchorMissing" : "AnchorAmbiguous", anchor: p.anchor })
      continue
    }
    files.set(p.file, text.replace(p.anchor, () => p.replacement))
  }
  return errors.length > 0 ? { _tag: "Failed", errors } : { _tag: "Patched", files }
}

/** One line describing a patch error (for the table and the test). */
export const describePatchError = (e: PatchError): string =>
  `${e.file}: ${e.reason === "FileMissing" ? "no such file" : e.reason === "AnchorMissing" ? "anchor not found" : "anchor occurs more than once"}: ${JSON.stringify(e.anchor.length > 80 ? `${e.anchor.slice(0, 77)}...` : e.anchor)}`
