/**
 * Frame relay benchmarks for `bench/websocket.ts`: the same workload through kuilt's WebSocket host
 * (kuilt clients, the public Seam API) and through a plain `ws` relay server (raw `ws` clients),
 * in the same process and run.
 *
 * Workloads: 1 sender → 1 receiver (frames/s with a bounded window in flight, and one-way latency
 * of one frame at a time), and 1 sender → 99 receivers by broadcast (deliveries/s, and latency from
 * the send until the last receiver has it). 64-byte payloads. Sender and receivers share the
 * process clock, so one-way latency is measurable.
 */
import { NodeSocket } from "@effect/platform-node"
import { Chunk, Duration, Effect, Schedule, Stream } from "effect"
import type { Scope } from "effect"
import { WebSocket, WebSocketServer } from "ws"
import * as WebSocketHost from "../layers/seam/websocket/node/WebSocketHost.js"
import type { SeamShape } from "../services/seam/Seam.js"
import { encodeBroadcast, encodeMessage, encodeRelay, MessageType, PROTOCOL_VERSION } from "../layers/seam/websocket/Protocol.js"
import { WebSocketLoom } from "../layers/seam/websocket/client/WebSocketLoom.js"
import { now, round, summarize } from "./stats.js"

export const PAYLOAD = 64
/** Frames in flight during a throughput run (the sender waits for the receivers to catch up). */
export const WINDOW = 512

/** A relay under test: one sender, `receivers` receivers, counting deliveries. */
export interface Relay {
  /** Sends one frame to receiver 0 (`broadcast = false`) or to every receiver. */
  readonly send: (broadcast: boolean) => Effect.Effect<void>
  /** Deliveries so far (all receivers). */
  readonly delivered: () => number
  /** Resolves when `delivered()` reaches `n`. */
  readonly awaitDelivered: (n: number) => Effect.Effect<void>
}

/** Counts deliveries and wakes the waiter whose target is reached. */
const makeCounter = () => {
  let count = 0
  let waiter: { target: number; done: () => void } | undefined
  return {
    hit: (k = 1) => {
      count += k
      if (waiter !== undefined && count >= waiter.target) {
        const w = waiter
        waiter = undefined
        w.done()
      }
    },
    delivered: () => count,
    awaitDelivered: (n: number) =>
      Effect.async<void>((resume) => {
        if (count >= n) return resume(Effect.void)
        waiter = { target: n, done: () => resume(Effect.void) }
      })
  }
}

/**
 * The hosts of the relay figures: every client is on 127.0.0.1 (so the per-address cap is raised)
 * and the sender is meant to go as fast as the relay can, so the per-connection rate limits are
 * lifted; the per-turn quantum stays at its default (it is part of the host's cost). The flood
 * figures (`websocketFlood.ts`) measure the limits themselves.
 */
export const benchHostOptions = (receivers: number): WebSocketHost.WebSocketHostOptions => ({
  identity: WebSocketHost.HostIdentity.open(),
  roomCapacity: receivers + 1,
  maxConnections: receivers + 8,
  maxConnectionsPerAddress: receivers + 8,
  rateLimit: { messagesPerSecond: 1e9, bytesPerSecond: 1e12 }
})

/** kuilt: a host and `receivers + 1` Node clients in one room. */
export const kuiltRelay = (receivers: number): Effect.Effect<Relay, never, Scope.Scope> =>
  Effect.gen(function*() {
    const host = yield* WebSocketHost.make(benchHostOptions(receivers))
    const join = (peerId: string) =>
      WebSocketLoom.join({ url: host.url, room: "bench", peerId, displayName: peerId }).pipe(
        Effect.provide(NodeSocket.layerWebSocketConstructor)
      )
    const sender = yield* join("sender")
    const counter = makeCounter()
    const seams: Array<SeamShape> = []
    for (let i = 0; i < receivers; i++) {
      const r = yield* join(`r${i}`)
      seams.push(r.seam)
      yield* Effect.forkScoped(Stream.runForEachChunk(r.seam.incoming, (c) => Effect.sync(() => counter.hit(Chunk.size(c)))))
    }
    // Everyone must see the full room before frames are addressed to it.
    yield* Effect.repeat(sender.seam.peers.get, { until: (p) => p.size === receivers + 1, schedule: waitStep })
    const payload = new Uint8Array(PAYLOAD)
    const target = seams[0]!.selfId
    return {
      send: (broadcast) => Effect.orDie(broadcast ? sender.seam.broadcast(payload) : sender.seam.sendTo(target, payload)),
      delivered: counter.delivered,
      awaitDelivered: counter.awaitDelivered
    } satisfies Relay
  }).pipe(Effect.orDie)

const waitStep = Schedule.spaced(Duration.millis(5))

/**
 * kuilt's host with raw `ws` clients speaking its protocol: the host's own cost, without kuilt's
 * client (Effect streams per receiver) on the other side.
 */
export const hostRelay = (receivers: number): Effect.Effect<Relay, never, Scope.Scope> =>
  Effect.gen(function*() {
    const host = yield* WebSocketHost.make(benchHostOptions(receivers)).pipe(Effect.orDie)
    const counter = makeCounter()
    const join = (peerId: string, count: boolean) =>
      Effect.acquireRelease(
        Effect.async<WebSocket>((resume) => {
          const ws = new WebSocket(host.url, { perMessageDeflate: false })
          let welcomed = false
          ws.on("message", (data: Buffer) => {
            if (welcomed) {
              if (count && data[1] === MessageType.RelayFrom) counter.hit()
              return
            }
            welcomed = data[1] === MessageType.Welcome
            if (welcomed) resume(Effect.succeed(ws))
          })
          ws.on("open", () =>
            ws.send(encodeMessage({ _tag: "Hello", protocolVersion: PROTOCOL_VERSION, room: "bench", displayName: peerId, sessionId: "", peerId })))
        }),
        (ws) => Effect.sync(() => ws.terminate())
      )
    const sender = yield* join("sender", false)
    for (let i = 0; i < receivers; i++) yield* join(`r${i}`, true)
    const payload = new Uint8Array(PAYLOAD)
    const direct = encodeRelay(MessageType.RelayTo, "r0", payload)
    const everyone = encodeBroadcast(payload)
    return {
      send: (broadcast) => Effect.sync(() => sender.send(broadcast ? everyone : direct)),
      delivered: counter.delivered,
      awaitDelivered: counter.awaitDelivered
    } satisfies Relay
  })

/** Raw `ws`: a relay server forwarding the sender's frames to receiver 0 or to all receivers. */
export const rawRelay = (receivers: number): Effect.Effect<Relay, never, Scope.Scope> =>
  Effect.gen(function*() {
    const server = yield* Effect.acquireRelease(
      Effect.async<WebSocketServer>((resume) => {
        const wss: WebSocketServer = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false, maxPayload: 1 << 20 }, () =>
          resume(Effect.succeed(wss)))
      }),
      (wss) => Effect.async<void>((resume) => wss.close(() => resume(Effect.void)))
    )
    const sockets: Array<WebSocket> = []
    server.on("connection", (ws) => {
      const index = sockets.push(ws) - 1
      if (index !== 0) return
      // The first connection is the sender: [0] = to receiver 0, [1] = to everyone.
      ws.on("message", (data: Buffer) => {
        if (data[0] === 1) for (let i = 1; i < sockets.length; i++) sockets[i]!.send(data)
        else sockets[1]?.send(data)
      })
    })
    const port = (server.address() as { port: number }).port
    const counter = makeCounter()
    const open = (onMessage?: () => void) =>
      Effect.acquireRelease(
        Effect.async<WebSocket>((resume) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false })
          if (onMessage !== undefined) ws.on("message", onMessage)
          ws.on("open", () => resume(Effect.succeed(ws)))
        }),
        (ws) => Effect.sync(() => ws.terminate())
      )
    const sender = yield* open()
    for (let i = 0; i < receivers; i++) {
      yield* open(() => counter.hit())
      // Connections are indexed in arrival order: wait until the server registered this one.
      while (sockets.length < i + 2) yield* Effect.sleep(Duration.millis(1))
    }
    const direct = new Uint8Array(PAYLOAD)
    const everyone = new Uint8Array(PAYLOAD)
    everyone[0] = 1
    return {
      send: (broadcast) => Effect.sync(() => sender.send(broadcast ? everyone : direct)),
      delivered: counter.delivered,
      awaitDelivered: counter.awaitDelivered
    } satisfies Relay
  })

/** Deliveries per second for `frames` frames with at most `WINDOW` frames in flight. */
export const throughput = (relay: Relay, frames: number, broadcast: boolean, fanout: number) =>
  Effect.gen(function*() {
    const start = relay.delivered()
    const t0 = now()
    let sent = 0
    while (sent < frames) {
      const batch = Math.min(WINDOW, frames - sent)
      for (let i = 0; i < batch; i++) yield* relay.send(broadcast)
      sent += batch
      yield* relay.awaitDelivered(start + sent * fanout)
    }
    const seconds = (now() - t0) / 1000
    return { frames, deliveries_per_s: Math.round((frames * fanout) / seconds), frames_per_s: Math.round(frames / seconds) }
  })

/** Latency of `n` frames sent one at a time (until every addressed receiver has it). */
export const latency = (relay: Relay, n: number, broadcast: boolean, fanout: number) =>
  Effect.gen(function*() {
    const samples: Array<number> = []
    for (let i = 0; i < n; i++) {
      const target = relay.delivered() + fanout
      const t0 = now()
      yield* relay.send(broadcast)
      yield* relay.awaitDelivered(target)
      samples.push(now() - t0)
    }
    const s = summarize(samples)
    return { n: s.n, p50_us: s.p50_us, p99_us: s.p99_us, max_us: s.max_us }
  })

export const ratio = (a: number, b: number) => round(a / b, 3)
