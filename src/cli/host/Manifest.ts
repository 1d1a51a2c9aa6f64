/**
 * `cluster.json` in a `kuilt cluster` data directory: which nodes the process runs and which of
 * them founded the cluster, so a restart brings back the same nodes (each resumes from its own
 * SQLite file; the membership itself is in the Raft log).
 */
import { FileSystem } from "@effect/platform"
import { Effect, Option, Schema } from "effect"
import { join } from "node:path"

export const Manifest = Schema.Struct({
  format: Schema.Literal(1),
  /** The founding voters (every founder boots with this configuration). */
  founders: Schema.Array(Schema.String),
  /** Every node this process runs, founders first, then nodes added later. */
  nodes: Schema.Array(Schema.String)
})
export type Manifest = typeof Manifest.Type

const Json = Schema.parseJson(Manifest, { space: 2 })

export const MANIFEST_FILE = "cluster.json"

/** Reads the manifest of `dir`, `None` when there is none; fails with a readable reason. */
export const read = (dir: string): Effect.Effect<Option.Option<Manifest>, string, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const file = join(dir, MANIFEST_FILE)
    if (!(yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false)))) return Option.none()
    const text = yield* fs.readFileString(file).pipe(Effect.mapError((e) => `cannot read ${file}: ${e.message}`))
    const m = yield* Schema.decodeUnknown(Json)(text).pipe(Effect.mapError((e) => `${file} is not a kuilt cluster manifest: ${e.message.split("\n")[0]}`))
    return Option.some(m)
  })

/** Writes the manifest of `dir` atomically (a temporary file renamed over the old one). */
export const write = (dir: string, m: Manifest): Effect.Effect<void, string, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const file = join(dir, MANIFEST_FILE)
    const tmp = `${file}.tmp`
    const text = yield* Schema.encode(Json)(m).pipe(Effect.mapError((e) => `cannot encode the manifest: ${e.message}`))
    yield* fs.writeFileString(tmp, `${text}\n`).pipe(Effect.mapError((e) => `cannot write ${tmp}: ${e.message}`))
    yield* fs.rename(tmp, file).pipe(Effect.mapError((e) => `cannot write ${file}: ${e.message}`))
  })

/** The SQLite file of node `id` in `dir` (ids are escaped, so any id makes a plain file name). */
export const nodeFile = (dir: string, id: string): string => join(dir, `node-${encodeURIComponent(id)}.sqlite`)
