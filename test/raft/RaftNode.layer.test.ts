/**
 * A node built with `RaftNode.layer` that stops on its own (fail-stop: here a storage whose writes
 * fail) is not carried on silently: the program that provided the Layer sees the typed failure
 * (`StorageError` as the defect) where it waits in a call on the node, is interrupted where it does
 * not, and every other user of the node sees the failure too (see `src/raft/failStopGuard.ts`).
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Layer, Logger, Option, Stream, TestClock } from "effect"
import { InMemoryLoom } from "../../layers/seam/inmemory/InMemoryLoom.js"
import * as InMemoryRaftStorage from "../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import { SeamRaftTransport } from "../../layers/raft/transport/SeamRaftTransport.js"
import { Loom } from "../../services/seam/Loom.js"
import { ClusterConfig } from "../../services/raft/ClusterConfig.js"
import type { RaftNodeShape } from "../../services/raft/RaftNode.js"
import { RaftNode } from "../../src/raft/RaftNode.js"

const command = new TextEncoder().encode("x")

/** A lone voter over an in-memory seam, on `disk`. */
const soloLayer = (disk: InMemoryRaftStorage.Disk) =>
  RaftNode.layer({ cluster: ClusterConfig.ofVoters("solo") }).pipe(
    Layer.provide(SeamRaftTransport.layer),
    Layer.provide(Loom.layerHost({ sessionName: "fail-stop", peerKey: "solo" })),
    Layer.provide(InMemoryRaftStorage.layer({ disk })),
    Layer.provide(InMemoryLoom.layer())
  )

/** The defect a fiber died with, or a description of its exit when it did not die. */
const defectOf = <A, E>(exit: Exit.Exit<A, E>): unknown =>
  Exit.isFailure(exit)
    ? Option.getOrElse(Cause.dieOption(exit.cause), () => `no defect in ${Cause.pretty(exit.cause)}`)
    : "the effect succeeded"

/** Polls `fiber` after letting `ms` of virtual time pass; fails with what it saw if still running. */
const exitAfter = <A, E>(fiber: Fiber.RuntimeFiber<A, E>, ms: number, what: string) =>
  Effect.gen(function*() {
    yield* TestClock.adjust(ms)
    const polled = yield* Fiber.poll(fiber)
    if (Option.isNone(polled)) return yield* Effect.dieMessage(`${what} still running after ${ms} virtual ms`)
    return polled.value
  })

describe("RaftNode.layer fail-stop", () => {
  it.scoped("a program that proposes through the Layer dies with the StorageError that stopped the node", () =>
    Effect.gen(function*() {
      const disk = InMemoryRaftStorage.Disk.make()
      const program = Effect.gen(function*() {
        const node = yield* RaftNode
        yield* node.awaitLeadership
        const first = yield* node.propose(command)
        disk.failNextWrites({ count: Infinity, reason: "disk full" })
        yield* node.propose(command)
        return first.index
      })
      const fiber = yield* Effect.fork(program.pipe(Effect.provide(soloLayer(disk))))
      const exit = yield* exitAfter(fiber, 1000, "the proposing program")
      const defect = defectOf(exit)
      expect(defect).toMatchObject({ _tag: "StorageError", reason: "disk full" })
    }))

  it.scoped("a reader of the committed stream dies with the failure instead of seeing the stream end; the owner reading it is interrupted", () =>
    Effect.gen(function*() {
      const disk = InMemoryRaftStorage.Disk.make()
      const handed = yield* Deferred.make<RaftNodeShape>()
      // The owner reads the log itself (Effect runs the stream in a fiber of its own).
      const owner = yield* Effect.fork(
        Effect.gen(function*() {
          const node = yield* RaftNode
          yield* Deferred.succeed(handed, node)
          return yield* node.committedFrom(1).pipe(Stream.runCount)
        }).pipe(Effect.provide(soloLayer(disk)))
      )
      const node = yield* Deferred.await(handed)
      const leads = yield* Effect.fork(node.awaitLeadership)
      yield* exitAfter(leads, 1000, "awaitLeadership")
      const reader = yield* Effect.fork(node.committed.pipe(Stream.runCount))
      disk.failNextWrites({ count: Infinity, reason: "fsync failed" })
      yield* Effect.fork(node.propose(command))
      const read = yield* exitAfter(reader, 100, "the reader of committed")
      expect(defectOf(read)).toMatchObject({ _tag: "StorageError", reason: "fsync failed" })
      const ownerExit = yield* exitAfter(owner, 10, "the owner")
      expect(Exit.isFailure(ownerExit) && Cause.isInterruptedOnly(ownerExit.cause)).toBe(true)
    }))

  it.scoped("the fiber that provided the Layer is interrupted when it is not waiting on the node; other users see the failure", () =>
    Effect.gen(function*() {
      const disk = InMemoryRaftStorage.Disk.make()
      const logged: Array<string> = []
      const capture = Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => void logged.push(String(message))))
      const handed = yield* Deferred.make<RaftNodeShape>()
      // The owner hands the node out, then does something else forever (a server, say).
      const owner = yield* Effect.fork(
        Effect.flatMap(RaftNode, (node) => Deferred.succeed(handed, node)).pipe(
          Effect.zipRight(Effect.never),
          // The logger is set before the node's Layer is built, so the node's fibers log through it.
          Effect.provide(soloLayer(disk).pipe(Layer.provide(capture)))
        )
      )
      const node = yield* Deferred.await(handed)
      const leads = yield* Effect.fork(node.awaitLeadership)
      yield* exitAfter(leads, 1000, "awaitLeadership")
      disk.failNextWrites({ count: Infinity, reason: "disk gone" })
      const proposal = yield* Effect.fork(node.propose(command))
      const proposed = yield* exitAfter(proposal, 100, "the proposal")
      expect(defectOf(proposed)).toMatchObject({ _tag: "StorageError", reason: "disk gone" })

      const ownerExit = yield* exitAfter(owner, 10, "the owner")
      expect(Exit.isFailure(ownerExit) && Cause.isInterruptedOnly(ownerExit.cause)).toBe(true)
      expect(logged.some((m) => m.includes("solo") && m.includes("disk gone"))).toBe(true)

      // Later uses die with the failure too, rather than waiting forever or failing NotLeader.
      expect(defectOf(yield* Effect.exit(node.readIndex))).toMatchObject({ _tag: "StorageError" })
      expect(defectOf(yield* Effect.exit(node.awaitLeadership))).toMatchObject({ _tag: "StorageError" })
    }))

  it.scoped("Layer.launch of a node whose storage fails from the first write ends instead of running forever", () =>
    Effect.gen(function*() {
      const disk = InMemoryRaftStorage.Disk.make()
      disk.failNextWrites({ count: Infinity, reason: "read-only disk" })
      const launched = yield* Effect.fork(Layer.launch(soloLayer(disk)))
      const exit = yield* exitAfter(launched, 1000, "Layer.launch")
      expect(Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)).toBe(true)
    }))

  it.scoped("a healthy node built by the Layer is not disturbed: its calls succeed", () =>
    Effect.gen(function*() {
      const disk = InMemoryRaftStorage.Disk.make()
      const program = Effect.gen(function*() {
        const node = yield* RaftNode
        yield* node.awaitLeadership
        const entry = yield* node.propose(command)
        const read = yield* node.readIndex
        return [entry.index, read] as const
      })
      const fiber = yield* Effect.fork(program.pipe(Effect.provide(soloLayer(disk))))
      const exit = yield* exitAfter(fiber, 1000, "the healthy program")
      expect(exit).toEqual(Exit.succeed([2, 2]))
    }))
})
