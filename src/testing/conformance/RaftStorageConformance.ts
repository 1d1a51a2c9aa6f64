/**
 * The behaviour every `RaftStorage` must show, as one reusable suite: in-memory, SQLite and
 * IndexedDB storages run it, and so should yours. A durable storage passes `reopen`, which must
 * close the instance and open the same medium again, so "survives reopen" means "survives a
 * process restart".
 *
 * Beyond faithful round-trips at the plausibility edges, the suite asks for the few refusals the
 * contract relies on (a non-contiguous append, a term going backwards) and for batch atomicity.
 *
 * ```ts
 * import * as vitest from "@effect/vitest"
 * import { raftStorageConformance } from "kuilt/testing"
 *
 * raftStorageConformance(vitest, "MyStorage", {
 *   make: () => MyStorage.make({ dir: freshDir() }),
 *   reopen: (storage) => MyStorage.make({ dir: storage.dir })
 * })
 * ```
 */
import type { Effect, Scope } from "effect"
import type { RaftStorageShape } from "../../../services/raft/RaftStorage.js"
import { registerEdgeTests } from "./RaftStorageConformanceEdges.js"
import { registerLogTests } from "./RaftStorageConformanceLog.js"
import type { ConformanceTestApi } from "./TestApi.js"

/** How the suite opens the storage under test. `H` is your storage's own type (a handle). */
export interface RaftStorageHarness<H extends RaftStorageShape, E = never> {
  /** Opens a fresh, empty storage in the test's scope. */
  readonly make: () => Effect.Effect<H, E, Scope.Scope>
  /**
   * Closes the storage open on `handle`'s medium and opens the medium again (a node restart).
   * May be called several times with the same handle; each call supersedes the previous
   * instance. Omit for a storage with nothing to reopen: the reopen-only tests are then not
   * registered and the others check the live instance only.
   */
  readonly reopen?: (handle: H) => Effect.Effect<RaftStorageShape, E, Scope.Scope>
}

/** How many cases the suite registers with a `reopen` (two fewer without one). */
export const RAFT_STORAGE_CONFORMANCE_CASES = 43

/**
 * Registers the RaftStorage conformance suite (43 cases) under
 * `describe("RaftStorage conformance: <name>")`, using `api` (the `@effect/vitest` module) to
 * declare the tests. Each case opens its own storage with `harness.make` in a fresh scope; a
 * storage that breaks the contract fails the case with the assertion that caught it.
 */
export const raftStorageConformance = <H extends RaftStorageShape, E>(
  api: ConformanceTestApi,
  name: string,
  harness: RaftStorageHarness<H, E>
): void => {
  api.describe(`RaftStorage conformance: ${name}`, () => {
    registerEdgeTests(api, harness)
    registerLogTests(api, harness)
  })
}
