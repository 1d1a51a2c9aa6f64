/**
 * A browser page joins a room on a Node host through kuilt's client loom and the browser
 * WebSocket layer, sends a frame to the Node client `node` and waits for its answer. Each step is
 * published as progress, so a test that gives up on the page says which step it was in.
 */
import { Chunk, Effect, Stream } from "effect"
import { WebSocketConstructorLive } from "../../../../../layers/seam/websocket/browser/WebSocketConstructor.js"
import { PeerId } from "../../../../../services/seam/PeerId.js"
import { WebSocketLoom } from "../../../../../layers/seam/websocket/client/WebSocketLoom.js"
import { params, progress, runPage } from "./report.js"

const { url, room } = params<{ url: string; room: string }>()

runPage(
  Effect.gen(function*() {
    progress({ phase: "joining the room" })
    const joined = yield* WebSocketLoom.join({ url, room, peerId: "page", displayName: "chromium" })
    const node = PeerId("node")
    progress({ phase: "joined, waiting for node in the roster", roster: [...(yield* joined.roster.get)] })
    yield* Stream.runDrain(Stream.takeUntil(joined.roster.changes, (p) => p.has(node)))
    let received = 0
    const answers = yield* Effect.fork(Stream.runCollect(Stream.take(
      Stream.tap(joined.seam.incoming, () => Effect.sync(() => progress({ phase: "sent both frames, awaiting 3 answers", received: ++received }))),
      3
    )))
    yield* joined.seam.sendTo(node, new TextEncoder().encode("hello from the browser"))
    yield* joined.seam.sendTo(node, Uint8Array.from({ length: 300 }, (_, i) => i & 0xff))
    progress({ phase: "sent both frames, awaiting 3 answers", received })
    const frames = Chunk.toReadonlyArray(yield* answers)
    return {
      selfId: joined.seam.selfId,
      budget: joined.seam.maxPayloadBytes,
      frames: frames.map((s) => ({ sender: s.sender, text: s.decodeToString(), size: s.payloadSize })),
      bytesIntact: frames[2] !== undefined && frames[2].payload.every((b, i) => b === (255 - (i & 0xff)))
    }
  }).pipe(Effect.provide(WebSocketConstructorLive))
)
