/**
 * B12 — commit index regression and the append "ABA" race.
 *
 * Real instances: etcd-io/raft `testdata/commit_index_regression.txt` (etcd #10166, etcd-io/raft
 * #25: a follower that lost its un-persisted tail is told to commit past its last index — etcd
 * panicked with "tocommit(15) is out of range [lastIndex(12)]") and
 * `testdata/async_storage_writes_append_aba_race.txt` (an entry at index 12 is written at term 1,
 * overwritten at term 2, then at term 3, while older appends are still in flight: the older ones
 * must never resurrect what a newer one replaced).
 *
 * Scenarios:
 *   1. a follower receiving stale, duplicated or shorter AppendEntries — a lower `leaderCommit`, a
 *      prefix of what it holds, a heartbeat anchored lower — never lowers its commit index, never
 *      truncates, never re-emits an entry;
 *   2. the ABA transcript, ported to our synchronous shell: follower n1 of a 7-node cluster gets
 *      index 12 from n2 (term 1), n3 (term 2) and n4 (term 3), then the older frames again (also
 *      all within one turn); memory and disk always agree, end at term 3, and only 12@3 commits;
 *   3. a cluster whose network re-delivers old AppendEntries and old responses at random (seeded):
 *      no node's commit index or emitted log ever moves backwards within an incarnation;
 *   4. the commit_index_regression transcript: a follower loses the tail it had acknowledged
 *      (storage broke its contract); the leader's commit index is beyond the follower's log.
 *      The follower never commits or emits what it does not hold (etcd's panic), and the same
 *      leader re-probes it from its last index and brings it back up to date.
 */
import { describe, expect, it } from "@effect/vitest"
import type { AppendEntriesResponse, RaftMessage } from "../../src/codec/raft/RaftMessage.js"
import type { LogEntry } from "../../services/raft/LogEntry.js"
import { Prng } from "../../src/raft/core/Prng.js"
import type { RaftCore } from "../../src/raft/core/RaftCore.js"
import type { CoreCluster } from "../../src/testing/CoreCluster.js"
import {
  append, bytes, cmd, committedByIndex, detached, expectCommittedAgree, lastSent, leadersByTerm, logTerms, nid, noop, voters
} from "../raft/core/helpers.js"
import { makeLeader } from "./scenario.js"

/** `f`'s in-memory log and its disk hold the same entries (index and term). */
const expectDiskMatchesLog = (c: CoreCluster, id: string): void => {
  const core = c.node(id)
  const disk = c.disks.get(nid(id))!.entries.map((e) => [e.index, e.term])
  const mem: Array<[number, number]> = []
  for (let i = core.log.snapshotIndex + 1; i <= core.log.lastIndex; i++) mem.push([i, core.log.termAt(i)!])
  expect(disk).toEqual(mem)
}

describe("B12 commit index never regresses; older appends never undo newer ones", () => {
  it("stale, duplicated and shorter AppendEntries never lower the commit index or truncate", () => {
    const c = detached(["f", "l", "m"])
    const f = c.node("f")
    const batch = [noop(1, 1), ...Array.from({ length: 5 }, (_, i) => cmd(i + 2, 1))]
    const first = append({ term: 1, entries: batch, leaderCommit: 5 })
    c.inject("f", "l", first)
    expect(f.commitIndex).toBe(5)
    const frames: Array<[string, RaftMessage]> = [
      ["the same frame again, duplicated", first],
      ["an older frame with a lower leaderCommit", append({ term: 1, entries: batch, leaderCommit: 2 })],
      ["a shorter prefix", append({ term: 1, entries: batch.slice(0, 3), leaderCommit: 3 })],
      ["a heartbeat anchored lower", append({ term: 1, prevLogIndex: 2, prevLogTerm: 1, leaderCommit: 1 })],
      ["a heartbeat at the end with a lower leaderCommit", append({ term: 1, prevLogIndex: 6, prevLogTerm: 1, leaderCommit: 4 })]
    ]
    for (const [what, frame] of frames) {
      c.inject("f", "l", frame)
      expect(f.commitIndex, what).toBe(5)
      expect(logTerms(f), what).toEqual([1, 1, 1, 1, 1, 1])
      expectDiskMatchesLog(c, "f")
      expect(lastSent(c, "f", "l", "AppendEntriesResponse").success, what).toBe(true)
    }
    // A newer leader's first heartbeat, anchored low with a low commit: still no regression.
    c.inject("f", "m", append({ term: 2, prevLogIndex: 1, prevLogTerm: 1, leaderCommit: 1 }))
    expect(f.commitIndex).toBe(5)
    expect(logTerms(f)).toEqual([1, 1, 1, 1, 1, 1])
    expect(c.committed.get(nid("f"))!.map((e) => e.index)).toEqual([1, 2, 3, 4, 5])
  })

  describe("the async-storage-writes append ABA transcript (etcd-io/raft), on follower n1 of seven", () => {
    const ids = ["n1", "n2", "n3", "n4", "n5", "n6", "n7"]
    /** n1 holds 1..11 at term 1, committed (the transcript's `index=10` start plus n2's no-op). */
    const start = () => {
      const c = detached(ids)
      c.inject("n1", "n2", append({ term: 1, entries: [noop(1, 1), ...Array.from({ length: 10 }, (_, i) => cmd(i + 2, 1))], leaderCommit: 11 }))
      return c
    }
    const initProp: LogEntry = { ...cmd(12, 1, "init_prop") }
    const fromN2 = append({ term: 1, prevLogIndex: 11, prevLogTerm: 1, entries: [initProp], leaderCommit: 11 })
    const fromN3 = append({ term: 2, prevLogIndex: 11, prevLogTerm: 1, entries: [noop(12, 2)], leaderCommit: 11 })
    const heartbeatN4 = append({ term: 3, prevLogIndex: 11, prevLogTerm: 1, leaderCommit: 11 })
    const fromN4 = append({ term: 3, prevLogIndex: 11, prevLogTerm: 1, entries: [noop(12, 3)], leaderCommit: 11 })
    const commitN4 = append({ term: 3, prevLogIndex: 12, prevLogTerm: 3, leaderCommit: 12 })

    it("frame by frame, with the older frames re-delivered at the end", () => {
      const c = start()
      const n1 = c.node("n1")
      // Step 2–3: n2's init_prop reaches n1 only.
      c.inject("n1", "n2", fromN2)
      expect(logTerms(n1).at(-1)).toBe(1)
      expectDiskMatchesLog(c, "n1")
      // Step 4–5: n3 campaigns at term 2 (n1 refuses), then its no-op replaces 12.
      c.inject("n1", "n3", { _tag: "RequestVote", term: 2, lastLogIndex: 11, lastLogTerm: 1, leadershipTransfer: false })
      expect(lastSent(c, "n1", "n3", "RequestVoteResponse").voteGranted).toBe(false)
      c.inject("n1", "n3", fromN3)
      expect(logTerms(n1).at(-1)).toBe(2)
      expectDiskMatchesLog(c, "n1")
      // Step 6–7: n4 wins term 3; its heartbeat arrives before its no-op, which replaces 12 again.
      c.inject("n1", "n4", heartbeatN4)
      expect(c.disks.get(nid("n1"))!.hardState.term).toBe(3)
      c.inject("n1", "n4", fromN4)
      expect(logTerms(n1).at(-1)).toBe(3)
      expectDiskMatchesLog(c, "n1")
      // Step 8–9: the older appends arrive again. They must not bring back 12@1 or 12@2.
      for (const [from, frame] of [["n2", fromN2], ["n3", fromN3], ["n2", fromN2]] as const) {
        c.inject("n1", from, frame)
        expect(lastSent(c, "n1", from, "AppendEntriesResponse")).toMatchObject({ term: 3, success: false })
        expect(logTerms(n1).at(-1)).toBe(3)
        expectDiskMatchesLog(c, "n1")
      }
      c.inject("n1", "n4", fromN4)
      expect(lastSent(c, "n1", "n4", "AppendEntriesResponse")).toMatchObject({ term: 3, success: true, matchIndex: 12 })
      c.inject("n1", "n4", commitN4)
      expect(n1.commitIndex).toBe(12)
      expect(committedByIndex(c, "n1").get(12)).toEqual(noop(12, 3))
      expect(c.disks.get(nid("n1"))!.entries.at(-1)).toEqual(noop(12, 3))
    })

    it("all within one turn: the single storage batch writes 12@3 only", () => {
      const c = start()
      const n1 = c.node("n1")
      // Deliver every frame to the core before the shell takes one Ready.
      const frames: Array<[string, RaftMessage]> = [["n2", fromN2], ["n3", fromN3], ["n4", heartbeatN4], ["n4", fromN4], ["n2", fromN2], ["n3", fromN3]]
      for (const [from, frame] of frames) n1.receive(nid(from), frame, c.now)
      const ready = n1.takeReady()
      expect(ready.persist.hardState?.term).toBe(3)
      expect(ready.persist.append).toEqual([noop(12, 3)])
      expect(ready.persist.truncateFrom === undefined || ready.persist.truncateFrom === 12).toBe(true)
      expect(ready.committed).toEqual([])
      n1.onPersisted()
      expect(logTerms(n1).at(-1)).toBe(3)
      // The answers at term 3 report only what n1 holds from n4.
      const toN4 = ready.messages.filter((m) => m.to === "n4" && m.message._tag === "AppendEntriesResponse")
      expect(toN4.map((m) => (m.message as AppendEntriesResponse).matchIndex)).toEqual([11, 12])
      const stale = ready.messages.filter((m) => m.to !== "n4" && m.message._tag === "AppendEntriesResponse" && m.message.term === 3)
      for (const m of stale) expect((m.message as AppendEntriesResponse).success).toBe(false)
    })
  })

  for (const seed of [1, 2, 3]) {
    it(`a network that re-delivers old AppendEntries and old responses never moves a commit index back (seed ${seed})`, () => {
      const c = voters(5, { seed })
      makeLeader(c, "n1")
      const rng = new Prng(seed * 977 + 13)
      // Per incarnation (a restart starts a new core: the commit index is volatile by design).
      const seen = new WeakMap<RaftCore, { commit: number; emitted: number }>()
      let replayed = 0
      let window = 0
      const violations: Array<string> = []
      for (let ms = 0; ms < 1800; ms++) {
        const l = c.leaders[0]
        if (l !== undefined && ms % 7 === 0) c.propose(l.id, bytes(`w${ms}`))
        // A leader change now and then, so frames of older terms are in the mix too.
        if (l !== undefined && ms % 400 === 200 && ms < 1400) {
          c.crash(l.id)
          c.restart(l.id)
        }
        c.advance(1)
        // Two old frames re-delivered every millisecond, picked at random among those sent in the
        // last 200 ms (a network that duplicates and delays, boundedly: replaying a dead leader's
        // heartbeats forever would keep its followers from ever electing another, in any Raft).
        while (c.sent[window]!.at < c.now - 200) window++
        for (let k = 0; k < 2; k++) {
          const old = c.sent[window + (rng.nextU32() % (c.sent.length - window))]!
          const tag = old.message._tag
          if ((tag === "AppendEntries" || tag === "AppendEntriesResponse") && c.cores.has(old.to)) {
            c.inject(old.to, old.from, old.message)
            replayed++
          }
        }
        for (const core of c.cores.values()) {
          const prior = seen.get(core)
          if (prior !== undefined && core.commitIndex < prior.commit) violations.push(`${core.id} commit ${prior.commit} -> ${core.commitIndex}`)
          if (prior !== undefined && core.lastEmitted < prior.emitted) violations.push(`${core.id} emitted ${prior.emitted} -> ${core.lastEmitted}`)
          if (core.commitIndex > core.log.lastIndex) violations.push(`${core.id} commit ${core.commitIndex} beyond its log`)
          seen.set(core, { commit: core.commitIndex, emitted: core.lastEmitted })
        }
      }
      expect(violations).toEqual([])
      expect(replayed).toBeGreaterThan(1000)
      // Not vacuous: leaders changed and the log kept growing through the replays.
      expect(leadersByTerm(c).size).toBeGreaterThanOrEqual(3)
      expect(Math.min(...[...c.cores.values()].map((x) => x.commitIndex))).toBeGreaterThan(100)
      expectCommittedAgree(c)
    })
  }

  describe("the commit_index_regression transcript (etcd-io/raft): a follower loses the tail it acknowledged", () => {
    /** n3 acknowledged p13..p15 and then lost them (restart on a disk truncated to before them). */
    const truncatedFollower = () => {
      const c = voters(3, { seed: 12 })
      makeLeader(c, "n1")
      c.propose("n1", bytes("p12"))
      c.advance(60)
      const checkpoint = structuredClone(c.disks.get(nid("n3"))!)
      for (const s of ["p13", "p14", "p15"]) c.propose("n1", bytes(s))
      c.advance(3)
      const n1 = c.node("n1")
      expect(n1.progress.get(nid("n3"))!.match).toBe(n1.log.lastIndex)
      expect(n1.commitIndex).toBe(n1.log.lastIndex)
      c.crash("n3")
      c.disks.set(nid("n3"), checkpoint)
      c.restart("n3")
      expect(c.node("n3").log.lastIndex).toBe(n1.log.lastIndex - 3)
      return { c, n1 }
    }

    it("the follower is never told to commit, and never emits, what it does not hold", () => {
      const { c, n1 } = truncatedFollower()
      const n3 = c.node("n3")
      let beyond = 0
      for (let ms = 0; ms < 1000; ms++) {
        c.advance(1)
        // etcd: "tocommit(15) is out of range [lastIndex(12)]" — a panic, or worse, an apply of nothing.
        if (n3.commitIndex > n3.log.lastIndex || n3.lastEmitted > n3.log.lastIndex) beyond++
      }
      expect(beyond).toBe(0)
      expect(n1.role).toBe("Leader")
      expectCommittedAgree(c)
    })

    // Liveness (the storage broke its contract by losing acknowledged entries): n1 still holds
    // n3's match at 15 although n3 now ends at 12, so its heartbeats (prev = 15) are refused. Such a
    // refusal answers a frame sent after n1 received n3's last proof of its match (a later
    // ReadIndex round), so
    // n1 lowers n3's progress back to Probe at n3's last index + 1 and repairs it under the same
    // leader (etcd-io/raft #25) instead of waiting for a leader change.
    it("…and the same leader brings it back up to date (etcd-io/raft #25)", () => {
      const { c, n1 } = truncatedFollower()
      c.propose("n1", bytes("p16"))
      expect(c.advanceUntil(() => c.node("n3").commitIndex === n1.commitIndex, 2000)).toBe(true)
      expect(c.node("n3").log.lastIndex).toBe(n1.log.lastIndex)
    })
  })
})
