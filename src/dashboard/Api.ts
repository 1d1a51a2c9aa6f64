/**
 * The HTTP API of a `kuilt` server, mounted beside the dashboard on the same port: the key-value
 * store (`/api/kv*`, `/api/watch`), status (`/api/status`), membership (`/api/members`),
 * leadership transfer (`/api/transfer`) and, in `cluster` mode, fault controls (`/api/nodes/<id>/
 * kill|restart|isolate|heal`, `/api/cut`, `/api/heal`). Bodies are the Schemas of `ApiSchema.ts`.
 *
 * Status codes: 200 done; 400 a malformed request (`BadRequest`); 404 a key that is not set
 * (`get`), an unknown node; 409 a change refused or a compare-and-swap that did not match is NOT
 * an error (200, `ok: false`) but a membership/control refusal is (`ChangeFailed`,
 * `ControlRefused`); 410 a watch from a compacted index; 413 a command over the payload budget;
 * 421 the operation needs the leader, which runs elsewhere (`NotLeader`, with `leader` and `url`);
 * 503 no node here can serve (`Unavailable`); 504 a write whose outcome is unknown
 * (`OutcomeUnknown`: retry with the same `rid`).
 *
 * A write or read waits at most `timeout` ms (query parameter; default 10 000).
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import type { HttpApp } from "@effect/platform"
import { Duration, Effect, Option, Schema, Stream } from "effect"
import type { ParseResult } from "effect"
import type { KvCommand } from "../cli/kv/KvCommand.js"
import { BadRequest, KvUnavailable, OutcomeUnknown } from "../cli/kv/KvErrors.js"
import type { KvNodeShape } from "../cli/kv/KvNode.js"
import type { ClusterHostShape, LocalNode } from "./ClusterHost.js"
import { ControlRefused } from "./ClusterHost.js"
import * as S from "./ApiSchema.js"
import { clusterStatus, type CommitRates } from "./Status.js"
import { sse, sseStream } from "./Sse.js"

const DEFAULT_TIMEOUT_MS = 10_000
const MAX_TIMEOUT_MS = 120_000
const MAX_LIST = 10_000

/** Every failure the API answers, as a status code and an `ErrorBody`. */
const errorResponse = (e: { readonly _tag: string; readonly message: string } & Record<string, unknown>): HttpServerResponse.HttpServerResponse => {
  const body = (error: string, status: number, extra: Partial<S.ErrorBody> = {}) =>
    HttpServerResponse.unsafeJson({ error, message: e.message, ...extra }, { status })
  switch (e._tag) {
    case "BadRequest":
    case "ParseError":
    case "RequestError":
      return body("BadRequest", 400)
    case "KvUnavailable":
      return body("Unavailable", 503, { retryable: true })
    case "OutcomeUnknown":
      return body("OutcomeUnknown", 504, { retryable: true })
    case "CommandTooLarge":
      return body("TooLarge", 413)
    case "WatchCompacted":
      return body("Compacted", 410, { first: e["first"] as number })
    case "NotLeaderHere":
      return body("NotLeader", 421, { leader: e["leader"] as string | null, url: e["url"] as string | null, retryable: true })
    case "ChangeFailed":
      return body("ChangeFailed", 409, { retryable: e["retryable"] as boolean })
    case "ControlRefused":
      return body("Refused", 409)
    case "NoSuchNode":
      return body("NoSuchNode", 404)
    default:
      return body(e._tag, 500)
  }
}

const json = (value: unknown) => HttpServerResponse.unsafeJson(value)

/** The request's query parameters. */
const query = Effect.map(HttpServerRequest.HttpServerRequest, (r) => new URL(r.url, "http://localhost").searchParams)

const timeoutOf = (q: URLSearchParams): Duration.Duration => {
  const raw = q.get("timeout")
  const n = raw === null ? DEFAULT_TIMEOUT_MS : Number(raw)
  return Duration.millis(Number.isFinite(n) && n > 0 ? Math.min(n, MAX_TIMEOUT_MS) : DEFAULT_TIMEOUT_MS)
}

class NoSuchNode extends Schema.TaggedError<NoSuchNode>()("NoSuchNode", { message: Schema.String }) {}

/**
 * The node that serves a client request: `?node=<id>` if given, else the local leader if up, else
 * the first local node that is up.
 */
const pick = (host: ClusterHostShape, q: URLSearchParams): Effect.Effect<KvNodeShape, KvUnavailable | NoSuchNode> =>
  Effect.gen(function*() {
    const nodes: ReadonlyArray<LocalNode> = yield* host.nodes
    const wanted = q.get("node")
    if (wanted !== null) {
      const n = nodes.find((x) => x.id === wanted)
      if (n === undefined) return yield* new NoSuchNode({ message: `no node ${wanted} on this server` })
      if (n.kv === undefined) return yield* new KvUnavailable({ reason: `${wanted} is down (${n.down ?? "stopped"})` })
      return n.kv
    }
    let first: KvNodeShape | undefined
    for (const n of nodes) {
      if (n.kv === undefined || Option.isSome(yield* n.kv.failure)) continue
      if ((yield* n.kv.raft.role.get) === "Leader") return n.kv
      first ??= n.kv
    }
    if (first === undefined) return yield* new KvUnavailable({ reason: `no node of ${host.name} is running` })
    return first
  })

const consistencyOf = (q: URLSearchParams): "linearizable" | "local" =>
  q.get("consistency") === "local" || q.get("consistency") === "serializable" ? "local" : "linearizable"

type Handler = Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest>

/** Runs `effect`, answering its failures with `errorResponse`. */
const handle = <E extends { readonly _tag: string; readonly message: string }, R>(
  effect: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R> => Effect.catchAll(effect, (e) => Effect.succeed(errorResponse(e as never)))

const body = <A, I>(schema: Schema.Schema<A, I>): Effect.Effect<A, BadRequest, HttpServerRequest.HttpServerRequest> =>
  HttpServerRequest.schemaBodyJson(schema).pipe(
    Effect.mapError((e: ParseResult.ParseError | { readonly message: string }) => new BadRequest({ reason: `bad request body: ${e.message.split("\n")[0]}` }))
  )

/** A write through the picked node, bounded by the request's timeout (then `OutcomeUnknown`). */
const write = (host: ClusterHostShape, command: (q: URLSearchParams) => Effect.Effect<KvCommand, BadRequest, HttpServerRequest.HttpServerRequest>): Handler =>
  handle(Effect.gen(function*() {
    const q = yield* query
    const cmd = yield* command(q)
    const node = yield* pick(host, q)
    const timeout = timeoutOf(q)
    const result = yield* node.write(cmd).pipe(
      Effect.timeoutFail({ duration: timeout, onTimeout: () => new OutcomeUnknown({ reason: `no answer within ${Duration.format(timeout)}` }) })
    )
    return json({ result, node: node.id } satisfies S.WriteResponse)
  }))

const readTimeout = (timeout: Duration.Duration) => () => new KvUnavailable({ reason: `the read got no answer within ${Duration.format(timeout)}; retry` })

/** The routes of the API (see the module comment). */
export const routes = (host: ClusterHostShape, rates: CommitRates | undefined): HttpRouter.HttpRouter<never, never> =>
  HttpRouter.empty.pipe(
    HttpRouter.get("/api/status", Effect.map(clusterStatus(host, rates), json)),
    HttpRouter.get(
      "/api/kv",
      handle(Effect.gen(function*() {
        const q = yield* query
        const key = q.get("key")
        if (key === null) return yield* new BadRequest({ reason: "the key query parameter is missing" })
        const node = yield* pick(host, q)
        const timeout = timeoutOf(q)
        const read = yield* node.get(key, consistencyOf(q)).pipe(Effect.timeoutFail({ duration: timeout, onTimeout: readTimeout(timeout) }))
        const out: S.GetResponse = { key, value: read.value?.value ?? null, revision: read.value?.revision ?? null, index: read.index, node: node.id }
        return HttpServerResponse.unsafeJson(out, { status: read.value === undefined ? 404 : 200 })
      }))
    ),
    HttpRouter.get(
      "/api/kv/list",
      handle(Effect.gen(function*() {
        const q = yield* query
        const node = yield* pick(host, q)
        const limit = Math.max(1, Math.min(MAX_LIST, Number(q.get("limit") ?? 1000) || 1000))
        const timeout = timeoutOf(q)
        const r = yield* node.list(q.get("prefix") ?? "", limit, consistencyOf(q)).pipe(
          Effect.timeoutFail({ duration: timeout, onTimeout: readTimeout(timeout) })
        )
        return json({ entries: r.entries.map(([key, v]) => ({ key, value: v.value, revision: v.revision })), index: r.index, node: node.id })
      }))
    ),
    HttpRouter.put("/api/kv", write(host, () => Effect.map(body(S.PutRequest), (r) => ({ _tag: "Put" as const, ...r })))),
    HttpRouter.post("/api/kv/del", write(host, () => Effect.map(body(S.DelRequest), (r) => ({ _tag: "Del" as const, ...r })))),
    HttpRouter.post("/api/kv/cas", write(host, () => Effect.map(body(S.CasRequest), (r) => ({ _tag: "Cas" as const, ...r })))),
    HttpRouter.get(
      "/api/watch",
      handle(Effect.gen(function*() {
        const q = yield* query
        const node = yield* pick(host, q)
        const fromRaw = q.get("from")
        const from = fromRaw === null ? undefined : Number(fromRaw)
        if (from !== undefined && !(Number.isSafeInteger(from) && from >= 1)) return yield* new BadRequest({ reason: "from must be a positive integer" })
        const events = node.watch({ ...(from === undefined ? {} : { from }), prefix: q.get("prefix") ?? "" })
        return sseStream(
          Stream.concat(
            Stream.make(sse("ready", { node: node.id, applied: node.store.applied })),
            events.pipe(
              Stream.map((e) => sse("change", e satisfies S.WatchEvent)),
              Stream.catchAll((e) => Stream.make(sse("error", { error: e._tag === "WatchCompacted" ? "Compacted" : "Unavailable", message: e.message })))
            )
          )
        )
      }))
    ),
    HttpRouter.get(
      "/api/members",
      handle(Effect.gen(function*() {
        const q = yield* query
        const node = yield* pick(host, q)
        const c = yield* node.raft.membership.get
        const leader = yield* node.raft.leader.get
        return json({ voters: [...c.voters].sort(), learners: [...c.learners].sort(), leader: Option.getOrNull(leader) } satisfies S.Members)
      }))
    ),
    HttpRouter.post(
      "/api/members",
      handle(Effect.gen(function*() {
        const r = yield* body(S.MembersRequest)
        const c = r.action === "add" ? yield* host.addLearner(r.id) : r.action === "promote" ? yield* host.promote(r.id) : yield* host.remove(r.id)
        return json({ voters: [...c.voters].sort(), learners: [...c.learners].sort(), leader: null } satisfies S.Members)
      }))
    ),
    HttpRouter.post(
      "/api/transfer",
      handle(Effect.gen(function*() {
        const r = yield* body(S.TransferRequest)
        const leader = yield* host.transfer(r.target)
        return json({ leader })
      }))
    ),
    HttpRouter.post("/api/nodes/:id/:action", handle(control(host))),
    HttpRouter.post(
      "/api/cut",
      handle(Effect.gen(function*() {
        const controls = yield* controlsOf(host)
        const r = yield* body(S.CutRequest)
        yield* controls.cut(r.a, r.b)
        return json({ ok: true })
      }))
    ),
    HttpRouter.post(
      "/api/heal",
      handle(Effect.gen(function*() {
        const controls = yield* controlsOf(host)
        yield* controls.heal()
        return json({ ok: true })
      }))
    )
  )

const controlsOf = (host: ClusterHostShape) =>
  host.controls === undefined
    ? Effect.fail(new ControlRefused({ reason: "fault controls exist only in cluster mode (kuilt cluster)" }))
    : Effect.succeed(host.controls)

const control = (host: ClusterHostShape) =>
  Effect.gen(function*() {
    const controls = yield* controlsOf(host)
    const params = yield* HttpRouter.params
    const id = params["id"] ?? ""
    switch (params["action"]) {
      case "kill":
        yield* controls.kill(id)
        break
      case "restart":
        yield* controls.restart(id)
        break
      case "isolate":
        yield* controls.isolate(id)
        break
      case "heal":
        yield* controls.heal(id)
        break
      default:
        return yield* new BadRequest({ reason: `unknown action ${params["action"]}: kill, restart, isolate or heal` })
    }
    return json({ ok: true })
  })

/** The API as an `HttpApp` (unknown routes answer 404). */
export const app = (host: ClusterHostShape, rates: CommitRates | undefined): HttpApp.Default<never, HttpServerRequest.HttpServerRequest> =>
  routes(host, rates).pipe(
    Effect.catchTag("RouteNotFound", () => Effect.succeed(HttpServerResponse.unsafeJson({ error: "NotFound", message: "no such route" }, { status: 404 })))
  )
