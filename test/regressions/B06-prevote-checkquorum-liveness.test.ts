/**
 * B6 — liveness under partial connectivity: the PreVote + CheckQuorum interplay.
 *
 * Real instances: etcd #8334 (TestPreVoteWithCheckQuorum), raft-rs #84 ("make peace between
 * Prevote and Check Quorum"), CockroachDB #107060, the Cloudflare 2020 outage (a partial switch
 * failure, 6.5 h: https://blog.cloudflare.com/a-byzantine-failure-in-the-real-world/), Howard &
 * Abraham on liveness under omission faults
 * (https://decentralizedthoughts.github.io/2020-12-12-raft-liveness-full-omission/), openraft
 * #2080 (bridge topology), TigerBeetle's asymmetric-partition livelock. Symptoms: no leader for
 * a long time, or a leader deposed over and over while terms climb without bound.
 *
 * PreVote, CheckQuorum and leader stickiness are always on in this implementation (they cannot be
 * switched off, so the reference's "all four combinations" collapse to this one). Each scenario
 * applies a connectivity fault to a settled cluster and asserts, on virtual time:
 *   - a leader that can commit exists within a bound after the fault (and after it heals);
 *   - the number of real elections (term bumps) in the window is bounded by a small constant
 *     (or by the number of times the fault forced a leader out), so the term does not run away.
 * Faults: one-way isolation of the leader and of a follower (each direction), a bridge topology
 * (n1 the only link between {n2, n3} and {n4, n5}), a flapping link and flapping leader
 * connectivity, and a node that rejoins with a much higher term.
 */
import { describe, expect, it } from "@effect/vitest"
import { RaftConfig } from "../../services/raft/RaftConfig.js"
import type { CoreCluster } from "../../src/testing/CoreCluster.js"
import { bytes, expectCommittedAgree, leadersByTerm, voters } from "../raft/core/helpers.js"
import { electionsSince, makeLeader, sever } from "./scenario.js"

const cfg = RaftConfig.unsafeMake({})
/** Detection (CheckQuorum or an election timeout) plus one election round, with slack. */
const RECOVERY_MS = 3 * cfg.electionTimeoutMax

/**
 * Runs until a leader commits a fresh proposal; returns the virtual ms it took. A proposal made
 * to a leader that is about to lose its term may be lost: then it asks again.
 */
const commitLatency = (c: CoreCluster, maxMs: number, among?: ReadonlyArray<string>): number => {
  const start = c.now
  let n = 0
  while (c.now - start < maxMs) {
    const l = c.leaders.find((x) => among === undefined || among.includes(x.id))
    if (l === undefined) {
      c.advance(1)
      continue
    }
    const h = c.propose(l.id, bytes(`probe-${c.now}-${n++}`))
    if (c.advanceUntil(() => c.outcomes.has(h), 100) && c.outcomes.get(h)?._tag === "Proposed") return c.now - start
  }
  throw new Error(`nothing committed within ${maxMs} ms`)
}

const setup = (seed: number, n = 3) => {
  const c = voters(n, { seed })
  makeLeader(c, "n1")
  return { c, since: c.traces.length, term: c.node("n1").term }
}

describe("B6 liveness: a leader within bounded time, a bounded number of elections", () => {
  for (const seed of [1, 2, 3]) {
    it(`one-way isolation of the leader, both directions (seed ${seed})`, () => {
      // The leader can send but hears nothing: CheckQuorum deposes it, the others elect one leader.
      {
        const { c, since, term } = setup(seed)
        for (const id of ["n2", "n3"]) c.cutLink(id, "n1")
        expect(commitLatency(c, RECOVERY_MS, ["n2", "n3"])).toBeLessThan(RECOVERY_MS)
        c.advance(3000)
        expect(electionsSince(c, since)).toBe(1)
        expect(c.leaders.map((l) => l.term)).toEqual([term + 1])
        // n1 keeps pre-voting, unheard; its term never moves.
        expect(c.node("n1").term).toBe(term)
        c.heal()
        expect(commitLatency(c, RECOVERY_MS)).toBeLessThan(RECOVERY_MS)
        expect(electionsSince(c, since)).toBe(1)
        leadersByTerm(c)
      }
      // The leader hears everything but nobody hears it: the others elect a leader, n1 follows it.
      {
        const { c, since, term } = setup(seed)
        for (const id of ["n2", "n3"]) c.cutLink("n1", id)
        expect(commitLatency(c, RECOVERY_MS, ["n2", "n3"])).toBeLessThan(RECOVERY_MS)
        c.advance(3000)
        expect(electionsSince(c, since)).toBe(1)
        expect(c.node("n1").role).toBe("Follower")
        expect(c.node("n1").term).toBe(term + 1)
        c.heal()
        expect(commitLatency(c, RECOVERY_MS)).toBeLessThan(RECOVERY_MS)
        expect(electionsSince(c, since)).toBe(1)
        leadersByTerm(c)
      }
    })

    it(`one-way isolation of a follower, both directions: no election at all (seed ${seed})`, () => {
      for (const direction of ["deaf", "mute"] as const) {
        const { c, since, term } = setup(seed)
        if (direction === "deaf") for (const id of ["n1", "n3"]) c.cutLink(id, "n2")
        else for (const id of ["n1", "n3"]) c.cutLink("n2", id)
        c.advance(3000)
        // A deaf follower pre-votes in vain (no term bump); a mute one just follows.
        expect(electionsSince(c, since), direction).toBe(0)
        expect(c.leaders.map((l) => l.id)).toEqual(["n1"])
        for (const core of c.cores.values()) expect(core.term).toBe(term)
        expect(commitLatency(c, 100)).toBeLessThan(100)
        c.heal()
        c.advance(1000)
        expect(electionsSince(c, since), direction).toBe(0)
        leadersByTerm(c)
      }
    })

    it(`bridge topology: only n1 links {n2, n3} and {n4, n5} (seed ${seed})`, () => {
      // From a cold start: nobody has led yet when the bridge is already there.
      const c = voters(5, { seed })
      sever(c, "n2", ["n4", "n5"])
      sever(c, "n3", ["n4", "n5"])
      expect(commitLatency(c, 2000)).toBeLessThan(2000)
      const since = c.traces.length
      const l = c.leaders[0]!
      c.advance(5000)
      // The side cut off from the leader keeps pre-voting; the bridge denies it (LeaderAlive).
      expect(electionsSince(c, since)).toBe(0)
      expect(c.leaders.map((x) => x.id)).toEqual([l.id])
      expect(electionsSince(c)).toBeLessThanOrEqual(3)
      expect(commitLatency(c, 100)).toBeLessThan(100)

      // The bridge node itself crashes and comes back: still one leader, still no term climb.
      if (l.id !== "n1") {
        c.crash("n1")
        c.advance(1000)
        c.restart("n1")
        c.advance(3000)
        expect(electionsSince(c, since)).toBeLessThanOrEqual(1)
        expect(commitLatency(c, RECOVERY_MS)).toBeLessThan(RECOVERY_MS)
      }
      leadersByTerm(c)
    })

    it(`a flapping link and a flapping leader (seed ${seed})`, () => {
      // Link n1–n2 down and up every 400 ms (longer than an election timeout): n2 pre-votes in
      // vain during every outage, n3 keeps the leader alive; no election.
      {
        const { c, since, term } = setup(seed)
        for (let k = 0; k < 6; k++) {
          sever(c, "n1", ["n2"])
          c.advance(400)
          c.heal()
          c.advance(400)
        }
        expect(electionsSince(c, since)).toBe(0)
        expect(c.leaders.map((l) => l.id)).toEqual(["n1"])
        for (const core of c.cores.values()) expect(core.term).toBe(term)
      }
      // The whole leader flaps: 6 outages of 400 ms. Each may cost one election, never more.
      {
        const { c, since, term } = setup(seed)
        const outages = 6
        for (let k = 0; k < outages; k++) {
          const l = c.leaders[0]
          if (l !== undefined) c.isolate(l.id)
          c.advance(400)
          c.heal()
          c.advance(400)
        }
        const elections = electionsSince(c, since)
        expect(elections).toBeGreaterThanOrEqual(1)
        expect(elections).toBeLessThanOrEqual(outages + 1)
        for (const core of c.cores.values()) expect(core.term).toBeLessThanOrEqual(term + outages + 1)
        expect(commitLatency(c, RECOVERY_MS)).toBeLessThan(RECOVERY_MS)
        leadersByTerm(c)
        expectCommittedAgree(c)
      }
    })

    it(`a node rejoining with a much higher term costs at most one election (seed ${seed})`, () => {
      const { c, since, term } = setup(seed)
      c.isolate("n3")
      for (let k = 0; k < 5; k++) c.propose("n1", bytes(`while-away-${k}`))
      c.advance(100)
      // n3 was away long enough to climb (say, an older version without PreVote): term + 50.
      c.crash("n3")
      c.disks.get("n3" as never)!.hardState = { term: term + 50, votedFor: null }
      c.restart("n3")
      c.advance(500)
      const rejoinAt = c.traces.length
      c.heal()
      expect(commitLatency(c, RECOVERY_MS)).toBeLessThan(RECOVERY_MS)
      c.advance(3000)
      // Its higher term is adopted once (the leader learns it from a rejected heartbeat); the
      // election that follows is won by an up-to-date node, never by n3, and nothing climbs after.
      const elections = electionsSince(c, rejoinAt)
      expect(elections).toBeGreaterThanOrEqual(1)
      expect(elections).toBeLessThanOrEqual(2)
      expect(c.tracesOf("BecomeLeader", rejoinAt).filter((e) => e.node === "n3")).toEqual([])
      for (const core of c.cores.values()) expect(core.term).toBeLessThanOrEqual(term + 50 + 2)
      expect(electionsSince(c, since)).toBe(elections)
      expect(commitLatency(c, 100)).toBeLessThan(100)
      leadersByTerm(c)
      expectCommittedAgree(c)
    })
  }
})
