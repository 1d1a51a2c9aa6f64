/**
 * Typed failures of the game facade. Each is a `Data.TaggedError`, so a
 * caller can `Effect.catchTag` the one it expects (a joiner that lost the race for a seat, say)
 * and let the others through.
 */
import { Data } from "effect"

/** `gameNode` was called by a peer whose id is not in the voter set it was given. */
export class NotInRoster extends Data.TaggedError("NotInRoster")<{
  readonly selfId: string
  readonly voters: ReadonlyArray<string>
}> {
  override get message() {
    return `peer ${this.selfId} is not in the roster [${this.voters.join(", ")}]`
  }
}

/** Options that cannot describe a game (a peer count below 1, a negative timeout...). */
export class InvalidGameOptions extends Data.TaggedError("InvalidGameOptions")<{
  readonly reason: string
}> {
  override get message() {
    return `invalid game options: ${this.reason}`
  }
}

/**
 * Several peers declared themselves host; the lowest id wins and every other declarer fails with
 * this error, naming the winner (so it may retry as a joiner).
 */
export class DuplicateHost extends Data.TaggedError("DuplicateHost")<{
  readonly selfId: string
  readonly winner: string
}> {
  override get message() {
    return `peer ${this.selfId} declared itself host, but ${this.winner} (a lower id) did too and wins`
  }
}

/** The host closed admission with a full roster that does not include this joiner. */
export class RosterFull extends Data.TaggedError("RosterFull")<{
  readonly selfId: string
  readonly voters: ReadonlyArray<string>
}> {
  override get message() {
    return `the roster is full without ${this.selfId}: [${this.voters.join(", ")}]`
  }
}

/** A joiner or spectator was not admitted within its admission timeout. */
export class JoinTimeout extends Data.TaggedError("JoinTimeout")<{
  readonly selfId: string
  readonly as: "player" | "spectator"
  readonly waitedMillis: number
}> {
  override get message() {
    return `${this.selfId} was not admitted as a ${this.as} within ${this.waitedMillis} ms`
  }
}

/** A spectator found a host that does not accept spectators. */
export class SpectatorsClosed extends Data.TaggedError("SpectatorsClosed")<{
  readonly selfId: string
  readonly host: string
}> {
  override get message() {
    return `host ${this.host} does not accept spectators (asked by ${this.selfId})`
  }
}

/** An action could not be encoded with the sequencer's `Schema` (nothing was proposed). */
export class ActionEncodeError extends Data.TaggedError("ActionEncodeError")<{
  readonly reason: string
}> {
  override get message() {
    return `action could not be encoded: ${this.reason}`
  }
}
