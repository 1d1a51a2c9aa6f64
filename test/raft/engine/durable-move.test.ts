/**
 * A `Durable` client id moves between nodes (src/raft/core/DedupCache.ts): a fresh node taking
 * over the id of a dead one replays the id's requests as history — no false `ClientIdCollision` —
 * and continues above them, so every consumer's `ClientSessionTable` applies its requests; the
 * old node restarted elsewhere catches up peacefully, and only when both write is it a collision.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option, TestClock } from "effect"
import { ClientIdentity } from "../../../services/raft/ClientId.js"
import type { ClientId } from "../../../services/raft/ClientId.js"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { LogEntry } from "../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import { ClientSessionTable } from "../../../src/raft/ClientSessionTable.js"
import type { TestCluster, TestNode } from "./fixture.js"
import { advanceUntil, awaitLeader, bytes, startCluster, text } from "./fixture.js"

const writer = ClientIdentity.Durable({ clientId: "kv-writer" as ClientId })

/** What a consumer applies from `node`'s log: the commands its session table lets through, in order. */
const appliedBy = (node: TestNode) => {
  const table = ClientSessionTable.empty()
  return node.disk.currentState().entries
    .filter((e): e is Extract<LogEntry, { _tag: "Command" }> => e._tag === "Command" && e.dedupKey.clientId === "kv-writer")
    .filter((e) => table.shouldApply(e.dedupKey))
    .map((e) => text(e.command))
}

const takeOver = Effect.gen(function*() {
  const c = yield* startCluster({ ids: ["n1", "n2", "n3"], cluster: ClusterConfig.ofVoters("n1", "n2", "n3"), seed: 51, identities: { n3: writer, n4: writer } })
  yield* awaitLeader(c, 2000)
  // The leader must not be the node that dies.
  let leader = (yield* c.leader)!
  if (leader.id === "n3") {
    yield* Effect.fork(leader.node.transferLeadership("n1" as NodeId))
    yield* advanceUntil(Effect.map(c.leader, (l) => l !== undefined && l.id !== "n3"), 1000, "another leader")
    leader = (yield* c.leader)!
  }
  const old = c.byId("n3")
  yield* TestClock.adjust("30 millis")
  for (let i = 1; i <= 5; i++) expect((yield* old.node.propose(bytes(`old-${i}`))).dedupKey.requestId).toBe(i)
  yield* TestClock.adjust("30 millis")
  yield* c.crash("n3")
  // A fresh node takes the id over; it proposes at once, before it knows the id's history.
  const fresh = yield* c.join("n4", ClusterConfig.of([], ["n4"]))
  const failure = yield* Effect.fork(fresh.node.awaitFailure)
  const early = yield* Effect.fork(fresh.node.propose(bytes("new-1")))
  const added = yield* Effect.fork(leader.node.changeMembership(ClusterConfig.of(["n1", "n2", "n3"], ["n4"])))
  yield* advanceUntil(Effect.map(Fiber.poll(early), Option.isSome), 1000, "the fresh node's first proposal")
  expect(Option.isSome(yield* Fiber.poll(added))).toBe(true)
  return { c, leader, fresh, failure, early }
})

describe("moving a durable client id", () => {
  it.scoped("to a fresh node after the old one died: no collision, and its requests continue above the old ones", () =>
    Effect.gen(function*() {
      const { failure, fresh, early, leader } = yield* takeOver
      const first = yield* Fiber.join(early)
      expect(first.dedupKey).toEqual({ clientId: "kv-writer", requestId: 6 })
      const more = [yield* fresh.node.propose(bytes("new-2")), yield* fresh.node.propose(bytes("new-3"))]
      expect(more.map((e) => e.dedupKey.requestId)).toEqual([7, 8])
      // A retry of the old node's last request, pinned to its id, still applies once.
      yield* fresh.node.propose(bytes("old-5"), { requestId: 5 })
      yield* TestClock.adjust("50 millis")
      expect(Option.isNone(yield* Fiber.poll(failure))).toBe(true)
      for (const n of [leader, fresh]) {
        expect(appliedBy(n)).toEqual(["old-1", "old-2", "old-3", "old-4", "old-5", "new-1", "new-2", "new-3"])
      }
    }))

  it.scoped("the old node restarted elsewhere catches up without a collision; once both write, one stops with ClientIdCollision", () =>
    Effect.gen(function*() {
      const { c, failure, fresh, early } = yield* takeOver
      yield* Fiber.join(early)
      yield* c.restart("n3")
      const old = c.byId("n3")
      const oldFailure = yield* Effect.fork(old.node.awaitFailure)
      yield* fresh.node.propose(bytes("new-2"))
      yield* advanceUntil(
        Effect.zipWith(old.node.commitIndex.get, fresh.node.commitIndex.get, (a, b) => a === b && a > 0),
        1000,
        "the old node to catch up"
      )
      yield* TestClock.adjust("50 millis")
      expect(Option.isNone(yield* Fiber.poll(failure))).toBe(true)
      expect(Option.isNone(yield* Fiber.poll(oldFailure))).toBe(true)
      // Now the old node writes too: two live writers under one durable id.
      const again = yield* old.node.propose(bytes("old-again"))
      expect(again.dedupKey.requestId).toBe(8)
      yield* advanceUntil(Effect.map(Fiber.poll(failure), Option.isSome), 500, "the collision")
      expect(yield* Fiber.join(failure)).toMatchObject({ _tag: "ClientIdCollision", clientId: "kv-writer" })
      void (c satisfies TestCluster)
    }))
})
