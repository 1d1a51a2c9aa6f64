/**
 * An optional extra a `RaftStorage` may carry when its writes can complete synchronously (an
 * in-memory storage): the engine then finishes a turn without running an Effect for the write.
 * The contract is `write`'s — the batch is durable once `tryWrite` returns `undefined` — so the
 * engine still writes once per turn, before it sends anything. Storages without it are used
 * through `write`, unchanged.
 */
import type { Effect } from "effect"
import type { StorageError } from "./RaftErrors.js"
import type { RaftStorageShape, WriteBatch } from "./RaftStorage.js"

export const RAFT_STORAGE_FAST_PATH: unique symbol = Symbol.for("kuilt/RaftStorageFastPath") as never

export interface RaftStorageFastPath {
  /**
   * `write(batch)` done synchronously when it can be: `undefined` means written (as `write`
   * succeeding would); otherwise the Effect, with `write`'s meaning and errors, to run now.
   */
  readonly tryWrite: (batch: WriteBatch) => Effect.Effect<void, StorageError> | undefined
}

/** The fast path of `storage`, if it has one. */
export const storageFastPathOf = (storage: RaftStorageShape): RaftStorageFastPath | undefined =>
  (storage as Partial<Record<typeof RAFT_STORAGE_FAST_PATH, RaftStorageFastPath>>)[RAFT_STORAGE_FAST_PATH]
