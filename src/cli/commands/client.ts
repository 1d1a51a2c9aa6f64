/**
 * What every client subcommand shares: the endpoint list and timeout turned into an `ApiClient`
 * (with Node's `fetch` as the HTTP client), and a fresh request id for writes.
 */
import { FetchHttpClient } from "@effect/platform"
import { Effect, Either } from "effect"
import { randomUUID } from "node:crypto"
import * as ApiClient from "../client/ApiClient.js"
import type { CliError } from "../errors.js"

/** Runs `f` with a client over `endpoints` (comma separated), each request bounded by `timeoutMs`. */
export const withClient = <A, R>(
  endpoints: string,
  timeoutMs: number,
  f: (client: ApiClient.ApiClientShape) => Effect.Effect<A, CliError, R>
): Effect.Effect<A, CliError, R> =>
  Effect.gen(function*() {
    const list = ApiClient.parseEndpoints(endpoints)
    if (Either.isLeft(list)) return yield* list.left
    const client = yield* ApiClient.make(list.right, Math.max(100, timeoutMs)).pipe(Effect.provide(FetchHttpClient.layer))
    return yield* f(client)
  })

/** A request id for a write: unique per invocation unless the user pins one (`--request-id`). */
export const requestId = (pinned: string | undefined): string => pinned ?? `cli-${randomUUID()}`
