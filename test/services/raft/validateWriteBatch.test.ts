import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as InMemoryRaftStorage from "../../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { DurableState, WriteBatch } from "../../../services/raft/RaftStorage.js"
import { cmd, indicesOf, MAX, nid, noop, noops, snapshotAt } from "../../conformance/RaftStorageFixtures.js"

/** A storage holding `setup`'s writes; `refuse` checks a batch is rejected for `why` and changes nothing. */
const storageWith = (...setup: ReadonlyArray<WriteBatch>) =>
  Effect.gen(function*() {
    const s = yield* InMemoryRaftStorage.make()
    for (const b of setup) yield* s.write(b)
    const refuse = (batch: WriteBatch, why: RegExp) =>
      Effect.gen(function*() {
        const before: DurableState = s.disk.currentState()
        const beforeAll = indicesOf(yield* s.entries(0, MAX))
        const exit = yield* Effect.exit(s.write(batch))
        expect(Exit.isFailure(exit), `expected ${why} to be refused`).toBe(true)
        if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
          expect(exit.cause.error._tag).toBe("StorageError")
          expect(exit.cause.error.reason).toMatch(why)
        }
        expect(s.disk.currentState()).toEqual(before)
        expect(indicesOf(yield* s.entries(0, MAX))).toEqual(beforeAll)
      })
    return { s, refuse }
  })

const hs = (term: number, votedFor: string | null = null) => ({
  hardState: { term, votedFor: votedFor === null ? null : nid(votedFor) }
})
const log5 = { ...hs(2), append: noops(1, 5, 2) }

describe("write-batch validation (through InMemoryRaftStorage)", () => {
  it.effect("indices and terms that are not safe non-negative integers are refused", () =>
    Effect.gen(function*() {
      const { refuse } = yield* storageWith(log5)
      yield* refuse({ append: [noop(6.5, 2)] }, /index is not a safe integer/)
      yield* refuse({ append: [noop(NaN, 2)] }, /index is not a safe integer/)
      yield* refuse({ append: [noop(6, -1)] }, /term -1 is not a safe integer/)
      yield* refuse({ append: [noop(6, MAX + 1)] }, /term .* is not a safe integer/)
      yield* refuse({ hardState: { term: MAX + 1, votedFor: null } }, /hard-state term/)
      yield* refuse({ truncateFrom: 2.5 }, /truncateFrom 2.5/)
      yield* refuse({ discardThrough: -1 }, /discardThrough -1/)
      yield* refuse({ snapshot: snapshotAt(Infinity, 1) }, /lastIncludedIndex Infinity/)
    }))

  it.effect("an entry past 2^53−1 is refused even when contiguous", () =>
    Effect.gen(function*() {
      const { refuse } = yield* storageWith({ ...hs(1), snapshot: snapshotAt(MAX - 1, 1) }, { append: [noop(MAX, 1)] })
      yield* refuse({ append: [noop(MAX + 1, 1)] }, /index is not a safe integer/)
    }))

  it.effect("entry terms never decrease, within a batch or against the log", () =>
    Effect.gen(function*() {
      const { refuse } = yield* storageWith({ ...hs(3), append: noops(1, 2, 2) })
      yield* refuse({ append: [noop(3, 1)] }, /entry 3 has term 1, below the preceding term 2/)
      yield* refuse({ append: [noop(3, 3), noop(4, 2)] }, /entry 4 has term 2, below the preceding term 3/)
    }))

  it.effect("no entry term may exceed the hard-state term the batch leaves", () =>
    Effect.gen(function*() {
      const { refuse, s } = yield* storageWith(log5)
      yield* refuse({ append: [noop(6, 3)] }, /term 3, above the hard-state term 2/)
      yield* s.write({ append: [noop(6, 3)], ...hs(3) }) // the same append with the term adopted in the batch
    }))

  it.effect("the hard-state term never decreases and a vote is never changed or cleared within its term", () =>
    Effect.gen(function*() {
      const { refuse, s } = yield* storageWith(hs(4))
      yield* s.write(hs(4, "a")) // the first vote of the term
      yield* s.write(hs(4, "a")) // rewriting the same vote
      yield* refuse(hs(3, "a"), /would decrease from 4 to 3/)
      yield* refuse(hs(4, "b"), /vote of term 4 would change from "a" to "b"/)
      yield* refuse(hs(4), /vote of term 4 would change from "a" to null/)
      yield* s.write(hs(5, "b"))
    }))

  it.effect("ids must be non-empty and at most 255 UTF-8 bytes", () =>
    Effect.gen(function*() {
      const { refuse } = yield* storageWith(hs(1))
      yield* refuse({ hardState: { term: 2, votedFor: "" as NodeId } }, /votedFor is empty/)
      yield* refuse({ leaderForTerm: { term: 1, leaderId: "x".repeat(256) as NodeId } }, /256 UTF-8 bytes/)
      yield* refuse({ leaderForTerm: { term: 1, leaderId: "€".repeat(86) as NodeId } }, /258 UTF-8 bytes/)
      const bad = { ...cmd(1, 1), dedupKey: { clientId: "" as never, requestId: 1 } }
      yield* refuse({ append: [bad] }, /client id is empty/)
    }))

  it.effect("a command whose payload is not a Uint8Array is refused", () =>
    Effect.gen(function*() {
      const { refuse } = yield* storageWith(hs(1))
      yield* refuse({ append: [{ ...cmd(1, 1), command: [1, 2] as never }] }, /command is not a Uint8Array/)
    }))

  it.effect("the leader record never exceeds the hard-state term, never moves back, never names two leaders for a term", () =>
    Effect.gen(function*() {
      const { refuse, s } = yield* storageWith(hs(5), { leaderForTerm: { term: 4, leaderId: nid("a") } })
      yield* refuse({ leaderForTerm: { term: 6, leaderId: nid("a") } }, /term 6 would exceed the hard-state term 5/)
      yield* refuse({ leaderForTerm: { term: 3, leaderId: nid("a") } }, /move back from term 4 to 3/)
      yield* refuse({ leaderForTerm: { term: 4, leaderId: nid("b") } }, /term 4 already has leader "a"/)
      yield* s.write({ leaderForTerm: { term: 4, leaderId: nid("a") } })
      yield* s.write({ leaderForTerm: { term: 5, leaderId: nid("b") } })
    }))

  it.effect("a snapshot never moves below the stored one and never exceeds the hard-state term", () =>
    Effect.gen(function*() {
      const { refuse, s } = yield* storageWith(log5, { snapshot: snapshotAt(4, 2) })
      yield* refuse({ snapshot: snapshotAt(3, 2) }, /snapshot at 3 would replace a later one at 4/)
      yield* refuse({ snapshot: snapshotAt(9, 3) }, /snapshot term 3 would exceed the hard-state term 2/)
      yield* s.write({ snapshot: snapshotAt(4, 2, new Uint8Array([4])) }) // same index: an overwrite
    }))

  it.effect("a snapshot that contradicts a kept log suffix is refused", () =>
    Effect.gen(function*() {
      const { refuse, s } = yield* storageWith({ ...hs(3), append: [...noops(1, 3, 1), ...noops(4, 6, 2)] })
      yield* refuse({ snapshot: snapshotAt(4, 3) }, /snapshot at 4 has term 3, but the kept log holds term 2 there/)
      yield* refuse({ snapshot: snapshotAt(3, 2) }, /snapshot at 3 has term 2, but the kept log holds term 1/)
      // Wiping the conflicting suffix in the same batch makes it acceptable.
      yield* s.write({ snapshot: snapshotAt(4, 3), truncateFrom: 1, append: [noop(5, 3)] })
      expect(indicesOf(yield* s.entries(0, MAX))).toEqual([5])
    }))

  it.effect("the first entry after a snapshot may not have a lower term than the snapshot", () =>
    Effect.gen(function*() {
      const { refuse } = yield* storageWith({ ...hs(3), snapshot: snapshotAt(10, 3) })
      yield* refuse({ append: [noop(11, 2)] }, /entry 11 has term 2, below the preceding term 3/)
    }))

  it.effect("a prefix is only discarded under a snapshot covering it", () =>
    Effect.gen(function*() {
      const { refuse, s } = yield* storageWith(log5)
      yield* refuse({ discardThrough: 1 }, /discardThrough 1 would drop entries no snapshot covers \(no snapshot\)/)
      yield* refuse({ snapshot: snapshotAt(2, 2), discardThrough: 3 }, /\(snapshot at 2\)/)
      yield* s.write({ discardThrough: 0 })
      yield* s.write({ snapshot: snapshotAt(2, 2), discardThrough: 2 })
      expect(indicesOf(yield* s.entries(0, MAX))).toEqual([3, 4, 5])
    }))

  it.effect("an append right after a snapshot beyond the log drops the stale entries below it", () =>
    Effect.gen(function*() {
      const { s } = yield* storageWith({ ...hs(2), append: noops(1, 3, 1) })
      yield* s.write({ snapshot: snapshotAt(8, 2), append: [noop(9, 2)] })
      expect(indicesOf(yield* s.entries(0, MAX))).toEqual([9])
      expect(indicesOf((yield* s.load).entries)).toEqual([9])
    }))
})
