/**
 * Entry, config and snapshot builders for RaftStorage tests: the conformance suite uses them, and
 * so can a storage author's own tests (`StorageFixtures` in `kuilt/testing`).
 */
import type { Scope } from "effect"
import { Effect, Exit } from "effect"
import { ClientId } from "../../../services/raft/ClientId.js"
import { ClusterConfig, ConfigPayload } from "../../../services/raft/ClusterConfig.js"
import { NodeId } from "../../../services/raft/NodeId.js"
import type { RaftStorageShape } from "../../../services/raft/RaftStorage.js"
import type { RaftStorageHarness } from "./RaftStorageHarness.js"
import type { ConformanceTestApi } from "./TestApi.js"

/** The largest term or index a storage must round-trip. */
export const MAX = Number.MAX_SAFE_INTEGER

/** A `NodeId` from a string. */
export const nid = (s: string) => NodeId.make(s)
/** A `ClientId` from a string. */
export const cid = (s: string) => ClientId.make(s)

/** A `Uint8Array` of these bytes. */
export const bytes = (...xs: ReadonlyArray<number>) => new Uint8Array(xs)

/** A command entry at `index`/`term` (its dedup key is `clientId` with serial `index`). */
export const cmd = (index: number, term: number, command: Uint8Array = bytes(index & 0xff), clientId = "client") => ({
  _tag: "Command" as const,
  index,
  term,
  command,
  dedupKey: { clientId: cid(clientId), requestId: index }
})

/** A no-op entry at `index`/`term`. */
export const noop = (index: number, term: number) => ({ _tag: "NoOp" as const, index, term })

/** A simple (non-joint) configuration payload. */
export const configOf = (voters: ReadonlyArray<string>, learners: ReadonlyArray<string> = []) =>
  ConfigPayload.make({ new: ClusterConfig.of(voters, learners) })

/** A joint configuration payload (C_old,new, §6) with a learner. */
export const jointConfig = () =>
  ConfigPayload.make({ old: ClusterConfig.of(["a", "b", "c"]), new: ClusterConfig.of(["b", "c", "d"], ["e"]) })

/** A config entry at `index`/`term`. */
export const conf = (index: number, term: number, config: ConfigPayload = configOf(["a", "b", "c"])) => ({
  _tag: "Config" as const,
  index,
  term,
  config
})

/** NoOps `from..to` inclusive, all in `term`. */
export const noops = (from: number, to: number, term: number) =>
  Array.from({ length: to - from + 1 }, (_, k) => noop(from + k, term))

/** A snapshot through `index`/`term` with these state bytes and configuration. */
export const snapshotAt = (index: number, term: number, state: Uint8Array = bytes(1, 2, 3), config = configOf(["a"])) => ({
  meta: { lastIncludedIndex: index, lastIncludedTerm: term, config },
  state
})

/** The indices of these entries, in order. */
export const indicesOf = (entries: ReadonlyArray<{ readonly index: number }>) => entries.map((e) => e.index)

/** Byte equality without walking a 1 MiB array through the matcher's deep equality. */
export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** An assertion, with `expect`, that an effect failed with a `StorageError`. */
export const storageErrorCheck = (expect: ConformanceTestApi["expect"]) => <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(effect)
    expect(Exit.isFailure(exit), "the write should have been refused").toBe(true)
    if (Exit.isFailure(exit)) {
      const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
      expect((failure as { readonly _tag?: unknown } | undefined)?._tag).toBe("StorageError")
    }
  })

/**
 * Runs `check` on `storage`, then — when the harness can reopen — on a reopened instance, and
 * returns the instance to continue with.
 */
export const checkNowAndAfterReopen = <H extends RaftStorageShape, E>(
  harness: RaftStorageHarness<H, E>,
  handle: H,
  check: (storage: RaftStorageShape) => Effect.Effect<void, unknown>
): Effect.Effect<RaftStorageShape, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    yield* check(handle)
    if (harness.reopen === undefined) return handle
    const reopened = yield* harness.reopen(handle)
    yield* check(reopened)
    return reopened
  })
