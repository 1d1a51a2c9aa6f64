/**
 * Raft paper §5.4 Safety: the election restriction (§5.4.1) and committing entries from previous
 * terms (§5.4.2), including the Figure 8 schedule (bug class B1) driven with crash, isolate and
 * inject. Our leaders append a no-op on election, so every index is one above the paper's.
 */
import { describe, expect, it } from "@effect/vitest"
import type { RaftCore } from "../../../src/raft/core/RaftCore.js"
import type { CoreCluster } from "../../../src/testing/CoreCluster.js"
import { append, awaitLeader, bytes, committedByIndex, expectCommittedAgree, leadersByTerm, voters } from "./helpers.js"

describe("§5.4.1 election restriction", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`a node that missed committed entries cannot win; the winner holds every committed entry (seed ${seed})`, () => {
      const c = voters(3, { seed })
      const l = awaitLeader(c)
      const [f, g] = c.options.ids.filter((id) => id !== l.id)
      c.isolate(g!)
      for (let i = 0; i < 5; i++) c.propose(l.id, bytes(`e${i}`))
      c.advance(20)
      const committed = l.commitIndex
      expect(committed).toBe(6)
      c.heal()
      c.isolate(l.id)
      // Until g has asked f, f's own requests cannot reach g (so f cannot simply win first).
      c.cutLink(f!, g!)
      const denied = () => [
        ...c.tracesOf("PreVoteDenied").filter((e) => e.node === f && e.to === g),
        ...c.tracesOf("VoteDenied").filter((e) => e.from === f && e.to === g)
      ]
      expect(c.advanceUntil(() => denied().length > 0, 3000)).toBe(true)
      expect(denied().every((e) => e.reasons.includes("LogNotUpToDate"))).toBe(true)
      c.heal()
      c.isolate(l.id)
      const next = awaitLeader(c, 5000, [f!, g!])
      expect(next.id).toBe(f)
      expect(c.tracesOf("BecomeLeader").filter((e) => e.node === g)).toEqual([])
      for (let i = 1; i <= committed; i++) expect(next.log.termAt(i)).toBe(l.log.termAt(i))
    })
  }
})

/**
 * Figure 8 with five servers s1..s5 (roles found at run time):
 * (a) L1 leads in term T1 and replicates index 2 to one follower (S2) only;
 * (b) L1 crashes; L2 is elected by the other three and appends index 2 at T2 alone, then crashes;
 * (c) L1 (or S2) is elected again in T3 and gets its T1 entry at index 2 onto a third node (S3)
 *     without its own T3 no-op: index 2 now sits on a majority but is from an older term.
 */
interface Fig8 {
  c: CoreCluster
  l1: string
  s2: string
  l2: string
  l3: RaftCore
  other: string
  s3: string
  s4: string
  t1: number
}

const figure8 = (seed: number): Fig8 => {
  const c = voters(5, { seed })
  const first = awaitLeader(c)
  c.advance(20)
  const l1 = first.id
  const t1 = first.term
  const [s2, ...rest] = c.options.ids.filter((id) => id !== l1) as [string, ...Array<string>]
  // (a)
  for (const id of rest) {
    c.cutLink(l1, id)
    c.cutLink(id, l1)
  }
  c.propose(l1, bytes("from-T1"))
  c.advance(2)
  expect(c.node(s2).log.termAt(2)).toBe(t1)
  c.isolate(l1)
  c.crash(l1)
  c.isolate(s2)
  // (b)
  const l2core = awaitLeader(c, 5000, rest)
  const l2 = l2core.id
  const t2 = l2core.term
  c.isolate(l2)
  c.crash(l2)
  expect(c.disks.get(l2 as never)!.entries.map((e) => e.term)).toEqual([t1, t2])
  // (c)
  c.heal()
  c.isolate(l2)
  c.restart(l1)
  const [s3, s4] = rest.filter((id) => id !== l2) as [string, string]
  const l3 = awaitLeader(c, 5000, [l1, s2])
  c.cutLink(l3.id, s3)
  c.cutLink(l3.id, s4)
  const other = l3.id === l1 ? s2 : l1
  const entry2 = l3.log.entry(2)!
  expect(entry2.term).toBe(t1)
  c.inject(s3, l3.id, append({
    term: l3.term, prevLogIndex: 1, prevLogTerm: l3.log.termAt(1)!, entries: [entry2], leaderCommit: l3.commitIndex
  }))
  c.advance(3)
  return { c, l1, s2, l2, l3, other, s3, s4, t1 }
}

const holdsT1At2 = (f: Fig8) => [f.l3.id, f.other, f.s3].filter((id) => f.c.node(id).log.termAt(2) === f.t1)

describe("§5.4.2 committing entries from previous terms (Figure 8)", () => {
  for (const seed of [1, 2, 3]) {
    it(`an entry from an earlier term is never committed by counting replicas, and may then be overwritten (seed ${seed})`, () => {
      const f = figure8(seed)
      const { c, l3 } = f
      // (c): on a majority, yet uncommitted.
      expect(holdsT1At2(f)).toHaveLength(3)
      expect(l3.role).toBe("Leader")
      expect(l3.progress.get(f.s3 as never)!.match).toBe(2)
      // (A restarted node knows no commit until an entry of its own term commits.)
      expect(l3.commitIndex).toBeLessThan(2)
      c.advance(40)
      expect(l3.commitIndex).toBeLessThan(2)
      expect(c.tracesOf("AdvanceCommitIndex").filter((e) => e.new >= 2)).toEqual([])
      // (d): L3 crashes, L2 comes back and is elected by S3 and S4, overwriting index 2.
      c.isolate(l3.id)
      c.crash(l3.id)
      c.isolate(f.other)
      for (const [a, b] of [[f.l2, f.s3], [f.l2, f.s4], [f.s3, f.l2], [f.s4, f.l2], [f.s3, f.s4], [f.s4, f.s3]]) {
        c.cut.delete(`${a}->${b}`)
      }
      c.restart(f.l2)
      const l4 = awaitLeader(c, 5000, [f.l2, f.s3, f.s4])
      expect(l4.id).toBe(f.l2)
      c.advance(200)
      const t2 = c.node(f.l2).log.termAt(2)!
      for (const id of [f.l2, f.s3, f.s4]) {
        expect(c.node(id).log.termAt(2)).toBe(t2)
        expect(committedByIndex(c, id).get(2)?.term).toBe(t2)
      }
      // No node ever handed the T1 entry at index 2 to its consumer.
      for (const id of c.options.ids) expect(committedByIndex(c, id).get(2)?.term).not.toBe(f.t1)
      expectCommittedAgree(c)
      leadersByTerm(c)
    })

    it(`once a current-term entry is on a majority, the older entry is committed with it and survives (seed ${seed})`, () => {
      const f = figure8(seed)
      const { c, l3 } = f
      // (e): L3's own no-op reaches S3 as well; that commits index 2 indirectly.
      c.cut.delete(`${l3.id}->${f.s3}`)
      expect(c.advanceUntil(() => l3.commitIndex >= 3, 200)).toBe(true)
      expect(c.advanceUntil(() => committedByIndex(c, f.s3).has(2), 200)).toBe(true)
      expect(committedByIndex(c, f.s3).get(2)?.term).toBe(f.t1)
      c.isolate(l3.id)
      c.crash(l3.id)
      c.isolate(f.other)
      for (const [a, b] of [[f.l2, f.s3], [f.l2, f.s4], [f.s3, f.l2], [f.s4, f.l2], [f.s3, f.s4], [f.s4, f.s3]]) {
        c.cut.delete(`${a}->${b}`)
      }
      c.restart(f.l2)
      // L2's log (T2 at index 2) is behind S3's (T3 at index 3): S3 never lets it win. S3's own
      // frames are held back until L2 has asked it, so S3 cannot simply win first.
      c.cutLink(f.s3, f.l2)
      c.cutLink(f.s3, f.s4)
      const denied = () => [
        ...c.tracesOf("PreVoteDenied").filter((e) => e.node === f.s3 && e.to === f.l2),
        ...c.tracesOf("VoteDenied").filter((e) => e.from === f.s3 && e.to === f.l2)
      ]
      expect(c.advanceUntil(() => denied().length > 0, 3000)).toBe(true)
      expect(denied().every((e) => e.reasons.includes("LogNotUpToDate"))).toBe(true)
      c.cut.delete(`${f.s3}->${f.l2}`)
      c.cut.delete(`${f.s3}->${f.s4}`)
      c.advance(3000)
      expect(c.tracesOf("BecomeLeader").filter((e) => e.node === f.l2)).toHaveLength(1)
      for (const id of [f.l2, f.s3, f.s4]) {
        const e2 = committedByIndex(c, id).get(2)
        if (e2 !== undefined) expect(e2.term).toBe(f.t1)
      }
      expect(committedByIndex(c, f.l2).get(2)?.term).toBe(f.t1)
      expectCommittedAgree(c)
      leadersByTerm(c)
    })
  }
})
