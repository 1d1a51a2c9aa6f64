/**
 * The Effect-level simulated cluster of `kuilt/testing`: real Raft nodes over an `InMemoryLoom`
 * on virtual time (a fast `TestClock` stand-in), with crash/restart under a storage fault model,
 * partitions (symmetric, one-way, isolation, bridges), pauses, a lossy network, bounded waits that
 * dump the cluster on failure, safety invariants and churn detection. Start at `SimulatedCluster.make` (usage example
 * there) or `runSimulation`.
 */
export { ChurnDetected, InvariantViolation, SimulationTimeout } from "./errors.js"
export type { ElectionCounts } from "./History.js"
export type { NetworkSettings, Nodes } from "./Network.js"
export { runSimulation } from "./runSimulation.js"
// Both the constructors (`SimulatedCluster.make`) and the interface (`SimulatedCluster<S>`).
export { SimulatedCluster } from "./SimulatedCluster.js"
export type { CrashOptions, SimulatedClusterOptions, WithinOptions } from "./SimulatedCluster.js"
export type { NodeStatus } from "./Slot.js"
export type { StateMachine } from "./StateMachine.js"
