/**
 * Raft paper Figure 2, "RequestVote RPC — Receiver implementation" rules 1–2, and the §5.4.1
 * election restriction ("at least as up-to-date": last term first, then length).
 */
import { describe, expect, it } from "@effect/vitest"
import type { ClientId } from "../../../services/raft/ClientId.js"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import { RaftConfig } from "../../../services/raft/RaftConfig.js"
import { Prng } from "../../../src/raft/core/Prng.js"
import { RaftCore } from "../../../src/raft/core/RaftCore.js"
import { approximateEntrySize } from "../../../src/testing/CoreCluster.js"
import { append, cmd, detached, lastSent, nid, noop } from "./helpers.js"

const vote = (term: number, lastLogIndex: number, lastLogTerm: number) =>
  ({ _tag: "RequestVote", term, lastLogIndex, lastLogTerm, leadershipTransfer: false }) as const

const cfg = RaftConfig.unsafeMake({})

/** f holds [1(t1), 2(t2)] at term 2 and no leader is alive any more. */
const withLog = () => {
  const c = detached(["f", "a", "x", "y"])
  c.inject("f", "a", append({ term: 2, entries: [noop(1, 1), cmd(2, 2)], leaderCommit: 2 }))
  c.advance(cfg.electionTimeoutMin)
  return c
}

const denials = (c: ReturnType<typeof detached>, to: string) =>
  c.tracesOf("VoteDenied").filter((e) => e.from === "f" && e.to === to)

describe("RequestVote receiver (Figure 2)", () => {
  it("rule 1: a request from a stale term is denied with the receiver's current term", () => {
    const c = withLog()
    c.inject("f", "x", vote(1, 9, 2))
    expect(lastSent(c, "f", "x", "RequestVoteResponse")).toEqual({ _tag: "RequestVoteResponse", term: 2, voteGranted: false })
    expect(denials(c, "x").at(-1)!.reasons).toEqual(["StaleTerm"])
    expect(c.node("f").votedFor).toBeNull()
  })

  it("rule 2: a vote is granted at most once per term, also across a restart (votedFor durable before the reply)", () => {
    const c = withLog()
    c.inject("f", "x", vote(3, 2, 2))
    expect(lastSent(c, "f", "x", "RequestVoteResponse").voteGranted).toBe(true)
    expect(c.disks.get(nid("f"))!.hardState).toEqual({ term: 3, votedFor: "x" })
    // Asking again is idempotent: the same candidate gets the same answer.
    c.inject("f", "x", vote(3, 2, 2))
    expect(lastSent(c, "f", "x", "RequestVoteResponse").voteGranted).toBe(true)
    // Another candidate of the same term, even with a better log, is refused.
    c.inject("f", "y", vote(3, 9, 3))
    expect(lastSent(c, "f", "y", "RequestVoteResponse").voteGranted).toBe(false)
    expect(denials(c, "y").at(-1)!.reasons).toEqual(["AlreadyVoted"])
    c.crash("f")
    c.restart("f")
    c.isolate("f")
    c.inject("f", "y", vote(3, 9, 3))
    expect(lastSent(c, "f", "y", "RequestVoteResponse").voteGranted).toBe(false)
    expect(denials(c, "y").at(-1)!.reasons).toEqual(["AlreadyVoted"])
    expect(c.node("f").votedFor).toBe("x")
  })

  it("rule 2: the granted vote and the reply revealing it leave in one Ready, so the shell persists first", () => {
    const core = new RaftCore({
      id: nid("f"),
      config: cfg,
      bootstrap: ClusterConfig.ofVoters("f", "x", "y"),
      durable: { hardState: { term: 0, votedFor: null }, leaderForTerm: null, snapshot: null, entries: [] },
      rng: new Prng(1),
      clientId: "auto:f-test" as ClientId,
      entrySize: approximateEntrySize,
      now: 0
    })
    core.takeReady()
    core.onPersisted()
    core.receive(nid("x"), vote(1, 0, 0), 1)
    const ready = core.takeReady()
    expect(ready.persist.hardState).toEqual({ term: 1, votedFor: "x" })
    expect(ready.messages).toEqual([{ to: "x", message: { _tag: "RequestVoteResponse", term: 1, voteGranted: true } }])
  })

  it("rule 2 / §5.4.1: a candidate whose last term is older is denied with LogNotUpToDate, however long its log", () => {
    const c = withLog()
    c.inject("f", "x", vote(3, 50, 1))
    expect(lastSent(c, "f", "x", "RequestVoteResponse").voteGranted).toBe(false)
    expect(denials(c, "x").at(-1)!.reasons).toEqual(["LogNotUpToDate"])
    // The higher term is still adopted (all servers' rule), and no vote is recorded.
    expect(c.node("f").term).toBe(3)
    expect(c.node("f").votedFor).toBeNull()
  })

  it("§5.4.1: with equal last terms, a shorter log is denied with LogNotUpToDate; an equal one is granted", () => {
    const c = withLog()
    c.inject("f", "x", vote(3, 1, 2))
    expect(denials(c, "x").at(-1)!.reasons).toEqual(["LogNotUpToDate"])
    c.inject("f", "y", vote(4, 2, 2))
    expect(lastSent(c, "f", "y", "RequestVoteResponse")).toMatchObject({ term: 4, voteGranted: true })
  })

  it("§5.4.1: a newer last term wins over length: a shorter log with a higher last term is granted", () => {
    const c = withLog()
    c.inject("f", "x", vote(3, 1, 3))
    expect(lastSent(c, "f", "x", "RequestVoteResponse").voteGranted).toBe(true)
    expect(c.node("f").votedFor).toBe("x")
  })

  it("§5.2: granting a vote restarts the election timer", () => {
    const c = withLog()
    const f = c.node("f")
    c.advanceUntil(() => f.electionDeadline - c.now <= 2, cfg.electionTimeoutMax * 2)
    const before = c.tracesOf("PreVoteStarted").filter((e) => e.node === "f").length
    c.inject("f", "x", vote(f.term + 1, 2, 2))
    expect(lastSent(c, "f", "x", "RequestVoteResponse").voteGranted).toBe(true)
    const grantedAt = c.now
    c.advance(cfg.electionTimeoutMin - 1)
    expect(c.tracesOf("PreVoteStarted").filter((e) => e.node === "f").length).toBe(before)
    expect(f.electionDeadline).toBeGreaterThanOrEqual(grantedAt + cfg.electionTimeoutMin)
  })
})
