/**
 * `gameNode`: the roster-given bootstrap (README, "Game facade"). Every peer knows the full voter set up
 * front (from matchmaking, say) and passes the same one; Raft's own election picks the leader, so
 * there is no appoint-the-host step and no presence handshake.
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import type { SeamShape } from "../../services/seam/Seam.js"
import { ClusterConfig } from "../../services/raft/ClusterConfig.js"
import type { RaftNodeStartError } from "../raft/RaftNode.js"
import { NotInRoster } from "./errors.js"
import type { GameOptions, GameSessionShape } from "./session.js"
import { sessionOf, startNode, withSession } from "./session.js"

/**
 * Starts this peer's session of a game whose voters are `voterIds` (the same set on every peer).
 * Takes over `seam` (do not collect its `incoming` afterwards) and lives in the caller's `Scope`.
 * Fails with `NotInRoster` — before touching the seam — when `seam.selfId` is not in `voterIds`,
 * and with a `RaftNodeStartError` when the node cannot start (bad config, unreadable storage).
 */
export const gameNode = (
  seam: SeamShape,
  voterIds: Iterable<string>,
  options: GameOptions = {}
): Effect.Effect<GameSessionShape, NotInRoster | RaftNodeStartError, Scope.Scope> =>
  Effect.gen(function*() {
    const voters = [...new Set(voterIds)].sort()
    if (!voters.includes(seam.selfId)) return yield* new NotInRoster({ selfId: seam.selfId, voters })
    return yield* withSession(seam, options, (parts) =>
      Effect.map(startNode(parts, ClusterConfig.of(voters), options), (node) => sessionOf(parts, node)))
  })
