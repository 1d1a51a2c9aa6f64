/**
 * What IndexedDbRaftStorage adds beyond the shared contract, checked inside Chromium: damage made
 * behind its back is caught at `load` (CorruptDurableState, never a silently wrong log), an
 * aborted or interrupted transaction leaves nothing half-written, one writer per database, and
 * every IndexedDB refusal is a typed StorageError.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import * as IndexedDbRaftStorage from "../../../../../layers/raft/storage/indexeddb/IndexedDbRaftStorage.js"
import type { RaftStorageShape } from "../../../../../services/raft/RaftStorage.js"
import { bytes, cmd, indicesOf, nid, noops, snapshotAt } from "../../../../conformance/RaftStorageFixtures.js"
import { freshDatabaseName, makeFresh, reopenNamed } from "./indexedDbHarness.js"
import { createForeign, flipBit, peek, tamper } from "./rawIndexedDb.js"

/** The failure of `effect` (the test fails when it succeeds). */
const failureOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(effect)
    if (Exit.isSuccess(exit)) throw new Error("expected a failure, but the effect succeeded")
    if (exit.cause._tag !== "Fail") throw new Error(`expected a typed failure, got cause ${exit.cause._tag}`)
    return exit.cause.error as { readonly _tag: string; readonly reason: string }
  })

/** A database with a hard state, a snapshot at 2 and entries 1..6 (1 and 2 kept below the snapshot). */
const seeded = Effect.gen(function*() {
  const s = yield* makeFresh("integrity")
  yield* s.write({ hardState: { term: 2, votedFor: nid("a") }, append: [cmd(1, 1), cmd(2, 1), cmd(3, 1), ...noops(4, 6, 2)] })
  yield* s.write({ snapshot: snapshotAt(2, 1, bytes(7, 7, 7)) })
  yield* s.close
  return s.databaseName
})

/** Reopens `name` and returns the reason its load was refused with CorruptDurableState. */
const corruptionAfterReopen = (name: string) =>
  Effect.gen(function*() {
    const s = yield* reopenNamed(name)
    const error = yield* failureOf(s.load)
    expect(error._tag).toBe("CorruptDurableState")
    return { storage: s, reason: error.reason }
  })

describe("IndexedDbRaftStorage integrity", () => {
  it.scoped("an intact database loads what was written (the baseline of the damage tests)", () =>
    Effect.gen(function*() {
      const name = yield* seeded
      const st = yield* (yield* reopenNamed(name)).load
      expect(st.hardState).toEqual({ term: 2, votedFor: "a" })
      expect(indicesOf(st.entries)).toEqual([3, 4, 5, 6])
    }))

  it.scoped("a flipped bit in a stored entry fails load with CorruptDurableState naming the entry, and writes are refused after", () =>
    Effect.gen(function*() {
      const name = yield* seeded
      yield* tamper(name, "entries", 4, (old) => flipBit(old))
      const { reason, storage } = yield* corruptionAfterReopen(name)
      expect(reason).toContain("index 4")
      expect(reason).toContain("checksum mismatch")
      const refused = yield* failureOf(storage.write({ append: noops(7, 7, 2) }))
      expect(refused._tag).toBe("StorageError")
      expect(refused.reason).toContain("corrupt")
    }))

  it.scoped("a damaged entry at or below the snapshot fails entries() with StorageError", () =>
    Effect.gen(function*() {
      const name = yield* seeded
      yield* tamper(name, "entries", 1, (old) => flipBit(old, 5))
      const s = yield* reopenNamed(name)
      expect(indicesOf((yield* s.load).entries)).toEqual([3, 4, 5, 6]) // entry 1 is not loaded
      const error = yield* failureOf(s.entries(1, 3))
      expect(error._tag).toBe("StorageError")
      expect(error.reason).toContain("index 1")
    }))

  it.scoped("an entry deleted from the middle of the log (a gap) fails load with CorruptDurableState", () =>
    Effect.gen(function*() {
      const name = yield* seeded
      yield* tamper(name, "entries", 5, () => undefined)
      const { reason } = yield* corruptionAfterReopen(name)
      expect(reason).toContain("records 6 entries (1..6), but 5 are stored")
    }))

  it.scoped("an entry added past the recorded end of the log fails load with CorruptDurableState", () =>
    Effect.gen(function*() {
      const name = yield* seeded
      const sixth = yield* peek(name, "entries", 6)
      yield* tamper(name, "entries", 8, () => sixth)
      const { reason } = yield* corruptionAfterReopen(name)
      expect(reason).toContain("but 7 are stored")
    }))

  it.scoped("an intact entry stored under another index fails load with CorruptDurableState", () =>
    Effect.gen(function*() {
      const name = yield* seeded
      const fifth = yield* peek(name, "entries", 5)
      yield* tamper(name, "entries", 4, () => fifth)
      const { reason } = yield* corruptionAfterReopen(name)
      expect(reason).toContain("stored at index 4 says it is entry 5")
    }))

  it.scoped("a damaged hard-state record fails load with CorruptDurableState", () =>
    Effect.gen(function*() {
      const name = yield* seeded
      yield* tamper(name, "meta", "hardState", (old) => flipBit(old, 1))
      const { reason } = yield* corruptionAfterReopen(name)
      expect(reason).toContain("hard-state record is damaged")
    }))

  it.scoped("snapshot state bytes changed after they were written fail load with CorruptDurableState", () =>
    Effect.gen(function*() {
      const name = yield* seeded
      yield* tamper(name, "snapshot", "state", () => bytes(7, 7, 8))
      const { reason } = yield* corruptionAfterReopen(name)
      expect(reason).toContain("snapshot's state bytes fail their checksum")
    }))

  it.scoped("a database created by a newer schema version is refused with a StorageError naming VersionError", () =>
    Effect.gen(function*() {
      const databaseName = freshDatabaseName("newer")
      yield* createForeign(databaseName, IndexedDbRaftStorage.SCHEMA_VERSION + 1, ["meta", "entries", "snapshot"])
      const error = yield* failureOf(IndexedDbRaftStorage.make({ databaseName }))
      expect(error._tag).toBe("StorageError")
      expect(error.reason).toContain("VersionError")
      yield* IndexedDbRaftStorage.deleteDatabase({ databaseName })
    }))

  it.scoped("a database of the same name created by other code is refused with StorageError", () =>
    Effect.gen(function*() {
      const databaseName = freshDatabaseName("foreign")
      yield* createForeign(databaseName, IndexedDbRaftStorage.SCHEMA_VERSION, ["notes"])
      const error = yield* failureOf(IndexedDbRaftStorage.make({ databaseName }))
      expect(error._tag).toBe("StorageError")
      expect(error.reason).toContain("not a kuilt Raft storage")
      yield* IndexedDbRaftStorage.deleteDatabase({ databaseName })
    }))

  it.scoped("a batch aborted inside its transaction leaves nothing written: a superseded instance's whole batch is rolled back", () =>
    Effect.gen(function*() {
      const a = yield* makeFresh("superseded")
      yield* a.write({ hardState: { term: 1, votedFor: null }, append: noops(1, 3, 1) })
      // A second instance on the same database (another tab, or a restart that did not close A).
      const b = yield* IndexedDbRaftStorage.make({ databaseName: a.databaseName })
      const error = yield* failureOf(
        a.write({
          snapshot: snapshotAt(3, 1, bytes(3)),
          append: [cmd(4, 2), cmd(5, 2)],
          hardState: { term: 2, votedFor: nid("a") },
          leaderForTerm: { term: 2, leaderId: nid("a") },
          discardThrough: 3
        })
      )
      expect(error._tag).toBe("StorageError")
      expect(error.reason).toContain("opened again")
      const st = yield* b.load
      expect(st.hardState).toEqual({ term: 1, votedFor: null })
      expect(st.snapshot).toBeNull()
      expect(st.leaderForTerm).toBeNull()
      expect(indicesOf(yield* b.entries(0, 100))).toEqual([1, 2, 3])
      yield* b.write({ append: noops(4, 4, 1) })
      expect(indicesOf((yield* b.load).entries)).toEqual([1, 2, 3, 4])
      yield* b.close
    }))

  it.scoped("an interrupted write is all or nothing, and the instance stays in step with its database", () =>
    Effect.gen(function*() {
      let s: RaftStorageShape = yield* makeFresh("interrupted")
      yield* s.write({ hardState: { term: 1, votedFor: null }, append: noops(1, 1, 1) })
      const outcomes = new Set<string>()
      for (let round = 0; round < 24; round++) {
        const before = (yield* s.load).entries.length
        const batch = noops(before + 1, before + 100, 1)
        const fiber = yield* Effect.fork(s.write({ append: batch }))
        // Interrupt at different points: before the fiber started (round 0 of 8), while its
        // transaction is still active (1-3: the canceller aborts it), after the page handed it to
        // the database (4-6, a macrotask later: aborted, or found committing and awaited), and
        // after it completed (7, where interrupting changes nothing).
        const phase = round % 8
        for (let k = 0; k < Math.min(phase, 3); k++) yield* Effect.yieldNow()
        if (phase >= 4 && phase <= 6) yield* Effect.promise(() => new Promise((r) => setTimeout(r, phase - 4)))
        if (phase === 7) yield* Fiber.await(fiber)
        yield* Fiber.interrupt(fiber)
        const after = (yield* s.load).entries.length
        expect([before, before + 100]).toContain(after)
        outcomes.add(after === before ? "rolled back" : "committed")
        // The next write must continue from exactly what is stored (the mirror did not drift).
        yield* s.write({ append: noops(after + 1, after + 1, 1) })
        if (round % 6 === 5) s = yield* reopenNamed((s as IndexedDbRaftStorage.IndexedDbRaftStorage).databaseName)
      }
      const final = (yield* s.load).entries
      expect(indicesOf(final)).toEqual(Array.from({ length: final.length }, (_, k) => k + 1))
      // Both outcomes happened (rounds 0 and 7 force them), so both paths were exercised.
      expect([...outcomes].sort()).toEqual(["committed", "rolled back"])
    }))

  it.scoped("deleting the database closes an open storage, whose later calls fail with StorageError", () =>
    Effect.gen(function*() {
      const s = yield* makeFresh("deleted")
      yield* s.write({ hardState: { term: 1, votedFor: null } })
      yield* IndexedDbRaftStorage.deleteDatabase({ databaseName: s.databaseName })
      const error = yield* failureOf(s.write({ hardState: { term: 2, votedFor: null } }))
      expect(error._tag).toBe("StorageError")
      expect(error.reason).toContain("being deleted")
      expect((yield* failureOf(s.load))._tag).toBe("StorageError")
    }))

  it.scoped("after close, load, write and entries fail with StorageError", () =>
    Effect.gen(function*() {
      const s = yield* makeFresh("closed")
      yield* s.close
      yield* s.close // idempotent
      for (const call of [s.load, s.write({ hardState: { term: 1, votedFor: null } }), s.entries(1, 2)]) {
        const error = yield* failureOf(call as Effect.Effect<unknown, unknown>)
        expect(error._tag).toBe("StorageError")
        expect(error.reason).toContain("closed")
      }
    }))

  it.scoped("an empty database name is refused with StorageError", () =>
    Effect.gen(function*() {
      expect((yield* failureOf(IndexedDbRaftStorage.make({ databaseName: "" })))._tag).toBe("StorageError")
    }))
})
