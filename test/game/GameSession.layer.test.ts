/**
 * The game session as a Layer: `GameSession.layerNode` / `layerHost` / `layerJoin` build a session
 * over the `Seam` in context (here from `Loom.layerHost` / `Loom.layerJoin`), provide the
 * `GameSession` service, and close it with the Layer's scope. On virtual time.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Random, Schema, Scope } from "effect"
import { GameSession, isTorn, Loom, TurnSequencer } from "../../src/index.js"
import type { Seam } from "../../src/index.js"
import { advanceUntil, FAST, makeLoom, settle, valueOf } from "./helpers.js"
import type { Loom as TestLoom } from "./helpers.js"

const ids = ["p1", "p2"]

/** Builds `session` over the seam `weave` makes on `loom`, in `scope`, forked, with a seeded Random. */
const buildOn = <E>(
  loom: TestLoom,
  weave: Layer.Layer<Seam, unknown, Loom>,
  session: Layer.Layer<GameSession, E, Seam>,
  scope: Scope.Scope,
  seed: number
) =>
  Layer.buildWithScope(session.pipe(Layer.provide(weave), Layer.provide(Layer.succeed(Loom, loom))), scope).pipe(
    Effect.map(Context.get(GameSession)),
    Effect.withRandom(Random.make(seed)),
    Effect.fork
  )

const host = Loom.layerHost({ sessionName: "game", peerKey: "p1" })
const join = Loom.layerJoin({ sessionName: "game", peerKey: "p2" })

describe("GameSession Layers", () => {
  it.scoped("layerNode: two peers of a roster-given game agree on an action through Layer-built sessions", () =>
    Effect.gen(function*() {
      const loom = yield* makeLoom()
      const scope = yield* Effect.scope
      const fibers = [
        yield* buildOn(loom, host, GameSession.layerNode(ids, FAST), scope, 1),
        yield* buildOn(loom, join, GameSession.layerNode(ids, FAST), scope, 2)
      ]
      const sessions = yield* Effect.forEach(yield* settle(fibers, 100, "two sessions"), valueOf)
      expect(sessions.map((s) => s.selfId)).toEqual(ids)
      const proposal = yield* Effect.fork(TurnSequencer.make(sessions[1]!.node, Schema.Number).propose(7))
      const [exit] = yield* settle([proposal], 2000, "the proposal")
      const move = yield* valueOf(exit!)
      expect(move.action).toBe(7)
      yield* advanceUntil(Effect.map(sessions[0]!.node.commitIndex.get, (c) => c >= move.index), 500, "p1 to commit it")
    }))

  it.scoped("layerHost and layerJoin seat both players; closing the host's Layer scope closes its session and seam", () =>
    Effect.gen(function*() {
      const loom = yield* makeLoom()
      const hostScope = yield* Scope.make()
      const fibers = [
        yield* buildOn(loom, host, GameSession.layerHost({ ...FAST, peerCount: 2 }), hostScope, 1),
        yield* buildOn(loom, join, GameSession.layerJoin(FAST), yield* Effect.scope, 2)
      ]
      const [hostSession, joiner] = yield* Effect.forEach(yield* settle(fibers, 3000, "host and joiner seated"), valueOf)
      const voters = yield* joiner!.node.membership.get
      expect([...voters.voters].sort()).toEqual(ids)

      const app = yield* hostSession!.appChannel("chat")
      yield* Scope.close(hostScope, Exit.void)
      expect(isTorn(yield* app.state.get)).toBe(true)
      expect(yield* loom.livePeers).toEqual(["p2"])
    }))
})
