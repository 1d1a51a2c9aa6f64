/**
 * `gameHost`: the appoint-the-host bootstrap, host side (README, "Game facade"). Exactly one peer
 * hosts; it declares itself on the presence map, checks that no lower id also declared (lowest
 * id wins), starts a single-voter cluster, and seats joiners one at a time (see `Admission`).
 */
import { Duration, Effect, Stream, SubscriptionRef } from "effect"
import type { Scope } from "effect"
import type { SeamShape } from "../../services/seam/Seam.js"
import { ClusterConfig } from "../../services/raft/ClusterConfig.js"
import type { RaftNodeStartError } from "../raft/RaftNode.js"
import { DEFAULT_CATCH_UP_TIMEOUT, runAdmission } from "./Admission.js"
import { DuplicateHost, InvalidGameOptions } from "./errors.js"
import type { GameOptions, GameSessionShape, SessionParts } from "./session.js"
import { sessionOf, startNode, withSession } from "./session.js"
import { isHostSlot } from "./Presence.js"
import { awaitValue } from "./watch.js"

/** When `gameHost` returns: with every seat taken, or once a majority of them is. */
export type ReturnAt = "full" | "quorum"

/** Options of `gameHost`: how many voters to seat and when to return. */
export interface GameHostOptions extends GameOptions {
  /** Voters the game needs, the host included (≥ 1). */
  readonly peerCount: number
  /**
   * `"full"` (default): return once `peerCount` voters are seated. `"quorum"`: return once a
   * majority of `peerCount` is seated; admission goes on in the background until full.
   */
  readonly returnAt?: ReturnAt
  /** Spectators the host seats as permanent learners. Default 0 (spectators are refused). */
  readonly maxSpectators?: number
  /** How long the host waits for presence to converge before deciding who hosts. Default 2 s. */
  readonly hostDeclarationTimeout?: Duration.DurationInput
  /** How long a new learner gets to catch up before the host gives up on it. Default 5 s. */
  readonly catchUpTimeout?: Duration.DurationInput
}

/** Majority of `n` seats. */
const majority = (n: number) => Math.floor(n / 2) + 1

const validate = (options: GameHostOptions): InvalidGameOptions | undefined => {
  if (!Number.isSafeInteger(options.peerCount) || options.peerCount < 1) {
    return new InvalidGameOptions({ reason: `peerCount must be an integer ≥ 1, got ${options.peerCount}` })
  }
  const spectators = options.maxSpectators ?? 0
  if (!Number.isSafeInteger(spectators) || spectators < 0) {
    return new InvalidGameOptions({ reason: `maxSpectators must be an integer ≥ 0, got ${spectators}` })
  }
  return undefined
}

/**
 * Waits until every peer the seam can address has a presence slot, i.e. this host has heard
 * every connected peer's declaration (and so every rival host among them).
 */
const awaitConverged = (parts: SessionParts) =>
  Stream.merge(parts.seam.peers.changes, parts.presence.slots.changes).pipe(
    Stream.mapEffect(() =>
      Effect.zipWith(parts.seam.peers.get, parts.presence.slots.get, (peers, slots) =>
        [...peers].every((p) => slots.has(p)))
    ),
    Stream.takeUntil((converged) => converged),
    Stream.runDrain
  )

/**
 * Hosts a game of `peerCount` voters over `seam` (taken over: do not collect its `incoming`
 * afterwards), bound to the caller's `Scope`. Returns when the roster is full (or a majority
 * under `returnAt: "quorum"`). Fails with `InvalidGameOptions`, `DuplicateHost` (a lower id also
 * declared itself host), or a `RaftNodeStartError`. Waits as long as joiners take to come: bound
 * the call with `Effect.timeout` if the caller needs a deadline.
 */
export const gameHost = (
  seam: SeamShape,
  options: GameHostOptions
): Effect.Effect<GameSessionShape, InvalidGameOptions | DuplicateHost | RaftNodeStartError, Scope.Scope> =>
  Effect.gen(function*() {
    const invalid = validate(options)
    if (invalid !== undefined) return yield* invalid
    const maxSpectators = options.maxSpectators ?? 0
    return yield* withSession(seam, options, (parts) =>
      Effect.gen(function*() {
        const selfId = seam.selfId
        yield* parts.presence.set({ t: "host", spectators: maxSpectators > 0 })
        yield* awaitConverged(parts).pipe(Effect.timeoutOption(options.hostDeclarationTimeout ?? Duration.seconds(2)))
        const hosts = [...(yield* parts.presence.slots.get)].filter(([, slot]) => isHostSlot(slot)).map(([id]) => id)
          .sort()
        const winner = hosts[0]
        if (winner !== undefined && winner !== selfId) return yield* new DuplicateHost({ selfId, winner })

        const node = yield* startNode(parts, ClusterConfig.ofVoters(selfId), options)
        yield* node.awaitLeadership
        const seated = yield* SubscriptionRef.make(1)
        yield* runAdmission(node, parts.presence, {
          onSeated: (voters) => SubscriptionRef.set(seated, voters.size),
          peerCount: options.peerCount,
          maxSpectators,
          catchUpTimeout: options.catchUpTimeout ?? DEFAULT_CATCH_UP_TIMEOUT,
          retryDelay: Duration.millis(100)
        }).pipe(Effect.forkIn(parts.scope))
        const needed = options.returnAt === "quorum" ? majority(options.peerCount) : options.peerCount
        yield* awaitValue(seated, (n) => (n >= needed ? true : undefined))
        return sessionOf(parts, node)
      }))
  })
