/**
 * Everything a `kuilt` server answers over HTTP besides the cluster's own links, as one `HttpApp`:
 * the dashboard pages (`/`, `/game`) and their assets, the live feed (`/api/events`), the HTTP
 * API (`Api.ts`), the game demo's routes, `/metrics` (Prometheus text) and `/health`.
 *
 * `/health` answers 200 when every node of this server is healthy (`src/observability/Health.ts`:
 * running, a leader known, applying, no wedge), else 503, with the verdict per node as JSON;
 * `/health/<node>` judges one node. `make` builds the app in the caller's scope (the commit-rate
 * sampler and the game session live there); `serve` listens for it on a port of its own.
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import type { HttpApp } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Duration, Effect, Schedule, Schema, Scope, Stream } from "effect"
import { createServer } from "node:http"
import * as Prometheus from "../observability/Prometheus.js"
import * as Api from "./Api.js"
import { DASHBOARD_SCRIPT } from "./assets/dashboardScript.js"
import { GAME_HTML, GAME_SCRIPT, INDEX_HTML } from "./assets/pages.js"
import { STYLE } from "./assets/style.js"
import type { ClusterHostShape } from "./ClusterHost.js"
import * as Game from "./Game.js"
import { sse, sseStream } from "./Sse.js"
import { clusterStatus, CommitRates, nodeStatus, sampleRates } from "./Status.js"

/** How often the live feed sends the status. */
const FEED_EVERY = Duration.millis(500)

const text = (body: string, contentType: string) =>
  HttpServerResponse.text(body, { contentType, headers: { "cache-control": "no-cache" } })

const GameMove = Schema.Struct({ seat: Game.Seat, cell: Schema.Number.pipe(Schema.int(), Schema.between(0, 8)) })
const GameNew = Schema.Struct({ seat: Game.Seat })

/** Builds the app of `host` in the caller's scope. */
export const make = (host: ClusterHostShape): Effect.Effect<HttpApp.Default<never, HttpServerRequest.HttpServerRequest>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const rates = new CommitRates()
    yield* sampleRates(host, rates)
    const scope = yield* Effect.scope
    // The game session starts on first use and lives with the server.
    const game = yield* Effect.cached(Game.make.pipe(Scope.extend(scope)))

    const health = (only: string | undefined) =>
      Effect.gen(function*() {
        const nodes = (yield* host.nodes).filter((n) => only === undefined || n.id === only)
        if (nodes.length === 0) return HttpServerResponse.unsafeJson({ error: "NoSuchNode", message: `no node ${only} on this server` }, { status: 404 })
        const verdicts = yield* Effect.forEach(nodes, (n) => nodeStatus(n, undefined))
        const ok = verdicts.every((v) => v.healthy)
        return HttpServerResponse.unsafeJson(
          { ok, nodes: verdicts.map((v) => ({ id: v.id, ok: v.healthy, problems: v.problems })) },
          { status: ok ? 200 : 503 }
        )
      })

    const gameError = (e: { readonly message: string }) => HttpServerResponse.unsafeJson({ error: "GameUnavailable", message: e.message }, { status: 503 })
    const badRequest = (e: { readonly message: string }) => HttpServerResponse.unsafeJson({ error: "BadRequest", message: e.message.split("\n")[0] }, { status: 400 })

    const pages = HttpRouter.empty.pipe(
      HttpRouter.get("/", text(INDEX_HTML, "text/html; charset=utf-8")),
      HttpRouter.get("/game", text(GAME_HTML, "text/html; charset=utf-8")),
      HttpRouter.get("/assets/kuilt.css", text(STYLE, "text/css; charset=utf-8")),
      HttpRouter.get("/assets/dashboard.js", text(DASHBOARD_SCRIPT, "text/javascript; charset=utf-8")),
      HttpRouter.get("/assets/game.js", text(GAME_SCRIPT, "text/javascript; charset=utf-8")),
      HttpRouter.get("/metrics", Effect.map(Prometheus.scrape, (body) => text(body, Prometheus.CONTENT_TYPE))),
      HttpRouter.get("/health", health(undefined)),
      HttpRouter.get("/health/:id", Effect.flatMap(HttpRouter.params, (p) => health(p["id"]))),
      HttpRouter.get(
        "/api/events",
        Effect.succeed(sseStream(
          Stream.repeatEffectWithSchedule(clusterStatus(host, rates, true), Schedule.spaced(FEED_EVERY)).pipe(Stream.map((s) => sse("status", s)))
        ))
      ),
      HttpRouter.get(
        "/api/game/events",
        Effect.gen(function*() {
          const q = new URL((yield* HttpServerRequest.HttpServerRequest).url, "http://localhost").searchParams
          const seat = q.get("seat")
          if (seat !== "X" && seat !== "O") return badRequest({ message: "seat must be X or O" })
          return yield* Effect.match(game, {
            onFailure: gameError,
            onSuccess: (g) => sseStream(g.boards(seat).pipe(Stream.map((b) => sse("board", b))))
          })
        })
      ),
      HttpRouter.post(
        "/api/game/move",
        HttpServerRequest.schemaBodyJson(GameMove).pipe(
          Effect.flatMap((m) => Effect.flatMap(game, (g) => g.move(m.seat, m.cell))),
          Effect.map((b) => HttpServerResponse.unsafeJson(b)),
          Effect.catchTags({ GameUnavailable: gameError, ParseError: badRequest, RequestError: badRequest })
        )
      ),
      HttpRouter.post(
        "/api/game/new",
        HttpServerRequest.schemaBodyJson(GameNew).pipe(
          Effect.flatMap((m) => Effect.flatMap(game, (g) => g.newGame(m.seat))),
          Effect.map((b) => HttpServerResponse.unsafeJson(b)),
          Effect.catchTags({ GameUnavailable: gameError, ParseError: badRequest, RequestError: badRequest })
        )
      )
    )
    const api = Api.app(host, rates)
    return pages.pipe(Effect.catchTag("RouteNotFound", () => api))
  })

/** Where a server listens. */
export interface Listening {
  readonly url: string
  readonly port: number
}

/**
 * Serves `app` on `host:port` (port 0: a free one) until the caller's scope closes. Fails with a
 * readable reason when the port cannot be taken.
 */
export const serve = (
  app: HttpApp.Default<never, HttpServerRequest.HttpServerRequest>,
  options: { readonly host: string; readonly port: number }
): Effect.Effect<Listening, string, Scope.Scope> =>
  Effect.gen(function*() {
    const server = yield* NodeHttpServer.make(() => createServer(), { port: options.port, host: options.host }).pipe(
      Effect.mapError((e) => `cannot listen on ${options.host}:${options.port}: ${String((e as { cause?: unknown }).cause ?? e)}`)
    )
    yield* server.serve(app)
    const address = server.address
    const port = address._tag === "TcpAddress" ? address.port : options.port
    const shown = options.host.includes(":") ? `[${options.host}]` : options.host
    return { url: `http://${shown}:${port}/`, port }
  })
