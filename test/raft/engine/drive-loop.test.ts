/**
 * The drive loop under load (src/raft/engine/Driver.ts, issue "the leader holds"): frames are read
 * before timers fire, control frames before bulk ones, a turn takes a bounded share of the bulk
 * work, a stall is no evidence that peers are gone, and a node admits a bounded number of
 * proposals (waiting or `Overloaded`, the caller's choice).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, TestClock } from "effect"
import type { ClientId } from "../../../services/raft/ClientId.js"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { RaftMessage } from "../../../src/codec/raft/RaftMessage.js"
import { awaitLeader as awaitCoreLeader, bytes, nid, voters } from "../core/helpers.js"
import { advanceUntil, awaitLeader, startCluster } from "./fixture.js"

const lostQuorum = (c: ReturnType<typeof voters>) => c.tracesOf("BecomeFollower").filter((e) => e.reason === "LostQuorum").length

describe("the drive loop reads before its timers fire", () => {
  it("acknowledgements waiting in the leader's lanes are handled before its CheckQuorum fires", () => {
    const c = voters(3, { seed: 4 })
    const leader = awaitCoreLeader(c)
    const followers = ["n1", "n2", "n3"].filter((id) => id !== leader.id)
    // Right after a CheckQuorum round (it clears the contact flags), cut the followers' answers.
    const term = leader.term
    let checked = leader.checkQuorumDeadline
    c.advanceUntil(() => leader.checkQuorumDeadline !== checked, 1000)
    checked = leader.checkQuorumDeadline
    for (const f of followers) c.cutLink(f, leader.id)
    const since = c.sent.length
    c.advanceUntil(() => c.now >= checked - 1, 1000)
    // Their acknowledgements of the heartbeats meanwhile were lost on the way; hand them to the
    // leader's loop now, as if they had been sitting in its socket during a stall.
    const acks = c.sentSince(since, "AppendEntriesResponse").filter((m) => m.to === leader.id)
    expect(acks.length).toBeGreaterThan(0)
    const driver = c.drivers.get(leader.id)!
    for (const m of acks) driver.deliver(m.from, m.message)
    c.heal()
    c.advance(1)
    expect(c.now).toBeGreaterThanOrEqual(checked)
    expect(leader.role).toBe("Leader")
    expect(leader.term).toBe(term)
    expect(leader.checkQuorumDeadline).toBeGreaterThan(checked)
  })

  it("a whole cluster stalled at once keeps its leader: no step-down, no election", () => {
    const c = voters(3, { seed: 7 })
    const leader = awaitCoreLeader(c)
    c.advance(200)
    const term = leader.term
    const elections = c.metrics.filter((m) => m.metric._tag === "ElectionStarted").length
    // Every process stops for a second (the same long turn everywhere, or an overloaded machine)
    // at a moment when nothing is on the wire (the last heartbeat was answered), then they come
    // back one after the other, the leader 20 ms after its followers: nothing any of them hears
    // on waking says the leader is alive.
    expect(c.advanceUntil(() => leader.heartbeatDeadline - c.now === 40, 100)).toBe(true)
    for (const id of ["n1", "n2", "n3"]) c.pause(id)
    c.advance(1000)
    for (const id of ["n1", "n2", "n3"].filter((x) => x !== leader.id)) c.resume(id)
    c.advance(20)
    c.resume(leader.id)
    c.advance(1000)
    expect(c.leaders.map((l) => l.id)).toEqual([leader.id])
    expect(leader.term).toBe(term)
    expect(c.metrics.filter((m) => m.metric._tag === "ElectionStarted").length).toBe(elections)
    expect(lostQuorum(c)).toBe(0)
  })

  it("a leader stalled longer than an election timeout while its followers run is replaced (silence that was heard)", () => {
    const c = voters(3, { seed: 7 })
    const leader = awaitCoreLeader(c)
    c.advance(100)
    c.pause(leader.id)
    c.advance(1000)
    const other = c.leaders.filter((l) => l.id !== leader.id)
    expect(other.length).toBe(1)
    c.resume(leader.id)
    c.advance(100)
    expect(leader.role).toBe("Follower")
  })
})

describe("a turn's budget", () => {
  it("control frames go first, and a turn takes at most `bulkFrames` bulk frames", () => {
    const c = voters(3, { seed: 3, budget: { bulkFrames: 2, bulkBytes: 1 << 20, proposals: 1024, postponeTickMs: 20 } })
    const leader = awaitCoreLeader(c)
    c.advance(100)
    const follower = ["n1", "n2", "n3"].find((id) => id !== leader.id)!
    const driver = c.drivers.get(leader.id)!
    const before = leader.log.lastIndex
    const forward = (i: number): RaftMessage => ({
      _tag: "Forward",
      clientRequestId: 1000 + i,
      command: bytes(`f${i}`),
      dedupKey: { clientId: `auto:${follower}-test` as ClientId, requestId: 1000 + i }
    })
    for (let i = 0; i < 5; i++) driver.deliver(nid(follower), forward(i))
    // A pre-vote arriving after the bulk frames is answered in the first turn all the same.
    driver.deliver(nid(follower), { _tag: "PreVote", term: leader.term + 1, lastLogIndex: 0, lastLogTerm: 0, round: 9 })
    const since = c.sent.length
    driver.turn()
    expect(leader.log.lastIndex - before).toBe(2)
    expect(c.sentSince(since, "PreVoteResponse").map((m) => m.to)).toEqual([follower])
    driver.run()
    expect(leader.log.lastIndex - before).toBe(5)
  })

  it("a turn hands the core at most `proposals` proposals; the rest wait, in order, for the next turns", () => {
    const c = voters(1, { budget: { bulkFrames: 256, bulkBytes: 1 << 20, proposals: 3, postponeTickMs: 20 } })
    const leader = awaitCoreLeader(c)
    const driver = c.drivers.get(leader.id)!
    const before = leader.log.lastIndex
    for (let i = 0; i < 7; i++) driver.submit({ _tag: "Propose", handle: 500 + i, command: bytes(`p${i}`), requestId: undefined })
    driver.turn()
    expect(leader.log.lastIndex - before).toBe(3)
    driver.run()
    expect(leader.log.lastIndex - before).toBe(7)
    const commands = c.committed.get(leader.id)!.slice(-7).map((e) => (e._tag === "Command" ? new TextDecoder().decode(e.command) : "?"))
    expect(commands).toEqual(["p0", "p1", "p2", "p3", "p4", "p5", "p6"])
  })
})

/** Advances virtual time until every fiber is done (at most 2 virtual s). */
const settle = (fibers: ReadonlyArray<Fiber.Fiber<unknown, unknown>>) =>
  advanceUntil(
    Effect.map(Effect.forEach(fibers, Fiber.poll), (polls) => polls.every(Option.isSome)),
    2000,
    "the proposals to complete"
  )

describe("admission control (RaftConfig.maxPendingProposals)", () => {
  const three = { ids: ["n1", "n2", "n3"], cluster: ClusterConfig.ofVoters("n1", "n2", "n3") }
  const config = { electionTimeoutMin: 50, electionTimeoutMax: 100, heartbeatInterval: 10, maxPendingProposals: 2 }

  it.scoped("beyond the limit a proposal waits for admission by default, and fails fast with Overloaded when asked", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...three, config })
      const leader = yield* awaitLeader(c)
      const followers = c.nodes.filter((n) => n !== leader)
      // With its followers down nothing commits: two proposals fill the node's allowance.
      for (const f of followers) yield* c.crash(f.id)
      const a = yield* Effect.fork(leader.node.propose(bytes("a")))
      const b = yield* Effect.fork(leader.node.propose(bytes("b")))
      const waiting = yield* Effect.fork(leader.node.propose(bytes("c")))
      yield* TestClock.adjust("1 millis")
      const refused = yield* Effect.exit(leader.node.propose(bytes("d"), { whenOverloaded: "fail" }))
      expect(Exit.isFailure(refused) && Exit.causeOption(refused).pipe(Option.map(String), Option.getOrElse(() => ""))).toContain("Overloaded")
      expect(Option.isNone(yield* Fiber.poll(waiting))).toBe(true)
      // The followers come back: everything admitted commits, in call order, and "d" never entered the log.
      for (const f of followers) yield* c.restart(f.id)
      yield* settle([a, b, waiting])
      const entries = [yield* Fiber.join(a), yield* Fiber.join(b), yield* Fiber.join(waiting)]
      expect(entries.map((e) => new TextDecoder().decode(e.command))).toEqual(["a", "b", "c"])
      expect(entries[1]!.index).toBe(entries[0]!.index + 1)
      expect(entries[2]!.index).toBe(entries[1]!.index + 1)
      const e = yield* Effect.fork(leader.node.propose(bytes("e")))
      yield* settle([e])
      const after = yield* Fiber.join(e)
      expect(after.index).toBe(entries[2]!.index + 1)
    }))

  it.scoped("a caller that gives up while waiting for admission never enters the log", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...three, config })
      const leader = yield* awaitLeader(c)
      const followers = c.nodes.filter((n) => n !== leader)
      for (const f of followers) yield* c.crash(f.id)
      const a = yield* Effect.fork(leader.node.propose(bytes("a")))
      const b = yield* Effect.fork(leader.node.propose(bytes("b")))
      const gaveUp = yield* Effect.fork(leader.node.propose(bytes("gave-up")))
      yield* TestClock.adjust("1 millis")
      yield* Fiber.interrupt(gaveUp)
      for (const f of followers) yield* c.restart(f.id)
      const n = yield* Effect.fork(leader.node.propose(bytes("next")))
      yield* settle([a, b, n])
      const [ea, eb, next] = [yield* Fiber.join(a), yield* Fiber.join(b), yield* Fiber.join(n)]
      expect(next.index).toBe(eb.index + 1)
      expect(eb.index).toBe(ea.index + 1)
    }))
})
