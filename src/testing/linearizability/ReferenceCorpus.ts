/**
 * The checks that Porcupine's test suite runs on its public test data, expressed with this kit's
 * parsers and models, so a copy of that corpus (histories plus a `verdicts.json` of expected
 * results) can be replayed here and compared verdict by verdict — in the tests and in
 * `npm run bench:checker`.
 *
 * - `jepsen/*.log`: Jepsen etcd logs, {@link etcdRegisterModel}.
 * - `kv/*.txt`: kv histories, {@link appendKvModel} (per key) and, where the verdict lists
 *   `partitioned: false`, {@link appendKvMapModel} (one state, no partitioning: the hard variant).
 *
 * Pure: callers read the files (no `node:fs` here).
 */
import { appendKvMapModel, appendKvModel } from "./AppendKvModel.js"
import type { CheckOptions, CheckResult } from "./Checker.js"
import { checkLinearizability } from "./Checker.js"
import { etcdRegisterModel } from "./EtcdModel.js"
import { parseJepsenEtcdLog } from "./JepsenLog.js"
import { parseKvLog } from "./KvLog.js"

/** One entry of `verdicts.json`. */
export interface ReferenceVerdict {
  readonly model: string
  /** `"unknown"` for a history with no expected verdict (e.g. an empty log). */
  readonly linearizable: boolean | "unknown"
  /** kv only: the model variants checked (`true` = per key, `false` = one state). */
  readonly partitioned?: ReadonlyArray<boolean>
}

/** A verdict in Porcupine's words. */
export type ReferenceOutcome = "ok" | "illegal" | "unknown"

/** One check of one history with one model variant. */
export interface ReferenceCheck {
  /** `<file>` or `<file> (partitioned)` / `<file> (unpartitioned)`. */
  readonly name: string
  readonly file: string
  readonly model: "etcd-register-cas" | "kv"
  /** kv only. */
  readonly partitioned?: boolean
  readonly operations: number
  readonly expected: ReferenceOutcome
  /** Runs the check (parsing is already done, so this is what a timing should cover). */
  readonly run: (options?: CheckOptions) => CheckResult<unknown, unknown>
}

/** "ok" / "illegal" / "unknown" of a check result. */
export const referenceOutcome = (result: CheckResult<unknown, unknown>): ReferenceOutcome =>
  result.result === "violation" ? "illegal" : result.result

const expectedOf = (verdict: ReferenceVerdict | undefined): ReferenceOutcome =>
  verdict === undefined || verdict.linearizable === "unknown" ? "unknown" : verdict.linearizable ? "ok" : "illegal"

/**
 * The checks of one corpus file, given its path relative to the corpus root (`jepsen/…` or
 * `kv/…`), its text and its verdict (if any). Other paths give no checks.
 *
 * @throws HistoryError if the file is malformed (see the parsers).
 */
export const referenceChecks = (
  file: string,
  text: string,
  verdict: ReferenceVerdict | undefined
): Array<ReferenceCheck> => {
  const expected = expectedOf(verdict)
  if (file.startsWith("jepsen/")) {
    const ops = parseJepsenEtcdLog(text)
    return [{
      name: file,
      file,
      model: "etcd-register-cas",
      operations: ops.length,
      expected,
      run: (options) => checkLinearizability(etcdRegisterModel, ops, options) as CheckResult<unknown, unknown>
    }]
  }
  if (file.startsWith("kv/")) {
    const ops = parseKvLog(text)
    return (verdict?.partitioned ?? [true]).map((partitioned) => ({
      name: `${file} (${partitioned ? "partitioned" : "unpartitioned"})`,
      file,
      model: "kv",
      partitioned,
      operations: ops.length,
      expected,
      run: (options) =>
        (partitioned
          ? checkLinearizability(appendKvModel, ops, options)
          : checkLinearizability(appendKvMapModel(), ops, options)) as CheckResult<unknown, unknown>
    }))
  }
  return []
}
