/**
 * `TurnSequencer<A>`: a typed view of a Raft node for game code. Actions
 * are values of a `Schema` (JSON on the wire); `propose` puts one in the log from any peer and
 * returns it with its index; `events` delivers, on every peer and in the same order, each
 * committed action — or a `Reset` when the peer must restart from a snapshot. Raft's own entries
 * (the leader's no-op, membership changes) are skipped: games never see them.
 *
 * A committed command that does not decode with the schema (another version of the game, a
 * foreign writer) is skipped on every peer alike, counted and logged — never fatal.
 */
import { Effect, Either, Option, Schema, Stream } from "effect"
import type { DedupKey } from "../../services/raft/ClientId.js"
import type { Committed, Snapshot } from "../../services/raft/LogEntry.js"
import type { LeadershipLost, NotLeader, PayloadTooLarge } from "../../services/raft/RaftErrors.js"
import type { ProposeOptions, RaftNodeShape } from "../../services/raft/RaftNode.js"
import { ActionEncodeError } from "./errors.js"

/** A committed action and where it sits in the log. */
export interface IndexedAction<A> {
  readonly index: number
  readonly action: A
  /** Who proposed it (the proposer's client id and request serial), for exactly-once folding. */
  readonly dedupKey: DedupKey
}

/** What `events` delivers. */
export type TurnEvent<A> =
  | { readonly _tag: "Committed"; readonly indexed: IndexedAction<A> }
  | { readonly _tag: "Reset"; readonly snapshot: Snapshot }

export const TurnEvent = {
  Committed: <A>(indexed: IndexedAction<A>): TurnEvent<A> => ({ _tag: "Committed", indexed }),
  Reset: <A>(snapshot: Snapshot): TurnEvent<A> => ({ _tag: "Reset", snapshot })
}

export interface TurnSequencer<A> {
  readonly node: RaftNodeShape
  /**
   * Proposes `action` (from any peer: followers forward to the leader) and waits for it to
   * commit. `requestId` pins the request serial for exactly-once retries with a durable client
   * identity. Fails with `ActionEncodeError` (the schema refused the value; nothing proposed) or
   * the node's `NotLeader | LeadershipLost | PayloadTooLarge` (see `RaftNode.propose`).
   */
  readonly propose: (
    action: A,
    options?: ProposeOptions
  ) => Effect.Effect<IndexedAction<A>, ActionEncodeError | NotLeader | LeadershipLost | PayloadTooLarge>
  /** Every committed action from the start of the log (a `Reset` first if it was compacted). */
  readonly events: Stream.Stream<TurnEvent<A>>
  /** Committed actions from log index `fromIndex` on (a `Reset` first if it is compacted). */
  readonly eventsFrom: (fromIndex: number) => Stream.Stream<TurnEvent<A>>
  /** The bytes `propose` would put in the log for `action`. */
  readonly encode: (action: A) => Either.Either<Uint8Array, ActionEncodeError>
  /** Committed commands skipped because they did not decode (counted per sequencer). */
  readonly stats: { readonly undecodable: number }
}

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder("utf-8", { fatal: true })

/** A sequencer of `schema`'s actions over `node`. */
export const make = <A, I>(node: RaftNodeShape, schema: Schema.Schema<A, I, never>): TurnSequencer<A> => {
  const json = Schema.parseJson(schema)
  const encodeJson = Schema.encodeEither(json)
  const decodeJson = Schema.decodeUnknownEither(json)
  const stats = { undecodable: 0 }

  const encode = (action: A): Either.Either<Uint8Array, ActionEncodeError> =>
    Either.match(encodeJson(action), {
      onLeft: (e) => Either.left(new ActionEncodeError({ reason: e.message })),
      onRight: (text) => Either.right(utf8.encode(text))
    })

  const decode = (bytes: Uint8Array): Either.Either<A, string> => {
    let text: string
    try {
      text = fromUtf8.decode(bytes)
    } catch {
      return Either.left("not UTF-8")
    }
    return Either.mapLeft(decodeJson(text), (e) => e.message)
  }

  const toEvent = (c: Committed): Effect.Effect<Option.Option<TurnEvent<A>>> => {
    switch (c._tag) {
      case "Internal":
        return Effect.succeed(Option.none())
      case "Install":
        return Effect.succeed(Option.some(TurnEvent.Reset<A>(c.snapshot)))
      case "Entry": {
        const entry = c.entry
        return Either.match(decode(entry.command), {
          onLeft: (reason) =>
            Effect.as(
              Effect.logWarning(`TurnSequencer: skipped undecodable command at index ${entry.index}: ${reason}`).pipe(
                Effect.zipLeft(Effect.sync(() => void stats.undecodable++))
              ),
              Option.none()
            ),
          onRight: (action) =>
            Effect.succeed(Option.some(TurnEvent.Committed({ index: entry.index, action, dedupKey: entry.dedupKey })))
        })
      }
    }
  }

  const eventsFrom = (fromIndex: number): Stream.Stream<TurnEvent<A>> =>
    node.committedFrom(fromIndex).pipe(Stream.mapEffect(toEvent), Stream.filterMap((o) => o))

  return {
    node,
    encode,
    stats,
    eventsFrom,
    events: eventsFrom(1),
    propose: (action, options) =>
      Effect.gen(function*() {
        const bytes = yield* encode(action)
        const entry = yield* node.propose(bytes, options)
        return { index: entry.index, action, dedupKey: entry.dedupKey }
      })
  }
}

/** `TurnSequencer.make(node, schema)`: see `make`. */
export const TurnSequencer = { make }
