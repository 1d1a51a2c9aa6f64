import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { validateDurableState } from "../../../services/raft/validateDurableState.js"
import type { LogEntry } from "../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { DurableState } from "../../../services/raft/RaftStorage.js"
import { EMPTY_DURABLE_STATE } from "../../../services/raft/RaftStorage.js"
import { cmd, conf, MAX, nid, noop, noops, snapshotAt } from "../../conformance/RaftStorageFixtures.js"

const state = (over: Partial<DurableState>): DurableState => ({
  ...EMPTY_DURABLE_STATE,
  hardState: { term: 5, votedFor: null },
  ...over
})

const reasonOf = (s: DurableState): string | undefined => {
  const verdict = validateDurableState(s)
  return Either.isLeft(verdict) ? verdict.left.reason : undefined
}

const expectSound = (s: DurableState) => expect(reasonOf(s)).toBeUndefined()
const expectCorrupt = (s: DurableState, why: RegExp) => {
  const verdict = validateDurableState(s)
  expect(Either.isLeft(verdict), `expected corrupt: ${why}`).toBe(true)
  if (Either.isLeft(verdict)) {
    expect(verdict.left._tag).toBe("CorruptDurableState")
    expect(verdict.left.reason).toMatch(why)
  }
}

describe("validateDurableState", () => {
  it("accepts the empty state and returns the state itself", () => {
    const verdict = validateDurableState(EMPTY_DURABLE_STATE)
    expect(Either.isRight(verdict) && verdict.right).toBe(EMPTY_DURABLE_STATE)
  })

  it("accepts a full, consistent state at the plausibility edges", () => {
    expectSound(state({
      hardState: { term: MAX, votedFor: nid("a") },
      leaderForTerm: { term: MAX, leaderId: nid("a") },
      snapshot: snapshotAt(MAX - 2, 7),
      entries: [noop(MAX - 1, 7), cmd(MAX, MAX)]
    }))
    expectSound(state({ entries: [noop(1, 0), cmd(2, 1), conf(3, 5)] }))
  })

  it("refuses a hard-state term outside 0..2^53−1", () => {
    for (const term of [-1, 1.5, MAX + 1, NaN, Infinity]) {
      expectCorrupt(state({ hardState: { term, votedFor: null } }), /hard-state term .* is not a safe integer/)
    }
  })

  it("refuses an empty or over-long votedFor", () => {
    expectCorrupt(state({ hardState: { term: 1, votedFor: "" as NodeId } }), /votedFor is empty/)
    expectCorrupt(state({ hardState: { term: 1, votedFor: "v".repeat(256) as NodeId } }), /votedFor is 256 UTF-8 bytes long/)
    expectCorrupt(state({ hardState: { term: 1, votedFor: "€".repeat(86) as NodeId } }), /votedFor is 258 UTF-8 bytes long/)
  })

  it("refuses a leader record above the hard-state term, or with a bad term or id", () => {
    expectCorrupt(state({ leaderForTerm: { term: 6, leaderId: nid("a") } }), /leader-for-term term 6 exceeds the hard-state term 5/)
    expectCorrupt(state({ leaderForTerm: { term: -3, leaderId: nid("a") } }), /leader-for-term term -3/)
    expectCorrupt(state({ leaderForTerm: { term: 5, leaderId: "" as NodeId } }), /leader-for-term leader id is empty/)
    expectSound(state({ leaderForTerm: { term: 4, leaderId: nid("a") } })) // an older term's pin is harmless
  })

  it("refuses a snapshot with a bad index or term, or a term above the hard-state term", () => {
    expectCorrupt(state({ snapshot: snapshotAt(-1, 1) }), /snapshot lastIncludedIndex -1/)
    expectCorrupt(state({ snapshot: snapshotAt(3, 2.5) }), /snapshot lastIncludedTerm 2.5/)
    expectCorrupt(state({ snapshot: snapshotAt(3, 6) }), /snapshot lastIncludedTerm 6 exceeds the hard-state term 5/)
  })

  it("refuses a snapshot without state bytes or without a config", () => {
    expectCorrupt(state({ snapshot: { ...snapshotAt(3, 1), state: "abc" as never } }), /snapshot state is not a Uint8Array/)
    const noConfig = snapshotAt(3, 1)
    expectCorrupt(state({ snapshot: { ...noConfig, meta: { ...noConfig.meta, config: undefined as never } } }), /snapshot config payload is missing/)
  })

  it("refuses entries that do not start at 1 without a snapshot", () => {
    expectCorrupt(state({ entries: noops(2, 3, 1) }), /first entry has index 2; it must be 1 \(no snapshot\)/)
  })

  it("refuses entries that do not start right after the snapshot", () => {
    expectCorrupt(state({ snapshot: snapshotAt(10, 1), entries: noops(12, 13, 1) }), /must be 11 \(right after the snapshot at 10\)/)
    expectCorrupt(state({ snapshot: snapshotAt(10, 1), entries: noops(10, 11, 1) }), /first entry has index 10; it must be 11/)
    expectSound(state({ snapshot: snapshotAt(10, 1), entries: noops(11, 12, 1) }))
  })

  it("refuses a hole or a repeat in the entries", () => {
    expectCorrupt(state({ entries: [noop(1, 1), noop(2, 1), noop(4, 1)] }), /not contiguous: index 4 follows 2/)
    expectCorrupt(state({ entries: [noop(1, 1), noop(2, 1), noop(2, 1)] }), /not contiguous: index 2 follows 2/)
  })

  it("refuses entry terms that decrease", () => {
    expectCorrupt(state({ entries: [noop(1, 2), noop(2, 3), noop(3, 2)] }), /terms decrease: entry 3 has term 2 after term 3/)
  })

  it("refuses a first entry whose term is below the snapshot's", () => {
    expectCorrupt(state({ snapshot: snapshotAt(4, 3), entries: [noop(5, 2)] }), /first entry \(index 5\) has term 2, below the snapshot's lastIncludedTerm 3/)
  })

  it("refuses an entry term above the hard-state term", () => {
    expectCorrupt(state({ entries: [noop(1, 5), noop(2, 6)] }), /entry 2 has term 6, above the hard-state term 5/)
  })

  it("refuses entry indices and terms outside the safe-integer range", () => {
    expectCorrupt(state({ entries: [noop(0, 1)] }), /entry 0: index is not a safe integer in 1..2\^53-1/)
    expectCorrupt(state({ entries: [noop(1, 1.5)] }), /entry 1: term 1.5/)
    expectCorrupt(state({ snapshot: snapshotAt(MAX, 1), entries: [noop(MAX + 1, 1)] }), /index is not a safe integer/)
  })

  it("refuses malformed entries: unknown kind, command without bytes or dedup key, config without payload", () => {
    expectCorrupt(state({ entries: [{ _tag: "Bogus", index: 1, term: 1 } as unknown as LogEntry] }), /unknown entry kind "Bogus"/)
    expectCorrupt(state({ entries: [{ ...cmd(1, 1), command: null as never }] }), /command is not a Uint8Array/)
    expectCorrupt(state({ entries: [{ ...cmd(1, 1), dedupKey: undefined as never }] }), /command has no dedup key/)
    expectCorrupt(state({ entries: [{ ...cmd(1, 1), dedupKey: { clientId: "" as never, requestId: 0 } }] }), /client id is empty/)
    expectCorrupt(state({ entries: [{ ...cmd(1, 1), dedupKey: { clientId: "c" as never, requestId: -2 } }] }), /request id -2/)
    expectCorrupt(state({ entries: [{ ...conf(1, 1), config: { old: undefined } as never }] }), /no new configuration/)
  })
})
