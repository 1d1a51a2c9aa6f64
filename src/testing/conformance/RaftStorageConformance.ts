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
import type { RaftStorageShape } from "../../../services/raft/RaftStorage.js"
import { registerEdgeTests } from "./RaftStorageConformanceEdges.js"
import { registerLogTests } from "./RaftStorageConformanceLog.js"
import type { RaftStorageHarness } from "./RaftStorageHarness.js"
import type { ConformanceTestApi } from "./TestApi.js"

export type { RaftStorageHarness } from "./RaftStorageHarness.js"

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
