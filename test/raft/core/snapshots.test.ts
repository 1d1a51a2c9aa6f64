/**
 * Log compaction and InstallSnapshot (§7; chunked transfer; races of
 * bug class B7), on the pure core cluster.
 */
import { describe, expect, it } from "@effect/vitest"
import type { RaftMessage } from "../../../src/codec/raft/RaftMessage.js"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { CoreCluster } from "../../../src/testing/CoreCluster.js"
import { awaitLeader, bytes, nid, voters } from "./helpers.js"
import { machineOf, publish, stateBytes } from "./stateMachine.js"

/** Commands v0..v(n-1), proposed at the leader a few ms apart, then settled. */
const load = (c: CoreCluster, leader: string, n: number, prefix = "v") => {
  for (let i = 0; i < n; i++) {
    c.propose(leader, bytes(`${prefix}${i}`))
    c.advance(2)
  }
  c.advance(60)
}

/** A cluster whose follower `f` missed `n` entries that the leader then compacted away. */
const lagging = (n: number, options: Parameters<typeof voters>[1] = {}) => {
  const c = voters(3, { seed: 61, ...options })
  const l = awaitLeader(c)
  c.advance(20)
  const [f, g] = c.options.ids.filter((id) => id !== l.id) as [string, string]
  c.crash(f)
  load(c, l.id, n)
  expect(publish(c, l.id)).toBe(true)
  // Let the probes sent before the compaction (which carry the entries) die on the way.
  c.advance(5)
  return { c, l, f, g, floor: l.log.snapshotIndex }
}

const installsTo = (c: CoreCluster, to: string, since = 0) =>
  c.sentSince(since, "InstallSnapshot").filter((m) => m.to === to).map((m) => m.message as Extract<RaftMessage, { _tag: "InstallSnapshot" }>)

const disk = (c: CoreCluster, id: string) => c.disks.get(nid(id))!

describe("compaction", () => {
  it("persists the snapshot with the config at the cut and discards the prefix in the same batch", () => {
    const c = voters(3, { seed: 60 })
    const l = awaitLeader(c)
    load(c, l.id, 10)
    const through = l.lastEmitted - 3
    expect(publish(c, l.id, through)).toBe(true)
    expect(l.log.snapshotIndex).toBe(through)
    const d = disk(c, l.id)
    expect(d.snapshot?.meta).toEqual({ lastIncludedIndex: through, lastIncludedTerm: l.term, config: l.config })
    expect(d.entries[0]!.index).toBe(through + 1)
    expect(c.tracesOf("Compacted")).toEqual([expect.objectContaining({ node: l.id, throughIndex: through, throughTerm: l.term })])
    // Not beyond what the consumer was handed, never backwards.
    expect(publish(c, l.id, l.lastEmitted + 1)).toBe(false)
    expect(publish(c, l.id, through)).toBe(false)
    expect(publish(c, l.id, through - 1)).toBe(false)
  })

  it("records the membership in force at the cut, not a later one", () => {
    const c = voters(3, { seed: 62 })
    const l = awaitLeader(c)
    load(c, l.id, 3)
    const before = l.lastEmitted
    const h = c.changeMembership(l.id, ClusterConfig.of(["n1", "n2", "n3"], ["x"]))
    c.advance(50)
    expect(c.membershipOutcomes.get(h)?._tag).toBe("Changed")
    expect(publish(c, l.id, before)).toBe(true)
    expect(disk(c, l.id).snapshot!.meta.config.new.learners.size).toBe(0)
    expect(l.config.new.learners.has(nid("x"))).toBe(true)
  })
})

describe("InstallSnapshot, end to end", () => {
  it("an offline follower installs the snapshot and its state machine converges byte-equal", () => {
    const { c, l, f, floor } = lagging(30)
    c.restart(f)
    expect(c.advanceUntil(() => c.node(f).log.snapshotIndex === floor && c.node(f).commitIndex === l.commitIndex, 1000)).toBe(true)
    load(c, l.id, 5, "after")
    expect(c.node(f).commitIndex).toBe(l.commitIndex)
    expect(machineOf(c, f).commands).toEqual(machineOf(c, l.id).commands)
    expect(stateBytes(c, f)).toEqual(stateBytes(c, l.id))
    expect(machineOf(c, f).commands).toHaveLength(35)
    expect(c.stream.get(nid(f))!.filter((x) => x._tag === "Install")).toEqual([
      expect.objectContaining({ snapshot: expect.objectContaining({ throughIndex: floor }) })
    ])
    expect(disk(c, f).snapshot!.meta.lastIncludedIndex).toBe(floor)
    expect(c.tracesOf("InstallSnapshotAccepted")).toEqual([expect.objectContaining({ from: f, to: l.id, lastIncludedIndex: floor })])
  })

  it("under a tiny payload budget the snapshot travels in many chunks, one in flight at a time", () => {
    const { c, l, f, floor } = lagging(60, { maxPayload: 320 })
    const since = c.sent.length
    c.restart(f)
    expect(c.advanceUntil(() => c.node(f).log.snapshotIndex === floor, 3000)).toBe(true)
    const chunks = installsTo(c, f, since)
    const total = chunks[0]!.totalBytes
    // 320 − 256 reserved − 32 for the config (the test entry-size model).
    for (const ch of chunks) expect(ch.data.byteLength).toBeLessThanOrEqual(32)
    const offsets = [...new Set(chunks.map((ch) => ch.offset))].sort((a, b) => a - b)
    expect(offsets.length).toBe(Math.ceil(total / 32))
    expect(chunks.filter((ch) => ch.done).length).toBeGreaterThanOrEqual(1)
    load(c, l.id, 3, "after")
    expect(stateBytes(c, f)).toEqual(stateBytes(c, l.id))
  })

  it("an interrupted transfer resumes from the acknowledged offset, not from 0", () => {
    const { c, l, f, floor } = lagging(80, { config: { snapshotChunkCeiling: 16 } })
    c.restart(f)
    const pr = () => l.progress.get(nid(f))!
    expect(c.advanceUntil(() => pr().state === "Snapshot" && pr().snapshotOffset >= 5 * 16, 1000)).toBe(true)
    c.isolate(f)
    const acked = pr().snapshotOffset
    const cutAt = c.sent.length
    c.advance(200)
    // Heartbeats kept resending the current chunk (dropped), never restarting the transfer.
    const during = installsTo(c, f, cutAt)
    expect(during.length).toBeGreaterThanOrEqual(3)
    for (const ch of during) expect(ch.offset).toBe(acked)
    expect(c.node(f).reassembly!.held).toBeGreaterThanOrEqual(acked)
    const healAt = c.sent.length
    c.heal()
    expect(c.advanceUntil(() => c.node(f).log.snapshotIndex === floor, 1000)).toBe(true)
    const after = installsTo(c, f, healAt)
    expect(after[0]!.offset).toBe(acked)
    expect(after.every((ch) => ch.offset >= acked)).toBe(true)
    load(c, l.id, 2, "after")
    expect(stateBytes(c, f)).toEqual(stateBytes(c, l.id))
  })

  it("a leader that compacts again mid-transfer switches to its newer snapshot (two snapshots in flight)", () => {
    const { c, l, f } = lagging(60, { config: { snapshotChunkCeiling: 8 } })
    c.restart(f)
    const pr = () => l.progress.get(nid(f))!
    expect(c.advanceUntil(() => pr().state === "Snapshot" && pr().snapshotOffset > 0, 1000)).toBe(true)
    load(c, l.id, 5, "more")
    expect(publish(c, l.id)).toBe(true)
    const newer = l.log.snapshotIndex
    expect(c.advanceUntil(() => c.node(f).commitIndex === l.commitIndex && c.node(f).log.snapshotIndex === newer, 3000)).toBe(true)
    expect(stateBytes(c, f)).toEqual(stateBytes(c, l.id))
  })

  it("compacting while a new leader probes a returning follower sends the snapshot instead of a dangling probe", () => {
    const c = voters(5, { seed: 63 })
    const l1 = awaitLeader(c)
    c.advance(20)
    const f = c.options.ids.find((id) => id !== l1.id)!
    c.crash(f)
    load(c, l1.id, 20)
    // A new leader knows nothing of f: its first probe sits at its own last index.
    c.isolate(l1.id)
    const l = awaitLeader(c, 5000, c.options.ids.filter((id) => id !== l1.id && id !== f))
    c.advance(20)
    const since = c.sent.length
    c.restart(f)
    expect(c.advanceUntil(() => c.sentSince(since, "AppendEntriesResponse").some((m) => m.from === f && m.to === l.id), 500)).toBe(true)
    const rejection = c.sentSince(since, "AppendEntriesResponse").find((m) => m.from === f)!.message
    expect(rejection).toMatchObject({ success: false, conflictIndex: 2 })
    // The rejection is on the wire; the leader compacts past the hint before it lands.
    expect(publish(c, l.id)).toBe(true)
    const floor = l.log.snapshotIndex
    const compactedAt = c.sent.length
    expect(c.advanceUntil(() => c.node(f).log.snapshotIndex === floor && c.node(f).commitIndex === l.commitIndex, 1000)).toBe(true)
    // No AppendEntries left the leader anchored below its compaction floor.
    for (const m of c.sentSince(compactedAt, "AppendEntries")) {
      if (m.from === l.id && m.message._tag === "AppendEntries") expect(m.message.prevLogIndex).toBeGreaterThanOrEqual(floor)
    }
    expect(stateBytes(c, f)).toEqual(stateBytes(c, l.id))
  })

  it("snapshot acks alone keep a long transfer's follower counted by CheckQuorum", () => {
    const { c, l, f, g, floor } = lagging(120, { config: { snapshotChunkCeiling: 2 } })
    c.crash(g)
    c.restart(f)
    expect(c.advanceUntil(() => l.progress.get(nid(f))?.state === "Snapshot", 500)).toBe(true)
    const start = c.now
    // ~750 bytes at 2 bytes per round trip outlasts several CheckQuorum periods (150–300 ms), during
    // which f sends the leader nothing but snapshot acks.
    expect(c.advanceUntil(() => c.node(f).log.snapshotIndex === floor, 5000)).toBe(true)
    expect(c.now - start).toBeGreaterThan(2 * 300)
    expect(l.role).toBe("Leader")
    expect(c.tracesOf("BecomeFollower").filter((e) => e.node === l.id)).toEqual([])
  })

  it("a snapshot above the follower's reassembly ceiling is refused, reported, and never installed", () => {
    const { c, l, f, g } = lagging(40, { config: { snapshotTotalCeiling: 64 } })
    c.restart(f)
    c.advance(400)
    expect(c.node(f).log.snapshotIndex).toBe(0)
    const rejected = c.metrics.filter((m) => m.node === f && m.metric._tag === "SnapshotRejectedSizeCeiling")
    expect(rejected.length).toBeGreaterThanOrEqual(2)
    expect(rejected[0]!.metric).toMatchObject({ attemptedTotal: stateBytes(c, l.id, l.log.snapshotIndex).byteLength, ceiling: 64 })
    expect(c.tracesOf("SnapshotRejected")[0]).toMatchObject({ node: f, from: l.id, ceiling: 64 })
    // The rest of the cluster is unaffected.
    load(c, l.id, 2, "ok")
    expect(c.node(g).commitIndex).toBe(l.commitIndex)
  })
})

describe("restart and committedFrom", () => {
  it("committedFrom at or below the floor starts with Install, then the entries after it", () => {
    const c = voters(3, { seed: 64 })
    const l = awaitLeader(c)
    load(c, l.id, 10)
    const through = l.lastEmitted - 4
    expect(publish(c, l.id, through)).toBe(true)
    for (const from of [0, 1, through]) {
      const cut = l.committedFrom(from)
      expect(cut.items[0]).toMatchObject({ _tag: "Install", snapshot: { throughIndex: through, state: stateBytes(c, l.id, through) } })
      expect(cut.items.slice(1).map((x) => (x._tag === "Entry" ? x.entry.index : -1))).toEqual([through + 1, through + 2, through + 3, through + 4])
      expect(cut.upTo).toBe(l.lastEmitted)
    }
    expect(l.committedFrom(through + 1).items.map((x) => x._tag)).toEqual(["Entry", "Entry", "Entry", "Entry"])
  })

  it("a node restarts from snapshot + log: commit starts at the snapshot, committedFrom replays it, it catches up", () => {
    const c = voters(3, { seed: 65 })
    const l = awaitLeader(c)
    load(c, l.id, 12)
    const f = c.options.ids.find((id) => id !== l.id)!
    const through = c.node(f).lastEmitted - 5
    expect(publish(c, f, through)).toBe(true)
    c.crash(f)
    load(c, l.id, 3, "while-down")
    c.restart(f)
    const r = c.node(f)
    expect(r.log.snapshotIndex).toBe(through)
    expect(r.snapshot?.state).toEqual(stateBytes(c, l.id, through))
    const replay = r.committedFrom(1)
    expect(replay.items[0]).toMatchObject({ _tag: "Install", snapshot: { throughIndex: through } })
    expect(c.advanceUntil(() => r.commitIndex === l.commitIndex, 500)).toBe(true)
    expect(stateBytes(c, f)).toEqual(stateBytes(c, l.id))
  })

  it("the whole cluster restarts from snapshots taken at different points and keeps one history", () => {
    const c = voters(3, { seed: 66 })
    const l = awaitLeader(c)
    load(c, l.id, 15)
    c.options.ids.forEach((id, i) => expect(publish(c, id, 4 + 3 * i)).toBe(true))
    for (const id of c.options.ids) c.crash(id)
    for (const id of c.options.ids) c.restart(id)
    const l2 = awaitLeader(c)
    load(c, l2.id, 2, "reborn")
    for (const id of c.options.ids) {
      const cut = c.node(id).committedFrom(1)
      expect(cut.items[0]!._tag).toBe("Install")
      expect(stateBytes(c, id)).toEqual(stateBytes(c, l2.id))
    }
    expect(machineOf(c, l2.id).commands).toHaveLength(17)
  })
})
