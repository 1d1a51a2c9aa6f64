/**
 * `kuilt put | get | cas | del | watch`: the built-in key-value store, through any server's HTTP
 * API. Writes carry a request id, so a write retried on another server after a failure is applied
 * once; `get` reads linearizably (a read fence) unless `--local`; `watch` follows changes and, when
 * its server goes away, resumes on another endpoint from the next index.
 *
 * Exit codes: `get` 7 when the key is not set, `cas` 7 when the expected value did not match;
 * 6 when a write's outcome is unknown; 3 when no endpoint is reachable.
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Duration, Effect, Either, Option, Schedule, Schema, Stream } from "effect"
import * as S from "../../dashboard/ApiSchema.js"
import { CliError, ExitCode, usage } from "../errors.js"
import * as O from "../options.js"
import { requestId, withClient } from "./client.js"

const key = Args.text({ name: "key" }).pipe(Args.withDescription("The key (1..1024 bytes of UTF-8)."))
const rid = Options.text("request-id").pipe(
  Options.withDescription("Pin the write's request id: re-running the same command with the same id applies it once."),
  Options.optional
)
const node = Options.text("node").pipe(Options.withDescription("Serve the request on this node of the server (cluster mode)."), Options.optional)
const nodeQuery = (n: Option.Option<string>) => (Option.isSome(n) ? `&node=${encodeURIComponent(n.value)}` : "")

const printResult = (r: S.WriteResponse, asJson: boolean, text: string) => Console.log(asJson ? JSON.stringify(r) : text)

export const put = Command.make(
  "put",
  { key, value: Args.text({ name: "value" }).pipe(Args.withDescription("The value.")), endpoints: O.endpoints, timeout: O.timeout, json: O.json, rid, node },
  (o) =>
    withClient(o.endpoints, o.timeout, (client) =>
      Effect.gen(function*() {
        const a = yield* client.request({
          method: "PUT",
          path: `/api/kv?${nodeQuery(o.node)}`,
          body: { key: o.key, value: o.value, rid: requestId(Option.getOrUndefined(o.rid)) },
          schema: S.WriteResponse,
          retry: "always"
        })
        const r = a.value.result
        yield* printResult(a.value, o.json, `OK (index ${r.revision}${r._tag === "Put" && r.previous !== null ? `, was ${JSON.stringify(r.previous)}` : ""})`)
      }))
).pipe(Command.withDescription("Set a key. Prints the log index that applied it."))

export const get = Command.make(
  "get",
  {
    key,
    local: Options.boolean("local").pipe(Options.withDescription("Read this server's replica without a read fence (may be stale).")),
    endpoints: O.endpoints,
    timeout: O.timeout,
    json: O.json,
    node
  },
  (o) =>
    withClient(o.endpoints, o.timeout, (client) =>
      Effect.gen(function*() {
        const a = yield* client.request({
          method: "GET",
          path: `/api/kv?key=${encodeURIComponent(o.key)}${o.local ? "&consistency=local" : ""}${nodeQuery(o.node)}`,
          schema: S.GetResponse,
          accept: [404]
        })
        if (o.json) yield* Console.log(JSON.stringify(a.value))
        if (a.value.value === null) {
          return yield* new CliError({ code: ExitCode.NoMatch, message: `${o.key} is not set (read at index ${a.value.index})` })
        }
        if (!o.json) yield* Console.log(a.value.value)
      }))
).pipe(Command.withDescription("Print a key's value (linearizable unless --local). Exit code 7 when it is not set."))

export const del = Command.make(
  "del",
  { key, endpoints: O.endpoints, timeout: O.timeout, json: O.json, rid, node },
  (o) =>
    withClient(o.endpoints, o.timeout, (client) =>
      Effect.gen(function*() {
        const a = yield* client.request({
          method: "POST",
          path: `/api/kv/del?${nodeQuery(o.node)}`,
          body: { key: o.key, rid: requestId(Option.getOrUndefined(o.rid)) },
          schema: S.WriteResponse,
          retry: "always"
        })
        const r = a.value.result
        yield* printResult(a.value, o.json, r._tag === "Del" && r.previous === null ? `OK (index ${r.revision}, was not set)` : `OK (index ${r.revision})`)
      }))
).pipe(Command.withDescription("Remove a key."))

export const cas = Command.make(
  "cas",
  {
    key,
    value: Args.text({ name: "value" }).pipe(Args.withDescription("The new value (omit with --delete)."), Args.optional),
    expect: Options.text("expect").pipe(Options.withDescription("The value the key must have now."), Options.optional),
    absent: Options.boolean("expect-absent").pipe(Options.withDescription("The key must not be set now.")),
    remove: Options.boolean("delete").pipe(Options.withDescription("Remove the key instead of setting a value.")),
    endpoints: O.endpoints,
    timeout: O.timeout,
    json: O.json,
    rid,
    node
  },
  (o) =>
    Effect.gen(function*() {
      if (Option.isSome(o.expect) === o.absent) return yield* usage("give exactly one of --expect <value> and --expect-absent")
      if (Option.isSome(o.value) === o.remove) return yield* usage("give exactly one of a new value and --delete")
      const expected = Option.getOrNull(o.expect)
      const value = Option.getOrNull(o.value)
      yield* withClient(o.endpoints, o.timeout, (client) =>
        Effect.gen(function*() {
          const a = yield* client.request({
            method: "POST",
            path: `/api/kv/cas?${nodeQuery(o.node)}`,
            body: { key: o.key, expected, value, rid: requestId(Option.getOrUndefined(o.rid)) },
            schema: S.WriteResponse,
            retry: "always"
          })
          const r = a.value.result
          if (o.json) yield* Console.log(JSON.stringify(a.value))
          if (r._tag === "Cas" && !r.ok) {
            return yield* new CliError({
              code: ExitCode.NoMatch,
              message: `no match: ${o.key} is ${r.current === null ? "not set" : JSON.stringify(r.current)} (index ${r.revision})`
            })
          }
          if (!o.json) yield* Console.log(`OK (index ${r.revision})`)
        }))
    })
).pipe(Command.withDescription("Compare-and-swap: set (or --delete) a key only if its value is --expect <v> (or --expect-absent). Exit code 7 on no match."))

const WatchEventJson = Schema.parseJson(S.WatchEvent)
const ErrorJson = Schema.parseJson(S.ErrorBody)

/** Splits a server-sent events body into `[event, data]` pairs. */
const events = <E>(bytes: Stream.Stream<Uint8Array, E>) =>
  bytes.pipe(
    Stream.decodeText(),
    Stream.splitLines,
    Stream.mapAccum({ event: "", data: "" }, (acc, line) => {
      if (line === "") return [{ event: "", data: "" }, acc.event === "" && acc.data === "" ? Option.none() : Option.some([acc.event, acc.data] as const)]
      if (line.startsWith("event: ")) return [{ ...acc, event: line.slice(7) }, Option.none()]
      if (line.startsWith("data: ")) return [{ ...acc, data: acc.data + line.slice(6) }, Option.none()]
      return [acc, Option.none()]
    }),
    Stream.filterMap((x) => x)
  )

export const watch = Command.make(
  "watch",
  {
    prefix: Args.text({ name: "prefix" }).pipe(Args.withDescription("Only keys starting with this (default: every key)."), Args.withDefault("")),
    from: Options.integer("from").pipe(Options.withDescription("Start at this log index (default: changes from now on)."), Options.optional),
    count: Options.integer("count").pipe(Options.withDescription("Stop after this many changes."), Options.optional),
    endpoints: O.endpoints,
    timeout: O.timeout,
    json: O.json
  },
  (o) =>
    withClient(o.endpoints, o.timeout, (client) =>
      Effect.gen(function*() {
        let next = Option.getOrUndefined(o.from)
        let seen = 0
        const limit = Option.getOrElse(o.count, () => Infinity)
        if (limit <= 0) return
        // One connection at a time; when it ends (the server went away) resume elsewhere from `next`.
        const once = Effect.gen(function*() {
          const path = `/api/watch?prefix=${encodeURIComponent(o.prefix)}${next === undefined ? "" : `&from=${next}`}`
          const { response, endpoint } = yield* client.open(path)
          yield* Console.error(`watching ${o.prefix === "" ? "every key" : `keys under ${JSON.stringify(o.prefix)}`} on ${endpoint}`)
          const done = yield* events(response.stream).pipe(
            Stream.mapEffect(([event, data]) =>
              Effect.gen(function*() {
                if (event === "ready") {
                  if (next === undefined) next = (JSON.parse(data) as { applied: number }).applied + 1
                  return false
                }
                if (event === "error") {
                  const e = Either.getOrUndefined(Schema.decodeUnknownEither(ErrorJson)(data))
                  return yield* new CliError({ code: ExitCode.Failed, message: e?.message ?? data })
                }
                if (event !== "change") return false
                const change = Either.getOrUndefined(Schema.decodeUnknownEither(WatchEventJson)(data))
                if (change === undefined) return false
                next = change.index + 1
                yield* Console.log(
                  o.json ? JSON.stringify(change) : change.type === "put" ? `${change.index} put ${change.key} ${change.value}` : `${change.index} del ${change.key}`
                )
                seen++
                return seen >= limit
              })
            ),
            Stream.takeUntil((stop) => stop),
            Stream.runLast,
            Effect.map((last) => Option.getOrElse(last, () => false)),
            // The connection broke (the server went away): resume elsewhere.
            Effect.catchIf((e): e is Exclude<typeof e, CliError> => !(e instanceof CliError), () => Effect.succeed(false))
          )
          if (!done) yield* Console.error("the watch ended on the server; resuming elsewhere")
          return done
        })
        yield* once.pipe(
          Effect.repeat({ until: (done) => done, schedule: Schedule.spaced(Duration.millis(200)) })
        )
      }))
).pipe(Command.withDescription("Print changes as they are applied (`<index> put <key> <value>`), until Ctrl-C or --count; resumes on another endpoint if a server goes away."))
