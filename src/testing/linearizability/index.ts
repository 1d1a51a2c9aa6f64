/**
 * Linearizability checking for histories of concurrent operations (Wing–Gong / Lowe search with
 * memoisation, as in Porcupine and Knossos), plus a cheap log-index oracle for white-box Raft
 * histories, models and parsers for Porcupine's public test data. Pure TypeScript: no Node
 * built-ins, no clocks or randomness — verdicts are reproducible (Effect only for the typed
 * option error).
 *
 * To check your own state machine: record a history ({@link HistoryRecorder} or
 * {@link historyFromEvents}), describe the sequential behaviour as a {@link Model}, and call
 * {@link checkLinearizability}. The result is "ok", "violation" (with an explanation naming the
 * operations that could not be placed) or "unknown" (the step budget ran out — never read it as
 * "ok").
 */
export {
  /** Outcome of an operation whose response never arrived (it may or may not have taken effect). */
  UNKNOWN,
  /** A malformed history or recorder misuse: a harness bug, not a verdict about the system. */
  HistoryError,
  /** Records invocations/completions/timeouts on one logical counter (no clock). */
  HistoryRecorder,
  /** Builds operations from an ordered event log; the event position is the time. */
  historyFromEvents,
  /** Whether an operation's outcome is unknown. */
  isUnknown
} from "./History.js"
export type { ClientId, HistoryEvent, Operation, Unknown } from "./History.js"

export {
  /** A `partition` implementation grouping operations by a key of their input. */
  partitionBy
} from "./Model.js"
export type { Model, Partition, StepResult } from "./Model.js"

export {
  /** FNV-1a over a string, continuable: `hashString(a + b) === hashString(b, hashString(a))`. */
  hashString,
  /** A 32-bit hash of a number consistent with `===`. */
  hashNumber,
  /** Murmur3's finalizer, to combine hashes. */
  mix32
} from "./Hash.js"

export {
  /** Per-key KV model: get / put / delete / cas on string keys. */
  describeKv,
  kvModel
} from "./KvModel.js"
export type { KvInput, KvOutput, KvState } from "./KvModel.js"

export {
  /** A single numeric read/write register (Porcupine's and Knossos's examples). */
  registerModel
} from "./RegisterModel.js"
export type { RegisterInput, RegisterOutput } from "./RegisterModel.js"

export {
  /** The checker: "ok" | "violation" (explained) | "unknown" (budget exhausted). */
  checkLinearizability,
  /** An option that is not a non-negative integer or Infinity. */
  CheckOptionsError
} from "./Checker.js"
export type { CheckOk, CheckOptions, CheckResult, CheckUnknown, CheckViolation } from "./Checker.js"

export {
  /** Jepsen's etcd register: read / write / compare-and-set on one integer, initially absent. */
  describeEtcd,
  etcdRegisterModel
} from "./EtcdModel.js"
export type { EtcdInput, EtcdOutput, EtcdState } from "./EtcdModel.js"

export {
  /** Get / put / append KV with `""` initial values: per key, or one state for all keys. */
  appendKvMapModel,
  appendKvModel,
  AppendKvValue,
  describeAppendKv
} from "./AppendKvModel.js"
export type { AppendKvInput, AppendKvMap, AppendKvOutput } from "./AppendKvModel.js"

export {
  /** Parsers of Porcupine's test data formats (Jepsen etcd logs, kv histories). */
  jepsenEtcdEvents,
  parseJepsenEtcdLog
} from "./JepsenLog.js"
export { kvLogEvents, parseKvLog } from "./KvLog.js"

export {
  /** The checks Porcupine's tests run on its test data, with this kit's parsers and models. */
  referenceChecks,
  referenceOutcome
} from "./ReferenceCorpus.js"
export type { ReferenceCheck, ReferenceOutcome, ReferenceVerdict } from "./ReferenceCorpus.js"

export {
  /** Exact O(n log n) oracle for histories carrying Raft log indices. */
  checkLogIndexes
} from "./LogIndexOracle.js"
export type { IndexedOperation, LogIndexResult } from "./LogIndexOracle.js"

export {
  /** Seeded generator of linearizable KV histories (for testing checkers and harnesses). */
  simulateKvHistory
} from "./SimulatedKv.js"
export type { SimulatedKvHistory, SimulatedKvOptions } from "./SimulatedKv.js"
