/**
 * RaftStorage conformance, part 2: the log (append, truncate, snapshot and prefix discard, range
 * reads), batch atomicity, and what survives a reopen.
 */
import { Effect } from "effect"
import type { RaftStorageShape } from "../../../services/raft/RaftStorage.js"
import type { RaftStorageHarness } from "./RaftStorageHarness.js"
import {
  bytes,
  checkNowAndAfterReopen,
  cmd,
  conf,
  configOf,
  indicesOf,
  MAX,
  nid,
  noops,
  snapshotAt,
  storageErrorCheck
} from "./RaftStorageFixtures.js"
import type { ConformanceTestApi } from "./TestApi.js"

export const registerLogTests = <H extends RaftStorageShape, E>(
  { expect, it }: ConformanceTestApi,
  harness: RaftStorageHarness<H, E>
) => {
  const expectStorageError = storageErrorCheck(expect)
  /** Opens a storage, runs `body`, then `check` on it and (when possible) on a reopened instance. */
  const logTest = (name: string, body: (s: H) => Effect.Effect<void, unknown>, check: (s: RaftStorageShape) => Effect.Effect<void, unknown>) =>
    it.scoped(name, () =>
      Effect.gen(function*() {
        const s = yield* harness.make()
        yield* body(s)
        yield* checkNowAndAfterReopen(harness, s, check)
      }))
  const loadsIndices = (expected: ReadonlyArray<number>) => (s: RaftStorageShape) =>
    Effect.map(s.load, (st) => expect(indicesOf(st.entries)).toEqual(expected))
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k)
  const term1 = { hardState: { term: 1, votedFor: null } }

  logTest(
    "appends across several batches form one contiguous log",
    (s) =>
      Effect.gen(function*() {
        yield* s.write({ ...term1, append: [cmd(1, 1)] })
        yield* s.write({ append: [cmd(2, 1), cmd(3, 1)] })
        yield* s.write({ append: noops(4, 6, 1) })
      }),
    (s) => Effect.map(s.load, (st) => expect(st.entries).toEqual([cmd(1, 1), cmd(2, 1), cmd(3, 1), ...noops(4, 6, 1)]))
  )

  logTest(
    "one batch can append a thousand entries",
    (s) => s.write({ ...term1, append: Array.from({ length: 1000 }, (_, k) => cmd(k + 1, 1, bytes((k + 1) & 0xff, (k + 1) >> 8))) }),
    (s) =>
      Effect.gen(function*() {
        const st = yield* s.load
        expect(indicesOf(st.entries)).toEqual(range(1, 1000))
        expect(yield* s.entries(500, 501)).toEqual([cmd(500, 1, bytes(500 & 0xff, 500 >> 8))])
      })
  )

  logTest(
    "an append that would leave a gap is refused with StorageError and leaves the log unchanged",
    (s) =>
      Effect.gen(function*() {
        yield* s.write({ ...term1, append: noops(1, 3, 1) })
        yield* expectStorageError(s.write({ append: noops(5, 6, 1) }))
      }),
    loadsIndices([1, 2, 3])
  )

  logTest(
    "an append that overlaps the end of the log is refused and leaves the log unchanged",
    (s) =>
      Effect.gen(function*() {
        yield* s.write({ ...term1, append: noops(1, 3, 1) })
        yield* expectStorageError(s.write({ append: noops(3, 4, 1) }))
      }),
    loadsIndices([1, 2, 3])
  )

  logTest(
    "the first append to an empty storage must start at index 1",
    (s) => expectStorageError(s.write({ ...term1, append: noops(2, 3, 1) })),
    loadsIndices([])
  )

  logTest(
    "a batch whose own entries skip an index is refused as a whole",
    (s) => expectStorageError(s.write({ ...term1, append: [cmd(1, 1), cmd(3, 1)] })),
    loadsIndices([])
  )

  logTest(
    "truncating a suffix and appending its replacement in one batch replaces the suffix",
    (s) =>
      Effect.gen(function*() {
        yield* s.write({ ...term1, append: noops(1, 5, 1) })
        yield* s.write({ hardState: { term: 2, votedFor: null }, truncateFrom: 3, append: [cmd(3, 2), cmd(4, 2)] })
      }),
    (s) => Effect.map(s.load, (st) => expect(st.entries).toEqual([...noops(1, 2, 1), cmd(3, 2), cmd(4, 2)]))
  )

  logTest(
    "truncating beyond the end of the log changes nothing",
    (s) =>
      Effect.gen(function*() {
        yield* s.write({ ...term1, append: noops(1, 3, 1) })
        yield* s.write({ truncateFrom: 4 })
        yield* s.write({ truncateFrom: MAX })
      }),
    loadsIndices([1, 2, 3])
  )

  logTest(
    "truncating from the first index empties the log, and the next append starts at 1 again",
    (s) =>
      Effect.gen(function*() {
        yield* s.write({ ...term1, append: noops(1, 3, 1) })
        yield* s.write({ truncateFrom: 1 })
        expect((yield* s.load).entries).toEqual([])
        yield* s.write({ hardState: { term: 2, votedFor: null }, append: [cmd(1, 2)] })
      }),
    (s) => Effect.map(s.load, (st) => expect(st.entries).toEqual([cmd(1, 2)]))
  )

  logTest(
    "an empty append list changes nothing",
    (s) =>
      Effect.gen(function*() {
        yield* s.write({ ...term1, append: noops(1, 2, 1) })
        yield* s.write({ append: [] })
      }),
    loadsIndices([1, 2])
  )

  logTest(
    "a snapshot and the prefix discard in one batch leave only the entries above the snapshot",
    (s) =>
      Effect.gen(function*() {
        yield* s.write({ ...term1, append: noops(1, 10, 1) })
        yield* s.write({ snapshot: snapshotAt(6, 1), discardThrough: 6 })
      }),
    (s) =>
      Effect.gen(function*() {
        const st = yield* s.load
        expect(st.snapshot?.meta.lastIncludedIndex).toBe(6)
        expect(indicesOf(st.entries)).toEqual([7, 8, 9, 10])
        expect(indicesOf(yield* s.entries(1, 11))).toEqual([7, 8, 9, 10])
      })
  )

  logTest(
    "entries covered by a snapshot but not yet discarded are not loaded, yet entries() still reads them",
    (s) =>
      Effect.gen(function*() {
        yield* s.write({ ...term1, append: noops(1, 5, 1) })
        yield* s.write({ snapshot: snapshotAt(3, 1) })
      }),
    (s) =>
      Effect.gen(function*() {
        expect(indicesOf((yield* s.load).entries)).toEqual([4, 5])
        expect(indicesOf(yield* s.entries(1, 6))).toEqual([1, 2, 3, 4, 5])
      })
  )

  logTest(
    "discarding the same prefix twice is the same as once",
    (s) =>
      Effect.gen(function*() {
        yield* s.write({ ...term1, append: noops(1, 6, 1) })
        yield* s.write({ snapshot: snapshotAt(4, 1), discardThrough: 4 })
        yield* s.write({ discardThrough: 4 })
      }),
    (s) => Effect.map(s.entries(0, MAX), (es) => expect(indicesOf(es)).toEqual([5, 6]))
  )

  logTest(
    "a discard floor below the first remaining entry changes nothing",
    (s) =>
      Effect.gen(function*() {
        yield* s.write({ ...term1, append: noops(1, 8, 1) })
        yield* s.write({ snapshot: snapshotAt(5, 1), discardThrough: 5 })
        yield* s.write({ discardThrough: 2 })
        yield* s.write({ discardThrough: 0 })
      }),
    (s) => Effect.map(s.entries(0, MAX), (es) => expect(indicesOf(es)).toEqual([6, 7, 8]))
  )

  logTest(
    "a batch with every part applies them in order: an installed snapshot replaces the log and the next entries follow it",
    (s) =>
      Effect.gen(function*() {
        yield* s.write({ ...term1, append: noops(1, 4, 1) })
        yield* s.write({
          snapshot: snapshotAt(10, 2, bytes(10), configOf(["a", "b"])),
          truncateFrom: 1,
          append: [cmd(11, 3), conf(12, 3)],
          hardState: { term: 3, votedFor: nid("b") },
          leaderForTerm: { term: 3, leaderId: nid("b") },
          discardThrough: 10
        })
      }),
    (s) =>
      Effect.gen(function*() {
        const st = yield* s.load
        expect(st.snapshot?.meta.lastIncludedIndex).toBe(10)
        expect(st.entries).toEqual([cmd(11, 3), conf(12, 3)])
        expect(st.hardState).toEqual({ term: 3, votedFor: "b" })
        expect(st.leaderForTerm).toEqual({ term: 3, leaderId: "b" })
        expect(indicesOf(yield* s.entries(0, MAX))).toEqual([11, 12])
      })
  )

  logTest(
    "after a snapshot with an empty log, the next append must start right after the snapshot",
    (s) =>
      Effect.gen(function*() {
        yield* s.write({ hardState: { term: 2, votedFor: null }, snapshot: snapshotAt(20, 2) })
        yield* expectStorageError(s.write({ append: [cmd(1, 2)] }))
        yield* expectStorageError(s.write({ append: [cmd(22, 2)] }))
        yield* s.write({ append: [cmd(21, 2)] })
      }),
    loadsIndices([21])
  )

  logTest(
    "entries(from, to) returns exactly the half-open range, clamped to the log",
    (s) => s.write({ ...term1, append: noops(1, 10, 1) }),
    (s) =>
      Effect.gen(function*() {
        expect(indicesOf(yield* s.entries(3, 6))).toEqual([3, 4, 5])
        expect(indicesOf(yield* s.entries(0, 3))).toEqual([1, 2])
        expect(indicesOf(yield* s.entries(9, MAX))).toEqual([9, 10])
        expect(indicesOf(yield* s.entries(10, 11))).toEqual([10])
        expect(yield* s.entries(5, 5)).toEqual([])
        expect(yield* s.entries(7, 3)).toEqual([])
        expect(yield* s.entries(11, 20)).toEqual([])
      })
  )

  logTest(
    "entries(from, to) after a discard returns only what remains",
    (s) =>
      Effect.gen(function*() {
        yield* s.write({ ...term1, append: noops(1, 10, 1) })
        yield* s.write({ snapshot: snapshotAt(6, 1), discardThrough: 6 })
      }),
    (s) =>
      Effect.gen(function*() {
        expect(yield* s.entries(1, 7)).toEqual([])
        expect(indicesOf(yield* s.entries(1, 9))).toEqual([7, 8])
        expect(indicesOf(yield* s.entries(7, 11))).toEqual([7, 8, 9, 10])
      })
  )

  logTest(
    "an invalid batch changes nothing, not even its valid parts",
    (s) =>
      Effect.gen(function*() {
        yield* s.write({ hardState: { term: 2, votedFor: nid("a") }, append: noops(1, 5, 2), leaderForTerm: { term: 2, leaderId: nid("a") } })
        yield* expectStorageError(
          s.write({
            snapshot: snapshotAt(3, 2, bytes(3)),
            truncateFrom: 4,
            append: noops(6, 7, 3), // a gap: 4 and 5 were truncated
            hardState: { term: 3, votedFor: nid("c") },
            leaderForTerm: { term: 3, leaderId: nid("c") },
            discardThrough: 3
          })
        )
      }),
    (s) =>
      Effect.gen(function*() {
        const st = yield* s.load
        expect(st.snapshot).toBeNull()
        expect(st.hardState).toEqual({ term: 2, votedFor: "a" })
        expect(st.leaderForTerm).toEqual({ term: 2, leaderId: "a" })
        expect(indicesOf(st.entries)).toEqual([1, 2, 3, 4, 5])
        expect(indicesOf(yield* s.entries(0, MAX))).toEqual([1, 2, 3, 4, 5])
      })
  )

  // The reopen-only cases; a storage with nothing to reopen does not register them.
  const reopen = harness.reopen
  if (reopen === undefined) return

  it.scoped("writes after a reopen continue the log where it ended", () =>
    Effect.gen(function*() {
      const s = yield* harness.make()
      yield* s.write({ ...term1, append: noops(1, 3, 1) })
      const r1 = yield* reopen(s)
      yield* expectStorageError(r1.write({ append: noops(5, 5, 1) }))
      yield* r1.write({ hardState: { term: 2, votedFor: null }, append: [cmd(4, 2)] })
      const r2 = yield* reopen(s)
      expect((yield* r2.load).entries).toEqual([...noops(1, 3, 1), cmd(4, 2)])
    }))

  it.scoped(
    "everything survives a reopen: hard state, leader record, snapshot, entries, and the discarded prefix stays discarded",
    () =>
      Effect.gen(function*() {
        const s = yield* harness.make()
        yield* s.write({ hardState: { term: 4, votedFor: nid("b") }, append: [...noops(1, 6, 3), cmd(7, 4), conf(8, 4)] })
        yield* s.write({ leaderForTerm: { term: 4, leaderId: nid("b") }, snapshot: snapshotAt(5, 3, bytes(5, 5)), discardThrough: 4 })
        const before = yield* s.load
        const r = yield* reopen(s)
        const after = yield* r.load
        expect(after).toEqual(before)
        expect(after.entries).toEqual([noops(6, 6, 3)[0], cmd(7, 4), conf(8, 4)])
        expect(indicesOf(yield* r.entries(0, MAX))).toEqual([5, 6, 7, 8])
      })
  )
}
