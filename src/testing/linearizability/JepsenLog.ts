/**
 * Reads the Jepsen etcd logs of Porcupine's test data (`INFO  jepsen.util - <process> <type> <f>
 * <value>`, tab or space separated) into operations for {@link etcdRegisterModel}. The line order
 * is the time; lines that match no pattern are ignored.
 *
 * | line | meaning |
 * |---|---|
 * | `:invoke :read nil`, `:invoke :write n`, `:invoke :cas [a b]` | the process calls |
 * | `:ok :read nil` / `:ok :read n` | read absent / n |
 * | `:ok :write n` | write acknowledged |
 * | `:ok :cas [a b]` / `:fail :cas [a b]` | the swap happened / the compare failed (both completed) |
 * | `:fail :read :timed-out`, `:info … :timed-out` | outcome unknown: may take effect later, or never |
 *
 * Operations still open at the end have an unknown outcome too. (Porcupine ignores `:info` lines
 * and closes the open operations at the end; Jepsen retires a process after `:info`, so both
 * readings give the same history.)
 */
import type { EtcdInput, EtcdOutput } from "./EtcdModel.js"
import type { HistoryEvent, Operation } from "./History.js"
import { historyFromEvents } from "./History.js"

const PREFIX = String.raw`^INFO\s+jepsen\.util\s+-\s+(\d+)\s+`
const INVOKE_READ = new RegExp(PREFIX + String.raw`:invoke\s+:read\s+nil$`)
const INVOKE_WRITE = new RegExp(PREFIX + String.raw`:invoke\s+:write\s+(\d+)$`)
const INVOKE_CAS = new RegExp(PREFIX + String.raw`:invoke\s+:cas\s+\[(\d+)\s+(\d+)\]$`)
const OK_READ = new RegExp(PREFIX + String.raw`:ok\s+:read\s+(nil|\d+)$`)
const OK_WRITE = new RegExp(PREFIX + String.raw`:ok\s+:write\s+(\d+)$`)
const DONE_CAS = new RegExp(PREFIX + String.raw`:(ok|fail)\s+:cas\s+\[(\d+)\s+(\d+)\]$`)
const TIMEOUT_READ = new RegExp(PREFIX + String.raw`:fail\s+:read\s+:timed-out$`)
const INFO = new RegExp(PREFIX + String.raw`:info\s+:(read|write|cas)\s+:timed-out$`)

/** The events of a Jepsen etcd log, in order (for {@link historyFromEvents}). */
export const jepsenEtcdEvents = (text: string): Array<HistoryEvent<EtcdInput, EtcdOutput>> => {
  const events: Array<HistoryEvent<EtcdInput, EtcdOutput>> = []
  for (const line of text.split(/\r?\n/)) {
    let m: RegExpExecArray | null
    if ((m = INVOKE_READ.exec(line))) {
      events.push({ type: "invoke", clientId: Number(m[1]), input: { type: "read" } })
    } else if ((m = INVOKE_WRITE.exec(line))) {
      events.push({ type: "invoke", clientId: Number(m[1]), input: { type: "write", value: Number(m[2]) } })
    } else if ((m = INVOKE_CAS.exec(line))) {
      events.push({ type: "invoke", clientId: Number(m[1]), input: { type: "cas", from: Number(m[2]), to: Number(m[3]) } })
    } else if ((m = OK_READ.exec(line))) {
      const value = m[2] === "nil" ? null : Number(m[2])
      events.push({ type: "complete", clientId: Number(m[1]), output: { type: "value", value } })
    } else if ((m = OK_WRITE.exec(line))) {
      events.push({ type: "complete", clientId: Number(m[1]), output: { type: "done" } })
    } else if ((m = DONE_CAS.exec(line))) {
      events.push({ type: "complete", clientId: Number(m[1]), output: { type: "cas", ok: m[2] === "ok" } })
    } else if ((m = TIMEOUT_READ.exec(line) ?? INFO.exec(line))) {
      events.push({ type: "timeout", clientId: Number(m[1]) })
    }
  }
  return events
}

/**
 * The operations of a Jepsen etcd log (see the module comment for the format).
 *
 * @throws HistoryError if a process calls while its previous operation is open, or completes
 * with nothing open: the log is malformed.
 */
export const parseJepsenEtcdLog = (text: string): Array<Operation<EtcdInput, EtcdOutput>> =>
  historyFromEvents(jepsenEtcdEvents(text))
