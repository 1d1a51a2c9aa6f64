/**
 * Reads the kv histories of Porcupine's test data (one Clojure-style map per line) into operations
 * for {@link appendKvModel}. The line order is the time; lines that match no pattern are ignored.
 *
 * ```
 * {:process 3, :type :invoke, :f :get, :key "k", :value nil}
 * {:process 3, :type :ok, :f :get, :key "k", :value "read"}
 * {:process 4, :type :invoke|:ok, :f :put|:append, :key "k", :value "v"}
 * ```
 *
 * Keys and values are taken verbatim between the quotes (no unescaping, as in Porcupine). An
 * operation still open at the end has an unknown outcome. (Porcupine closes it with an empty
 * output instead; no file of its test data has one.)
 */
import type { AppendKvInput, AppendKvOutput } from "./AppendKvModel.js"
import type { HistoryEvent, Operation } from "./History.js"
import { historyFromEvents } from "./History.js"

const INVOKE_GET = /{:process (\d+), :type :invoke, :f :get, :key "(.*)", :value nil}/
const INVOKE_WRITE = /{:process (\d+), :type :invoke, :f :(put|append), :key "(.*)", :value "(.*)"}/
const OK_GET = /{:process (\d+), :type :ok, :f :get, :key ".*", :value "(.*)"}/
const OK_WRITE = /{:process (\d+), :type :ok, :f :(?:put|append), :key ".*", :value ".*"}/

/** The events of a kv log, in order (for {@link historyFromEvents}). */
export const kvLogEvents = (text: string): Array<HistoryEvent<AppendKvInput, AppendKvOutput>> => {
  const events: Array<HistoryEvent<AppendKvInput, AppendKvOutput>> = []
  for (const line of text.split(/\r?\n/)) {
    let m: RegExpExecArray | null
    if ((m = INVOKE_GET.exec(line))) {
      events.push({ type: "invoke", clientId: Number(m[1]), input: { type: "get", key: m[2]! } })
    } else if ((m = INVOKE_WRITE.exec(line))) {
      const type = m[2] === "put" ? "put" : "append"
      events.push({ type: "invoke", clientId: Number(m[1]), input: { type, key: m[3]!, value: m[4]! } })
    } else if ((m = OK_GET.exec(line))) {
      events.push({ type: "complete", clientId: Number(m[1]), output: { type: "value", value: m[2]! } })
    } else if ((m = OK_WRITE.exec(line))) {
      events.push({ type: "complete", clientId: Number(m[1]), output: { type: "done" } })
    }
  }
  return events
}

/**
 * The operations of a kv log (see the module comment for the format).
 *
 * @throws HistoryError if a process calls while its previous operation is open, or completes
 * with nothing open: the log is malformed.
 */
export const parseKvLog = (text: string): Array<Operation<AppendKvInput, AppendKvOutput>> =>
  historyFromEvents(kvLogEvents(text))
