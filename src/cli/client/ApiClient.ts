/**
 * The `kuilt` command's client of the HTTP API (`src/dashboard/Api.ts`): it sends a request to one
 * endpoint of a list and moves on when that endpoint cannot serve — unreachable, no node up
 * (503), not the leader (421, following the `url` the server names) — until one answers or the
 * deadline passes.
 *
 * A request marked `retry: "always"` (every write: it carries a request id, so the server applies
 * it once whatever happens in between, `src/cli/kv/KvStore.ts`) is also re-sent on another endpoint
 * when its outcome is unknown (504, or the connection broke after it was sent).
 *
 * Failures are `CliError`s with the command's exit codes: `Unreachable` (3) when no endpoint
 * answered at all, `OutcomeUnknown` (6) when a write's fate could not be learned in time, and
 * `Failed` (1) with the server's message otherwise.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import type { HttpClientResponse } from "@effect/platform"
import { Clock, Duration, Effect, Either, Schema } from "effect"
import { ErrorBody } from "../../dashboard/ApiSchema.js"
import { CliError, ExitCode } from "../errors.js"

/** Turns `host:port`, `http://host:port/` or a bare port into an API base URL (no trailing slash). */
export const normalizeEndpoint = (raw: string): string => {
  let s = raw.trim()
  if (/^\d+$/.test(s)) s = `127.0.0.1:${s}`
  if (!/^[a-z]+:\/\//i.test(s)) s = `http://${s}`
  s = s.replace(/^ws(s?):/i, "http$1:")
  const url = new URL(s)
  return `${url.protocol}//${url.host}`
}

/** Parses a comma-separated endpoint list; a `CliError` (usage) for an empty or malformed one. */
export const parseEndpoints = (raw: string): Either.Either<ReadonlyArray<string>, CliError> => {
  const parts = raw.split(",").map((p) => p.trim()).filter((p) => p.length > 0)
  if (parts.length === 0) return Either.left(new CliError({ code: ExitCode.Usage, message: "no endpoint given (--endpoints host:port,...)" }))
  const out: Array<string> = []
  for (const p of parts) {
    try {
      out.push(normalizeEndpoint(p))
    } catch {
      return Either.left(new CliError({ code: ExitCode.Usage, message: `not an endpoint: ${p} (expected host:port or http://host:port)` }))
    }
  }
  return Either.right([...new Set(out)])
}

export interface RequestOptions<A, I> {
  readonly method: "GET" | "PUT" | "POST"
  readonly path: string
  readonly body?: unknown
  /** The success body (any 2xx, and the statuses in `accept`). */
  readonly schema: Schema.Schema<A, I>
  /** Non-2xx statuses answered with a `schema` body (404 for a key not set). */
  readonly accept?: ReadonlyArray<number>
  /** `"always"`: re-send on another endpoint when the outcome is unknown (safe only for writes with a request id). */
  readonly retry?: "unavailable" | "always"
  /**
   * Re-send a request the server refused as retryable (409 with `retryable: true`: a membership
   * change that met a leader change). Safe only for requests that are idempotent on the server.
   */
  readonly retryRefusals?: boolean
}

export interface Answer<A> {
  readonly value: A
  readonly status: number
  readonly endpoint: string
}

const describeTransport = (e: unknown): string => {
  const cause = (e as { cause?: { cause?: { code?: string; message?: string }; message?: string } }).cause
  const inner = cause?.cause
  return inner?.code ?? inner?.message ?? cause?.message ?? String(e)
}

const parseJson = Schema.decodeUnknownEither(Schema.parseJson())

/** Pause between passes over the endpoint list (nobody could serve). */
const PASS_PAUSE = Duration.millis(200)

export interface ApiClientShape {
  readonly endpoints: ReadonlyArray<string>
  /** Sends a request (see the module comment), within `timeout`. */
  readonly request: <A, I>(options: RequestOptions<A, I>) => Effect.Effect<Answer<A>, CliError>
  /** Opens a streaming GET on the first endpoint that answers 200 (for server-sent events). */
  readonly open: (path: string) => Effect.Effect<{ readonly response: HttpClientResponse.HttpClientResponse; readonly endpoint: string }, CliError>
}

/** A client over `endpoints`, each request bounded by `timeout`. Needs an `HttpClient`. */
export const make = (endpoints: ReadonlyArray<string>, timeout: Duration.DurationInput): Effect.Effect<ApiClientShape, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const http = yield* HttpClient.HttpClient
    const total = Duration.toMillis(Duration.decode(timeout))
    let preferred = 0

    const request = <A, I>(o: RequestOptions<A, I>): Effect.Effect<Answer<A>, CliError> =>
      Effect.gen(function*() {
        const started = yield* Clock.currentTimeMillis
        const decode = Schema.decodeUnknownEither(o.schema)
        const decodeError = Schema.decodeUnknownEither(ErrorBody)
        let reached = false
        let last = "no endpoint tried"
        let unknown = false
        let redirect: string | undefined
        for (let pass = 0;; pass++) {
          const order = redirect !== undefined ? [redirect] : endpoints.map((_, i) => endpoints[(preferred + i) % endpoints.length]!)
          redirect = undefined
          for (const endpoint of order) {
            const left = total - ((yield* Clock.currentTimeMillis) - started)
            if (left <= 0) break
            const req = HttpClientRequest.make(o.method)(`${endpoint}${o.path}${o.path.includes("?") ? "&" : "?"}timeout=${Math.max(100, Math.floor(left - 50))}`)
            const withBody = o.body === undefined ? req : HttpClientRequest.bodyUnsafeJson(req, o.body)
            const sent = yield* http.execute(withBody).pipe(
              Effect.flatMap((r) => Effect.map(r.text, (text) => ({ status: r.status, text }))),
              Effect.timeout(Duration.millis(left)),
              Effect.either
            )
            if (Either.isLeft(sent)) {
              const e = sent.left
              const timedOut = e._tag === "TimeoutException"
              if (timedOut || (e._tag === "RequestError" && e.reason === "Transport" && reached)) unknown = true
              last = timedOut ? `${endpoint}: no answer in time` : `${endpoint}: ${describeTransport(e)}`
              continue
            }
            reached = true
            const { status, text } = sent.right
            const json: unknown = text.length === 0
              ? null
              : Either.getOrElse(parseJson(text), () => ({ error: "NotJson", message: text.slice(0, 200) }))
            if ((status >= 200 && status < 300) || o.accept?.includes(status)) {
              const value = decode(json)
              if (Either.isLeft(value)) {
                return yield* new CliError({ code: ExitCode.Failed, message: `${endpoint} answered something unexpected: ${value.left.message.split("\n")[0]}` })
              }
              preferred = endpoints.indexOf(endpoint) >= 0 ? endpoints.indexOf(endpoint) : preferred
              return { value: value.right, status, endpoint }
            }
            const err = decodeError(json)
            const body = Either.isRight(err) ? err.right : { error: `HTTP ${status}`, message: text.slice(0, 200) }
            last = `${endpoint}: ${body.message}`
            if (status === 421) {
              if (body.url !== undefined && body.url !== null && body.url !== endpoint) redirect = body.url
              break
            }
            if (status === 503) continue
            if (status === 409 && o.retryRefusals === true && body.retryable === true) break
            if (status === 504) {
              unknown = true
              if (o.retry === "always") continue
              return yield* new CliError({ code: ExitCode.OutcomeUnknown, message: `${body.message} (retry with the same --request-id)` })
            }
            return yield* new CliError({ code: ExitCode.Failed, message: body.message })
          }
          if (total - ((yield* Clock.currentTimeMillis) - started) <= 0) break
          if (redirect === undefined) yield* Effect.sleep(PASS_PAUSE)
        }
        if (unknown && o.method !== "GET") {
          return yield* new CliError({ code: ExitCode.OutcomeUnknown, message: `outcome unknown after ${total} ms (last: ${last}); retry with the same --request-id` })
        }
        if (!reached) {
          return yield* new CliError({ code: ExitCode.Unreachable, message: `no endpoint reachable (${endpoints.join(", ")}): ${last}` })
        }
        return yield* new CliError({ code: ExitCode.Failed, message: `gave up after ${total} ms: ${last}` })
      })

    const open = (path: string) =>
      Effect.gen(function*() {
        let last = "no endpoint tried"
        let reached = false
        for (let i = 0; i < endpoints.length; i++) {
          const endpoint = endpoints[(preferred + i) % endpoints.length]!
          const r = yield* http.execute(HttpClientRequest.get(`${endpoint}${path}`)).pipe(Effect.timeout(Duration.millis(total)), Effect.either)
          if (Either.isLeft(r)) {
            last = `${endpoint}: ${r.left._tag === "TimeoutException" ? "no answer in time" : describeTransport(r.left)}`
            continue
          }
          reached = true
          if (r.right.status === 200) return { response: r.right, endpoint }
          const text = yield* r.right.text.pipe(Effect.orElseSucceed(() => ""))
          last = `${endpoint}: HTTP ${r.right.status} ${text.slice(0, 200)}`
          if (r.right.status !== 503 && r.right.status !== 421) {
            const body = Either.getOrUndefined(Schema.decodeUnknownEither(Schema.parseJson(ErrorBody))(text))
            return yield* new CliError({ code: ExitCode.Failed, message: body?.message ?? last })
          }
        }
        return yield* new CliError({ code: reached ? ExitCode.Failed : ExitCode.Unreachable, message: `${reached ? "no endpoint could serve" : "no endpoint reachable"}: ${last}` })
      })

    return { endpoints, request, open }
  })
