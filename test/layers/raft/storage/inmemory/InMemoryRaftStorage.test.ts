import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit } from "effect"
import * as InMemoryRaftStorage from "../../../../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import { validateDurableState } from "../../../../../services/raft/validateDurableState.js"
import { RaftStorage, type RaftStorageShape } from "../../../../../services/raft/RaftStorage.js"
import type { WriteBatch } from "../../../../../services/raft/RaftStorage.js"
import { cmd, indicesOf, MAX, nid, noop, noops } from "../../../../conformance/RaftStorageFixtures.js"

const failureReason = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    expect(Exit.isFailure(exit), "expected a failure").toBe(true)
    if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail") return undefined
    const error = exit.cause.error as { readonly _tag: string; readonly reason: string }
    expect(error._tag).toBe("StorageError")
    return error.reason
  })

const batchAt = (index: number): WriteBatch => ({ hardState: { term: 1, votedFor: null }, append: [cmd(index, 1)] })
const loadedIndices = (s: { readonly load: RaftStorageShape["load"] }) => Effect.map(s.load, (st) => indicesOf(st.entries))

describe("InMemoryRaftStorage write faults", () => {
  it.effect("a write after failNextWrites fails with StorageError, stores nothing, and the next write succeeds", () =>
    Effect.gen(function*() {
      const s = yield* InMemoryRaftStorage.make()
      s.disk.failNextWrites({ reason: "disk on fire" })
      expect(yield* failureReason(s.write(batchAt(1)))).toBe("disk on fire")
      expect(yield* loadedIndices(s)).toEqual([])
      yield* s.write(batchAt(1))
      expect(yield* loadedIndices(s)).toEqual([1])
    }))

  it.effect("failNextWrites({ count: 2 }) fails exactly the next two writes", () =>
    Effect.gen(function*() {
      const s = yield* InMemoryRaftStorage.make()
      s.disk.failNextWrites({ count: 2 })
      yield* failureReason(s.write(batchAt(1)))
      yield* failureReason(s.write(batchAt(1)))
      yield* s.write(batchAt(1))
      expect(yield* loadedIndices(s)).toEqual([1])
    }))

  it.effect("an applied fault fails the write although its content was stored, and a restart finds it", () =>
    Effect.gen(function*() {
      const s = yield* InMemoryRaftStorage.make()
      s.disk.failNextWrites({ applied: true })
      yield* failureReason(s.write(batchAt(1)))
      const restarted = yield* InMemoryRaftStorage.make({ disk: s.disk })
      expect(yield* loadedIndices(restarted)).toEqual([1])
    }))

  it.effect("failNextWrites({ count: Infinity }) fails every write until clearFaults", () =>
    Effect.gen(function*() {
      const s = yield* InMemoryRaftStorage.make()
      s.disk.failNextWrites({ count: Infinity })
      for (let k = 0; k < 5; k++) yield* failureReason(s.write(batchAt(1)))
      s.disk.clearFaults()
      yield* s.write(batchAt(1))
      expect(s.disk.writeCount).toBe(6)
    }))

  it.effect("an invalid batch is refused as invalid and does not use up an injected fault", () =>
    Effect.gen(function*() {
      const s = yield* InMemoryRaftStorage.make()
      s.disk.failNextWrites({ reason: "injected" })
      expect(yield* failureReason(s.write(batchAt(2)))).toMatch(/write batch rejected: append starts at index 2/)
      expect(yield* failureReason(s.write(batchAt(1)))).toBe("injected")
    }))

  it.effect("failNextReads fails load and entries, then reads recover", () =>
    Effect.gen(function*() {
      const s = yield* InMemoryRaftStorage.make()
      yield* s.write(batchAt(1))
      s.disk.failNextReads(2)
      yield* failureReason(s.load)
      yield* failureReason(s.entries(1, 2))
      expect(indicesOf(yield* s.entries(1, 2))).toEqual([1])
    }))
})

describe("InMemoryRaftStorage durability and crashes", () => {
  it.effect("with immediate durability a crash keeps every acknowledged write", () =>
    Effect.gen(function*() {
      const s = yield* InMemoryRaftStorage.make()
      yield* s.write({ hardState: { term: 2, votedFor: nid("a") }, append: noops(1, 3, 2) })
      expect(s.disk.pendingBatches).toBe(0)
      s.disk.crash()
      const st = yield* (yield* InMemoryRaftStorage.make({ disk: s.disk })).load
      expect(st.hardState).toEqual({ term: 2, votedFor: "a" })
      expect(indicesOf(st.entries)).toEqual([1, 2, 3])
    }))

  it.effect("with onSync durability reads see pending writes that are not yet durable", () =>
    Effect.gen(function*() {
      const s = yield* InMemoryRaftStorage.make({ durability: "onSync" })
      yield* s.write({ hardState: { term: 1, votedFor: null }, append: noops(1, 2, 1) })
      yield* s.write({ append: noops(3, 3, 1) })
      expect(s.disk.pendingBatches).toBe(2)
      expect(yield* loadedIndices(s)).toEqual([1, 2, 3])
      expect(indicesOf(yield* s.entries(0, MAX))).toEqual([1, 2, 3])
      expect(indicesOf(s.disk.currentState().entries)).toEqual([1, 2, 3])
      expect(s.disk.durableState().entries).toEqual([])
    }))

  it.effect("a crash keeping nothing loses every write since the last sync", () =>
    Effect.gen(function*() {
      const s = yield* InMemoryRaftStorage.make({ durability: "onSync" })
      yield* s.write({ hardState: { term: 1, votedFor: null }, append: noops(1, 2, 1) })
      s.disk.sync()
      yield* s.write({ hardState: { term: 2, votedFor: nid("b") }, append: noops(3, 4, 2) })
      s.disk.crash({ keep: "none" })
      const st = yield* (yield* InMemoryRaftStorage.make({ disk: s.disk })).load
      expect(st.hardState).toEqual({ term: 1, votedFor: null })
      expect(indicesOf(st.entries)).toEqual([1, 2])
      expect(s.disk.pendingBatches).toBe(0)
    }))

  it.effect("a crash keeping 2 of 3 pending batches keeps exactly the first two, each whole", () =>
    Effect.gen(function*() {
      const s = yield* InMemoryRaftStorage.make({ durability: "onSync" })
      yield* s.write({ hardState: { term: 1, votedFor: null }, append: noops(1, 2, 1) })
      yield* s.write({ hardState: { term: 2, votedFor: nid("a") }, append: noops(3, 4, 2) })
      yield* s.write({ hardState: { term: 3, votedFor: nid("c") }, append: noops(5, 6, 3) })
      s.disk.crash({ keep: 2 })
      const r = yield* InMemoryRaftStorage.make({ disk: s.disk })
      const st = yield* r.load
      expect(st.hardState).toEqual({ term: 2, votedFor: "a" })
      expect(indicesOf(st.entries)).toEqual([1, 2, 3, 4])
      // The restarted node continues from what survived, not from what it had been told.
      yield* r.write({ append: [noop(5, 2)] })
      expect(yield* loadedIndices(r)).toEqual([1, 2, 3, 4, 5])
    }))

  it.effect("a crash keeping all pending batches (or more than there are) loses nothing", () =>
    Effect.gen(function*() {
      for (const keep of ["all", 10] as const) {
        const s = yield* InMemoryRaftStorage.make({ durability: "onSync" })
        yield* s.write(batchAt(1))
        yield* s.write({ append: [cmd(2, 1)] })
        s.disk.crash({ keep })
        expect(indicesOf(s.disk.durableState().entries), `keep=${keep}`).toEqual([1, 2])
      }
    }))

  it.effect("a crash asked to keep a negative or fractional number of batches throws RangeError", () =>
    Effect.gen(function*() {
      const s = yield* InMemoryRaftStorage.make({ durability: "onSync" })
      expect(() => s.disk.crash({ keep: -1 })).toThrow(RangeError)
      expect(() => s.disk.crash({ keep: 1.5 })).toThrow(RangeError)
    }))

  it.effect("after a crash the old instance's reads and writes fail with StorageError", () =>
    Effect.gen(function*() {
      const s = yield* InMemoryRaftStorage.make()
      yield* s.write(batchAt(1))
      s.disk.crash()
      expect(yield* failureReason(s.write({ append: [cmd(2, 1)] }))).toMatch(/superseded/)
      yield* failureReason(s.load)
      yield* failureReason(s.entries(1, 2))
      expect(indicesOf(s.disk.durableState().entries)).toEqual([1])
    }))

  it.effect("opening a second instance over a disk supersedes the first", () =>
    Effect.gen(function*() {
      const first = yield* InMemoryRaftStorage.make()
      yield* first.write(batchAt(1))
      const second = yield* InMemoryRaftStorage.make({ disk: first.disk })
      yield* failureReason(first.write({ append: [cmd(2, 1)] }))
      yield* second.write({ append: [cmd(2, 1)] })
      expect(yield* loadedIndices(second)).toEqual([1, 2])
    }))
})

describe("InMemoryRaftStorage test hooks and layer", () => {
  it.effect("plant installs an unchecked state that load returns as is and validateDurableState rejects", () =>
    Effect.gen(function*() {
      const disk = InMemoryRaftStorage.Disk.make()
      disk.plant({
        hardState: { term: 1, votedFor: null },
        leaderForTerm: null,
        snapshot: null,
        entries: [noop(1, 1), noop(3, 1)]
      })
      const st = yield* (yield* InMemoryRaftStorage.make({ disk })).load
      expect(indicesOf(st.entries)).toEqual([1, 3])
      const verdict = validateDurableState(st)
      expect(Either.isLeft(verdict) && verdict.left.reason).toMatch(/not contiguous: index 3 follows 1/)
    }))

  it.effect("the layer provides RaftStorage over the given disk", () =>
    Effect.gen(function*() {
      const disk = InMemoryRaftStorage.Disk.make()
      yield* Effect.flatMap(RaftStorage, (s) => s.write(batchAt(1))).pipe(
        Effect.provide(InMemoryRaftStorage.layer({ disk }))
      )
      expect(indicesOf(disk.durableState().entries)).toEqual([1])
    }))

  it.effect("entries accepts open-ended and odd bounds: Infinity reads to the end, NaN reads nothing", () =>
    Effect.gen(function*() {
      const s = yield* InMemoryRaftStorage.make()
      yield* s.write({ hardState: { term: 1, votedFor: null }, append: noops(1, 4, 1) })
      expect(indicesOf(yield* s.entries(2, Infinity))).toEqual([2, 3, 4])
      expect(indicesOf(yield* s.entries(-Infinity, 3))).toEqual([1, 2])
      expect(indicesOf(yield* s.entries(1.5, 3.5))).toEqual([2, 3])
      expect(yield* s.entries(NaN, 3)).toEqual([])
      expect(yield* s.entries(1, NaN)).toEqual([])
    }))
})
