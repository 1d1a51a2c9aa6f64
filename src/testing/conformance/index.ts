/**
 * The conformance suites for your own implementations of kuilt's contracts, exported from
 * `kuilt/testing`: `seamConformance` for a Seam fabric, `raftStorageConformance` for a
 * `RaftStorage`. Both declare their tests through the runner you pass (the `@effect/vitest` module).
 */
export { raftStorageConformance, RAFT_STORAGE_CONFORMANCE_CASES } from "./RaftStorageConformance.js"
export type { RaftStorageHarness } from "./RaftStorageConformance.js"
export * as StorageFixtures from "./RaftStorageFixtures.js"
export { seamConformance } from "./SeamConformance.js"
export type { Fabric, FabricFactory, FabricOptions, Waits } from "./SeamFabric.js"
export type { ConformanceMatchers, ConformanceTestApi, ScopedTest } from "./TestApi.js"
