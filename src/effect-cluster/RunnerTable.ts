/**
 * The replicated state behind `RaftRunnerStorage`: registered runners with their machine ids and
 * heartbeats, shard locks with the time they were taken or renewed, and the table's clock. Plain
 * and deterministic: every replica applies the same committed commands in the same order and ends
 * in the same state (snapshots included), so any replica can answer a read once it has applied
 * through a read fence.
 *
 * The rules are those of @effect/cluster's SQL runner storage, with the table's clock in place of
 * the database's `NOW()`: a lock older than the expiration is free for the taking; a runner whose
 * heartbeat is older than the expiration is no longer listed. The clock only moves on `Tick`
 * commands (see `RunnerCommand.ts`), so it never runs ahead of the leaders' own clocks.
 */
import { Schema } from "effect"
import type { RunnerCommand } from "./RunnerCommand.js"

/** A registered runner. `runner` is @effect/cluster's encoded `Runner`. */
export interface RunnerRecord {
  readonly address: string
  readonly runner: string
  readonly healthy: boolean
  readonly machineId: number
  /** Table time of the last registration or refresh. */
  readonly lastHeartbeat: number
}

/** Who holds a shard lock, and the table time it was taken or last renewed. */
export interface LockRecord {
  readonly address: string
  readonly acquiredAt: number
}

const SnapshotSchema = Schema.parseJson(Schema.Struct({
  clock: Schema.Number,
  lastTickIndex: Schema.Number,
  nextMachineId: Schema.Number,
  runners: Schema.Array(Schema.Struct({
    address: Schema.String,
    runner: Schema.String,
    healthy: Schema.Boolean,
    machineId: Schema.Number,
    lastHeartbeat: Schema.Number
  })),
  locks: Schema.Array(Schema.Tuple(Schema.String, Schema.Struct({ address: Schema.String, acquiredAt: Schema.Number })))
}))

/**
 * The replicated state behind `RaftRunnerStorage`: runners, machine ids and shard locks, advanced
 * only by committed `RunnerCommand`s (so every replica holds the same table). Lock leases expire on
 * the table's own clock (the sum of leader ticks), never on a proposer's wall clock.
 */
export class RunnerTable {
  /** Milliseconds of table time: the sum of the accepted ticks. */
  clock = 0
  /** Log index of the latest accepted tick (0 before any). */
  lastTickIndex = 0
  private nextMachineId = 1
  private readonly runners = new Map<string, RunnerRecord>()
  private readonly locks = new Map<string, LockRecord>()

  /** Applies the command committed at `index`. Returns whether it was a tick that moved the clock. */
  apply(index: number, command: RunnerCommand): boolean {
    switch (command._tag) {
      case "Register": {
        const known = this.runners.get(command.address)
        this.runners.set(command.address, {
          address: command.address,
          runner: command.runner,
          healthy: command.healthy,
          machineId: known?.machineId ?? this.nextMachineId++,
          lastHeartbeat: this.clock
        })
        return false
      }
      case "Unregister": {
        this.runners.delete(command.address)
        for (const [address, record] of this.runners) {
          if (this.clock - record.lastHeartbeat > command.expirationMs) this.runners.delete(address)
        }
        return false
      }
      case "SetHealth": {
        const known = this.runners.get(command.address)
        if (known !== undefined) this.runners.set(command.address, { ...known, healthy: command.healthy })
        return false
      }
      case "Acquire": {
        for (const shardId of command.shardIds) {
          const lock = this.locks.get(shardId)
          if (lock === undefined || lock.address === command.address || this.clock - lock.acquiredAt > command.expirationMs) {
            this.locks.set(shardId, { address: command.address, acquiredAt: this.clock })
          }
        }
        return false
      }
      case "Refresh": {
        const known = this.runners.get(command.address)
        if (known !== undefined) this.runners.set(command.address, { ...known, lastHeartbeat: this.clock })
        for (const shardId of command.shardIds) {
          if (this.locks.get(shardId)?.address === command.address) {
            this.locks.set(shardId, { address: command.address, acquiredAt: this.clock })
          }
        }
        return false
      }
      case "Release": {
        if (this.locks.get(command.shardId)?.address === command.address) this.locks.delete(command.shardId)
        return false
      }
      case "ReleaseAll": {
        for (const [shardId, lock] of this.locks) if (lock.address === command.address) this.locks.delete(shardId)
        return false
      }
      case "Tick": {
        if (command.after !== this.lastTickIndex) return false
        this.clock += command.elapsedMs
        this.lastTickIndex = index
        return true
      }
    }
  }

  /** Runners whose heartbeat is younger than `expirationMs`, as `[encoded runner, healthy]`. */
  liveRunners(expirationMs: number): Array<readonly [string, boolean]> {
    const live: Array<readonly [string, boolean]> = []
    for (const record of this.runners.values()) {
      if (this.clock - record.lastHeartbeat < expirationMs) live.push([record.runner, record.healthy])
    }
    return live
  }

  /** The machine id of the runner at `address`, if registered. */
  machineId(address: string): number | undefined {
    return this.runners.get(address)?.machineId
  }

  /** Of `shardIds`, those `address` holds by a lock younger than `expirationMs` (what `acquire` answers). */
  heldBy(address: string, shardIds: ReadonlyArray<string>, expirationMs: number): Array<string> {
    return shardIds.filter((id) => {
      const lock = this.locks.get(id)
      return lock !== undefined && lock.address === address && this.clock - lock.acquiredAt <= expirationMs
    })
  }

  /** Of `shardIds`, those whose lock names `address` (what `refresh` answers, as the SQL storage does). */
  namedFor(address: string, shardIds: ReadonlyArray<string>): Array<string> {
    return shardIds.filter((id) => this.locks.get(id)?.address === address)
  }

  /** The lock on `shardId`, if any (for tests and diagnostics). */
  lock(shardId: string): LockRecord | undefined {
    return this.locks.get(shardId)
  }

  /** The whole table as bytes, for a Raft snapshot. */
  toSnapshot(): Uint8Array {
    return new TextEncoder().encode(Schema.encodeSync(SnapshotSchema)({
      clock: this.clock,
      lastTickIndex: this.lastTickIndex,
      nextMachineId: this.nextMachineId,
      runners: [...this.runners.values()],
      locks: [...this.locks]
    }))
  }

  /** The table a snapshot holds; `undefined` when the bytes are not one. */
  static fromSnapshot(bytes: Uint8Array): RunnerTable | undefined {
    const decoded = Schema.decodeUnknownEither(SnapshotSchema)(new TextDecoder().decode(bytes))
    if (decoded._tag === "Left") return undefined
    const table = new RunnerTable()
    table.clock = decoded.right.clock
    table.lastTickIndex = decoded.right.lastTickIndex
    table.nextMachineId = decoded.right.nextMachineId
    for (const record of decoded.right.runners) table.runners.set(record.address, record)
    for (const [shardId, lock] of decoded.right.locks) table.locks.set(shardId, lock)
    return table
  }
}
