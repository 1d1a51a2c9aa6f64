/**
 * The commands of the runner table's replicated log (one JSON document per Raft entry). They carry
 * no time: lease time is the table's own clock, advanced only by `Tick`s the leader stamps
 * (`LeaderClock.ts`), so no proposer's clock ever decides whether a lock expired.
 *
 * `expirationMs` rides in the commands that judge expiry, so every replica applies the same rule
 * even if runners were configured differently.
 */
import { Schema } from "effect"

const Address = Schema.String.pipe(Schema.maxLength(1024))
const ShardIdString = Schema.String.pipe(Schema.maxLength(1024))
const Millis = Schema.Number.pipe(Schema.int(), Schema.nonNegative())

/** Registers (or re-registers) a runner; its machine id is kept across re-registrations. */
export const Register = Schema.TaggedStruct("Register", {
  address: Address,
  runner: Schema.String,
  healthy: Schema.Boolean,
  expirationMs: Millis
})

/** Removes a runner, and every runner whose heartbeat expired. */
export const Unregister = Schema.TaggedStruct("Unregister", { address: Address, expirationMs: Millis })

export const SetHealth = Schema.TaggedStruct("SetHealth", { address: Address, healthy: Schema.Boolean })

/** Takes each shard lock that is free, expired, or already this runner's. */
export const Acquire = Schema.TaggedStruct("Acquire", {
  address: Address,
  shardIds: Schema.Array(ShardIdString),
  expirationMs: Millis
})

/** Renews the runner's heartbeat and the listed locks it still holds. */
export const Refresh = Schema.TaggedStruct("Refresh", { address: Address, shardIds: Schema.Array(ShardIdString) })

export const Release = Schema.TaggedStruct("Release", { address: Address, shardId: ShardIdString })

export const ReleaseAll = Schema.TaggedStruct("ReleaseAll", { address: Address })

/**
 * Advances the table's clock by `elapsedMs`, measured by the leader on its own monotonic clock
 * since it applied the tick at index `after`. A tick whose `after` is not the latest applied tick
 * (a deposed leader's, committed late) moves nothing, so two leaders never count the same time.
 */
export const Tick = Schema.TaggedStruct("Tick", { elapsedMs: Millis, after: Millis })

/** A command of the runner table's log (the Raft entries `RaftRunnerStorage` proposes): one of the tagged structs above. */
export const RunnerCommand = Schema.Union(Register, Unregister, SetHealth, Acquire, Refresh, Release, ReleaseAll, Tick)
export type RunnerCommand = typeof RunnerCommand.Type

const Json = Schema.parseJson(RunnerCommand)
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** The bytes proposed for `command`. */
export const encodeCommand = (command: RunnerCommand): Uint8Array => encoder.encode(Schema.encodeSync(Json)(command))

/** The command in a committed entry, or `undefined` for bytes that are not one (skipped by every replica alike). */
export const decodeCommand = (bytes: Uint8Array): RunnerCommand | undefined => {
  const decoded = Schema.decodeUnknownEither(Json)(decoder.decode(bytes))
  return decoded._tag === "Right" ? decoded.right : undefined
}
