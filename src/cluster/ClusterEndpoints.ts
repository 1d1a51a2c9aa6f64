/**
 * `ClusterEndpoints`: the static list of servers a client may attach to, and the rotation over it.
 * A client holds one live link (attachment degree 1); when it tears, the client moves on to the
 * next endpoint, round-robin, with a fresh join (a resume token is good on one server only).
 */
import { Effect, Random } from "effect"
import { InvalidEndpoints } from "../../services/cluster/ClusterErrors.js"

/** One server: its client URL (`ServerCluster.url`) and, optionally, its id to pin. */
export interface ClusterEndpoint {
  /** `ws://host:port/kuilt` or `wss://…`. */
  readonly url: string
  /** When set, a server answering with another id is refused (a misdirected or hijacked URL). */
  readonly server?: string
}

/** An endpoint list and where rotation starts. */
export interface ClusterEndpointsShape {
  readonly endpoints: ReadonlyArray<ClusterEndpoint>
  /** The index of the first endpoint tried; `"random"` picks one (spreads clients over servers). */
  readonly start: number | "random"
}

const validate = (list: ReadonlyArray<ClusterEndpoint>): string | undefined => {
  if (list.length === 0) return "the list is empty"
  const seen = new Set<string>()
  for (const e of list) {
    if (!/^wss?:\/\/[^\s/]+/.test(e.url)) return `"${e.url}" is not a ws:// or wss:// URL`
    if (seen.has(e.url)) return `"${e.url}" is listed twice`
    seen.add(e.url)
  }
  return undefined
}

/**
 * Makes an endpoint list from URLs or `{ url, server }` records. `start`: the first index tried
 * (default `"random"`). Fails with `InvalidEndpoints` for an empty list, a URL that is not
 * `ws://`/`wss://`, a duplicate, or a start outside the list.
 */
export const make = (
  endpoints: ReadonlyArray<string | ClusterEndpoint>,
  options: { readonly start?: number | "random" } = {}
): Effect.Effect<ClusterEndpointsShape, InvalidEndpoints> =>
  Effect.suspend(() => {
    const list = endpoints.map((e) => (typeof e === "string" ? { url: e } : e))
    const problem = validate(list)
    if (problem !== undefined) return Effect.fail(new InvalidEndpoints({ reason: problem }))
    const start = options.start ?? "random"
    if (start !== "random" && !(Number.isSafeInteger(start) && start >= 0 && start < list.length)) {
      return Effect.fail(new InvalidEndpoints({ reason: `start ${start} is outside 0..${list.length - 1}` }))
    }
    return Effect.succeed({ endpoints: list, start })
  })

/** The first index to try (drawn from Effect's `Random` for `"random"`, so a seeded run repeats). */
export const firstIndex = (e: ClusterEndpointsShape): Effect.Effect<number> =>
  e.start === "random" ? Random.nextIntBetween(0, e.endpoints.length) : Effect.succeed(e.start)

/** The index after `i`, round-robin. */
export const next = (e: ClusterEndpointsShape, i: number): number => (i + 1) % e.endpoints.length

/** `ClusterEndpoints.make`, `.firstIndex`, `.next`. */
export const ClusterEndpoints = { make, firstIndex, next }
