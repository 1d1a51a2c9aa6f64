/**
 * Exactly-once proposals (thesis §6.3; B9): the leader's dedup cache answers a retry of a
 * committed key without appending, a retry of an in-flight key attaches to it; a second live
 * writer under one client id is fatal for a Durable id and re-mints an Auto id; after a failover a
 * retry can commit twice in the log, and the consumer's ClientSessionTable applies it once.
 */
import { describe, expect, it } from "@effect/vitest"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { LogEntry } from "../../../services/raft/LogEntry.js"
import { ClientSessionTable } from "../../../src/raft/ClientSessionTable.js"
import type { RaftCore } from "../../../src/raft/core/RaftCore.js"
import type { Outcome } from "../../../src/raft/core/Ready.js"
import { CoreCluster } from "../../../src/testing/CoreCluster.js"
import type { CoreClusterOptions } from "../../../src/testing/CoreCluster.js"
import { awaitLeader, bytes, text } from "./helpers.js"

const proposed = (o: Outcome | undefined) => {
  if (o?._tag !== "Proposed") throw new Error(`expected Proposed, got ${JSON.stringify(o)}`)
  return o.entry
}

const copiesOf = (core: RaftCore, command: string): Array<LogEntry> =>
  core.log.range(1, core.log.lastIndex).filter((e) => e._tag === "Command" && text(e.command) === command)

const withLearner = (seed: number, clients: CoreClusterOptions["clients"] = {}) =>
  new CoreCluster({ ids: ["a", "b", "c", "l"], bootstrap: ClusterConfig.of(["a", "b", "c"], ["l"]), seed, clients })

describe("leader dedup cache", () => {
  it("a durable retry with the same requestId returns the same entry and the log holds it once", () => {
    const c = withLearner(101, { l: { clientId: "client-l", identity: "Durable" } })
    const leader = awaitLeader(c)
    c.advance(20)
    const first = c.propose("l", bytes("pay-10"), 7)
    expect(c.advanceUntil(() => c.outcomes.has(first), 20)).toBe(true)
    const entry = proposed(c.outcomes.get(first))
    expect(entry.dedupKey).toEqual({ clientId: "client-l", requestId: 7 })
    const retry = c.propose("l", bytes("pay-10"), 7)
    expect(c.advanceUntil(() => c.outcomes.has(retry), 20)).toBe(true)
    expect(proposed(c.outcomes.get(retry))).toMatchObject({ index: entry.index, term: entry.term })
    // A local retry on the leader is answered the same way.
    const local = c.propose(leader.id, bytes("local"), 3)
    expect(c.advanceUntil(() => c.outcomes.has(local), 20)).toBe(true)
    const again = c.propose(leader.id, bytes("local"), 3)
    expect(proposed(c.outcomes.get(again)).index).toBe(proposed(c.outcomes.get(local)).index)
    c.advance(50)
    expect(copiesOf(leader, "pay-10")).toHaveLength(1)
    expect(copiesOf(leader, "local")).toHaveLength(1)
  })

  it("a retry while the first attempt is still in flight attaches to it: one entry, both answered", () => {
    const c = withLearner(102, { l: { clientId: "client-l", identity: "Durable" } })
    const leader = awaitLeader(c)
    c.advance(20)
    // Nothing the leader sends arrives: its entries cannot commit, but forwards still reach it.
    for (const id of ["a", "b", "c", "l"]) if (id !== leader.id) c.cutLink(leader.id, id)
    const h1 = c.propose("l", bytes("once"), 11)
    c.advance(5)
    const h2 = c.propose("l", bytes("once"), 11)
    const h3 = c.propose(leader.id, bytes("mine"), 4)
    const h4 = c.propose(leader.id, bytes("mine"), 4)
    c.advance(5)
    expect(copiesOf(leader, "once")).toHaveLength(1)
    expect(copiesOf(leader, "mine")).toHaveLength(1)
    for (const h of [h1, h2, h3, h4]) expect(c.outcomes.has(h)).toBe(false)
    c.heal()
    expect(c.advanceUntil(() => [h1, h2, h3, h4].every((h) => c.outcomes.has(h)), 200)).toBe(true)
    expect(proposed(c.outcomes.get(h2)).index).toBe(proposed(c.outcomes.get(h1)).index)
    expect(proposed(c.outcomes.get(h4)).index).toBe(proposed(c.outcomes.get(h3)).index)
  })

  it("a caller-pinned requestId moves the automatic serial above it", () => {
    const c = withLearner(103)
    awaitLeader(c)
    c.advance(20)
    const pinned = c.propose("l", bytes("pinned"), 100)
    const auto = c.propose("l", bytes("auto"))
    expect(c.advanceUntil(() => c.outcomes.has(pinned) && c.outcomes.has(auto), 50)).toBe(true)
    expect(proposed(c.outcomes.get(auto)).dedupKey.requestId).toBe(101)
  })
})

describe("collision detection", () => {
  it("a durable id shared by two live writers stops the node that did not issue the serials (ClientIdCollision)", () => {
    const shared = { clientId: "shared-writer", identity: "Durable" as const }
    const c = withLearner(104, { a: shared, l: shared })
    awaitLeader(c)
    c.advance(20)
    const hs = ["w1", "w2", "w3"].map((s) => c.propose("a", bytes(s)))
    expect(c.advanceUntil(() => c.failures.size > 0, 200)).toBe(true)
    expect(c.failures.get("l" as never)).toBe("shared-writer")
    expect(c.cores.has("l" as never)).toBe(false)
    // The writer whose serials they are goes on.
    expect(c.advanceUntil(() => hs.every((h) => c.outcomes.has(h)), 200)).toBe(true)
    expect(c.failures.has("a" as never)).toBe(false)
  })

  it("an auto id seen in use by another writer is re-minted with a fresh serial", () => {
    const shared = { clientId: "auto:dup-0000000000000000", identity: "Auto" as const }
    const c = withLearner(105, { a: shared, l: shared })
    awaitLeader(c)
    c.advance(20)
    for (const s of ["w1", "w2"]) c.propose("a", bytes(s))
    const l = c.node("l")
    expect(c.advanceUntil(() => l.clientId !== shared.clientId, 200)).toBe(true)
    expect(l.clientId).toMatch(/^auto:l-[0-9a-f]{16}$/)
    expect(l.serial).toBe(0)
    expect(c.tracesOf("ClientIdReminted")).toMatchObject([{ node: "l", previous: shared.clientId, next: l.clientId }])
    expect(c.failures.size).toBe(0)
    const h = c.propose("l", bytes("after"))
    expect(c.advanceUntil(() => c.outcomes.has(h), 50)).toBe(true)
    expect(proposed(c.outcomes.get(h)).dedupKey).toEqual({ clientId: l.clientId, requestId: 1 })
  })

  it("a restarted durable writer is not a collision: its serial continues above every request it made, also one that committed while it was down", () => {
    const c = withLearner(106, { l: { clientId: "client-l", identity: "Durable" } })
    const leader = awaitLeader(c)
    c.advance(20)
    const hs = ["w1", "w2", "w3"].map((s) => c.propose("l", bytes(s)))
    expect(c.advanceUntil(() => hs.every((h) => c.outcomes.has(h)), 100)).toBe(true)
    c.advance(60)
    // One more, then crash before it reaches the learner's own log; it commits while it is down.
    c.cutLink(leader.id, "l")
    const last = c.propose("l", bytes("w4"))
    c.advance(3)
    c.crash("l")
    expect(c.advanceUntil(() => copiesOf(leader, "w4").length === 1 && leader.commitIndex >= leader.log.lastIndex, 50)).toBe(true)
    c.heal()
    c.restart("l")
    expect(c.node("l").serial).toBe(3)
    c.advance(200)
    expect(c.failures.size).toBe(0)
    expect(c.node("l").commitIndex).toBe(leader.commitIndex)
    const next = c.propose("l", bytes("w5"))
    expect(c.advanceUntil(() => c.outcomes.has(next), 50)).toBe(true)
    // w4 committed as request 4 while l was down: l adopts it from the log it replays, so w5 is
    // request 5 (request 4 again would be dropped as a duplicate by every ClientSessionTable).
    expect(proposed(c.outcomes.get(next)).dedupKey.requestId).toBe(5)
    const table = ClientSessionTable.empty()
    const applied = leader.log.range(1, leader.commitIndex)
      .filter((e) => e._tag === "Command" && table.shouldApply(e.dedupKey))
      .map((e) => e._tag === "Command" ? text(e.command) : "")
    expect(applied).toEqual(["w1", "w2", "w3", "w4", "w5"])
    expect(last).toBeGreaterThan(0)
  })
})

describe("failover", () => {
  it("a retry after the leader crashed may commit twice in the log; the ClientSessionTable applies it once", () => {
    const c = withLearner(107, { l: { clientId: "client-l", identity: "Durable" } })
    const old = awaitLeader(c)
    c.advance(20)
    const h = c.propose("l", bytes("transfer-5"), 1)
    expect(c.advanceUntil(() => copiesOf(old, "transfer-5").some((e) => e.index <= old.commitIndex), 20)).toBe(true)
    // The answer to the learner is lost, and the leader dies once the others know the entry committed.
    c.cutLink(old.id, "l")
    const voters = ["a", "b", "c"].filter((id) => id !== old.id)
    const index = copiesOf(old, "transfer-5")[0]!.index
    expect(c.advanceUntil(() => voters.every((id) => c.node(id).commitIndex >= index), 100)).toBe(true)
    c.crash(old.id)
    c.heal()
    const fresh = awaitLeader(c, 3000, voters)
    expect(c.outcomes.has(h)).toBe(false)
    // The client times out and retries with the same key, once it knows the new leader.
    expect(c.advanceUntil(() => c.node("l").leader === fresh.id, 100)).toBe(true)
    c.cancel("l", h)
    const retry = c.propose("l", bytes("transfer-5"), 1)
    expect(c.advanceUntil(() => c.outcomes.has(retry), 100)).toBe(true)
    expect(copiesOf(fresh, "transfer-5")).toHaveLength(2)
    c.advance(100)
    const table = ClientSessionTable.empty()
    const applied = c.committed.get("l" as never)!.filter((e) => e._tag === "Command" && table.shouldApply(e.dedupKey))
    expect(applied.map((e) => e._tag === "Command" && text(e.command))).toEqual(["transfer-5"])
  })

  it("a retry of a key a new leader inherited uncommitted attaches to that entry instead of appending", () => {
    const c = withLearner(108, { l: { clientId: "client-l", identity: "Durable" } })
    const old = awaitLeader(c)
    c.advance(20)
    const voters = ["a", "b", "c"].filter((id) => id !== old.id)
    const h = c.propose("l", bytes("inherited"), 1)
    // The voters hold the entry but never learn it committed.
    expect(c.advanceUntil(() => voters.every((id) => copiesOf(c.node(id), "inherited").length === 1), 20)).toBe(true)
    c.crash(old.id)
    const fresh = awaitLeader(c, 3000, voters)
    expect(c.advanceUntil(() => c.node("l").leader === fresh.id, 100)).toBe(true)
    c.cancel("l", h)
    const retry = c.propose("l", bytes("inherited"), 1)
    expect(c.advanceUntil(() => c.outcomes.has(retry), 100)).toBe(true)
    expect(copiesOf(fresh, "inherited")).toHaveLength(1)
    expect(proposed(c.outcomes.get(retry)).index).toBe(copiesOf(fresh, "inherited")[0]!.index)
  })
})
