/**
 * B1 — Figure 8: committing an entry of a previous term by counting its replicas.
 *
 * Real instances: LogCabin #44 (Ongaro, 2013, "critical data corruption bug"), goraft #27,
 * async-raft #108, canonical/raft #220, PySyncObj #169, NATS #7955 (2026). A leader that sees an
 * entry of an older term on a majority and marks it committed can lose it: a server whose log ends
 * in a newer (but uncommitted) term can still win an election and overwrite it (Raft paper §5.4.2).
 *
 * The scenario is the paper's Figure 8 schedule on five servers s1..s5 = n1..n5, every role forced
 * by the topology (not by luck), so the same schedule replays under every seed:
 *   (a) n1 leads in T1 and gets entry X at index i onto n2 only;
 *   (b) n1 crashes; n5 is elected in T3 by n3, n4, n5 and appends its own entry at i, then crashes;
 *   (c) n1 restarts and is elected in T4 by n1..n4; it gets X onto n3 WITHOUT its T4 no-op:
 *       X now sits on a majority (n1, n2, n3) but must not count as committed;
 *   (d) n1 crashes; n5 (last term T3 > T1) is elected by n3, n4, n5 and overwrites X everywhere —
 *       legal only because X was never committed, and no node ever applied it;
 *   (e) alternatively, n1's T4 no-op reaches n3 too: that commits X indirectly, after which n5 can
 *       never win again and X is never overwritten.
 * Our leaders append a no-op on election, which plays the role of the paper's "entry of the current
 * term"; indices are therefore shifted against the paper's figure, and are computed, not assumed.
 */
import { describe, expect, it } from "@effect/vitest"
import type { RaftCore } from "../../src/raft/core/RaftCore.js"
import { CoreCluster } from "../../src/testing/CoreCluster.js"
import { append, awaitLeader, bytes, committedByIndex, expectCommittedAgree, leadersByTerm, voters } from "../raft/core/helpers.js"
import { makeLeader, rejoin, sever } from "./scenario.js"

const all = ["n1", "n2", "n3", "n4", "n5"]

interface Figure8 {
  readonly c: CoreCluster
  /** The index of X, the entry of term t1. */
  readonly i: number
  readonly t1: number
  readonly n1: RaftCore
}

/** Steps (a)–(c); returns with n1 leading in T4, X on n1, n2, n3 and n1's T4 no-op on n1, n2 only. */
const toStepC = (seed: number): Figure8 => {
  const c = voters(5, { seed })
  // (a) n1 leads in T1; X reaches n2 only.
  makeLeader(c, "n1")
  const t1 = c.node("n1").term
  for (const id of ["n3", "n4", "n5"]) c.cutLink("n1", id)
  c.propose("n1", bytes("X"))
  const i = c.node("n1").log.lastIndex
  c.advance(3)
  expect(c.node("n2").log.termAt(i)).toBe(t1)
  for (const id of ["n3", "n4", "n5"]) expect(c.node(id).log.lastIndex).toBe(i - 1)
  c.isolate("n1")
  c.crash("n1")
  c.isolate("n2")

  // (b) n3 and n4 cannot hear each other: only n5 can gather three votes. It appends its no-op
  // at i (term T3) and crashes before sending it anywhere.
  sever(c, "n3", ["n4"])
  const n5 = awaitLeader(c, 5000, ["n3", "n4", "n5"])
  expect(n5.id).toBe("n5")
  c.isolate("n5")
  c.crash("n5")
  const t3 = n5.term
  expect(t3).toBeGreaterThan(t1)
  expect(c.disks.get("n5" as never)!.entries.at(-1)).toMatchObject({ index: i, term: t3 })

  // (c) n1 restarts; n2 only hears n1, so only n1 (whose log is longest) can gather three votes.
  c.heal()
  c.isolate("n5")
  sever(c, "n2", ["n3", "n4"])
  c.restart("n1")
  const n1 = awaitLeader(c, 5000, ["n1", "n2", "n3", "n4"])
  expect(n1.id).toBe("n1")
  const t4 = n1.term
  // Its first batch ([X, no-op T4]) must reach n2 only: n3 is handed X alone, by hand.
  c.cutLink("n1", "n3")
  c.cutLink("n1", "n4")
  expect(n1.log.entry(i + 1)).toMatchObject({ _tag: "NoOp", term: t4 })
  c.inject("n3", "n1", append({
    term: t4,
    prevLogIndex: i - 1,
    prevLogTerm: n1.log.termAt(i - 1)!,
    entries: [n1.log.entry(i)!],
    leaderCommit: n1.commitIndex
  }))
  c.advance(3)
  return { c, i, t1, n1 }
}

/** Nodes (up or down) whose log or disk holds X. */
const holdersOfX = (f: Figure8): Array<string> =>
  all.filter((id) => {
    const core = f.c.cores.get(id as never)
    const term = core !== undefined ? core.log.termAt(f.i) : f.c.disks.get(id as never)!.entries.find((e) => e.index === f.i)?.term
    return term === f.t1
  })

describe("B1 Figure 8: an entry of an earlier term is never committed by counting replicas", () => {
  for (const seed of [1, 2, 3]) {
    it(`(a)–(d): X on a majority stays uncommitted, and is overwritten without ever being applied (seed ${seed})`, () => {
      const f = toStepC(seed)
      const { c, i, n1 } = f
      // The buggy rule would fire here: X (term T1) is on 3 of 5 servers and n1 knows it.
      expect(holdersOfX(f)).toEqual(["n1", "n2", "n3"])
      expect(n1.role).toBe("Leader")
      expect(n1.progress.get("n2" as never)!.match).toBeGreaterThanOrEqual(i)
      expect(n1.progress.get("n3" as never)!.match).toBe(i)
      expect(n1.commitIndex).toBeLessThan(i)
      expect(c.tracesOf("AdvanceCommitIndex").filter((e) => e.new >= i)).toEqual([])

      // (d) n1 crashes; n2 (whose log ends in T4) is held out of the vote; n5 wins with n3, n4.
      c.isolate("n1")
      c.crash("n1")
      c.heal()
      c.isolate("n1")
      c.isolate("n2")
      c.restart("n5")
      const n5 = awaitLeader(c, 5000, ["n3", "n4", "n5"])
      expect(n5.id).toBe("n5")
      rejoin(c, "n2", ["n3", "n4", "n5"])
      expect(c.advanceUntil(() => ["n2", "n3", "n4", "n5"].every((id) => c.node(id).commitIndex > i), 1000)).toBe(true)
      c.advance(100)
      const t3 = c.node("n5").log.termAt(i)!
      expect(t3).toBeGreaterThan(f.t1)
      for (const id of ["n2", "n3", "n4", "n5"]) {
        expect(c.node(id).log.termAt(i)).toBe(t3)
        expect(committedByIndex(c, id).get(i)?.term).toBe(t3)
      }
      // Nobody ever handed X to its consumer.
      for (const id of all) expect(committedByIndex(c, id).get(i)?.term).not.toBe(f.t1)
      expectCommittedAgree(c)
      leadersByTerm(c)
    })

    it(`(a)–(c), (e): once n1's own-term entry is on a majority, X is committed and never overwritten (seed ${seed})`, () => {
      const f = toStepC(seed)
      const { c, i, n1 } = f
      expect(n1.commitIndex).toBeLessThan(i)
      // (e) n1's T4 no-op reaches n3 as well: committing it commits X with it.
      c.cut.delete("n1->n3")
      expect(c.advanceUntil(() => n1.commitIndex >= i + 1, 200)).toBe(true)
      expect(c.advanceUntil(() => committedByIndex(c, "n3").has(i), 200)).toBe(true)
      expect(committedByIndex(c, "n3").get(i)?.term).toBe(f.t1)

      // n1 crashes; n5 (last term T3 < T4) comes back into a fully connected cluster.
      c.isolate("n1")
      c.crash("n1")
      c.heal()
      c.isolate("n1")
      const back = c.traces.length
      c.restart("n5")
      const overwritten: Array<string> = []
      for (let ms = 0; ms < 3000; ms++) {
        c.advance(1)
        // Checked at every step: a node that knows X is committed holds X.
        for (const core of c.cores.values()) {
          if (core.commitIndex >= i && core.log.termAt(i) !== undefined && core.log.termAt(i) !== f.t1) overwritten.push(core.id)
        }
      }
      expect(overwritten).toEqual([])
      expect(c.tracesOf("BecomeLeader", back).filter((e) => e.node === "n5")).toEqual([])
      expect(c.leaders).toHaveLength(1)
      for (const id of ["n2", "n3", "n4", "n5"]) {
        expect(c.node(id).log.termAt(i)).toBe(f.t1)
        expect(committedByIndex(c, id).get(i)?.term).toBe(f.t1)
      }
      expectCommittedAgree(c)
      leadersByTerm(c)
    })
  }
})
