/**
 * The harness type of the RaftStorage conformance suite, in its own module so the suite's parts
 * (edges, log, fixtures) import it without importing the suite that imports them.
 */
import type { Effect, Scope } from "effect"
import type { RaftStorageShape } from "../../../services/raft/RaftStorage.js"

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
