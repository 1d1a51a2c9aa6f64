/**
 * B4 — a leader partitioned into a minority keeps serving reads (without confirming a quorum, or
 * on a lease longer than the election timeout) while the majority elects a new leader and commits
 * writes the old leader's reads do not see.
 *
 * Real instances: Consul 2014 (a lease equal to the heartbeat timeout), d-engine #381, Xline #870.
 *
 * We serve no lease-based reads at all (ReadIndex only: every read waits for a quorum to echo a
 * round sent after it arrived), so the clock-drift variants of the reference do not apply; the
 * scenario is the partition itself. Five voters; the leader n1 keeps one follower (n2) on its side
 * of a partition — 2 of 5, a minority in which n2's acknowledgements alone must not confirm
 * anything. Reads are issued on n1 (readIndex) and through n2 (readFence) before, during and after
 * the majority {n3, n4, n5} elects a leader and acknowledges writes. Each read blocks, then fails
 * with LeadershipLost (CheckQuorum deposes n1) or NotLeader; none ever returns an index.
 */
import { describe, expect, it } from "@effect/vitest"
import type { Outcome } from "../../src/raft/core/Ready.js"
import { RaftConfig } from "../../services/raft/RaftConfig.js"
import { awaitLeader, bytes, committedCommands, expectCommittedAgree, leadersByTerm, voters } from "../raft/core/helpers.js"
import { makeLeader, outcomeOf, proposedIndex, readIndexOf, sever } from "./scenario.js"

const cfg = RaftConfig.unsafeMake({})
const minority = ["n1", "n2"]
const majority = ["n3", "n4", "n5"]

describe("B4 a leader cut off in a minority never answers a read", () => {
  for (const seed of [1, 2, 3]) {
    it(`reads on the minority side block or fail while the majority commits new writes (seed ${seed})`, () => {
      const c = voters(5, { seed })
      makeLeader(c, "n1")
      const n1 = c.node("n1")
      const term = n1.term
      // Control: connected, both kinds of read are answered.
      expect(readIndexOf(outcomeOf(c, c.readIndex("n1"), 20))).toBe(n1.commitIndex)
      expect(readIndexOf(outcomeOf(c, c.readFence("n2"), 20))).toBe(n1.commitIndex)

      for (const id of minority) sever(c, id, majority)
      const partitionedAt = c.traces.length
      const reads: Array<number> = []
      const issue = () => {
        if (n1.role === "Leader") reads.push(c.readIndex("n1"))
        reads.push(c.readFence("n2"))
      }
      issue()
      // Meanwhile the majority elects a leader and acknowledges writes the minority never sees.
      const next = awaitLeader(c, 3000, majority)
      expect(next.term).toBeGreaterThan(term)
      const written: Array<number> = []
      for (let k = 0; k < 5; k++) {
        issue()
        written.push(proposedIndex(outcomeOf(c, c.propose(next.id, bytes(`new-${k}`)), 50)))
        c.advance(20)
      }
      issue()
      c.advance(2 * cfg.electionTimeoutMax)
      // n1 stepped down (CheckQuorum) at its old term; no read was ever confirmed on the minority side.
      expect(n1.role).not.toBe("Leader")
      expect(n1.term).toBe(term)
      expect(c.tracesOf("ReadIndexConfirmed", partitionedAt).filter((e) => minority.includes(e.node))).toEqual([])
      const outcomes = reads.map((h) => c.outcomes.get(h))
      const answered = outcomes.filter((o): o is Extract<Outcome, { _tag: "Read" }> => o?._tag === "Read")
      expect(answered).toEqual([])
      for (const o of outcomes) if (o !== undefined) expect(["LeadershipLost", "NotLeader"]).toContain(o._tag)
      // Whatever is still pending is answered only after healing, by the real leader, covering the writes.
      expect(c.outcomes.get(c.readIndex("n1"))).toMatchObject({ _tag: "NotLeader" })
      c.heal()
      expect(c.advanceUntil(() => reads.every((h) => c.outcomes.has(h)), 1000)).toBe(true)
      for (const h of reads) {
        const o = c.outcomes.get(h)!
        if (o._tag === "Read") expect(o.index).toBeGreaterThanOrEqual(Math.max(...written))
      }
      c.advance(200)
      for (const id of minority) expect(committedCommands(c, id)).toEqual(["new-0", "new-1", "new-2", "new-3", "new-4"])
      expectCommittedAgree(c)
      leadersByTerm(c)
    })
  }
})
