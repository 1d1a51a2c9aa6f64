/**
 * `gameJoin` and `gameSpectate`: the appoint-the-host bootstrap, joiner side
 * (README, "Game facade"). A joiner starts a Raft node that knows no voters and lists itself as a
 * learner — it never campaigns, it only waits for a leader's entries — declares itself on the
 * presence map, and waits for the host to seat it. A player reports its commit index on presence
 * while it waits, which is how the host sees that it caught up as a learner.
 */
import { Duration, Effect, Fiber, Stream } from "effect"
import type { Scope } from "effect"
import type { SeamShape } from "../../services/seam/Seam.js"
import { ClusterConfig } from "../../services/raft/ClusterConfig.js"
import type { RaftNodeStartError } from "../raft/RaftNode.js"
import { InvalidGameOptions, JoinTimeout, RosterFull, SpectatorsClosed } from "./errors.js"
import type { GameOptions, GameSessionShape } from "./session.js"
import { sessionOf, startNode, withSession } from "./session.js"
import { isHostSlot } from "./Presence.js"
import type { Presence } from "./Presence.js"
import { awaitValue } from "./watch.js"

export interface GameJoinOptions extends GameOptions {
  /** How long to wait for a seat (or, for a spectator, a place). Default 10 s. */
  readonly joinTimeout?: Duration.DurationInput
}

const DEFAULT_JOIN_TIMEOUT = Duration.seconds(10)

const timeoutOf = (options: GameJoinOptions): Duration.Duration | InvalidGameOptions => {
  const d = Duration.decodeUnknown(options.joinTimeout ?? DEFAULT_JOIN_TIMEOUT)
  return d._tag === "Some" && Duration.isFinite(d.value)
    ? d.value
    : new InvalidGameOptions({ reason: `joinTimeout must be a finite duration` })
}

/**
 * What distinguishes a player's join from a spectator's: the presence slot it declares, when it
 * counts as seated, and how the host tells it no place will come.
 */
interface JoinRole<Refused> {
  readonly as: "player" | "spectator"
  readonly seated: (membership: ClusterConfig) => boolean
  readonly refused: (presence: Presence) => Effect.Effect<never, Refused>
}

/**
 * The joiner's bootstrap shared by both roles: a node that knows no voters and lists itself as a
 * learner, a presence slot, and a bounded wait for the seat. A player also reports its commit
 * index on presence while it waits (the host's catch-up check), and stops once seated.
 */
const joinAs = <Refused>(
  seam: SeamShape,
  options: GameJoinOptions,
  role: JoinRole<Refused>
): Effect.Effect<GameSessionShape, Refused | JoinTimeout | InvalidGameOptions | RaftNodeStartError, Scope.Scope> =>
  Effect.gen(function*() {
    const timeout = timeoutOf(options)
    if (timeout instanceof InvalidGameOptions) return yield* timeout
    const selfId = seam.selfId as string
    return yield* withSession(seam, options, (parts) =>
      Effect.gen(function*() {
        // The joiner's trust rule: its node accepts a log only from the peers declaring themselves
        // host (or from a leader they vouch for), never from any other peer in the room.
        const hosts = parts.presence.awaitMatch((slots) => {
          const ids = [...slots].filter(([, slot]) => isHostSlot(slot)).map(([id]) => id as string)
          return ids.length > 0 ? ids : undefined
        })
        const join = Effect.gen(function*() {
          const node = yield* startNode(parts, ClusterConfig.of([], [selfId]), options, yield* hosts)
          const slot = role.as === "player" ? "present" : "spectate"
          yield* parts.presence.set({ t: slot, commit: 0 })
          const reporter = role.as === "player"
            ? yield* node.commitIndex.changes.pipe(
              Stream.runForEach((commit) => parts.presence.set({ t: "present", commit })),
              Effect.forkIn(parts.scope)
            )
            : undefined
          const seated = awaitValue(node.membership, (m) => (role.seated(m) ? true : undefined))
          yield* Effect.raceFirst(seated, role.refused(parts.presence))
          return { node, reporter }
        })
        const { node, reporter } = yield* join.pipe(
          Effect.timeoutFail({
            duration: timeout,
            onTimeout: () => new JoinTimeout({ selfId, as: role.as, waitedMillis: Duration.toMillis(timeout) })
          })
        )
        // Seated: the host no longer needs our progress reports.
        if (reporter !== undefined) yield* Fiber.interrupt(reporter)
        return sessionOf(parts, node)
      }))
  })

/**
 * Joins the game hosted on `seam`'s session as a player, bound to the caller's `Scope` (the seam
 * is taken over: do not collect its `incoming` afterwards). Returns once this peer is a voter.
 * Fails with `RosterFull` when the host closes admission without it, `JoinTimeout` when no seat
 * came within `joinTimeout`, `InvalidGameOptions`, or a `RaftNodeStartError`; on failure the
 * session (node, channels, seam) is closed.
 */
export const gameJoin = (
  seam: SeamShape,
  options: GameJoinOptions = {}
): Effect.Effect<GameSessionShape, RosterFull | JoinTimeout | InvalidGameOptions | RaftNodeStartError, Scope.Scope> => {
  const selfId = seam.selfId as string
  return joinAs(seam, options, {
    as: "player",
    seated: (m) => (m.voters as ReadonlySet<string>).has(selfId),
    refused: (presence) =>
      presence.awaitMatch((slots) => {
        for (const slot of slots.values()) {
          if (slot.t === "closed" && !slot.voters.includes(selfId)) return slot.voters
        }
        return undefined
      }).pipe(Effect.flatMap((voters) => new RosterFull({ selfId, voters })))
  })
}

/**
 * Joins as a spectator: a permanent learner that receives every committed action but never
 * votes (there is no spectator-to-player promotion). Returns once the host has seated it. Fails
 * with `SpectatorsClosed` when the host takes no spectators, `JoinTimeout` (as `"spectator"`) when
 * no place came in time, `InvalidGameOptions`, or a `RaftNodeStartError`.
 */
export const gameSpectate = (
  seam: SeamShape,
  options: GameJoinOptions = {}
): Effect.Effect<GameSessionShape, SpectatorsClosed | JoinTimeout | InvalidGameOptions | RaftNodeStartError, Scope.Scope> => {
  const selfId = seam.selfId as string
  return joinAs(seam, options, {
    as: "spectator",
    // Our own bootstrap config already lists us as a learner; a seat is a config from the
    // leader, which has voters.
    seated: (m) => m.voters.size > 0 && (m.learners as ReadonlySet<string>).has(selfId),
    refused: (presence) =>
      presence.awaitMatch((slots) => {
        for (const [id, slot] of slots) {
          if ((slot.t === "host" || slot.t === "closed") && !slot.spectators) return id
        }
        return undefined
      }).pipe(Effect.flatMap((host) => new SpectatorsClosed({ selfId, host })))
  })
}
