/**
 * The behaviour every `RaftStorage` must show, as one reusable suite: in-memory now, SQLite and
 * IndexedDB later (those pass `reopen`, which must close the instance and open the same medium
 * again, so "survives reopen" means "survives a process restart").
 *
 * Beyond faithful round-trips at the plausibility edges, the suite asks for the few refusals the
 * contract relies on (a non-contiguous append, a term going backwards) and for batch atomicity.
 */
import { describe } from "@effect/vitest"
import type { Effect, Scope } from "effect"
import type { RaftStorageShape } from "../../services/raft/RaftStorage.js"
import { registerEdgeTests } from "./RaftStorageConformanceEdges.js"
import { registerLogTests } from "./RaftStorageConformanceLog.js"

export interface RaftStorageHarness<H extends RaftStorageShape, E = never> {
  /** Opens a fresh, empty storage. */
  readonly make: () => Effect.Effect<H, E, Scope.Scope>
  /**
   * Closes the storage open on `handle`'s medium and opens the medium again (a node restart).
   * May be called several times with the same handle; each call supersedes the previous
   * instance. Omit for a storage with nothing to reopen: the reopen-only tests are then skipped
   * and the others check the live instance only.
   */
  readonly reopen?: (handle: H) => Effect.Effect<RaftStorageShape, E, Scope.Scope>
}

/** Registers the suite (43 tests) under `describe("RaftStorage conformance: <name>")`. */
export const raftStorageConformance = <H extends RaftStorageShape, E>(name: string, harness: RaftStorageHarness<H, E>) =>
  describe(`RaftStorage conformance: ${name}`, () => {
    registerEdgeTests(harness)
    registerLogTests(harness)
  })
