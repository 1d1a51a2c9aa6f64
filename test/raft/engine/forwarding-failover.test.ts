/**
 * A follower's forwarded proposal whose leader goes away (§8 forwarding across a §5.2 leader
 * change), through the public API on TestClock: the call fails with `LeadershipLost` — outcome
 * unknown — instead of hanging, and the caller's retry under the same request id commits the
 * command exactly once.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Effect, Exit, Fiber, Option, Stream, TestClock } from "effect"
import type { PeerId } from "../../../services/seam/PeerId.js"
import type { DedupKey } from "../../../services/raft/ClientId.js"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import { committedIndex } from "../../../services/raft/LogEntry.js"
import type { RaftNodeShape } from "../../../services/raft/RaftNode.js"
import { advanceUntil, awaitLeader, bytes, startCluster, text } from "./fixture.js"
import type { TestNode } from "./fixture.js"

const three = { ids: ["n1", "n2", "n3"], cluster: ClusterConfig.ofVoters("n1", "n2", "n3") }
const pid = (s: string) => s as PeerId

/** The commands a node committed through `upTo` with dedup key `key` (replayed from index 1). */
const copiesOf = (node: RaftNodeShape, key: DedupKey, upTo: number) =>
  Effect.gen(function*() {
    const items = yield* node.committedFrom(1).pipe(
      Stream.takeUntil((c) => committedIndex(c) >= upTo),
      Stream.runCollect,
      Effect.timeout("1 second")
    )
    return Chunk.toReadonlyArray(items).flatMap((c) =>
      c._tag === "Entry" && c.entry.dedupKey.clientId === key.clientId && c.entry.dedupKey.requestId === key.requestId
        ? [text(c.entry.command)]
        : []
    )
  })

/** Waits (virtual time) for `fiber` to end and returns its exit. */
const exitWithin = <A, E>(fiber: Fiber.Fiber<A, E>, maxMs: number, what: string) =>
  Effect.gen(function*() {
    yield* advanceUntil(Effect.map(Fiber.poll(fiber), Option.isSome), maxMs, what)
    return yield* Fiber.await(fiber)
  })

/** The typed failure of `exit` as `tag: message` ("success" if it succeeded). */
const failureOf = <A, E extends { readonly _tag: string; readonly message: string }>(exit: Exit.Exit<A, E>) => {
  if (Exit.isSuccess(exit)) return "success"
  const e = Option.getOrUndefined(Cause.failureOption(exit.cause))
  return e === undefined ? String(exit.cause) : `${e._tag}: ${e.message}`
}

const otherThan = (nodes: ReadonlyArray<TestNode>, ...not: ReadonlyArray<TestNode>) =>
  nodes.find((n) => !not.includes(n))!

describe("RaftNode forwarding across a leader change", () => {
  it.scoped("a forward in flight to a leader that crashes fails LeadershipLost; the same-request-id retry commits once", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...three, seed: 11 })
      const old = yield* awaitLeader(c)
      yield* TestClock.adjust("20 millis")
      const f = otherThan(c.nodes, old)
      // The forward leaves f but never reaches the leader, which keeps heartbeating f.
      yield* c.loom.faults.cutOneWay(pid(f.id), pid(old.id))
      const requestId = 7_001
      const first = yield* Effect.fork(f.node.propose(bytes("once"), { requestId }))
      yield* TestClock.adjust("30 millis")
      expect(Option.isNone(yield* Fiber.poll(first))).toBe(true)
      const termBefore = yield* f.node.term.get
      yield* c.crash(old.id)
      const exit = yield* exitWithin(first, 1000, "the stranded proposal")
      // The transport saw the leader go: the call fails before any election could finish.
      expect(failureOf(exit)).toBe(`LeadershipLost: leadership lost: ${old.id} left the transport before answering a forwarded proposal`)
      expect(yield* f.node.term.get).toBe(termBefore)
      const next = yield* awaitLeader(c)
      expect(next.id).not.toBe(old.id)
      const entry = yield* f.node.propose(bytes("once"), { requestId }).pipe(Effect.timeout("1 second"), Effect.fork)
      const committed = yield* exitWithin(entry, 1000, "the retry")
      if (!Exit.isSuccess(committed)) throw new Error(`retry failed: ${String(committed)}`)
      const key = committed.value.dedupKey
      expect(key).toEqual({ clientId: yield* f.node.clientId, requestId })
      for (const n of c.nodes.filter((n) => n.up)) {
        const copies = yield* Effect.fork(copiesOf(n.node, key, committed.value.index))
        yield* advanceUntil(Effect.map(Fiber.poll(copies), Option.isSome), 500, "a replay")
        expect(yield* Fiber.join(copies)).toEqual(["once"])
      }
    }))

  it.scoped("a forward to a leader cut off by a partition fails LeadershipLost once the majority elects another", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...three, seed: 12 })
      const old = yield* awaitLeader(c)
      yield* TestClock.adjust("20 millis")
      const f = otherThan(c.nodes, old)
      // The old leader stays in every peer set (nothing crashed): only a term change tells f.
      yield* c.loom.faults.isolate(pid(old.id))
      const requestId = 7_002
      const first = yield* Effect.fork(f.node.propose(bytes("partitioned"), { requestId }))
      const exit = yield* exitWithin(first, 2000, "the stranded proposal")
      expect(failureOf(exit)).toMatch(/^LeadershipLost: leadership lost: (term \d+ began before|this node became candidate)/)
      expect(yield* f.node.term.get).toBeGreaterThan(yield* old.node.term.get)
      const next = yield* awaitLeader(c)
      expect(next.id).not.toBe(old.id)
      const retry = yield* Effect.fork(f.node.propose(bytes("partitioned"), { requestId }))
      const committed = yield* exitWithin(retry, 1000, "the retry")
      if (!Exit.isSuccess(committed)) throw new Error(`retry failed: ${String(committed)}`)
      // The partition heals: the old leader rejoins as a follower and converges on one copy.
      yield* c.loom.faults.healAll
      yield* advanceUntil(
        Effect.map(old.node.commitIndex.get, (i) => i >= committed.value.index),
        1000,
        "the old leader to catch up"
      )
      for (const n of c.nodes) {
        const copies = yield* Effect.fork(copiesOf(n.node, committed.value.dedupKey, committed.value.index))
        yield* advanceUntil(Effect.map(Fiber.poll(copies), Option.isSome), 500, "a replay")
        expect(yield* Fiber.join(copies)).toEqual(["partitioned"])
      }
    }))
})
