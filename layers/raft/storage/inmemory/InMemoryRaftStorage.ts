/**
 * `RaftStorage` kept in memory, for tests, simulations and nodes that need no durability.
 *
 * The content lives in a `Disk`, separate from the storage instance that reads and writes it, so a
 * test can "restart" a node by opening a new instance over the same disk (`make({ disk })`), and
 * a simulator can model what a crash keeps. Meant to be imported as a namespace
 * (`import * as InMemoryRaftStorage from ".../InMemoryRaftStorage.js"`):
 * `InMemoryRaftStorage.make()`, `InMemoryRaftStorage.layer()`, `InMemoryRaftStorage.Disk`.
 *
 * Every batch is checked by `validateWriteBatch` first (an impossible batch fails with
 * `StorageError` and changes nothing), then copied, then applied as one unit. Bytes are copied on
 * the way in and on the way out, as with a real disk: neither the writer nor a reader can change
 * what is stored by mutating an array afterwards.
 */
import { Effect, Either, Layer } from "effect"
import type { LogEntry } from "../../../../services/raft/LogEntry.js"
import { StorageError } from "../../../../services/raft/RaftErrors.js"
import type {
  DurableState,
  HardState,
  LeaderForTerm,
  StoredSnapshot,
  WriteBatch
} from "../../../../services/raft/RaftStorage.js"
import { RaftStorage, type RaftStorageShape } from "../../../../services/raft/RaftStorage.js"
import { RAFT_STORAGE_FAST_PATH } from "../../../../services/raft/StorageFastPath.js"
import type { RaftStorageFastPath } from "../../../../services/raft/StorageFastPath.js"
import { Columns, columnsOf, copyAppend } from "./StoredLog.js"
import type { Run } from "./StoredLog.js"
import { appendStart, type StoredLogView, validateWriteBatch } from "../../../../services/raft/validateWriteBatch.js"

/**
 * When a successful write becomes durable. `immediate` (default): at once, as the contract
 * promises. `onSync`: it goes to a pending layer that reads see (like an OS page cache) but that
 * only `Disk.sync()` makes durable — a model of a storage that acknowledges before it syncs, so a
 * simulator can check what such a lie costs (`Disk.crash` decides how much pending data survives).
 */
export type Durability = "immediate" | "onSync"

/** Options of the simulated disk: whether writes are durable at once or only after a sync. */
export interface DiskOptions {
  readonly durability?: Durability
}

/** How many pending batches a crash keeps: none, all, or the first `n` (in write order). */
export type CrashKeep = "none" | "all" | number

/** Options of an injected write fault. */
export interface WriteFaultOptions {
  /** How many of the next writes fail (default 1; `Infinity` = every write until `clearFaults`). */
  readonly count?: number
  /**
   * `false` (default): the failed write changes nothing. `true`: it fails *after* its content
   * was stored (an fsync that errored after the data reached the platter, a timeout): a node
   * restarted on this disk finds data it was told was not written.
   */
  readonly applied?: boolean
  readonly reason?: string
}

/** The storage instance plus the disk it writes to (the handle tests use for fault injection). */
export interface InMemoryRaftStorage extends RaftStorageShape {
  readonly disk: Disk
}

/** `make` options: open over an existing disk (a restart), or create a fresh one. */
export type MakeOptions = { readonly disk: Disk } | DiskOptions

/** A `WriteBatch` as kept by the disk (copied, the appended entries as a `Run`). */
interface StoredBatch extends Omit<WriteBatch, "append"> {
  readonly append?: Run
}

/** The mutable content of a disk. `log` is contiguous; it may begin at or below the snapshot. */
interface Image {
  hardState: HardState
  leaderForTerm: LeaderForTerm | null
  snapshot: StoredSnapshot | null
  log: Columns
}

const emptyImage = (): Image => ({
  hardState: { term: 0, votedFor: null },
  leaderForTerm: null,
  snapshot: null,
  log: new Columns()
})

/**
 * The durable medium behind in-memory storage instances, with the fault model's hooks.
 *
 * Hooks (plain synchronous methods, meant for tests and the simulator; wrap them in
 * `Effect.sync` inside effectful code):
 * - `failNextWrites(options)`: the next `count` writes fail with `StorageError` (fail-stop
 *   testing), either changing nothing or after having been stored (`applied: true`). An invalid
 *   batch is rejected before the fault is consulted, so it does not use one up.
 * - `failNextReads(count)`: the next `count` calls of `load` or `entries` fail with `StorageError`.
 * - `sync()` and `crash({ keep })`: see `Durability`. `crash` keeps the durable content plus a
 *   prefix of the pending batches (each batch is atomic: a crash never keeps half of one).
 * - `plant(state)`: replaces the content with an arbitrary, unchecked `DurableState`, so a test
 *   can check that a node refuses to start on corrupt state.
 *
 * One instance at a time: opening a storage over a disk (and `crash`) supersedes every earlier
 * instance, whose calls then fail with `StorageError` — a crashed node must not keep writing.
 */
export class Disk {
  /** A fresh, empty disk. */
  static make(options: DiskOptions = {}): Disk {
    return new Disk(options.durability ?? "immediate")
  }

  private durable: Image = emptyImage()
  /** What reads see: the same object as `durable` in `immediate` mode. */
  private current: Image = this.durable
  /** What write validation sees: always `current` (one view for every write). */
  private readonly view: StoredLogView = liveView(() => this.current)
  private pending: Array<StoredBatch> = []
  private epoch = 0
  private writeFault: { remaining: number; applied: boolean; reason: string } | undefined
  private readFaults = 0
  private writes = 0

  private constructor(readonly durability: Durability) {
    if (durability === "onSync") this.current = cloneImage(this.durable)
  }

  /** Number of `write` calls made on this disk (accepted, rejected or failed). */
  get writeCount(): number {
    return this.writes
  }

  /** Accepted writes not yet made durable (always 0 in `immediate` mode). */
  get pendingBatches(): number {
    return this.pending.length
  }

  /** What a crash right now (keeping nothing pending) would leave, as `load` would return it. */
  durableState(): DurableState {
    return loadView(this.durable)
  }

  /** What reads see now, pending writes included. */
  currentState(): DurableState {
    return loadView(this.current)
  }

  failNextWrites(options: WriteFaultOptions = {}): void {
    const count = options.count ?? 1
    if (!(count >= 0)) throw new RangeError(`failNextWrites: count must be ≥ 0, got ${count}`)
    this.writeFault = {
      remaining: count,
      applied: options.applied ?? false,
      reason: options.reason ?? "injected write fault"
    }
  }

  failNextReads(count = 1): void {
    if (!(count >= 0)) throw new RangeError(`failNextReads: count must be ≥ 0, got ${count}`)
    this.readFaults = count
  }

  /** Removes every injected fault. */
  clearFaults(): void {
    this.writeFault = undefined
    this.readFaults = 0
  }

  /** Makes every pending batch durable (a no-op in `immediate` mode). */
  sync(): void {
    for (const batch of this.pending) applyBatch(this.durable, batch)
    this.pending = []
  }

  /**
   * The machine dies: keeps the durable content plus the first `keep` pending batches, drops the
   * rest, and supersedes every open storage instance. Throws `RangeError` on a negative or
   * fractional count (a test bug).
   */
  crash(options: { readonly keep?: CrashKeep } = {}): void {
    const keep = options.keep ?? "none"
    if (typeof keep === "number" && !(Number.isInteger(keep) && keep >= 0)) {
      throw new RangeError(`crash: keep must be "none", "all" or an integer ≥ 0, got ${keep}`)
    }
    const n = keep === "all" ? this.pending.length : keep === "none" ? 0 : Math.min(keep, this.pending.length)
    for (const batch of this.pending.slice(0, n)) applyBatch(this.durable, batch)
    this.pending = []
    this.current = this.durability === "onSync" ? cloneImage(this.durable) : this.durable
    this.epoch++
  }

  /** Replaces the whole content (durable and visible) with `state`, unchecked; drops pending writes. */
  plant(state: DurableState): void {
    this.durable = {
      hardState: { ...state.hardState },
      leaderForTerm: state.leaderForTerm === null ? null : { ...state.leaderForTerm },
      snapshot: state.snapshot === null ? null : copySnapshot(state.snapshot),
      log: columnsOf(state.entries)
    }
    this.current = this.durability === "onSync" ? cloneImage(this.durable) : this.durable
    this.pending = []
  }

  /** @internal Opens a storage instance over this disk, superseding earlier ones. */
  open(): RaftStorageShape {
    const epoch = ++this.epoch
    const live = (): StorageError | undefined =>
      this.epoch === epoch
        ? undefined
        : new StorageError({ reason: "this storage instance was superseded by a reopen or a crash of its disk" })
    const readFault = (): StorageError | undefined => {
      const dead = live()
      if (dead !== undefined) return dead
      if (this.readFaults <= 0) return undefined
      this.readFaults--
      return new StorageError({ reason: "injected read fault" })
    }
    // Writes complete synchronously; the engine's fast path skips running an Effect for them.
    const tryWrite = (batch: WriteBatch): Effect.Effect<void, StorageError> | undefined => {
      this.writes++
      const dead = live()
      if (dead !== undefined) return Effect.fail(dead)
      return this.write(batch)
    }
    const storage: RaftStorageShape & { readonly [RAFT_STORAGE_FAST_PATH]: RaftStorageFastPath } = {
      [RAFT_STORAGE_FAST_PATH]: { tryWrite },
      load: Effect.suspend(() => {
        const fault = readFault()
        return fault === undefined ? Effect.succeed(loadView(this.current)) : Effect.fail(fault)
      }),
      entries: (from, toExclusive) =>
        Effect.suspend(() => {
          const fault = readFault()
          return fault === undefined ? Effect.succeed(readRange(this.current.log, from, toExclusive)) : Effect.fail(fault)
        }),
      write: (batch) => Effect.suspend(() => tryWrite(batch) ?? Effect.void)
    }
    return storage
  }

  /** Validates and applies `batch`: `undefined` when written, else the failing Effect. */
  private write(batch: WriteBatch): Effect.Effect<void, StorageError> | undefined {
    const checked = validateWriteBatch(this.view, batch)
    if (Either.isLeft(checked)) return Effect.fail(checked.left)
    const fault = this.writeFault
    if (fault !== undefined && fault.remaining > 0) {
      fault.remaining--
      if (fault.applied) this.accept(batch)
      return Effect.fail(new StorageError({ reason: fault.reason }))
    }
    this.accept(batch)
    return undefined
  }

  private accept(batch: WriteBatch): void {
    // In `immediate` mode `current` is `durable`: copy straight into it. Otherwise the copied batch
    // also waits for `sync`/`crash`.
    if (this.durability === "immediate") return applyCopy(this.current, batch)
    const copy = copyBatch(batch)
    applyBatch(this.current, copy)
    this.pending.push(copy)
  }
}

/**
 * A storage instance: over `options.disk` when given (a restart of the node that owned it, which
 * supersedes that node's instance), else over a fresh disk (`options.durability`). Never fails.
 */
export const make = (options: MakeOptions = {}): Effect.Effect<InMemoryRaftStorage> =>
  Effect.sync(() => {
    const disk = "disk" in options ? options.disk : Disk.make(options)
    return { ...disk.open(), disk }
  })

/** `RaftStorage` backed by memory (over `options.disk` when given; see `make`). */
export const layer = (options: MakeOptions = {}): Layer.Layer<RaftStorage> => Layer.effect(RaftStorage, make(options))

// ---- the image: copy, view, apply ----

const copySnapshot = (s: StoredSnapshot): StoredSnapshot => ({ meta: { ...s.meta }, state: s.state.slice() })

const copyBatch = (batch: WriteBatch): StoredBatch => {
  const { append, ...rest } = batch
  return {
    ...rest,
    ...(batch.snapshot === undefined ? {} : { snapshot: copySnapshot(batch.snapshot) }),
    ...(append === undefined ? {} : { append: copyAppend(append) }),
    ...(batch.hardState === undefined ? {} : { hardState: { ...batch.hardState } }),
    ...(batch.leaderForTerm === undefined ? {} : { leaderForTerm: { ...batch.leaderForTerm } })
  }
}

const cloneImage = (image: Image): Image => ({ ...image, log: image.log.clone() })

/** The validator's view of whatever image `image()` returns at the time of each read. */
const liveView = (image: () => Image): StoredLogView => ({
  get hardState() {
    return image().hardState
  },
  get leaderForTerm() {
    return image().leaderForTerm
  },
  get snapshot() {
    return image().snapshot?.meta ?? null
  },
  get firstIndex() {
    return image().log.firstIndex
  },
  get lastIndex() {
    return image().log.lastIndex
  },
  termAt: (index) => image().log.termAt(index)
})

/** The `load` view: copies, and only the entries above the snapshot. */
const loadView = (image: Image): DurableState => {
  const above = image.snapshot === null ? 0 : image.snapshot.meta.lastIncludedIndex + 1
  return {
    hardState: { ...image.hardState },
    leaderForTerm: image.leaderForTerm === null ? null : { ...image.leaderForTerm },
    snapshot: image.snapshot === null ? null : copySnapshot(image.snapshot),
    entries: readRange(image.log, above, Infinity)
  }
}

/** Copies of the entries with `from ≤ index < toExclusive` (any numbers; NaN selects nothing). */
const readRange = (log: Columns, from: number, toExclusive: number): ReadonlyArray<LogEntry> => {
  if (log.size === 0 || !(from < toExclusive)) return []
  const first = log.firstIndex!
  // Indices are integers: `index ≥ from` ⟺ `index ≥ ceil(from)`, and likewise for the bound.
  const lo = Math.max(0, Math.ceil(from) - first)
  const hi = Math.min(log.size, Math.ceil(toExclusive) - first)
  const out: Array<LogEntry> = []
  for (let k = lo; k < hi; k++) out.push(log.read(k))
  return out
}

/** Applies an already validated batch in the contract's order, copying what it keeps. */
const applyCopy = (image: Image, batch: WriteBatch): void => {
  if (batch.snapshot !== undefined) image.snapshot = copySnapshot(batch.snapshot)
  const log = image.log
  if (batch.truncateFrom !== undefined) log.truncateFrom(batch.truncateFrom)
  if (batch.append !== undefined && batch.append.length > 0) {
    const snapIndex = image.snapshot?.meta.lastIncludedIndex ?? 0
    // Entries all below a newer snapshot are dropped so the log stays one contiguous run.
    if (appendStart(log.lastIndex, snapIndex).dropsStale) log.clear()
    log.appendEntries(batch.append)
  }
  if (batch.hardState !== undefined) image.hardState = { ...batch.hardState }
  if (batch.leaderForTerm !== undefined) image.leaderForTerm = { ...batch.leaderForTerm }
  if (batch.discardThrough !== undefined) log.discardThrough(batch.discardThrough)
}

/** Applies an already validated (and copied) batch in the contract's order. */
const applyBatch = (image: Image, batch: StoredBatch): void => {
  if (batch.snapshot !== undefined) image.snapshot = batch.snapshot
  const log = image.log
  if (batch.truncateFrom !== undefined) log.truncateFrom(batch.truncateFrom)
  if (batch.append !== undefined && batch.append.count > 0) {
    const snapIndex = image.snapshot?.meta.lastIncludedIndex ?? 0
    // Entries all below a newer snapshot are dropped so the log stays one contiguous run.
    if (appendStart(log.lastIndex, snapIndex).dropsStale) log.clear()
    log.append(batch.append)
  }
  if (batch.hardState !== undefined) image.hardState = batch.hardState
  if (batch.leaderForTerm !== undefined) image.leaderForTerm = batch.leaderForTerm
  if (batch.discardThrough !== undefined) log.discardThrough(batch.discardThrough)
}
