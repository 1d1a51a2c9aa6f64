/**
 * The simulator's own checks, shown to fire: a diverged state machine is caught when it publishes
 * a snapshot, a leader without a recorded voter quorum is flagged, a stale read fence is flagged,
 * a node that lost acknowledged writes and rejoins under its OLD identity double-votes (why the
 * disk-loss family retires the identity), and a torn log tail makes the restart refuse to start.
 */
import { describe, expect, it } from "@effect/vitest"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { ClientId } from "../../../services/raft/ClientId.js"
import type { CommandEntry } from "../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import { InvariantChecker } from "../../../src/testing/sim/Invariants.js"
import { encodeKvCommand, KvStateMachine } from "../../../src/testing/sim/KvStateMachine.js"
import { MembershipInvariants } from "../../../src/testing/sim/MembershipInvariants.js"
import { ReplayOracle } from "../../../src/testing/sim/ReplayOracle.js"
import { SIM_RAFT_CONFIG } from "../../../src/testing/sim/runSeed.js"
import { SimCluster, SimFault } from "../../../src/testing/sim/SimCluster.js"
import type { SimClusterOptions } from "../../../src/testing/sim/SimCluster.js"

const ids = ["n1", "n2", "n3"]

const cluster = (extra: Partial<SimClusterOptions> = {}) =>
  new SimCluster({ seed: 5, ids, bootstrap: ClusterConfig.ofVoters(...ids), config: SIM_RAFT_CONFIG, ...extra })

const leaderOf = (c: SimCluster) => c.up.find((n) => n.core!.role === "Leader")

const awaitLeader = (c: SimCluster) => {
  for (let t = 0; t < 2000 && leaderOf(c) === undefined; t += 10) c.runUntil(c.now + 10)
  const l = leaderOf(c)
  if (l === undefined) throw new Error("no leader")
  c.runUntil(c.now + 50)
  return leaderOf(c)!
}

const put = (c: SimCluster, node: string, seq: number) =>
  c.propose(node, c.nextHandle(), encodeKvCommand({ client: "c0", seq, op: { type: "put", key: "k", value: `v${seq}` } }))

const command = (index: number, seq: number): CommandEntry => ({
  _tag: "Command",
  index,
  term: 1,
  command: encodeKvCommand({ client: "c0", seq, op: { type: "put", key: `k${seq % 3}`, value: `v${seq}` } }),
  dedupKey: { clientId: "auto:n1-1" as ClientId, requestId: seq }
})

describe("ReplayOracle", () => {
  it("the state at any known index equals a straight replay to it, whatever order indices arrive in", () => {
    const oracle = new ReplayOracle()
    const entries = Array.from({ length: 100 }, (_, i) => command(i + 1, i + 1))
    // Out of order: the tail first, then the prefix (the replay waits for the gap to close).
    for (const e of entries.slice(50)) oracle.record(e)
    expect(oracle.contiguousThrough).toBe(0)
    for (const e of entries.slice(0, 50)) oracle.record(e)
    expect(oracle.contiguousThrough).toBe(100)
    for (const at of [0, 1, 31, 32, 33, 64, 99, 100]) {
      const sm = new KvStateMachine()
      for (const e of entries.slice(0, at)) sm.apply({ _tag: "Entry", entry: e })
      expect(oracle.stateAt(at)).toEqual(sm.snapshot())
    }
    expect(oracle.stateAt(101)).toBeUndefined()
  })
})

describe("snapshot invariants", () => {
  it("a state machine that diverged from the committed log is caught when it publishes a snapshot", () => {
    const c = cluster({ snapshotEvery: 4 })
    const checker = new InvariantChecker(c)
    c.observers.push(checker)
    c.start()
    const l = awaitLeader(c)
    for (let i = 1; i <= 3; i++) put(c, l.id, i)
    c.runUntil(c.now + 50)
    expect(checker.violations).toEqual([])
    // A consumer bug: one follower's state drifts away from what the log says.
    const f = c.up.find((n) => n.id !== l.id)!
    f.sm.data.set("untouched", "corrupted")
    for (let i = 4; i <= 20; i++) put(c, l.id, i)
    c.runUntil(c.now + 100)
    expect(checker.violations.map((v) => v.invariant)).toContain("SnapshotMatchesReplay")
    expect(checker.violations.find((v) => v.invariant === "SnapshotMatchesReplay")!.detail).toContain(f.id)
  })
})

describe("membership and read invariants", () => {
  it("a leader whose votes were never granted (as far as the trace shows) is flagged", () => {
    const c = cluster()
    const checker = new InvariantChecker(c)
    const membership = new MembershipInvariants(c, checker)
    // Hide the VoteGranted trace from the membership checker.
    c.observers.push(checker, { onStep: (n) => membership.onStep(n), onStart: (n) => membership.onStart(n) })
    c.start()
    awaitLeader(c)
    expect(checker.violations.map((v) => v.invariant)).toContain("ElectedByVoterQuorum")
  })

  it("with the trace, the same election passes", () => {
    const c = cluster()
    const checker = new InvariantChecker(c)
    c.observers.push(checker, new MembershipInvariants(c, checker))
    c.start()
    awaitLeader(c)
    expect(checker.violations).toEqual([])
  })

  it("a read fence below the commit index known at invocation is flagged", () => {
    const c = cluster()
    const checker = new InvariantChecker(c)
    checker.checkReadFence(c.node("n1"), 7, 7)
    expect(checker.violations).toEqual([])
    checker.checkReadFence(c.node("n1"), 6, 7)
    expect(checker.violations.map((v) => v.invariant)).toEqual(["ReadFenceCoversCommit"])
  })
})

describe("disk faults", () => {
  it("a node that lost its acknowledged vote and rejoins under the same identity votes twice in a term", () => {
    // Why the disk-loss family retires the identity instead of restarting it.
    const c = cluster({ durability: "onSync", syncChance: 0 })
    const checker = new InvariantChecker(c)
    c.observers.push(checker)
    c.start()
    const l = awaitLeader(c)
    const term = l.core!.term
    const voter = c.up.find((n) => n.id !== l.id && n.core!.votedFor === l.id && n.core!.term === term)!
    const other = ids.find((x) => x !== l.id && x !== voter.id)!
    c.crash(voter.id, "none")
    c.restart(voter.id)
    expect(voter.core!.term).toBe(0)
    voter.core!.receive(other as NodeId, { _tag: "RequestVote", term, lastLogIndex: 100, lastLogTerm: term, leadershipTransfer: false }, c.now)
    c.process(voter)
    expect(checker.violations.map((v) => v.invariant)).toContain("NoDoubleVote")
  })

  it("a restart on a disk whose log tail was torn refuses to start (CorruptDurableState)", () => {
    const c = cluster()
    c.start()
    const l = awaitLeader(c)
    for (let i = 1; i <= 5; i++) put(c, l.id, i)
    c.runUntil(c.now + 50)
    const victim = c.up.find((n) => n.id !== l.id)!
    c.crash(victim.id)
    const state = victim.disk.durableState()
    const entries = [...state.entries]
    const last = entries[entries.length - 1]!
    // The last record was half written: what survives claims an index that breaks the sequence.
    entries[entries.length - 1] = { ...last, index: last.index + 7 }
    victim.disk.plant({ ...state, entries })
    expect(() => c.restart(victim.id)).toThrow(SimFault)
    expect(() => c.restart(victim.id)).toThrow(/not contiguous/)
  })
})
