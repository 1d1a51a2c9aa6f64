/**
 * A browser page joins a room on a Node host through kuilt's client loom and the browser
 * WebSocket layer, sends a frame to the Node client `node` and waits for its answer.
 */
import { Chunk, Duration, Effect, Stream } from "effect"
import { WebSocketConstructorLive } from "../../../../../layers/seam/websocket/browser/WebSocketConstructor.js"
import { PeerId } from "../../../../../services/seam/PeerId.js"
import { WebSocketLoom } from "../../../../../layers/seam/websocket/client/WebSocketLoom.js"
import { params, runPage } from "./report.js"

const { url, room } = params<{ url: string; room: string }>()

runPage(
  Effect.gen(function*() {
    const joined = yield* WebSocketLoom.join({ url, room, peerId: "page", displayName: "chromium" })
    const node = PeerId("node")
    yield* Stream.runDrain(Stream.takeUntil(joined.roster.changes, (p) => p.has(node)))
    const answers = yield* Effect.fork(Stream.runCollect(Stream.take(joined.seam.incoming, 3)))
    yield* joined.seam.sendTo(node, new TextEncoder().encode("hello from the browser"))
    yield* joined.seam.sendTo(node, Uint8Array.from({ length: 300 }, (_, i) => i & 0xff))
    const frames = Chunk.toReadonlyArray(yield* answers)
    return {
      selfId: joined.seam.selfId,
      budget: joined.seam.maxPayloadBytes,
      frames: frames.map((s) => ({ sender: s.sender, text: s.decodeToString(), size: s.payloadSize })),
      bytesIntact: frames[2] !== undefined && frames[2].payload.every((b, i) => b === (255 - (i & 0xff)))
    }
  }).pipe(Effect.scoped, Effect.provide(WebSocketConstructorLive), Effect.timeout(Duration.seconds(20)))
)
