/**
 * A raw `ws` client of the baseline relay (`relayChild.ts`). Peer `b` echoes pings and
 * acknowledges data frames (one cumulative ack every `ACK_EVERY`); peer `a` measures round trips
 * (`rtt`) and one-way frames per second with a bounded window in flight (`oneWay`).
 * Frames are 64 bytes; byte 0 says what a frame is.
 */
import { Effect } from "effect"
import { WebSocket } from "ws"
import { summarize } from "../stats.js"
import { runChild } from "./child.js"

const PING = 0
const DATA = 1
const ACK = 2
const ACK_EVERY = 64
export const FRAME_BYTES = 64

export interface PeerArgs {
  readonly url: string
  readonly role: "a" | "b"
}

runChild((args: PeerArgs) =>
  Effect.gen(function*() {
    const ws = yield* Effect.acquireRelease(
      Effect.async<WebSocket>((resume) => {
        const socket = new WebSocket(args.url, { perMessageDeflate: false })
        socket.on("open", () => {
          socket.send(Buffer.from(args.role))
          resume(Effect.succeed(socket))
        })
        socket.on("error", (e) => resume(Effect.die(e)))
      }),
      (socket) => Effect.sync(() => socket.terminate())
    )
    const ping = Buffer.alloc(FRAME_BYTES)
    ping[0] = PING
    const data = Buffer.alloc(FRAME_BYTES)
    data[0] = DATA
    let received = 0
    let acked = 0
    let wake: (() => void) | undefined
    ws.on("message", (frame: Buffer) => {
      switch (frame[0]) {
        case PING:
          if (args.role === "b") ws.send(frame)
          else wake?.()
          return
        case DATA:
          if (++received % ACK_EVERY === 0) {
            const ack = Buffer.alloc(8)
            ack[0] = ACK
            ack.writeUInt32LE(received, 4)
            ws.send(ack)
          }
          return
        case ACK:
          acked = frame.readUInt32LE(4)
          wake?.()
          return
      }
    })
    /** Resolves at the next echo or ack (or after `ms`, so a frame lost before `b` joined is re-sent). */
    const next = (ms: number) =>
      Effect.async<void>((resume) => {
        const timer = setTimeout(() => resume(Effect.void), ms)
        wake = () => {
          clearTimeout(timer)
          wake = undefined
          resume(Effect.void)
        }
      })
    return {
      info: null,
      handlers: {
        rtt: ({ n }: { n: number }) =>
          Effect.gen(function*() {
            const samples: Array<number> = []
            for (let i = 0; i < n; i++) {
              const t0 = performance.now()
              ws.send(ping)
              yield* next(1_000)
              samples.push(performance.now() - t0)
            }
            return summarize(samples)
          }),
        oneWay: ({ frames, window }: { frames: number; window: number }) =>
          Effect.gen(function*() {
            const total = Math.ceil(frames / ACK_EVERY) * ACK_EVERY
            const base = acked
            let sent = 0
            const t0 = performance.now()
            while (acked - base < total) {
              while (sent < total && sent - (acked - base) < window) {
                ws.send(data)
                sent++
              }
              yield* next(5_000)
            }
            const seconds = (performance.now() - t0) / 1000
            return { frames: total, frames_per_s: Math.round(total / seconds) }
          })
      }
    }
  })
)
