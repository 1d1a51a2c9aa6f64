/**
 * What every game bootstrap (`gameNode`, `gameHost`, `gameJoin`, `gameSpectate`) shares: the
 * session it returns (`GameSessionShape`: the Raft node for consensus, named app channels for
 * best-effort traffic over the same connection, the presence map, and `close`), the options they
 * all accept, and the helpers that build a session. The service tag and its Layers are in
 * `GameSession.ts`.
 *
 * A session owns the seam it was given: it lives in a child of the caller's `Scope`, and closing
 * it (`close`, or the caller's scope) stops the node first, then the channel views, then closes
 * the seam. If a bootstrap fails, everything it started is torn down before the error returns.
 */
import { Effect, ExecutionStrategy, Exit, Scope } from "effect"
import type { Duration } from "effect"
import * as InMemoryRaftStorage from "../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import { SeamRaftTransport } from "../../layers/raft/transport/SeamRaftTransport.js"
import type { PeerId } from "../../services/seam/PeerId.js"
import type { SeamShape } from "../../services/seam/Seam.js"
import type { ClientIdentity } from "../../services/raft/ClientId.js"
import type { ClusterConfig } from "../../services/raft/ClusterConfig.js"
import type { RaftConfig } from "../../services/raft/RaftConfig.js"
import type { RaftNodeShape } from "../../services/raft/RaftNode.js"
import type { RaftStorageShape } from "../../services/raft/RaftStorage.js"
import { make as makeRaftNode } from "../raft/RaftNode.js"
import type { RaftNodeStartError } from "../raft/RaftNode.js"
import type { InvalidChannelName } from "../seam/errors.js"
import type { GameChannels } from "./channels.js"
import { openChannels } from "./channels.js"
import type { Presence } from "./Presence.js"
import { Presence as PresenceMap } from "./Presence.js"

/** Options every bootstrap accepts. */
export interface GameOptions {
  /** Durable Raft state. Default: a fresh `InMemoryRaftStorage` (fine for short-lived games). */
  readonly storage?: RaftStorageShape
  /** Raft tuning (timeouts...); defaults as in `RaftConfig`. */
  readonly config?: Partial<RaftConfig>
  /** Client identity for proposal dedup keys; `Auto` by default. */
  readonly identity?: ClientIdentity
  /** Presence re-announce period. Default 100 ms. */
  readonly announceEvery?: Duration.DurationInput
}

/** A running game session; the service is `GameSession` (`GameSession.ts`). */
export interface GameSessionShape {
  readonly selfId: PeerId
  /** The consensus node: propose from any peer (followers forward to the leader). */
  readonly node: RaftNodeShape
  /** The replicated lobby map (who hosts, who is present, the final roster). */
  readonly presence: Presence
  /**
   * A named application channel over the same connection (chat, cursors...): a full `Seam`,
   * best effort (lossy when its reader lags; frames sent before a peer opened the same name are
   * lost). The same name returns the same view. Fails with `InvalidChannelName` for a name that is
   * not 1..255 UTF-8 bytes.
   */
  readonly appChannel: (name: string) => Effect.Effect<SeamShape, InvalidChannelName>
  /** Stops the node, then the channels, then closes the seam. Idempotent. */
  readonly close: Effect.Effect<void>
}

/** What a bootstrap builds its session from, inside the session's own scope. */
export interface SessionParts {
  readonly seam: SeamShape
  readonly channels: GameChannels
  readonly presence: Presence
  readonly scope: Scope.CloseableScope
}

/**
 * Runs `build` in a fresh child scope of the caller's scope that already holds the channel layout
 * and the presence map. A failure or interruption of `build` closes that scope (node, channels,
 * seam) before the error propagates.
 */
export const withSession = <A, E>(
  seam: SeamShape,
  options: GameOptions,
  build: (parts: SessionParts) => Effect.Effect<A, E, Scope.Scope>
): Effect.Effect<A, E, Scope.Scope> =>
  Effect.gen(function*() {
    const outer = yield* Effect.scope
    const scope = yield* Scope.fork(outer, ExecutionStrategy.sequential)
    const inScope = Effect.gen(function*() {
      // Registered first, so it runs last: the seam closes after the node and the mux.
      yield* Effect.addFinalizer(() => seam.close())
      const channels = yield* openChannels(seam)
      const presence = yield* PresenceMap.make(
        channels.presence,
        options.announceEvery === undefined ? {} : { announceEvery: options.announceEvery }
      )
      return yield* build({ seam, channels, presence, scope })
    })
    return yield* Scope.extend(inScope, scope).pipe(
      Effect.onExit((exit) => (Exit.isFailure(exit) ? Scope.close(scope, exit) : Effect.void))
    )
  })

/** Starts the Raft node of a session over its Raft channel. */
export const startNode = (
  parts: SessionParts,
  cluster: ClusterConfig,
  options: GameOptions,
  joinVia?: ReadonlyArray<string>
): Effect.Effect<RaftNodeShape, RaftNodeStartError, Scope.Scope> =>
  Effect.gen(function*() {
    const storage = options.storage ?? (yield* InMemoryRaftStorage.make())
    return yield* makeRaftNode({
      cluster,
      transport: SeamRaftTransport.fromSeam(parts.channels.raft),
      storage,
      ...(options.config === undefined ? {} : { config: options.config }),
      ...(options.identity === undefined ? {} : { identity: options.identity }),
      ...(joinVia === undefined ? {} : { joinVia })
    })
  })

/** The public session over `parts` and `node`. */
export const sessionOf = (parts: SessionParts, node: RaftNodeShape): GameSessionShape => ({
  selfId: parts.seam.selfId,
  node,
  presence: parts.presence,
  appChannel: (name) => parts.channels.app.channel(name),
  close: Scope.close(parts.scope, Exit.void)
})
