/**
 * B7 — races between log compaction, InstallSnapshot and replication.
 *
 * Real instances: etcd #2918 (slice out of bounds after compaction), etcd #7470 (index
 * unavailable due to compaction + a slow network), hashicorp/raft #697 (InstallSnapshot livelock;
 * panic on MonotonicLogStore), RedisRaft #43 (snapshot/log index mismatch panic), camunda
 * #4451/#13724, seaweedfs #7811.
 *
 * Scenarios, each with the exact interleaving forced by cuts and `inject`:
 *   1. compaction while a follower is probing: the follower's answer (a rejection hint, or a
 *      success that leaves the next batch below the floor) is in flight when the leader compacts
 *      past it; the leader must switch to InstallSnapshot, never send a frame anchored below its
 *      floor, and never throw;
 *   2. two snapshots in flight: the leader compacts again mid-transfer, and a complete copy of the
 *      OLD snapshot reaches the follower in the middle of the NEW transfer (and again afterwards);
 *   3. a snapshot inside the follower's log (matching term: the suffix is kept; conflicting term:
 *      the log is wiped) versus beyond it — each followed by a restart from what reached the disk;
 *   4. a crash in the middle of an install (a partial snapshot never reaches the disk; the
 *      transfer completes after the restart) and right after one;
 *   5. the follower compacts while a delayed AppendEntries overlapping its compacted prefix is on
 *      the wire.
 * Safety throughout: every node's state machine converges byte-equal to the leader's, and every
 * disk image passes the start-up consistency check.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { validateDurableState } from "../../services/raft/validateDurableState.js"
import type { AppendEntries, AppendEntriesResponse, InstallSnapshot, RaftMessage } from "../../src/codec/raft/RaftMessage.js"
import { ClusterConfig, ConfigPayload } from "../../services/raft/ClusterConfig.js"
import type { DurableState, StoredSnapshot } from "../../services/raft/RaftStorage.js"
import type { CoreCluster } from "../../src/testing/CoreCluster.js"
import { append, bytes, cmd, detached, lastSent, logTerms, nid, noop, voters } from "../raft/core/helpers.js"
import { machineOf, publish, stateBytes } from "../raft/core/stateMachine.js"
import { expectNoConflictingCommits, makeLeader, sentBetween } from "./scenario.js"

const load = (c: CoreCluster, leader: string, n: number, prefix: string) => {
  for (let i = 0; i < n; i++) {
    c.propose(leader, bytes(`${prefix}${i}`))
    c.advance(2)
  }
  c.advance(60)
}

/** The disk of `id` as `load` would return it, checked as the engine checks it at start. */
const expectDiskSound = (c: CoreCluster, id: string): void => {
  const d = c.disks.get(nid(id))!
  const state: DurableState = { hardState: d.hardState, leaderForTerm: d.leaderForTerm, snapshot: d.snapshot, entries: d.entries }
  const verdict = validateDurableState(state)
  expect(Either.isRight(verdict) ? "sound" : verdict.left.reason, id).toBe("sound")
}

const converged = (c: CoreCluster, leader: string, ids: ReadonlyArray<string>, maxMs = 3000): void => {
  expect(c.advanceUntil(() => ids.every((id) => c.node(id).commitIndex === c.node(leader).commitIndex), maxMs)).toBe(true)
  load(c, leader, 2, "after")
  for (const id of ids) {
    expect(stateBytes(c, id), id).toEqual(stateBytes(c, leader))
    expectDiskSound(c, id)
  }
  expectNoConflictingCommits(c)
}

/** No AppendEntries `from` → `to` since `since` is anchored below `floor`. */
const expectNoFrameBelow = (c: CoreCluster, since: number, from: string, to: string, floor: number): void => {
  for (const m of sentBetween(c, since, from, to, "AppendEntries")) expect(m.message.prevLogIndex).toBeGreaterThanOrEqual(floor)
}

describe("B7 compaction and InstallSnapshot races", () => {
  for (const seed of [1, 2]) {
    it(`compaction lands while a new leader's probe rejection is in flight (seed ${seed})`, () => {
      const c = voters(3, { seed })
      makeLeader(c, "n1")
      c.crash("n3")
      load(c, "n1", 20, "v")
      // A fresh leader knows nothing of n3: it probes at its own last index.
      const t = c.transferLeadership("n1", "n2")
      expect(c.advanceUntil(() => c.outcomes.get(t)?._tag === "Transferred", 1000)).toBe(true)
      c.advance(20)
      c.cutLink("n3", "n2")
      const since = c.sent.length
      c.restart("n3")
      expect(c.advanceUntil(() => sentBetween(c, since, "n3", "n2", "AppendEntriesResponse").length > 0, 500)).toBe(true)
      const rejection = sentBetween(c, since, "n3", "n2", "AppendEntriesResponse")[0]!.message
      expect(rejection.success).toBe(false)
      expect(rejection.conflictIndex).toBeLessThan(c.node("n2").lastEmitted)
      // The leader compacts past the hint; then the hint arrives.
      expect(publish(c, "n2")).toBe(true)
      const floor = c.node("n2").log.snapshotIndex
      expect(floor).toBeGreaterThan(rejection.conflictIndex)
      const injectedAt = c.sent.length
      c.inject("n2", "n3", rejection)
      expect(sentBetween(c, injectedAt, "n2", "n3", "InstallSnapshot")).not.toEqual([])
      expectNoFrameBelow(c, injectedAt, "n2", "n3", floor)
      c.heal()
      converged(c, "n2", ["n1", "n3"])
      expectNoFrameBelow(c, injectedAt, "n2", "n3", floor)
    })

    it(`compaction lands while a probe's success is in flight and the next batch is below the floor (seed ${seed})`, () => {
      const c = voters(3, { seed, config: { maxBatchEntries: 4 } })
      makeLeader(c, "n1")
      c.crash("n3")
      load(c, "n1", 20, "v")
      c.cutLink("n3", "n1")
      const since = c.sent.length
      c.restart("n3")
      // The first batch of four reaches n3; its success is held back.
      expect(c.advanceUntil(() => sentBetween(c, since, "n3", "n1", "AppendEntriesResponse").some((m) => m.message.success && m.message.matchIndex > 1), 500)).toBe(true)
      const ok = sentBetween(c, since, "n3", "n1", "AppendEntriesResponse").find((m) => m.message.success && m.message.matchIndex > 1)!.message
      expect(ok.matchIndex).toBeLessThan(c.node("n1").lastEmitted - 4)
      expect(publish(c, "n1")).toBe(true)
      const floor = c.node("n1").log.snapshotIndex
      const injectedAt = c.sent.length
      c.inject("n1", "n3", ok)
      expect(sentBetween(c, injectedAt, "n1", "n3", "InstallSnapshot")).not.toEqual([])
      expectNoFrameBelow(c, injectedAt, "n1", "n3", floor)
      c.heal()
      converged(c, "n1", ["n2", "n3"])
    })

    it(`two snapshots in flight: the leader compacts again mid-transfer, and the old snapshot arrives late (seed ${seed})`, () => {
      const c = voters(3, { seed, config: { snapshotChunkCeiling: 4 } })
      makeLeader(c, "n1")
      const l = c.node("n1")
      c.crash("n3")
      load(c, "n1", 30, "v")
      expect(publish(c, "n1")).toBe(true)
      const s1 = l.snapshot!
      c.restart("n3")
      const pr = () => l.progress.get(nid("n3"))!
      expect(c.advanceUntil(() => pr().state === "Snapshot" && pr().snapshotOffset > 0, 1000)).toBe(true)
      // The leader moves on and compacts again: the transfer switches to the newer snapshot.
      for (let i = 0; i < 5; i++) c.propose("n1", bytes(`more${i}`))
      c.advance(5)
      expect(publish(c, "n1")).toBe(true)
      const s2 = l.snapshot!
      expect(s2.meta.lastIncludedIndex).toBeGreaterThan(s1.meta.lastIncludedIndex)
      expect(c.advanceUntil(() => pr().state === "Snapshot" && pr().snapshotIndex === s2.meta.lastIncludedIndex && pr().snapshotOffset > 0, 1000)).toBe(true)
      // A delayed, complete copy of the OLD snapshot reaches n3 in the middle of the new transfer.
      const whole = (s: StoredSnapshot): RaftMessage => ({
        _tag: "InstallSnapshot",
        term: l.term,
        lastIncludedIndex: s.meta.lastIncludedIndex,
        lastIncludedTerm: s.meta.lastIncludedTerm,
        offset: 0,
        totalBytes: s.state.byteLength,
        data: s.state,
        done: true,
        config: s.meta.config,
        round: 0
      })
      c.inject("n3", "n1", whole(s1))
      expect(c.advanceUntil(() => c.node("n3").log.snapshotIndex === s2.meta.lastIncludedIndex, 3000)).toBe(true)
      converged(c, "n1", ["n2", "n3"])
      // And once more, after everything: acknowledged whole, installs nothing, changes nothing.
      const stream = c.stream.get(nid("n3"))!.length
      const commit = c.node("n3").commitIndex
      c.inject("n3", "n1", whole(s1))
      expect(lastSent(c, "n3", "n1", "InstallSnapshotResponse")).toMatchObject({ lastIncludedIndex: s1.meta.lastIncludedIndex, nextOffset: s1.state.byteLength })
      expect(c.stream.get(nid("n3"))!.length).toBe(stream)
      expect(c.node("n3").commitIndex).toBe(commit)
      expect(c.node("n3").log.snapshotIndex).toBeGreaterThanOrEqual(s2.meta.lastIncludedIndex)
      // The same late copy at n2, which never compacted but committed past it: nothing installed.
      const n2 = c.node("n2")
      const n2Stream = c.stream.get(nid("n2"))!.length
      const n2Emitted = n2.lastEmitted
      expect(n2.log.snapshotIndex).toBeLessThan(s1.meta.lastIncludedIndex)
      c.inject("n2", "n1", whole(s1))
      expect(n2.log.snapshotIndex).toBeLessThan(s1.meta.lastIncludedIndex)
      expect(n2.lastEmitted).toBe(n2Emitted)
      expect(c.stream.get(nid("n2"))!.length).toBe(n2Stream)
      // n3's consumer only ever moved forward.
      const installs = c.stream.get(nid("n3"))!.flatMap((x) => (x._tag === "Install" ? [x.snapshot.throughIndex] : []))
      expect(installs).toEqual([...installs].sort((a, b) => a - b))
      expect(machineOf(c, "n3").commands).toEqual(machineOf(c, "n1").commands)
    })

    it(`a crash in the middle of an install, and right after one (seed ${seed})`, () => {
      const c = voters(3, { seed, config: { snapshotChunkCeiling: 16 } })
      makeLeader(c, "n1")
      const l = c.node("n1")
      c.crash("n3")
      const before = structuredClone(c.disks.get(nid("n3"))!)
      load(c, "n1", 40, "v")
      expect(publish(c, "n1")).toBe(true)
      const floor = l.log.snapshotIndex
      c.restart("n3")
      expect(c.advanceUntil(() => (c.node("n3").reassembly?.held ?? 0) >= 5 * 16, 1000)).toBe(true)
      // Mid-install: nothing of the partial snapshot reached the disk.
      c.crash("n3")
      expect(c.disks.get(nid("n3"))!.snapshot).toBeNull()
      expect(c.disks.get(nid("n3"))!.entries).toEqual(before.entries)
      expectDiskSound(c, "n3")
      c.advance(100)
      c.restart("n3")
      expect(c.advanceUntil(() => c.node("n3").log.snapshotIndex === floor, 3000)).toBe(true)
      // Right after the install persisted, before anything else: restart from the snapshot alone.
      c.crash("n3")
      expect(c.disks.get(nid("n3"))!.snapshot?.meta.lastIncludedIndex).toBe(floor)
      expectDiskSound(c, "n3")
      c.restart("n3")
      expect(c.node("n3").commitIndex).toBeGreaterThanOrEqual(floor)
      expect(c.node("n3").committedFrom(1).items[0]).toMatchObject({ _tag: "Install", snapshot: { throughIndex: floor } })
      converged(c, "n1", ["n2", "n3"])
    })

    it(`a follower compacts while an AppendEntries overlapping its compacted prefix is on the wire (seed ${seed})`, () => {
      const c = voters(3, { seed })
      makeLeader(c, "n1")
      // Hold back every frame n1 sends n2 while it proposes: they arrive later, duplicated.
      c.cutLink("n1", "n2")
      const since = c.sent.length
      load(c, "n1", 10, "v")
      const delayed = sentBetween(c, since, "n1", "n2", "AppendEntries").map((m) => m.message as AppendEntries)
      expect(delayed.some((m) => m.entries.length > 0)).toBe(true)
      c.heal()
      expect(c.advanceUntil(() => c.node("n2").commitIndex === c.node("n1").commitIndex, 500)).toBe(true)
      expect(publish(c, "n2")).toBe(true)
      const n2 = c.node("n2")
      const floor = n2.log.snapshotIndex
      const terms = logTerms(n2)
      const at = c.sent.length
      for (const m of delayed) c.inject("n2", "n1", m)
      for (const m of sentBetween(c, at, "n2", "n1", "AppendEntriesResponse")) {
        const r: AppendEntriesResponse = m.message
        expect(r.success).toBe(true)
      }
      expect(n2.log.snapshotIndex).toBe(floor)
      expect(logTerms(n2)).toEqual(terms)
      expectDiskSound(c, "n2")
      converged(c, "n1", ["n2", "n3"])
    })
  }

  describe("a snapshot inside vs beyond the follower's log, then a restart from disk", () => {
    const cfg3 = ConfigPayload.make({ new: ClusterConfig.ofVoters("f", "l", "m") })
    const snap = (term: number, index: number, snapTerm: number): InstallSnapshot => ({
      _tag: "InstallSnapshot",
      term,
      lastIncludedIndex: index,
      lastIncludedTerm: snapTerm,
      offset: 0,
      totalBytes: 4,
      data: bytes(`s${index}`.padEnd(4, "_")),
      done: true,
      config: cfg3,
      round: 0
    })
    /** f holds 1..10 of term 1 from l, 3 of them committed. */
    const follower = () => {
      const c = detached(["f", "l", "m"])
      c.inject("f", "l", append({ term: 1, entries: [noop(1, 1), ...Array.from({ length: 9 }, (_, i) => cmd(i + 2, 1))], leaderCommit: 3 }))
      return c
    }
    const cases: Array<[string, string, InstallSnapshot, { snapshotIndex: number; lastIndex: number; disk: Array<number> }]> = [
      ["inside, matching term: the suffix after it is kept", "l", snap(1, 6, 1), { snapshotIndex: 6, lastIndex: 10, disk: [7, 8, 9, 10] }],
      ["inside, conflicting term: the whole log is discarded", "m", snap(2, 8, 2), { snapshotIndex: 8, lastIndex: 8, disk: [] }],
      ["beyond the end of the log: it replaces the log", "l", snap(1, 15, 1), { snapshotIndex: 15, lastIndex: 15, disk: [] }]
    ]
    for (const [what, from, frame, expected] of cases) {
      it(what, () => {
        const c = follower()
        c.inject("f", from, frame)
        const f = c.node("f")
        expect({ snapshotIndex: f.log.snapshotIndex, lastIndex: f.log.lastIndex }).toEqual({ snapshotIndex: expected.snapshotIndex, lastIndex: expected.lastIndex })
        expect(c.disks.get(nid("f"))!.entries.map((e) => e.index)).toEqual(expected.disk)
        expectDiskSound(c, "f")
        const terms = logTerms(f).slice(expected.snapshotIndex)
        c.crash("f")
        c.restart("f")
        c.isolate("f")
        const g = c.node("f")
        expect({ snapshotIndex: g.log.snapshotIndex, lastIndex: g.log.lastIndex }).toEqual({ snapshotIndex: expected.snapshotIndex, lastIndex: expected.lastIndex })
        expect(logTerms(g).slice(expected.snapshotIndex)).toEqual(terms)
        expect(g.commitIndex).toBe(expected.snapshotIndex)
        // The next append from the snapshot's leader continues exactly after what f holds.
        const last = g.log.lastIndex
        c.inject("f", from, append({ term: frame.term, prevLogIndex: last, prevLogTerm: g.log.termAt(last)!, entries: [cmd(last + 1, frame.term)], leaderCommit: last + 1 }))
        expect(lastSent(c, "f", from, "AppendEntriesResponse")).toMatchObject({ success: true, matchIndex: last + 1 })
        expect(g.commitIndex).toBe(last + 1)
        expectDiskSound(c, "f")
      })
    }
  })
})
