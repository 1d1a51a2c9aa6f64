/**
 * B11 — a vote (or term) that is not durable before the reply revealing it leaves: the node
 * crashes, restarts without the vote, and grants a second candidate the same term — two leaders.
 *
 * Real instances: no single famous report; it is the reason for etcd's `MustSync` and its
 * async-storage-writes contract (a vote response may only be sent once the HardState carrying it
 * is stable), and for the "vote/term durable before the message revealing them" invariant of the
 * reference (§4.2 item 6).
 *
 * Scenarios:
 *   1. the Ready contract, on a bare core: the turn that grants a vote carries the hard state
 *      recording it in `persist` together with the reply in `messages` (the shell writes first,
 *      then sends); a crash after the write refuses a second candidate of that term after restart
 *      (AlreadyVoted); a crash before the write sends nothing, so the node may vote afresh and no
 *      candidate ever saw two grants;
 *   2. a cluster whose voters crash and restart right after every vote they grant, through many
 *      elections: every granted RequestVoteResponse was preceded by the durable vote, no node
 *      grants two candidates one term, and there is never more than one leader per term;
 *   3. the engine honours the order: the candidate (started by a leadership transfer, cut off
 *      from the old leader) needs exactly one vote, and the voter's storage fails that write: the
 *      voter stops (fail-stop) and the candidate never becomes leader.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Stream, TestClock } from "effect"
import type { RequestVote, RequestVoteResponse } from "../../src/codec/raft/RaftMessage.js"
import type { ClientId } from "../../services/raft/ClientId.js"
import { ClusterConfig } from "../../services/raft/ClusterConfig.js"
import type { NodeId } from "../../services/raft/NodeId.js"
import type { PeerId } from "../../services/seam/PeerId.js"
import { RaftConfig } from "../../services/raft/RaftConfig.js"
import type { DurableState, HardState } from "../../services/raft/RaftStorage.js"
import { Prng } from "../../src/raft/core/Prng.js"
import { RaftCore } from "../../src/raft/core/RaftCore.js"
import { approximateEntrySize } from "../../src/testing/CoreCluster.js"
import { leadersByTerm, nid, voters } from "../raft/core/helpers.js"
import { advanceUntil, awaitLeader, startCluster } from "../raft/engine/fixture.js"
import type { TestNode } from "../raft/engine/fixture.js"

const cfg = RaftConfig.unsafeMake({})
const vote = (term: number): RequestVote => ({ _tag: "RequestVote", term, lastLogIndex: 0, lastLogTerm: 0, leadershipTransfer: false })

/** A bare voter core started from `hardState` (an otherwise empty disk), as the engine starts one. */
const boot = (hardState: HardState): RaftCore => {
  const durable: DurableState = { hardState, leaderForTerm: null, snapshot: null, entries: [] }
  const core = new RaftCore({
    id: nid("v"),
    config: cfg,
    bootstrap: ClusterConfig.ofVoters("v", "a", "b"),
    durable,
    rng: new Prng(7),
    clientId: "auto:v-test" as ClientId,
    entrySize: approximateEntrySize,
    now: 0
  })
  core.takeReady()
  core.onPersisted()
  return core
}

const grantsIn = (messages: ReadonlyArray<{ readonly to: string; readonly message: { readonly _tag: string } }>) =>
  messages.filter((m) => m.message._tag === "RequestVoteResponse" && (m.message as RequestVoteResponse).voteGranted).map((m) => m.to)

describe("B11 a vote is durable before the reply that reveals it", () => {
  it("the granting turn carries the vote in `persist` with the reply; a crash on either side of the write is safe", () => {
    // Crash AFTER the write, before the reply left.
    let disk: HardState = { term: 0, votedFor: null }
    const v = boot(disk)
    v.receive(nid("a"), vote(1), 1)
    const ready = v.takeReady()
    expect(ready.persist.hardState).toEqual({ term: 1, votedFor: "a" })
    expect(grantsIn(ready.messages)).toEqual(["a"])
    disk = ready.persist.hardState!
    // (the shell dies here: the reply is never sent)
    const v2 = boot(disk)
    v2.receive(nid("b"), vote(1), 2)
    const again = v2.takeReady()
    expect(grantsIn(again.messages)).toEqual([])
    expect(again.persist.hardState).toBeUndefined()
    expect(v2.votedFor).toBe("a")

    // Crash BEFORE the write: nothing was sent, so a fresh vote in term 1 reveals no double vote.
    const w = boot({ term: 0, votedFor: null })
    w.receive(nid("a"), vote(1), 1)
    const lost = w.takeReady()
    expect(grantsIn(lost.messages)).toEqual(["a"])
    // (the shell dies before persisting `lost`: neither its write nor its reply happened)
    const w2 = boot({ term: 0, votedFor: null })
    w2.receive(nid("b"), vote(1), 2)
    const fresh = w2.takeReady()
    expect(fresh.persist.hardState).toEqual({ term: 1, votedFor: "b" })
    expect(grantsIn(fresh.messages)).toEqual(["b"])
  })

  for (const seed of [1, 2, 3]) {
    it(`voters that crash right after every vote never double-vote; one leader per term (seed ${seed})`, () => {
      const c = voters(5, { seed })
      const checked = { grants: 0, elections: 0 }
      const grantsByVoterTerm = new Map<string, string>()
      const violations: Array<string> = []
      let seen = 0
      for (let ms = 0; ms < 6000; ms++) {
        c.advance(1)
        const fresh = c.sent.slice(seen)
        seen = c.sent.length
        for (const m of fresh) {
          if (m.message._tag !== "RequestVoteResponse" || !m.message.voteGranted) continue
          checked.grants++
          // On the disk before it left: the vote for this candidate, or a later term.
          const hs = c.disks.get(m.from)!.hardState
          if (!(hs.term > m.message.term || (hs.term === m.message.term && hs.votedFor === m.to))) {
            violations.push(`${m.from}'s grant to ${m.to} (term ${m.message.term}) left before the vote was on disk`)
          }
          const key = `${m.from}@${m.message.term}`
          const prior = grantsByVoterTerm.get(key)
          if (prior !== undefined && prior !== m.to) violations.push(`${m.from} granted ${prior} and ${m.to} in term ${m.message.term}`)
          grantsByVoterTerm.set(key, m.to)
          // The voter dies right after its vote left, and comes back at once.
          if (c.cores.has(m.from)) {
            c.crash(m.from)
            c.restart(m.from)
          }
        }
        // Every 400 ms the leader dies too, forcing another election.
        if (ms % 400 === 399) {
          const l = c.leaders[0]
          if (l !== undefined) {
            c.crash(l.id)
            c.restart(l.id)
          }
        }
      }
      expect(violations).toEqual([])
      checked.elections = leadersByTerm(c).size
      expect(checked.grants).toBeGreaterThan(10)
      expect(checked.elections).toBeGreaterThan(5)
    })
  }

  it.scoped("engine: a voter whose vote cannot be written stops, and its vote never reaches the candidate", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ids: ["n1", "n2", "n3"], cluster: ClusterConfig.ofVoters("n1", "n2", "n3"), seed: 111 })
      const leader = yield* awaitLeader(c)
      yield* TestClock.adjust("50 millis")
      const [f, v] = c.nodes.filter((n) => n !== leader) as [TestNode, TestNode]
      // f will campaign at once (TimeoutNow) but cannot reach the leader: v's vote is the only one
      // it can get. v's next write — the vote — fails.
      yield* c.loom.faults.cutOneWay(f.id as PeerId, leader.id as PeerId)
      v.disk.failNextWrites({ count: Infinity, reason: "disk full" })
      const term = yield* f.node.term.get
      const fLed: Array<number> = []
      yield* f.node.trace.pipe(
        Stream.runForEach((e) => Effect.sync(() => void (e._tag === "BecomeLeader" && fLed.push(e.term)))),
        Effect.forkScoped
      )
      const failure = yield* Effect.fork(v.node.awaitFailure)
      yield* Effect.fork(leader.node.transferLeadership(f.id as NodeId))
      yield* advanceUntil(Effect.map(f.node.term.get, (t) => t > term), 500, "f to campaign")
      yield* advanceUntil(Effect.map(Fiber.poll(failure), (o) => o._tag === "Some"), 500, "the voter to stop")
      expect(yield* Fiber.join(failure)).toMatchObject({ _tag: "StorageError" })
      // The vote never left v: f never leads, however long we wait.
      yield* TestClock.adjust("1 second")
      expect(fLed).toEqual([])
      expect(yield* f.node.role.get).not.toBe("Leader")
      expect(v.disk.durableState().hardState.term).toBe(term)
    }))
})
