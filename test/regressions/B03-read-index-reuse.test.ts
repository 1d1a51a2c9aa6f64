/**
 * B3 — ReadIndex context reuse and delayed heartbeat acknowledgements.
 *
 * Real instances: etcd #20418 (fixed by #21399 / etcd-io/raft #397) — a ReadIndex request whose
 * context duplicated one already pending was folded into it and answered with the OLDER request's
 * read index, once the older round was acknowledged: a stale read; antfly #599. The general
 * shape: any acknowledgement that was produced before a read arrived — a delayed, duplicated or
 * replayed heartbeat response — must never confirm that read.
 *
 * Our leader stamps a monotonic round on every AppendEntries; a read admitted while the round is H
 * needs echoes of a round > H from a quorum (ReadIndex.ts). The schedules below hold every
 * follower response back (one-way cuts), then deliver them by `inject` in a chosen order:
 *   1. a duplicated read context: follower n2 sends ReadIndexRequest #7 (read A), a write W is
 *      acknowledged, then #7 arrives again (read B). B must be answered on its own, by echoes of
 *      a later round, with an index ≥ W — never together with A, never with A's index;
 *   2. a stale leader: n1 is cut off, the majority elects a new leader and acknowledges a write;
 *      acknowledgements n1 collected from an earlier round are replayed to it again and again
 *      (they also keep its CheckQuorum satisfied, so it keeps believing it leads). No read issued
 *      after the cut is ever answered.
 */
import { describe, expect, it } from "@effect/vitest"
import type { AppendEntriesResponse, ReadIndexResponse } from "../../src/codec/raft/RaftMessage.js"
import type { CoreCluster, SentMessage } from "../../src/testing/CoreCluster.js"
import { awaitLeader, bytes, voters } from "../raft/core/helpers.js"
import { justAfterHeartbeat, makeLeader, proposedIndex, readIndexOf } from "./scenario.js"

/** Runs until `id` has just sent a heartbeat and its answers are in: a quiet interval follows. */
const quietAfterHeartbeat = (c: CoreCluster, id: string): void => {
  justAfterHeartbeat(c, id)
  c.advance(2)
}

type Ack = SentMessage & { readonly message: AppendEntriesResponse }

/** The AppendEntries responses the followers sent to `leader` since `since` (held back by cuts). */
const acksTo = (c: CoreCluster, leader: string, since: number): Array<Ack> =>
  c.sent.slice(since).filter((m): m is Ack => m.to === leader && m.message._tag === "AppendEntriesResponse")

const deliver = (c: CoreCluster, acks: ReadonlyArray<Ack>): void => {
  for (const a of acks) c.inject(a.to, a.from, a.message)
}

/** Fence answers the leader sent to `to` for request id `requestId`, in order. */
const fencesTo = (c: CoreCluster, to: string, requestId: number): Array<ReadIndexResponse> =>
  c.sent
    .filter((m) => m.to === to && m.message._tag === "ReadIndexResponse" && m.message.requestId === requestId)
    .map((m) => m.message as ReadIndexResponse)

describe("B3 old, duplicated or replayed acknowledgements never confirm a newer read", () => {
  for (const seed of [1, 2, 3]) {
    it(`a duplicated read context is confirmed on its own round, with its own (newer) index (seed ${seed})`, () => {
      const c = voters(3, { seed })
      makeLeader(c, "n1")
      quietAfterHeartbeat(c, "n1")
      const l = c.node("n1")
      // The followers still hear n1, but every answer they send is held back.
      c.cutLink("n2", "n1")
      c.cutLink("n3", "n1")

      // W goes out in round r (the round current before any read arrives).
      const r = l.reads.round
      const mark0 = c.sent.length
      const w = c.propose("n1", bytes("W"))
      c.advance(2)
      const ackW = acksTo(c, "n1", mark0)
      expect(ackW.map((a) => a.message.echoedRound)).toEqual([r, r])

      // Read A (context #7 from n2) is admitted at round r, before W commits: a new round r+1.
      const mark1 = c.sent.length
      c.inject("n1", "n2", { _tag: "ReadIndexRequest", requestId: 7 })
      c.advance(2)
      const ackA = acksTo(c, "n1", mark1)
      expect(ackA.map((a) => a.message.echoedRound)).toEqual([r + 1, r + 1])

      // W's acks (round r) arrive: W commits and is acknowledged; they confirm nothing for A.
      deliver(c, ackW)
      const wIndex = proposedIndex(c.outcomes.get(w))
      expect(l.commitIndex).toBe(wIndex)
      expect(fencesTo(c, "n2", 7)).toEqual([])

      // Read B reuses context #7 (a duplicate or a retransmission), after W was acknowledged.
      const mark2 = c.sent.length
      c.inject("n1", "n2", { _tag: "ReadIndexRequest", requestId: 7 })
      c.advance(2)
      const ackB = acksTo(c, "n1", mark2)
      expect(ackB.map((a) => a.message.echoedRound)).toEqual([r + 2, r + 2])

      // A's round is acknowledged: A alone is answered, with the index it was admitted at.
      deliver(c, ackA)
      const afterA = fencesTo(c, "n2", 7)
      expect(afterA).toHaveLength(1)
      expect(afterA[0]!.outcome).toEqual({ _tag: "Fence", index: wIndex - 1 })
      // Duplicates of every earlier acknowledgement, in any order: still nothing for B.
      deliver(c, [...ackA, ...ackW, ...ackA])
      expect(fencesTo(c, "n2", 7)).toHaveLength(1)

      // B's own round: B is answered, and its index covers W.
      deliver(c, ackB.slice(0, 1))
      const afterB = fencesTo(c, "n2", 7)
      expect(afterB).toHaveLength(2)
      expect(afterB[1]!.outcome).toEqual({ _tag: "Fence", index: wIndex })
    })

    it(`acknowledgements replayed to a stale leader never confirm a read it admitted after losing contact (seed ${seed})`, () => {
      const c = voters(3, { seed })
      makeLeader(c, "n1")
      quietAfterHeartbeat(c, "n1")
      const l = c.node("n1")
      const term = l.term
      c.cutLink("n2", "n1")
      c.cutLink("n3", "n1")
      // Read X is admitted; the round it triggers is echoed, and n1 keeps those echoes' frames.
      const mark = c.sent.length
      const x = c.readIndex("n1")
      c.advance(2)
      const old = acksTo(c, "n1", mark)
      expect(old).toHaveLength(2)

      // From now on n1 hears nothing real. Read Y is admitted after the cut.
      c.isolate("n1")
      const y = c.readIndex("n1")
      // The old echoes legitimately confirm X (they were sent after X arrived), not Y.
      deliver(c, old)
      expect(readIndexOf(c.outcomes.get(x))).toBe(l.commitIndex)
      expect(c.outcomes.has(y)).toBe(false)

      // The majority moves on and acknowledges a write; n1 is fed the old echoes every 20 ms.
      const replay = () => {
        for (let ms = 0; ms < 20; ms++) c.advance(1)
        deliver(c, old)
      }
      let next = c.leaders.find((x) => x.id !== "n1")
      while (next === undefined) {
        replay()
        next = c.leaders.find((x) => x.id !== "n1")
      }
      expect(next.term).toBeGreaterThan(term)
      const w = c.propose(next.id, bytes("W2"))
      while (!c.outcomes.has(w)) replay()
      const z = c.readIndex("n1")
      for (let k = 0; k < 20; k++) replay()
      // n1 still believes it leads term `term` (the replays satisfied its CheckQuorum)…
      expect(l.role).toBe("Leader")
      expect(l.term).toBe(term)
      // …but neither read was answered: a Read here would miss W2.
      expect(c.outcomes.has(y)).toBe(false)
      expect(c.outcomes.has(z)).toBe(false)
      expect(c.tracesOf("ReadIndexConfirmed").filter((e) => e.node === "n1")).toHaveLength(1)

      // Reconnected, n1 learns the newer term: both reads fail, neither ever returned a value.
      c.heal()
      expect(c.advanceUntil(() => c.outcomes.has(y) && c.outcomes.has(z), 500)).toBe(true)
      expect(c.outcomes.get(y)).toMatchObject({ _tag: "LeadershipLost" })
      expect(c.outcomes.get(z)).toMatchObject({ _tag: "LeadershipLost" })
      expect(awaitLeader(c).id).toBe(next.id)
    })
  }
})
