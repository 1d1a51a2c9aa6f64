/**
 * The custom storage of examples/custom-storage (a `RaftStorage` on `@effect/platform`'s
 * `KeyValueStore`) passes the RaftStorage conformance suite, imported from `kuilt/testing` as a
 * storage author would: on an in-memory store, on files (reopened = a process restart over the
 * same directory), and with a checkpoint after every write (so every case also exercises the
 * checkpoint slots and journal pruning).
 */
import { KeyValueStore } from "@effect/platform"
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import * as vitest from "@effect/vitest"
import { Effect, Layer } from "effect"
import { raftStorageConformance } from "kuilt/testing"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as KeyValueRaftStorage from "../../examples/custom-storage/KeyValueRaftStorage.js"

/** A fresh in-memory store for one test (kept by the handle, so a reopen sees the same data). */
const memoryStore = KeyValueStore.KeyValueStore.pipe(Effect.provide(KeyValueStore.layerMemory))

/** A store over a fresh temporary directory, removed with the test's scope. */
const fileStore = Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "kuilt-kv-storage-"))),
    (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true }))
  )
  return yield* KeyValueStore.KeyValueStore.pipe(
    Effect.provide(KeyValueStore.layerFileSystem(dir).pipe(Layer.provide([NodeFileSystem.layer, NodePath.layer])))
  )
}).pipe(Effect.orDie)

raftStorageConformance(vitest, "KeyValueRaftStorage on KeyValueStore.layerMemory", {
  make: () => Effect.flatMap(memoryStore, (store) => KeyValueRaftStorage.make(store)),
  reopen: (handle) => KeyValueRaftStorage.make(handle.store)
})

raftStorageConformance(vitest, "KeyValueRaftStorage on files (KeyValueStore.layerFileSystem)", {
  make: () => Effect.flatMap(fileStore, (store) => KeyValueRaftStorage.make(store)),
  reopen: (handle) => KeyValueRaftStorage.make(handle.store)
})

raftStorageConformance(vitest, "KeyValueRaftStorage on files, a checkpoint after every write", {
  make: () => Effect.flatMap(fileStore, (store) => KeyValueRaftStorage.make(store, { checkpointEvery: 1 })),
  reopen: (handle) => KeyValueRaftStorage.make(handle.store, { checkpointEvery: 1 })
})

vitest.describe("KeyValueRaftStorage after a crash", () => {
  const term1 = { hardState: { term: 1, votedFor: null } } as const
  const noop = (index: number) => ({ _tag: "NoOp" as const, index, term: 1 })

  vitest.it.effect("a torn last journal record is a write that never happened: the storage opens without it", () =>
    Effect.gen(function*() {
      const store = yield* memoryStore
      const s = yield* KeyValueRaftStorage.make(store)
      yield* s.write({ ...term1, append: [noop(1)] })
      yield* s.write({ append: [noop(2)] })
      // The process died halfway through setting record 3.
      yield* store.set("journal/3", "{\"seq\":3,\"batch\":{\"append\":[{\"_tag\":\"No")
      const reopened = yield* KeyValueRaftStorage.make(store)
      vitest.expect((yield* reopened.load).entries.map((e) => e.index)).toEqual([1, 2])
      // The next write takes the torn record's place.
      yield* reopened.write({ append: [noop(3)] })
      const again = yield* KeyValueRaftStorage.make(store)
      vitest.expect((yield* again.load).entries.map((e) => e.index)).toEqual([1, 2, 3])
    }))

  vitest.it.effect("an unreadable record in the middle of the journal refuses to open with CorruptDurableState", () =>
    Effect.gen(function*() {
      const store = yield* memoryStore
      const s = yield* KeyValueRaftStorage.make(store)
      yield* s.write({ ...term1, append: [noop(1)] })
      yield* s.write({ append: [noop(2)] })
      yield* s.write({ append: [noop(3)] })
      yield* store.set("journal/2", "garbage")
      const error = yield* Effect.flip(KeyValueRaftStorage.make(store))
      vitest.expect(error._tag).toBe("CorruptDurableState")
    }))
})
