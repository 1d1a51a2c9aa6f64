/**
 * InstallSnapshot receiver rules (§7 rules 1–8; chunk reassembly):
 * frames injected into a follower that hears no one else.
 */
import { describe, expect, it } from "@effect/vitest"
import type { RaftMessage } from "../../../src/codec/raft/RaftMessage.js"
import { ClusterConfig, ConfigPayload } from "../../../services/raft/ClusterConfig.js"
import type { RefusalGate } from "../../../services/raft/RaftTrace.js"
import type { CoreCluster } from "../../../src/testing/CoreCluster.js"
import { append, bytes, cmd, detached, lastSent, nid, noop } from "./helpers.js"
import { encodeState } from "./stateMachine.js"

const cfg3 = ConfigPayload.make({ new: ClusterConfig.ofVoters("f", "l", "m") })

/** One InstallSnapshot frame; by default the whole `state` in a single chunk. */
const snap = (f: {
  term: number
  index: number
  snapTerm: number
  state: Uint8Array
  offset?: number
  totalBytes?: number
  done?: boolean
}): RaftMessage => {
  const offset = f.offset ?? 0
  const totalBytes = f.totalBytes ?? offset + f.state.byteLength
  return {
    _tag: "InstallSnapshot",
    term: f.term,
    lastIncludedIndex: f.index,
    lastIncludedTerm: f.snapTerm,
    offset,
    totalBytes,
    data: f.state,
    done: f.done ?? offset + f.state.byteLength === totalBytes,
    config: cfg3,
    round: 0
  }
}

const disk = (c: CoreCluster, id: string) => c.disks.get(nid(id))!

describe("InstallSnapshot, receiver rules", () => {
  /** `f` holding entries 1..10 of term 1 from leader `l`, 3 of them committed. */
  const follower = (config = {}) => {
    const c = detached(["f", "l", "m"], config)
    const entries = [noop(1, 1), ...Array.from({ length: 9 }, (_, i) => cmd(i + 2, 1))]
    c.inject("f", "l", append({ term: 1, entries, leaderCommit: 3 }))
    return { c, f: c.node("f") }
  }

  it("a snapshot inside the log whose term matches keeps the suffix after it", () => {
    const { c, f } = follower()
    c.inject("f", "l", snap({ term: 1, index: 6, snapTerm: 1, state: encodeState(["six"]) }))
    expect(f.log.snapshotIndex).toBe(6)
    expect(f.log.lastIndex).toBe(10)
    expect(f.commitIndex).toBe(6)
    expect(disk(c, "f").entries.map((e) => e.index)).toEqual([7, 8, 9, 10])
    expect(disk(c, "f").snapshot!.meta).toEqual({ lastIncludedIndex: 6, lastIncludedTerm: 1, config: cfg3 })
    expect(c.stream.get(nid("f"))!.at(-1)).toMatchObject({ _tag: "Install", snapshot: { throughIndex: 6 } })
    expect(lastSent(c, "f", "l", "InstallSnapshotResponse")).toMatchObject({ term: 1, lastIncludedIndex: 6, nextOffset: encodeState(["six"]).byteLength })
    // Entries committed after the install follow it in the consumer's stream.
    c.inject("f", "l", append({ term: 1, prevLogIndex: 10, prevLogTerm: 1, leaderCommit: 8 }))
    expect(c.stream.get(nid("f"))!.slice(-3).map((x) => x._tag)).toEqual(["Install", "Entry", "Entry"])
  })

  it("a snapshot whose term conflicts with the entry at its index wipes the log", () => {
    const { c, f } = follower()
    c.inject("f", "m", snap({ term: 2, index: 8, snapTerm: 2, state: encodeState(["eight"]) }))
    expect(f.log.snapshotIndex).toBe(8)
    expect(f.log.lastIndex).toBe(8)
    expect(f.log.snapshotTerm).toBe(2)
    expect(disk(c, "f").entries).toEqual([])
    expect(f.leader).toBe("m")
    expect(f.term).toBe(2)
  })

  it("a snapshot beyond the end of the log replaces it, and appends continue after it", () => {
    const { c, f } = follower()
    c.inject("f", "l", snap({ term: 1, index: 15, snapTerm: 1, state: encodeState(["fifteen"]) }))
    expect(f.log.lastIndex).toBe(15)
    expect(f.commitIndex).toBe(15)
    c.inject("f", "l", append({ term: 1, prevLogIndex: 15, prevLogTerm: 1, entries: [cmd(16, 1), cmd(17, 1)], leaderCommit: 17 }))
    expect(disk(c, "f").entries.map((e) => e.index)).toEqual([16, 17])
    expect(f.commitIndex).toBe(17)
  })

  it("a snapshot at or below the commit index is acknowledged whole without installing anything", () => {
    const { c, f } = follower()
    const streamed = c.stream.get(nid("f"))!.length
    c.inject("f", "l", snap({ term: 1, index: 3, snapTerm: 1, state: new Uint8Array(20), offset: 0, totalBytes: 50 }))
    expect(lastSent(c, "f", "l", "InstallSnapshotResponse")).toMatchObject({ lastIncludedIndex: 3, nextOffset: 50 })
    expect(f.log.snapshotIndex).toBe(0)
    expect(c.stream.get(nid("f"))!.length).toBe(streamed)
  })

  it("reassembles chunks, re-advertising what it holds after a gap, an overlap or another snapshot's chunk", () => {
    const { c, f } = follower()
    const state = bytes(JSON.stringify(["abcdefghijklmnopqrstuvwxyz0123"]))
    const total = state.byteLength
    const chunk = (offset: number, len: number, index = 9) =>
      c.inject("f", "l", snap({ term: 1, index, snapTerm: 1, state: state.subarray(offset, offset + len), offset, totalBytes: total }))
    const acked = () => lastSent(c, "f", "l", "InstallSnapshotResponse").nextOffset
    chunk(0, 10)
    expect(acked()).toBe(10)
    chunk(20, 5)
    expect(acked()).toBe(10)
    chunk(5, 10)
    expect(acked()).toBe(15)
    chunk(15, 5, 8)
    expect(acked()).toBe(0)
    chunk(3, 4)
    expect(acked()).toBe(15)
    expect(f.log.snapshotIndex).toBe(0)
    chunk(15, total - 15)
    expect(acked()).toBe(total)
    expect(f.log.snapshotIndex).toBe(9)
    expect(disk(c, "f").snapshot!.state).toEqual(state)
  })

  it("a chunk at offset 0 restarts the reassembly", () => {
    const { c, f } = follower()
    const state = encodeState(["0123456789", "abcdefghij"])
    c.inject("f", "l", snap({ term: 1, index: 9, snapTerm: 1, state: state.subarray(0, 12), totalBytes: state.byteLength }))
    c.inject("f", "l", snap({ term: 1, index: 9, snapTerm: 1, state: state.subarray(0, 4), totalBytes: state.byteLength }))
    expect(f.reassembly!.held).toBe(4)
    expect(lastSent(c, "f", "l", "InstallSnapshotResponse").nextOffset).toBe(4)
  })

  it("refuses a snapshot larger than snapshotTotalCeiling: buffer dropped, 0 advertised, metric and trace", () => {
    const { c, f } = follower({ snapshotTotalCeiling: 64 })
    c.inject("f", "l", snap({ term: 1, index: 9, snapTerm: 1, state: new Uint8Array(10), totalBytes: 100 }))
    expect(lastSent(c, "f", "l", "InstallSnapshotResponse").nextOffset).toBe(0)
    expect(f.reassembly).toBeUndefined()
    expect(c.metrics.map((m) => m.metric)).toContainEqual(
      expect.objectContaining({ _tag: "SnapshotRejectedSizeCeiling", attemptedTotal: 100, ceiling: 64 })
    )
    expect(c.tracesOf("SnapshotRejected")).toEqual([expect.objectContaining({ node: "f", from: "l", attemptedTotal: 100 })])
    // Exactly at the ceiling is fine.
    c.inject("f", "l", snap({ term: 1, index: 9, snapTerm: 1, state: new Uint8Array(64) }))
    expect(f.log.snapshotIndex).toBe(9)
  })

  it("a stale-term snapshot is answered with our term and changes nothing", () => {
    const { c, f } = follower()
    c.inject("f", "m", append({ term: 2, prevLogIndex: 10, prevLogTerm: 1, leaderCommit: 3 }))
    c.inject("f", "l", snap({ term: 1, index: 9, snapTerm: 1, state: new Uint8Array(4) }))
    expect(lastSent(c, "f", "l", "InstallSnapshotResponse")).toMatchObject({ term: 2, nextOffset: 0, echoedRound: 0 })
    expect(f.log.snapshotIndex).toBe(0)
    expect(f.leader).toBe("m")
  })

  const gates: Array<[string, (c: CoreCluster) => RaftMessage, string, RefusalGate]> = [
    ["a byte range past the snapshot's size", () => snap({ term: 1, index: 9, snapTerm: 1, state: new Uint8Array(10), offset: 5, totalBytes: 8 }), "l", "InstallSnapshotIndexOutOfRange"],
    ["index 0", () => snap({ term: 1, index: 0, snapTerm: 1, state: new Uint8Array(1) }), "l", "InstallSnapshotIndexOutOfRange"],
    ["`done` before the last byte", () => snap({ term: 1, index: 9, snapTerm: 1, state: new Uint8Array(2), totalBytes: 8, done: true }), "l", "InstallSnapshotIndexOutOfRange"],
    ["a snapshot term above the frame's term", () => snap({ term: 1, index: 9, snapTerm: 2, state: new Uint8Array(1) }), "l", "InstallSnapshotTermOutOfRange"],
    ["a snapshot term of 0", () => snap({ term: 1, index: 9, snapTerm: 0, state: new Uint8Array(1) }), "l", "InstallSnapshotTermOutOfRange"],
    ["another term for a committed entry", () => snap({ term: 2, index: 2, snapTerm: 2, state: new Uint8Array(1) }), "m", "InstallSnapshotBelowCommittedTermFloor"],
    ["a second leader for a pinned term", () => snap({ term: 1, index: 9, snapTerm: 1, state: new Uint8Array(1) }), "m", "ForgedLeaderForTerm"]
  ]
  for (const [what, frame, from, gate] of gates) {
    it(`refuses ${what} (${gate}) without replying or changing state`, () => {
      const { c, f } = follower()
      const before = { term: f.term, contact: f.leaderContactAt, log: f.log.lastIndex, commit: f.commitIndex, disk: JSON.stringify(disk(c, "f")) }
      const sent = c.sent.length
      const traced = c.traces.length
      c.inject("f", from, frame(c))
      expect(c.tracesOf("FrameRefused", traced)).toEqual([expect.objectContaining({ node: "f", from, messageType: "InstallSnapshot", gate })])
      expect(c.sent.slice(sent).filter((s) => s.from === "f")).toEqual([])
      expect({ term: f.term, contact: f.leaderContactAt, log: f.log.lastIndex, commit: f.commitIndex, disk: JSON.stringify(disk(c, "f")) }).toEqual(before)
    })
  }

  it("refuses a snapshot beyond our commit with a term below our last committed entry's (committed term floor)", () => {
    const c = detached(["f", "l", "m"])
    c.inject("f", "l", append({ term: 2, entries: [noop(1, 1), cmd(2, 1), noop(3, 2), cmd(4, 2)], leaderCommit: 4 }))
    const traced = c.traces.length
    c.inject("f", "m", snap({ term: 3, index: 9, snapTerm: 1, state: new Uint8Array(1) }))
    expect(c.tracesOf("FrameRefused", traced)).toEqual([expect.objectContaining({ gate: "InstallSnapshotBelowCommittedTermFloor" })])
    expect(c.node("f").term).toBe(2)
  })
})
