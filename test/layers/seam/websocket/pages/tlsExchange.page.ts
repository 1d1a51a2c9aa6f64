/**
 * A browser page joins a room on a `wss://` host and exchanges a frame with the Node client `node`.
 * Reports `{ selfId, answer }` in `globalThis.__kuiltResult`, or an error in `__kuiltError`.
 */
import { Chunk, Duration, Effect, Stream } from "effect"
import { WebSocketConstructorLive } from "../../../../../layers/seam/websocket/browser/WebSocketConstructor.js"
import { WebSocketLoom } from "../../../../../layers/seam/websocket/client/WebSocketLoom.js"
import { PeerId } from "../../../../../services/seam/PeerId.js"

const g = globalThis as { __kuiltParams?: { url: string }; __kuiltResult?: unknown; __kuiltError?: unknown }
const { url } = g.__kuiltParams!

Effect.runFork(
  Effect.gen(function*() {
    const joined = yield* WebSocketLoom.join({ url, room: "tls", peerId: "page", displayName: "chromium", connectTimeout: Duration.seconds(10) })
    const node = PeerId("node")
    yield* Stream.runDrain(Stream.takeUntil(joined.roster.changes, (p) => p.has(node)))
    const answer = yield* Effect.fork(Stream.runCollect(Stream.take(joined.seam.incoming, 1)))
    yield* joined.seam.sendTo(node, new TextEncoder().encode("hello over wss"))
    const frames = Chunk.toReadonlyArray(yield* answer)
    return { selfId: joined.seam.selfId, answer: frames[0]?.decodeToString(), budget: joined.seam.maxPayloadBytes }
  }).pipe(
    Effect.scoped,
    Effect.provide(WebSocketConstructorLive),
    Effect.timeout(Duration.seconds(20)),
    Effect.tap((value) => Effect.sync(() => void (g.__kuiltResult = value))),
    Effect.tapErrorCause((cause) => Effect.sync(() => void (g.__kuiltError = String(cause))))
  )
)
