/**
 * B5 — the single-server membership change bug (Ongaro, raft-dev, 2015; thesis §4.3 errata).
 *
 * Real instance: the dissertation's single-server change algorithm itself. Two single-server
 * changes, started by two leaders of different terms from the same old configuration C0, can each
 * gather a majority of their own new configuration — and the two majorities can be disjoint
 * (etcd's `SplitBrain456` is the same shape). The published fix: a leader must commit an entry of
 * its own term before it appends a configuration change; one uncommitted change at a time; a
 * configuration takes effect when appended and is reverted when that entry is truncated.
 *
 * We go further: every voter-set change goes through joint consensus (C_old,new needs a majority
 * of BOTH), so neither half of the published schedules can even form. Each schedule below is the
 * published one on C0 = {n1, n2, n3, n4}:
 *   1. n1 leads T1 and starts change C1; only `reach1` receives it; n1 crashes;
 *   2. n2 is elected in T2 by n2, n3, n4 — it must refuse any change until its own no-op commits,
 *      then starts change C2 reaching only `reach2`, and refuses a second change while C2 pends;
 *   3. the cluster splits into side1 = {n1 (restarted), ...} and side2 = {n2, ...}: in the buggy
 *      protocol side1 is a majority of C1 and side2 a majority of C2, disjoint. Here neither side
 *      may elect a leader that commits anything, and n1 never leads again;
 *   4. healed, the cluster converges on one history; Election Safety holds over the whole run.
 */
import { describe, expect, it } from "@effect/vitest"
import { ClusterConfig } from "../../services/raft/ClusterConfig.js"
import type { CoreCluster } from "../../src/testing/CoreCluster.js"
import {
  awaitLeader, bytes, committedByIndex, expectCommittedAgree, leadersByTerm, voters
} from "../raft/core/helpers.js"
import { makeLeader, outcomeOf, proposedIndex, sever } from "./scenario.js"

interface Schedule {
  readonly name: string
  /** Joiners started (empty, as learners of themselves) before the schedule. */
  readonly joiners: ReadonlyArray<string>
  readonly c1: ReadonlyArray<string>
  readonly reach1: ReadonlyArray<string>
  readonly c2: ReadonlyArray<string>
  readonly reach2: ReadonlyArray<string>
  /** The two sides of step 3: in the buggy protocol, majorities of C1 and of C2 respectively. */
  readonly side1: ReadonlyArray<string>
  readonly side2: ReadonlyArray<string>
}

const schedules: ReadonlyArray<Schedule> = [
  {
    name: "one add, one remove",
    joiners: ["n5"],
    c1: ["n1", "n2", "n3", "n4", "n5"],
    reach1: ["n5"],
    c2: ["n2", "n3", "n4"],
    reach2: ["n3"],
    side1: ["n1", "n4", "n5"],
    side2: ["n2", "n3"]
  },
  {
    name: "two adds",
    joiners: ["n5", "n6"],
    c1: ["n1", "n2", "n3", "n4", "n5"],
    reach1: ["n5"],
    c2: ["n1", "n2", "n3", "n4", "n6"],
    reach2: ["n3", "n6"],
    side1: ["n1", "n4", "n5"],
    side2: ["n2", "n3", "n6"]
  },
  {
    name: "two removes",
    joiners: [],
    c1: ["n1", "n3", "n4"],
    reach1: [],
    c2: ["n2", "n3", "n4"],
    reach2: ["n3"],
    side1: ["n1", "n4"],
    side2: ["n2", "n3"]
  }
]

const c0 = ["n1", "n2", "n3", "n4"]

const sameVoters = (a: ReadonlySet<string>, b: ReadonlyArray<string>): boolean => a.size === b.length && b.every((x) => a.has(x))

/** Only `to` (plus `id` itself) hear `id`; everyone still reaches `id`. */
const speakOnlyTo = (c: CoreCluster, id: string, to: ReadonlyArray<string>): void => {
  for (const other of c.ids) if (other !== id && !to.includes(other)) c.cutLink(id, other)
}

describe("B5 concurrent membership changes across a leader change never produce two majorities", () => {
  for (const s of schedules) {
    for (const seed of [1, 2]) {
      it(`${s.name} (seed ${seed})`, () => {
        const c = voters(4, { seed })
        for (const j of s.joiners) c.addNode(j, ClusterConfig.of([], [j]))
        makeLeader(c, "n1")
        const base = c.node("n1").commitIndex

        // 1. n1 starts C0 → C1; only reach1 hears it; n1 crashes.
        speakOnlyTo(c, "n1", s.reach1)
        const h1 = c.changeMembership("n1", ClusterConfig.ofVoters(...s.c1))
        const j1 = c.node("n1").log.lastIndex
        expect(c.node("n1").log.entry(j1)).toMatchObject({ _tag: "Config", config: { old: { voters: new Set(c0) } } })
        c.advance(20)
        for (const id of s.reach1) expect(c.node(id).log.termAt(j1)).toBe(c.node("n1").term)
        c.isolate("n1")
        c.crash("n1")

        // 2. n2 is elected in T2 by n2, n3, n4 (the joiners are held out, as in the schedule).
        c.heal()
        c.isolate("n1")
        for (const j of s.joiners) c.isolate(j)
        sever(c, "n3", ["n4"])
        const n2 = awaitLeader(c, 5000, ["n2", "n3", "n4"])
        expect(n2.id).toBe("n2")
        const t2 = n2.term
        // Its no-op is not committed yet: the fix refuses a change now.
        expect(n2.log.termAt(n2.commitIndex)).not.toBe(n2.term)
        const early = c.changeMembership("n2", ClusterConfig.ofVoters(...s.c2))
        expect(c.membershipOutcomes.get(early)).toEqual({ _tag: "InProgress" })
        expect(c.advanceUntil(() => n2.log.termAt(n2.commitIndex) === n2.term, 200)).toBe(true)
        // Now C0 → C2, heard by reach2 only; a second change while it pends is refused.
        c.heal()
        c.isolate("n1")
        speakOnlyTo(c, "n2", s.reach2)
        const h2 = c.changeMembership("n2", ClusterConfig.ofVoters(...s.c2))
        const j2 = n2.log.lastIndex
        expect(n2.log.entry(j2)).toMatchObject({ _tag: "Config", config: { old: { voters: new Set(c0) } } })
        const second = c.changeMembership("n2", ClusterConfig.ofVoters(...c0))
        expect(c.membershipOutcomes.get(second)).toEqual({ _tag: "InProgress" })
        c.advance(20)
        for (const id of s.reach2) expect(c.node(id).log.termAt(j2)).toBe(n2.term)
        // Neither joint entry can commit: each lacks a majority of C0.
        expect(n2.commitIndex).toBeLessThan(j2)

        // 3. The split of the published schedule. n1 comes back on side1.
        c.heal()
        for (const a of s.side1) sever(c, a, s.side2)
        const splitAt = c.traces.length
        const commitsAtSplit = new Map(c.ids.filter((id) => c.cores.has(id as never)).map((id) => [id, c.node(id).commitIndex]))
        c.restart("n1")
        c.advance(3000)
        // n1 never leads again, and nobody commits anything past the split on either side.
        expect(c.tracesOf("BecomeLeader", splitAt).filter((e) => e.node === "n1")).toEqual([])
        for (const id of c.ids) {
          const before = commitsAtSplit.get(id) ?? 0
          expect(c.node(id).commitIndex, `${id} committed during the split`).toBeLessThanOrEqual(Math.max(before, base))
        }
        // The two in-flight changes are still unresolved or failed, never Changed.
        for (const h of [h1, h2]) expect(c.membershipOutcomes.get(h)?._tag).not.toBe("Changed")

        // 4. Healed: one leader, one history. n2's change is the one whose joint entry sits behind a
        // committed entry of its leader's term, so it is the one that completes; n1's C1 entry was
        // never committed and is overwritten everywhere.
        c.heal()
        expect(c.advanceUntil(() => {
          const l = c.leaders[0]
          return l !== undefined && l.config.old === undefined && sameVoters(l.config.new.voters, s.c2) && l.configIndex <= l.commitIndex
        }, 5000)).toBe(true)
        const l = c.leaders[0]!
        const w = proposedIndex(outcomeOf(c, c.propose(l.id, bytes("after-heal")), 2000))
        c.advance(300)
        for (const id of s.c2) {
          expect(committedByIndex(c, id).get(w), id).toBeDefined()
          expect(committedByIndex(c, id).get(j1)?.term, id).toBe(t2)
        }
        for (const id of c.ids) {
          const e = committedByIndex(c, id).get(j1)
          if (e !== undefined) expect(e).toMatchObject({ _tag: "NoOp", term: t2 })
        }
        expectCommittedAgree(c)
        leadersByTerm(c)
      })
    }
  }
})
