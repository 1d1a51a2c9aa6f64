/**
 * `kuilt/testing`: the test kit for users testing their own state machines and codecs.
 *
 * - `runSeed` / the simulator (`./testing/sim`): seeded fault schedules over pure Raft cores with
 *   invariants checked at every step and a linearizability check of the client history.
 * - `checkLinearizability` and models (`./testing/linearizability`): a Porcupine-style checker.
 * - `CoreCluster`: a small deterministic harness of pure cores for rule-level tests.
 * - The codec property and fuzz harness.
 * - The conformance suites for your own Seam fabrics and RaftStorages (`seamConformance`,
 *   `raftStorageConformance`), declared through the `@effect/vitest` module you pass them.
 */
export * from "./codec/testing.js"
export * from "./testing/conformance/index.js"
export * from "./testing/CoreCluster.js"
export * from "./testing/linearizability/index.js"
export { InvariantChecker } from "./testing/sim/Invariants.js"
export type { Violation } from "./testing/sim/Invariants.js"
export { decodeKvCommand, encodeKvCommand, KvStateMachine } from "./testing/sim/KvStateMachine.js"
export type { KvCommand } from "./testing/sim/KvStateMachine.js"
export { runSeed, SIM_RAFT_CONFIG } from "./testing/sim/runSeed.js"
export type { SimOptions, SimResult } from "./testing/sim/runSeed.js"
export { SimCluster } from "./testing/sim/SimCluster.js"
export type { SimLimits, SimNode, SimObserver } from "./testing/sim/SimCluster.js"
// The Effect-level simulated cluster: real RaftNode engines over InMemoryLoom on virtual time.
export * from "./testing/effect/index.js"
