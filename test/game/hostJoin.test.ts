import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Schema, TestClock } from "effect"
import {
  DuplicateHost,
  gameHost,
  gameJoin,
  gameSpectate,
  InMemoryRaftStorage,
  JoinTimeout,
  PRESENCE_TAG,
  RosterFull,
  SpectatorsClosed,
  TurnSequencer
} from "../../src/index.js"
import type { GameSessionShape } from "../../src/index.js"
import { advanceUntil, FAST, firstActions, makeLoom, settle, settleOne, startIn, valueOf, weave, weaveAll } from "./helpers.js"

const HOST = { ...FAST, hostDeclarationTimeout: "200 millis", catchUpTimeout: "1 second" } as const
const JOIN = { ...FAST, joinTimeout: "3 seconds" } as const

const votersOf = (s: GameSessionShape) => Effect.map(s.node.membership.get, (m) => [...m.voters].sort())

describe("gameHost / gameJoin", () => {
  it.scoped("a host with three joiners returns once all four are voters, and any of them can move", () =>
    Effect.gen(function*() {
      const loom = yield* makeLoom()
      const [h, ...joiners] = yield* weaveAll(loom, ["host", "j1", "j2", "j3"])
      const host = yield* startIn(h!, (seam) => gameHost(seam, { ...HOST, peerCount: 4 }))
      const joins = yield* Effect.forEach(joiners, (j) => startIn(j, (seam) => gameJoin(seam, JOIN)))
      const hostSession = yield* valueOf(yield* settleOne(host, 5000, "the host to fill its roster"))
      const sessions = yield* Effect.forEach(yield* settle(joins, 2000, "every joiner"), valueOf)
      expect(yield* votersOf(hostSession)).toEqual(["host", "j1", "j2", "j3"])
      for (const s of sessions) expect(yield* votersOf(s)).toEqual(["host", "j1", "j2", "j3"])
      // Admission closed is published with the final roster.
      const hostSlot = (yield* sessions[2]!.presence.slots.get).get(hostSession.selfId)
      expect(hostSlot).toEqual({ t: "closed", voters: ["host", "j1", "j2", "j3"], spectators: false })
      // Any peer proposes; every peer sees it.
      const seq = TurnSequencer.make(sessions[2]!.node, Schema.String)
      const move = yield* valueOf(yield* settleOne(yield* Effect.fork(seq.propose("e4")), 2000, "a move"))
      for (const s of [hostSession, ...sessions]) {
        expect(yield* firstActions(TurnSequencer.make(s.node, Schema.String).events, 1)).toEqual([move.action])
      }
    }))

  it.scoped("the host admits each joiner as a learner before promoting it, one change at a time", () =>
    Effect.gen(function*() {
      const loom = yield* makeLoom()
      const [h, ...joiners] = yield* weaveAll(loom, ["host", "j1", "j2"])
      // The host's own disk, to read back the configuration entries it logged.
      const storage = yield* InMemoryRaftStorage.make()
      const host = yield* startIn(h!, (seam) => gameHost(seam, { ...HOST, peerCount: 3, storage }))
      const joins = yield* Effect.forEach(joiners, (j) => startIn(j, (seam) => gameJoin(seam, JOIN)))
      const [hostExit] = yield* settle([host, ...joins], 5000, "host and joiners")
      const hostSession = yield* valueOf(hostExit!)
      const last = yield* hostSession.node.commitIndex.get
      const entries = yield* storage.entries(1, last + 1)
      const configs = entries.flatMap((e) => {
        if (e._tag !== "Config") return []
        const show = (c: { voters: ReadonlySet<string>; learners: ReadonlySet<string> }) =>
          `${[...c.voters].sort().join(",")}/${[...c.learners].sort().join(",")}`
        return [e.config.old === undefined ? show(e.config.new) : `joint(${show(e.config.old)} -> ${show(e.config.new)})`]
      })
      expect(configs).toEqual([
        "host/j1",
        "joint(host/j1 -> host,j1/)",
        "host,j1/",
        "host,j1/j2",
        "joint(host,j1/j2 -> host,j1,j2/)",
        "host,j1,j2/"
      ])
    }))

  it.scoped("returnAt quorum returns with a majority seated and seats a latecomer in the background", () =>
    Effect.gen(function*() {
      const loom = yield* makeLoom()
      const [h, j1] = yield* weaveAll(loom, ["host", "j1"])
      const host = yield* startIn(h!, (seam) => gameHost(seam, { ...HOST, peerCount: 3, returnAt: "quorum" }))
      const first = yield* startIn(j1!, (seam) => gameJoin(seam, JOIN))
      const [hostExit, firstExit] = yield* settle([host, first], 5000, "a quorum of two")
      const hostSession = yield* valueOf(hostExit!)
      yield* valueOf(firstExit!)
      expect(yield* votersOf(hostSession)).toEqual(["host", "j1"])
      // The game can already commit with two of three seats.
      const seq = TurnSequencer.make(hostSession.node, Schema.Number)
      yield* valueOf(yield* settleOne(yield* Effect.fork(seq.propose(1)), 1000, "a move before the latecomer"))
      // The latecomer arrives after the host returned and is still seated.
      const late = yield* weave(loom, "j2", 300)
      const lateSession = yield* valueOf(
        yield* settleOne(yield* startIn(late, (seam) => gameJoin(seam, JOIN)), 5000, "the latecomer")
      )
      yield* advanceUntil(
        Effect.map(hostSession.presence.slots.get, (m) => m.get(hostSession.selfId)?.t === "closed"),
        1000,
        "admission to close"
      )
      expect(yield* votersOf(hostSession)).toEqual(["host", "j1", "j2"])
      // The latecomer holds the whole log, the early move included.
      expect(yield* firstActions(TurnSequencer.make(lateSession.node, Schema.Number).events, 1)).toEqual([1])
    }))

  it.scoped("a learner that never catches up is removed again and the next joiner takes the seat", () =>
    Effect.gen(function*() {
      const loom = yield* makeLoom()
      const [h, j1, j2] = yield* weaveAll(loom, ["host", "j1", "j2"])
      // j1 is heard by the host but hears nothing back: it can never catch up as a learner.
      yield* loom.faults.cutOneWay(h!.seam.selfId, j1!.seam.selfId)
      const host = yield* startIn(h!, (seam) => gameHost(seam, { ...HOST, peerCount: 2, catchUpTimeout: "300 millis" }))
      const stuck = yield* startIn(j1!, (seam) => gameJoin(seam, { ...FAST, joinTimeout: "1 second" }))
      const next = yield* startIn(j2!, (seam) => gameJoin(seam, JOIN))
      const [hostExit, stuckExit, nextExit] = yield* settle([host, stuck, next], 5000, "host and joiners")
      const hostSession = yield* valueOf(hostExit!)
      yield* valueOf(nextExit!)
      const membership = yield* hostSession.node.membership.get
      expect([...membership.voters].sort()).toEqual(["host", "j2"])
      expect([...membership.learners]).toEqual([])
      // j1 never heard the host's "admission closed" either: it gives up on its own timer.
      expect(stuckExit).toEqual(Exit.fail(new JoinTimeout({ selfId: "j1", as: "player", waitedMillis: 1000 })))
    }))

  it.scoped("a joiner that misses the last seat fails with RosterFull", () =>
    Effect.gen(function*() {
      const loom = yield* makeLoom()
      const [h, j1, j2] = yield* weaveAll(loom, ["host", "j1", "j2"])
      const host = yield* startIn(h!, (seam) => gameHost(seam, { ...HOST, peerCount: 2 }))
      const a = yield* startIn(j1!, (seam) => gameJoin(seam, JOIN))
      const b = yield* startIn(j2!, (seam) => gameJoin(seam, JOIN))
      const [hostExit, aExit, bExit] = yield* settle([host, a, b], 5000, "host and both joiners")
      yield* valueOf(hostExit!)
      // Seats go in id order: j1 is seated, j2 is told the roster is full.
      expect(Exit.isSuccess(aExit!)).toBe(true)
      expect(bExit).toEqual(Exit.fail(new RosterFull({ selfId: "j2", voters: ["host", "j1"] })))
      // The loser's session was torn down: its seam is closed.
      expect((yield* j2!.seam.state.get)._tag).toBe("Torn")
    }))

  it.scoped("garbage on the presence channel is dropped and counted, and admission goes on", () =>
    Effect.gen(function*() {
      const loom = yield* makeLoom()
      const [h, j] = yield* weaveAll(loom, ["host", "j1"])
      const host = yield* startIn(h!, (seam) => gameHost(seam, { ...HOST, peerCount: 2 }))
      // Tag 2 is presence: not UTF-8, not JSON, JSON of the wrong shape, a forged slot type.
      const junk = ["\u00ff", "{", `{"epoch":1}`, `{"epoch":1,"version":1,"slot":{"t":"king"}}`]
      const bytes = [Uint8Array.of(PRESENCE_TAG, 0xff, 0xfe), ...junk.map((t) => new Uint8Array([PRESENCE_TAG, ...new TextEncoder().encode(t)]))]
      const join = yield* startIn(j!, (seam) => gameJoin(seam, JOIN))
      // Both sessions have opened their channels by now (and the host is still admitting).
      yield* TestClock.adjust("10 millis")
      for (const b of bytes) yield* loom.faults.inject(h!.seam.selfId, j!.seam.selfId, b)
      const [hostExit, joinExit] = yield* settle([host, join], 5000, "host and joiner")
      const hostSession = yield* valueOf(hostExit!)
      yield* valueOf(joinExit!)
      expect(yield* votersOf(hostSession)).toEqual(["host", "j1"])
      expect(hostSession.presence.stats.droppedMalformed).toBe(bytes.length)
    }))

  it.scoped("a joiner with no host fails with JoinTimeout after its timeout", () =>
    Effect.gen(function*() {
      const loom = yield* makeLoom()
      const [, j1] = yield* weaveAll(loom, ["idle", "j1"])
      const join = yield* startIn(j1!, (seam) => gameJoin(seam, { ...FAST, joinTimeout: "500 millis" }))
      // Not before the timeout...
      yield* advanceUntil(Effect.succeed(false), 490, "nothing").pipe(Effect.catchAllDefect(() => Effect.void))
      expect(Option.isNone(yield* Fiber.poll(join))).toBe(true)
      // ...and with JoinTimeout at it.
      const exit = yield* settleOne(join, 100, "the join timeout")
      expect(exit).toEqual(Exit.fail(new JoinTimeout({ selfId: "j1", as: "player", waitedMillis: 500 })))
    }))

  it.scoped("of two hosts the lower id wins and the other fails with DuplicateHost", () =>
    Effect.gen(function*() {
      const loom = yield* makeLoom()
      const [a, b, c] = yield* weaveAll(loom, ["a", "b", "c"])
      const hostA = yield* startIn(a!, (seam) => gameHost(seam, { ...HOST, peerCount: 2 }))
      const hostB = yield* startIn(b!, (seam) => gameHost(seam, { ...HOST, peerCount: 2 }))
      const exitB = yield* settleOne(hostB, 1000, "the losing host")
      expect(exitB).toEqual(Exit.fail(new DuplicateHost({ selfId: "b", winner: "a" })))
      // The winner goes on and fills its roster with a joiner.
      const join = yield* startIn(c!, (seam) => gameJoin(seam, JOIN))
      const [exitA, exitC] = yield* settle([hostA, join], 5000, "the winner and its joiner")
      const sessionA = yield* valueOf(exitA!)
      yield* valueOf(exitC!)
      expect(yield* votersOf(sessionA)).toEqual(["a", "c"])
    }))
})

describe("gameSpectate", () => {
  it.scoped("a spectator is seated as a permanent learner and sees every move", () =>
    Effect.gen(function*() {
      const loom = yield* makeLoom()
      const [h, j, s] = yield* weaveAll(loom, ["host", "j1", "watcher"])
      const host = yield* startIn(h!, (seam) => gameHost(seam, { ...HOST, peerCount: 2, maxSpectators: 1 }))
      const join = yield* startIn(j!, (seam) => gameJoin(seam, JOIN))
      const spectate = yield* startIn(s!, (seam) => gameSpectate(seam, JOIN))
      const exits = yield* settle([host, join, spectate], 5000, "host, player and spectator")
      const [hostSession, , watcher] = yield* Effect.forEach(exits, valueOf)
      const membership = yield* hostSession!.node.membership.get
      expect([...membership.voters].sort()).toEqual(["host", "j1"])
      expect([...membership.learners]).toEqual(["watcher"])
      const seq = TurnSequencer.make(hostSession!.node, Schema.String)
      yield* valueOf(yield* settleOne(yield* Effect.fork(seq.propose("opening")), 1000, "a move"))
      expect(yield* firstActions(TurnSequencer.make(watcher!.node, Schema.String).events, 1)).toEqual(["opening"])
      expect(yield* watcher!.node.role.get).toBe("Learner")
    }))

  it.scoped("a spectator fails with SpectatorsClosed when the host takes none", () =>
    Effect.gen(function*() {
      const loom = yield* makeLoom()
      const [h, s] = yield* weaveAll(loom, ["host", "watcher"])
      yield* startIn(h!, (seam) => gameHost(seam, { ...HOST, peerCount: 2 }))
      const spectate = yield* startIn(s!, (seam) => gameSpectate(seam, JOIN))
      const exit = yield* settleOne(spectate, 1000, "the refusal")
      expect(exit).toEqual(Exit.fail(new SpectatorsClosed({ selfId: "watcher", host: "host" })))
    }))
})
