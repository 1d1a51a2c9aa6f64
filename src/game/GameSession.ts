/**
 * The `GameSession` service: a game session received from context, and the Layers that build one
 * over the `Seam` in context with each bootstrap (`gameNode`, `gameHost`, `gameJoin`,
 * `gameSpectate`). A session built by a Layer lives as long as the Layer's scope (its node, its
 * channels, and the seam it took over).
 */
import { Context, Effect, Layer } from "effect"
import { Seam } from "../../services/seam/Seam.js"
import type { RaftNodeStartError } from "../raft/RaftNode.js"
import type {
  DuplicateHost,
  InvalidGameOptions,
  JoinTimeout,
  NotInRoster,
  RosterFull,
  SpectatorsClosed
} from "./errors.js"
import { gameHost } from "./gameHost.js"
import type { GameHostOptions } from "./gameHost.js"
import { gameJoin, gameSpectate } from "./gameJoin.js"
import type { GameJoinOptions } from "./gameJoin.js"
import { gameNode } from "./gameNode.js"
import type { GameOptions, GameSessionShape } from "./session.js"

/** `gameNode` over the `Seam` in context: voters given up front. Fails as `gameNode` does. */
export const layerNode = (
  voterIds: Iterable<string>,
  options: GameOptions = {}
): Layer.Layer<GameSession, NotInRoster | RaftNodeStartError, Seam> =>
  Layer.scoped(GameSession, Effect.flatMap(Seam, (seam) => gameNode(seam, voterIds, options)))

/** `gameHost` over the `Seam` in context: built once the roster is seated. Fails as `gameHost` does. */
export const layerHost = (
  options: GameHostOptions
): Layer.Layer<GameSession, InvalidGameOptions | DuplicateHost | RaftNodeStartError, Seam> =>
  Layer.scoped(GameSession, Effect.flatMap(Seam, (seam) => gameHost(seam, options)))

/** `gameJoin` over the `Seam` in context: built once this peer is seated. Fails as `gameJoin` does. */
export const layerJoin = (
  options: GameJoinOptions = {}
): Layer.Layer<GameSession, RosterFull | JoinTimeout | InvalidGameOptions | RaftNodeStartError, Seam> =>
  Layer.scoped(GameSession, Effect.flatMap(Seam, (seam) => gameJoin(seam, options)))

/** `gameSpectate` over the `Seam` in context. Fails as `gameSpectate` does. */
export const layerSpectate = (
  options: GameJoinOptions = {}
): Layer.Layer<GameSession, SpectatorsClosed | JoinTimeout | InvalidGameOptions | RaftNodeStartError, Seam> =>
  Layer.scoped(GameSession, Effect.flatMap(Seam, (seam) => gameSpectate(seam, options)))

/**
 * The `GameSession` service (its interface is `GameSessionShape`), with its Layers:
 * `GameSession.layerNode(voterIds)`, `layerHost(options)`, `layerJoin(options)` and
 * `layerSpectate(options)`, each over the `Seam` in context (e.g. `Loom.layerHost`/`layerJoin`).
 */
export class GameSession extends Context.Tag("kuilt/GameSession")<GameSession, GameSessionShape>() {
  static readonly layerNode = layerNode
  static readonly layerHost = layerHost
  static readonly layerJoin = layerJoin
  static readonly layerSpectate = layerSpectate
}
