/**
 * A misbehaving client in its own process: it joins a room twice with raw `ws` sockets — `sink`,
 * which only counts what it receives, and `flooder` — then writes `frames` relay frames of
 * `payloadBytes` garbage to `sink` as fast as `ws` takes them.
 *
 * Argument (JSON): `{ url, room, frames, payloadBytes }`. Prints `ready` once both are admitted,
 * floods on the stdin command `go`, prints `sent <n>` once every frame is handed to the socket, and
 * `sink <count>` each time the sink has counted another tenth (and at the end). Exits when stdin
 * closes.
 */
import { Either } from "effect"
import { WebSocket } from "ws"
import { decodeMessage, encodeMessage, encodeRelay, MessageType, PROTOCOL_VERSION } from "../../../../../layers/seam/websocket/Protocol.js"

const config = JSON.parse(process.argv[2]!) as { readonly url: string; readonly room: string; readonly frames: number; readonly payloadBytes: number }
const print = (line: string) => process.stdout.write(line + "\n")

/** Opens a raw member; `onFrame` sees every decoded frame after the welcome. */
const member = (peerId: string, onFrame: (tag: string) => void) =>
  new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(config.url)
    let welcomed = false
    ws.on("open", () => ws.send(encodeMessage({ _tag: "Hello", protocolVersion: PROTOCOL_VERSION, room: config.room, displayName: peerId, sessionId: "", peerId })))
    ws.on("message", (data: Buffer) => {
      const m = decodeMessage(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
      if (Either.isLeft(m)) return
      const frame = m.right
      if (frame._tag === "Ping") return void ws.send(encodeMessage({ _tag: "Pong", nonce: frame.nonce }))
      if (frame._tag === "Welcome" && !welcomed) {
        welcomed = true
        return resolve(ws)
      }
      if (frame._tag === "Reject") return reject(new Error(`${peerId} refused: ${frame.code} ${frame.reason}`))
      onFrame(frame._tag)
    })
    ws.on("error", reject)
  })

const main = async () => {
  let received = 0
  const step = Math.max(1, Math.floor(config.frames / 10))
  await member("sink", (tag) => {
    if (tag !== "RelayFrom") return
    received++
    if (received % step === 0 || received === config.frames) print(`sink ${received}`)
  })
  const flooder = await member("flooder", () => undefined)
  print("ready")
  await go
  const garbage = new Uint8Array(config.payloadBytes)
  for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 131 + 7) & 0xff
  const frame = encodeRelay(MessageType.RelayTo, "sink", garbage)
  for (let k = 0; k < config.frames; k++) flooder.send(frame)
  print(`sent ${config.frames}`)
}

let started: () => void = () => undefined
const go = new Promise<void>((resolve) => (started = resolve))
process.stdin.setEncoding("utf8").on("data", (chunk: string) => {
  if (chunk.includes("go")) started()
})
process.stdin.on("end", () => process.exit(0))
main().catch((e) => {
  process.stderr.write(`flooder failed: ${String(e)}\n`)
  process.exit(1)
})
