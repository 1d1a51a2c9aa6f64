/**
 * The relay mounted on an `@effect/platform` `HttpServer`: one port serves the relay beside a
 * health route, a metrics route and a 404 for the rest; the relay is released before the server
 * (the Layer recipe from the README), so shutting the whole thing down does not hang.
 */
import { describe, expect, it } from "@effect/vitest"
import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Duration, Effect, Exit, Layer, Metric, Scope, Stream } from "effect"
import { createServer } from "node:http"
import { HostIdentity } from "../../../../layers/seam/websocket/node/HostIdentity.js"
import { WebSocketRelay } from "../../../../layers/seam/websocket/node/WebSocketRelay.js"
import type { PeerId } from "../../../../services/seam/PeerId.js"
import { eventually, joinNode } from "./fixture.js"

/** Every metric as `name{labels} value` lines (a stand-in for a Prometheus endpoint). */
const metricsText = Effect.map(Metric.snapshot, (pairs) =>
  pairs.map((p) => {
    const labels = p.metricKey.tags.map((t) => `${t.key}="${t.value}"`).join(",")
    const state = p.metricState as { count?: number; value?: number }
    return `${p.metricKey.name}{${labels}} ${state.count ?? state.value ?? ""}`
  }).join("\n"))

const App = Layer.unwrapEffect(Effect.map(WebSocketRelay, (relay) =>
  HttpRouter.empty.pipe(
    HttpRouter.get("/health", HttpServerResponse.text("ok")),
    HttpRouter.get("/metrics", Effect.map(metricsText, (t) => HttpServerResponse.text(t))),
    HttpRouter.get("/kuilt", relay.app),
    HttpServer.serve()
  )))

const Live = App.pipe(
  // Provided inside the server: built after it, released before it.
  Layer.provideMerge(WebSocketRelay.layer({ identity: HostIdentity.open(), serverPeerId: "mounted" })),
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)

describe("WebSocket relay on an HttpServer", () => {
  it.scopedLive("one port serves the relay, health and metrics; other paths get 404; shutdown completes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(Live, scope)
      const server = yield* HttpServer.HttpServer.pipe(Effect.provide(context))
      const port = server.address._tag === "TcpAddress" ? server.address.port : 0
      const base = `http://127.0.0.1:${port}`
      const url = `ws://127.0.0.1:${port}/kuilt`
      const a = yield* joinNode(url, { room: "r", peerId: "a" }).pipe(Scope.extend(scope))
      const b = yield* joinNode(url, { room: "r", peerId: "b" }).pipe(Scope.extend(scope))
      yield* eventually("a sees b", Effect.map(a.roster.get, (p) => p.has("b" as PeerId)))
      const got = yield* Effect.fork(Stream.runHead(b.seam.incoming))
      yield* a.seam.sendTo("b" as PeerId, Uint8Array.of(9))
      const frame = yield* got.pipe(Effect.timeout(Duration.seconds(3)), Effect.orDie)
      expect(frame._tag === "Some" ? frame.value.sender : undefined).toBe("a")
      expect(a.serverPeerId).toBe("mounted")
      const fetchText = (path: string) =>
        Effect.promise(async () => {
          const res = await fetch(base + path)
          return { status: res.status, body: await res.text() }
        })
      expect(yield* fetchText("/health")).toEqual({ status: 200, body: "ok" })
      expect((yield* fetchText("/nope")).status).toBe(404)
      // A plain GET of the relay's route is not an upgrade.
      expect((yield* fetchText("/kuilt")).status).toBe(426)
      yield* eventually("the metrics route shows the relay's frames", Effect.map(fetchText("/metrics"), (m) =>
        /kuilt_ws_host_frames_relayed_total\{host="mounted"\} [1-9]/.test(m.body) &&
        /kuilt_ws_host_connections\{host="mounted"\} 2/.test(m.body)))
      // Finalizers are uninterruptible: `disconnect` lets the bound report a hang instead of joining it.
      yield* Scope.close(scope, Exit.void).pipe(
        Effect.disconnect,
        Effect.timeoutFail({ duration: Duration.seconds(10), onTimeout: () => new Error("the server's shutdown hung") }),
        Effect.orDie
      )
    }))
})
