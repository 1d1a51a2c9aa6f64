/**
 * Engine-level leadership transfer (thesis §3.10): the happy path returns once the target leads;
 * an unreachable target times out after `electionTimeoutMax` and the leader serves again;
 * proposals are refused meanwhile; cancel; closing the node fails a pending transfer.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, TestClock } from "effect"
import type { PeerId } from "../../../services/seam/PeerId.js"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import { awaitLeader, bytes, FAST, startCluster } from "./fixture.js"

const three = { ids: ["n1", "n2", "n3"], cluster: ClusterConfig.ofVoters("n1", "n2", "n3") }

const failureOf = <A, E>(exit: Exit.Exit<A, E>) => {
  if (!Exit.isFailure(exit)) throw new Error("expected a failure")
  const err = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (err === undefined) throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return err
}

describe("RaftNode leadership transfer", () => {
  it.scoped("the target becomes leader and the call returns", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...three, seed: 11 })
      const leader = yield* awaitLeader(c)
      yield* leader.node.propose(bytes("before"))
      const target = c.nodes.find((n) => n !== leader)!
      const term = yield* leader.node.term.get
      const call = yield* Effect.fork(leader.node.transferLeadership(target.id as NodeId))
      yield* TestClock.adjust(`${FAST.electionTimeoutMax!} millis`)
      const exit = yield* Fiber.await(call)
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(yield* target.node.role.get).toBe("Leader")
      expect(yield* target.node.term.get).toBe(term + 1)
      expect(yield* leader.node.role.get).toBe("Follower")
      const e = yield* target.node.propose(bytes("after"))
      expect(e.term).toBe(term + 1)
    }))

  it.scoped("an unreachable target times out; proposals are refused meanwhile and accepted afterwards", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...three, seed: 12 })
      const leader = yield* awaitLeader(c)
      yield* TestClock.adjust("20 millis")
      const target = c.nodes.find((n) => n !== leader)!
      yield* c.loom.faults.isolate(target.id as PeerId)
      const call = yield* Effect.fork(leader.node.transferLeadership(target.id as NodeId))
      yield* TestClock.adjust("1 millis")
      const refused = yield* leader.node.propose(bytes("during")).pipe(Effect.flip)
      expect(refused).toMatchObject({ _tag: "NotLeader", leader: target.id })
      yield* TestClock.adjust(`${FAST.electionTimeoutMax!} millis`)
      expect(failureOf(yield* Fiber.await(call))).toMatchObject({
        _tag: "LeadershipTransferFailed",
        target: target.id,
        reason: "TimedOut"
      })
      expect(yield* leader.node.role.get).toBe("Leader")
      const e = yield* leader.node.propose(bytes("after"))
      expect(e.index).toBeGreaterThan(1)
    }))

  it.scoped("cancelTransfer fails the pending call with Cancelled; immediate failures are typed", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...three, seed: 13 })
      const leader = yield* awaitLeader(c)
      yield* TestClock.adjust("20 millis")
      const [target, other] = c.nodes.filter((n) => n !== leader)
      yield* c.loom.faults.isolate(target!.id as PeerId)
      const call = yield* Effect.fork(leader.node.transferLeadership(target!.id as NodeId))
      yield* TestClock.adjust("5 millis")
      const again = yield* leader.node.transferLeadership(other!.id as NodeId).pipe(Effect.flip)
      expect(again).toMatchObject({ _tag: "LeadershipTransferFailed", reason: "AlreadyInFlight" })
      yield* leader.node.cancelTransfer
      yield* TestClock.adjust("1 millis")
      expect(failureOf(yield* Fiber.await(call))).toMatchObject({ reason: "Cancelled" })
      const self = yield* leader.node.transferLeadership(leader.id as NodeId).pipe(Effect.flip)
      expect(self).toMatchObject({ reason: "InvalidTarget" })
      const notLeader = yield* other!.node.transferLeadership(leader.id as NodeId).pipe(Effect.flip)
      expect(notLeader._tag).toBe("NotLeader")
    }))

  it.scoped("closing the node fails a pending transfer with NodeClosed", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...three, seed: 14 })
      const leader = yield* awaitLeader(c)
      yield* TestClock.adjust("20 millis")
      const target = c.nodes.find((n) => n !== leader)!
      yield* c.loom.faults.isolate(target.id as PeerId)
      const call = yield* Effect.fork(leader.node.transferLeadership(target.id as NodeId))
      yield* TestClock.adjust("5 millis")
      yield* leader.node.close
      expect(failureOf(yield* Fiber.await(call))).toMatchObject({ reason: "NodeClosed" })
    }))
})
