/**
 * Scratch copies of the sources for `npm run mutate`: the directories the simulator (and,
 * optionally, the tests) import — `src`, `services`, `layers`, plus `test` when tests run — and
 * the config files, copied into a fresh temporary directory whose `node_modules` is a symlink to
 * the repository's. A mutation is written into the copy only; the working tree is never touched.
 * Node-only.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { applyMutation, describePatchError } from "./Mutation.js"
import type { Mutation } from "./Mutation.js"

const DIRS = ["src", "services", "layers"] as const
const FILES = ["package.json", "tsconfig.json", "vitest.config.ts"] as const

/** A file of the repository at `root`, or `undefined`. */
export const readRepoFile = (root: string, file: string): string | undefined => {
  const path = join(root, file)
  return existsSync(path) ? readFileSync(path, "utf8") : undefined
}

/**
 * Copies the sources at `root` into a new temporary directory and applies `mutation` (none: the
 * baseline). Returns the directory, or the patch errors (nothing is left behind then).
 */
export const makeScratch = (
  root: string,
  mutation: Mutation | undefined,
  options: { readonly withTests: boolean }
): { readonly _tag: "Ready"; readonly dir: string } | { readonly _tag: "PatchFailed"; readonly errors: ReadonlyArray<string> } => {
  let files: ReadonlyMap<string, string> = new Map()
  if (mutation !== undefined) {
    const patched = applyMutation(mutation, (f) => readRepoFile(root, f))
    if (patched._tag === "Failed") return { _tag: "PatchFailed", errors: patched.errors.map(describePatchError) }
    files = patched.files
  }
  const dir = mkdtempSync(join(tmpdir(), `kuilt-mutate-${mutation?.id ?? "baseline"}-`))
  for (const d of [...DIRS, ...(options.withTests ? ["test"] : [])]) cpSync(join(root, d), join(dir, d), { recursive: true })
  for (const f of FILES) if (existsSync(join(root, f))) cpSync(join(root, f), join(dir, f))
  symlinkSync(realpathSync(join(root, "node_modules")), join(dir, "node_modules"), "dir")
  for (const [file, text] of files) writeFileSync(join(dir, file), text)
  return { _tag: "Ready", dir }
}

/** Removes a scratch copy (its `node_modules` symlink is removed, never followed). */
export const removeScratch = (dir: string): void => {
  rmSync(dir, { recursive: true, force: true })
}
