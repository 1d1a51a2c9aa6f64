/**
 * A flood of 100 000 frames from one client, with real processes over loopback: the host (its own
 * process, default limits) relays every frame to the flooded member at its rate limit, keeps
 * another room's round trips working meanwhile, and measures its own event-loop delay
 * (`monitorEventLoopDelay`). The figures are printed, not asserted (`npm run bench:websocket`
 * holds the p99 bar). Then one address cannot open more than its cap of connections.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Stream } from "effect"
import { RejectCode } from "../../../../layers/seam/websocket/RejectCode.js"
import type { PeerId } from "../../../../services/seam/PeerId.js"
import { ask, type Child, startChild, stopAll } from "./childProcess.js"
import { eventually, joinNode, WaitTimedOut } from "./fixture.js"
import { helloFrame, rawConnect, waitFor } from "./rawClient.js"

const FRAMES = 100_000
const STARTUP_MS = 90_000
const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

describe("a flood from one client (real processes)", () => {
  it.scopedLive("the host relays all 100 000 frames at its rate limit, another room keeps its round trips, and one address gets at most its cap", () =>
    Effect.gen(function*() {
      const children: Array<Child> = []
      yield* Effect.addFinalizer(() => promise(() => stopAll(children)))
      const host = startChild("host", "host", { port: 0 })
      children.push(host)
      const port = Number((yield* promise(() => host.waitForLine((t) => t.startsWith("listening "), STARTUP_MS, "the host"))).text.split(" ")[1])
      const url = `ws://127.0.0.1:${port}/kuilt`
      const flooder = startChild("flooder", "flooder", { url, room: "flood", frames: FRAMES, payloadBytes: 64 })
      children.push(flooder)
      yield* promise(() => flooder.waitForLine((t) => t === "ready", STARTUP_MS, "the flooder to join"))
      const a = yield* joinNode(url, { room: "probe", peerId: "a" })
      const b = yield* joinNode(url, { room: "probe", peerId: "b" })
      yield* eventually("the probes see each other", Effect.map(a.roster.get, (p) => p.has("b" as PeerId)))
      // b echoes whatever a sends.
      yield* Effect.fork(Stream.runForEach(b.seam.incoming, (s) => b.seam.sendTo("a" as PeerId, s.payload).pipe(Effect.ignore)))

      yield* promise(() => ask(host, "reset", "reset"))
      flooder.send("go")
      const floodStart = Date.now()
      const rtts: Array<number> = []
      const pull = yield* Stream.toPull(a.seam.incoming)
      let k = 0
      while (!flooder.lines.some((l) => l.text === `sink ${FRAMES}`)) {
        if (Date.now() - floodStart > 120_000) {
          return yield* Effect.dieMessage(`the flood did not end within 2 minutes\n${flooder.tail()}\n${host.tail()}`)
        }
        const t0 = performance.now()
        yield* a.seam.sendTo("b" as PeerId, Uint8Array.of(k & 0xff))
        yield* pull.pipe(
          Effect.timeoutFail({ duration: Duration.seconds(5), onTimeout: () => new WaitTimedOut({ what: `probe round trip ${k} during the flood` }) }),
          Effect.orDie
        )
        rtts.push(performance.now() - t0)
        k++
        yield* Effect.sleep(Duration.millis(20))
      }
      const floodMs = Date.now() - floodStart
      const stats = JSON.parse(yield* promise(() => ask(host, "stats", "stats"))) as {
        eventLoopDelayMs: { p50: number; p99: number; max: number; mean: number }
        cpuMs: number
        counters: { rateLimited: number; deferredFrames: number; relayed: number; slowConsumers: number }
      }
      const sorted = [...rtts].sort((x, y) => x - y)
      console.log(
        `flood: host event-loop delay p50 ${stats.eventLoopDelayMs.p50} ms, p99 ${stats.eventLoopDelayMs.p99} ms, ` +
          `max ${stats.eventLoopDelayMs.max} ms; host CPU ${stats.cpuMs} ms; ${stats.counters.rateLimited} rate-limit pauses, ` +
          `${stats.counters.deferredFrames} frames deferred to later turns; ` +
          `${rtts.length} probe round trips in another room, p50 ${sorted[Math.floor(sorted.length / 2)]?.toFixed(1)} ms, ` +
          `max ${sorted.at(-1)?.toFixed(1)} ms; the flood took ${floodMs} ms to deliver`
      )
      // Behaviour: all frames arrived, the flooder was spread over many turns (and, on a fast
      // machine, paused by its rate limit) rather than cut off, and the other room worked.
      expect(stats.counters.relayed).toBeGreaterThanOrEqual(FRAMES)
      expect(stats.counters.deferredFrames).toBeGreaterThan(0)
      expect(stats.counters.slowConsumers).toBe(0)
      expect(rtts.length).toBeGreaterThan(3)

      // Per-address cap (default 64): 4 connections from 127.0.0.1 are open (2 probes, sink,
      // flooder); open more until one is refused.
      let accepted = 0
      for (let i = 0; i < 70; i++) {
        const c = yield* rawConnect(url)
        c.send(helloFrame({ room: "cap" }))
        yield* waitFor("a welcome or a refusal", () => c.closed() !== undefined || c.received.some((m) => m?._tag === "Welcome"))
        if (c.closed() !== undefined) {
          expect(c.closed()!.code).toBe(RejectCode.AddressLimit)
          break
        }
        accepted++
      }
      expect(accepted + 4).toBe(64)
    }), 300_000)
})
