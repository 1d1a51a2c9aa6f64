/**
 * The game facade: bootstraps that turn one plain seam into a consensus session (`gameNode`,
 * `gameHost`, `gameJoin`, `gameSpectate`), the `GameSession` they return (also a service with Layers),
 * and typed action sequencers over its node (`TurnSequencer`, `SpeculativeSequencer`).
 */
export { APP_TAG, PRESENCE_TAG, RAFT_TAG } from "./channels.js"
export {
  ActionEncodeError,
  DuplicateHost,
  InvalidGameOptions,
  JoinTimeout,
  NotInRoster,
  RosterFull,
  SpectatorsClosed
} from "./errors.js"
export { GameSession } from "./GameSession.js"
export type { GameOptions, GameSessionShape } from "./session.js"
export { gameHost } from "./gameHost.js"
export type { GameHostOptions, ReturnAt } from "./gameHost.js"
export { gameJoin, gameSpectate } from "./gameJoin.js"
export type { GameJoinOptions } from "./gameJoin.js"
export { gameNode } from "./gameNode.js"
export { PresenceSlot } from "./Presence.js"
export type { Presence, PresenceOptions } from "./Presence.js"
export { SpeculativeSequencer } from "./SpeculativeSequencer.js"
export type { SpeculativeGame, SpeculativeView } from "./SpeculativeSequencer.js"
export { TurnEvent, TurnSequencer } from "./TurnSequencer.js"
export type { IndexedAction } from "./TurnSequencer.js"
