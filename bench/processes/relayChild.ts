/**
 * Baseline relay process: a plain `ws` server forwarding every frame of peer `a` to peer `b` and
 * back — no protocol, no rooms, no Effect on the path. Each peer's first frame is its role
 * (one byte, `a` or `b`). What kuilt's host is compared with, between the same kind of processes.
 */
import { Effect } from "effect"
import { WebSocketServer } from "ws"
import type { WebSocket } from "ws"
import { runChild } from "./child.js"

runChild(() =>
  Effect.gen(function*() {
    const server = yield* Effect.acquireRelease(
      Effect.async<WebSocketServer>((resume) => {
        const wss: WebSocketServer = new WebSocketServer(
          { host: "127.0.0.1", port: 0, perMessageDeflate: false, maxPayload: 1 << 20 },
          () => resume(Effect.succeed(wss))
        )
      }),
      (wss) => Effect.async<void>((resume) => wss.close(() => resume(Effect.void)))
    )
    const peers: Record<string, WebSocket | undefined> = {}
    server.on("connection", (ws) => {
      let role: string | undefined
      ws.on("message", (data: Buffer) => {
        if (role === undefined) {
          role = data.toString()
          peers[role] = ws
          return
        }
        peers[role === "a" ? "b" : "a"]?.send(data)
      })
    })
    const port = (server.address() as { port: number }).port
    return { info: { url: `ws://127.0.0.1:${port}` }, handlers: {} }
  })
)
