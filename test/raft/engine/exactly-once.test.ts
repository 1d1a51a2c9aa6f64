/**
 * Engine-level exactly-once (thesis §6.3): a durable retry with the same requestId returns the
 * same entry and the log holds one copy; a durable id shared by two live nodes stops one of them
 * with `ClientIdCollision`, surfaced through `awaitFailure` (fail-stop).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { ClientIdentity } from "../../../services/raft/ClientId.js"
import type { ClientId } from "../../../services/raft/ClientId.js"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import { advanceUntil, awaitLeader, bytes, startCluster, text } from "./fixture.js"

const three = { ids: ["n1", "n2", "n3"], cluster: ClusterConfig.ofVoters("n1", "n2", "n3") }

describe("RaftNode exactly-once", () => {
  it.scoped("a durable retry with the same requestId returns the same entry; the log holds it once", () =>
    Effect.gen(function*() {
      const durable = (id: string) => ClientIdentity.Durable({ clientId: `billing-${id}` as ClientId })
      const identities = { n1: durable("n1"), n2: durable("n2"), n3: durable("n3") }
      const c = yield* startCluster({ ...three, seed: 21, identities })
      const leader = yield* awaitLeader(c)
      yield* TestClock.adjust("20 millis")
      const client = c.nodes.find((n) => n !== leader)!
      expect(yield* client.node.clientId).toBe(`billing-${client.id}`)
      const first = yield* client.node.propose(bytes("charge"), { requestId: 42 })
      const retry = yield* client.node.propose(bytes("charge"), { requestId: 42 })
      expect(retry).toMatchObject({ index: first.index, term: first.term })
      yield* TestClock.adjust("30 millis")
      const copies = leader.disk.currentState().entries.filter((e) => e._tag === "Command" && text(e.command) === "charge")
      expect(copies).toHaveLength(1)
    }))

  it.scoped("a durable id shared by two live nodes stops one of them with ClientIdCollision", () =>
    Effect.gen(function*() {
      const shared = ClientIdentity.Durable({ clientId: "shared" as ClientId })
      const c = yield* startCluster({ ...three, seed: 22, identities: { n1: shared, n3: shared } })
      yield* awaitLeader(c)
      yield* TestClock.adjust("20 millis")
      const failure = yield* Effect.fork(c.byId("n3").node.awaitFailure)
      for (const s of ["a", "b", "c"]) yield* c.byId("n1").node.propose(bytes(s))
      yield* advanceUntil(Effect.map(Fiber.poll(failure), (o) => o._tag === "Some"), 200, "the collision")
      expect(yield* Fiber.join(failure)).toMatchObject({ _tag: "ClientIdCollision", clientId: "shared" })
      const late = yield* c.byId("n3").node.propose(bytes("late")).pipe(Effect.flip)
      expect(late._tag).toBe("NotLeader")
      // The node whose serials they are goes on.
      const more = yield* c.byId("n1").node.propose(bytes("d"))
      expect(more.dedupKey).toEqual({ clientId: "shared", requestId: 4 })
    }))
})
