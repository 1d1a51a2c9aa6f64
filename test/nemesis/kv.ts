/**
 * The nemesis harness's replicated state machine: a string KV store (get / put / cas) with
 * exactly-once client sessions (thesis §6.3). Every command carries its logical client and that
 * client's request id; `ClientSessionTable` — the library's authoritative filter — decides in log
 * order whether a committed command applies, so a retry of the same request id on another node
 * (after a crash, a pause or a lost answer) never applies twice. The result of each client's last
 * applied request is kept, so a retry whose entry was filtered still answers what the first copy
 * did (a CAS's success). Pure: the voter process feeds it the committed log.
 */
import { ClientSessionTable } from "../../src/raft/ClientSessionTable.js"
import type { ClientId } from "../../services/raft/ClientId.js"
import { hashNumber, hashString, mix32 } from "../../src/testing/linearizability/Hash.js"
import type { KvInput, KvOutput } from "../../src/testing/linearizability/KvModel.js"

/** A client's request as it travels through the log. `c`: logical client, `r`: its request id. */
export interface KvCommand {
  readonly c: string
  readonly r: number
  readonly op: KvInput
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export const encodeCommand = (command: KvCommand): Uint8Array => encoder.encode(JSON.stringify(command))

/** `undefined` for bytes that are not a command of this harness (they are counted, never applied). */
export const decodeCommand = (bytes: Uint8Array): KvCommand | undefined => {
  try {
    const v = JSON.parse(decoder.decode(bytes)) as KvCommand
    if (typeof v?.c !== "string" || !Number.isSafeInteger(v.r) || typeof v.op?.key !== "string") return undefined
    return v
  } catch {
    return undefined
  }
}

/** One replica's state: the store, the session table, and what it applied (for cross-checks). */
export class KvStateMachine {
  readonly store = new Map<string, string>()
  private readonly sessions = ClientSessionTable.empty()
  private readonly last = new Map<string, { readonly r: number; readonly out: KvOutput }>()
  /** The highest log index folded in (commands, no-ops and config entries alike). */
  appliedIndex = 0
  /** Commands that applied, as `client:request@index`, in log order. */
  readonly applied: Array<string> = []
  /** Commands filtered as duplicates (a retry whose first copy already applied). */
  duplicates = 0
  /** Committed entries that were not commands of this harness. */
  undecodable = 0
  /** A running hash of every applied command and its index: equal digests, equal applied logs. */
  digest = 0

  /** Folds the committed command at `index` in. */
  applyCommand(index: number, bytes: Uint8Array): void {
    this.appliedIndex = index
    const command = decodeCommand(bytes)
    if (command === undefined) {
      this.undecodable++
      return
    }
    if (!this.sessions.shouldApply({ clientId: command.c as ClientId, requestId: command.r })) {
      this.duplicates++
      return
    }
    const out = this.execute(command.op)
    this.last.set(command.c, { r: command.r, out })
    this.applied.push(`${command.c}:${command.r}@${index}`)
    this.digest = mix32(this.digest ^ hashNumber(index) ^ hashString(`${command.c}:${command.r}`))
  }

  /** Folds an index Raft used for itself (no-op, configuration). */
  applyInternal(index: number): void {
    this.appliedIndex = index
  }

  /** The answer of client `c`'s request `r`, once applied (or filtered as a duplicate of it). */
  resultOf(c: string, r: number): KvOutput | undefined {
    const last = this.last.get(c)
    return last !== undefined && last.r === r ? last.out : undefined
  }

  /** A read of the local state (linearizable only behind a read fence the caller waited for). */
  read(key: string): KvOutput {
    return { type: "value", value: this.store.get(key) ?? null }
  }

  private execute(op: KvInput): KvOutput {
    switch (op.type) {
      case "get":
        return this.read(op.key)
      case "put":
        this.store.set(op.key, op.value)
        return { type: "done" }
      case "delete":
        this.store.delete(op.key)
        return { type: "done" }
      case "cas": {
        const current = this.store.get(op.key) ?? null
        if (current !== op.from) return { type: "cas", ok: false }
        this.store.set(op.key, op.to)
        return { type: "cas", ok: true }
      }
    }
  }
}
