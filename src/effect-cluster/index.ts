/**
 * `kuilt/effect-cluster`: kuilt under `@effect/cluster` (an optional peer dependency, needed only
 * by this entry point). `RaftRunnerStorage` is a `RunnerStorage` — runner registration, machine
 * ids, shard locks with leases — kept in a kuilt Raft group instead of a SQL database.
 */
export * as RaftRunnerStorage from "./RaftRunnerStorage.js"
export { RunnerStorageUnavailable } from "./RaftRunnerStorage.js"
export type { RaftRunnerStorageOptions } from "./RaftRunnerStorage.js"
export { RunnerTable } from "./RunnerTable.js"
export type { LockRecord, RunnerRecord } from "./RunnerTable.js"
export { RunnerCommand } from "./RunnerCommand.js"
