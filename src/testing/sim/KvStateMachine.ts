/**
 * A small replicated key-value state machine: the example consumer the simulator drives, and a
 * model for users writing their own. It applies `Committed` items in order, filters duplicate
 * client requests with `ClientSessionTable` (exactly-once across retries and failovers), answers
 * reads that went through the log, and snapshots itself (data + session table + last results).
 */
import type { ClientId } from "../../../services/raft/ClientId.js"
import type { Committed } from "../../../services/raft/LogEntry.js"
import { ClientSessionTable } from "../../raft/ClientSessionTable.js"
import type { KvInput, KvOutput } from "../linearizability/KvModel.js"

/** What a client proposes: its own session id and serial, and the operation. */
export interface KvCommand {
  readonly client: string
  readonly seq: number
  readonly op: KvInput
}

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()

/** Encodes a key-value command for the simulator's state machine. */
export const encodeKvCommand = (c: KvCommand): Uint8Array => utf8.encode(JSON.stringify(c))
/** Decodes a key-value command encoded by `encodeKvCommand`. */
export const decodeKvCommand = (b: Uint8Array): KvCommand => JSON.parse(fromUtf8.decode(b)) as KvCommand

/** The simulator's key-value state machine: applies committed commands, snapshots and restores. */
export class KvStateMachine {
  data = new Map<string, string>()
  sessions = ClientSessionTable.empty()
  /** The answer to each client's latest applied request, so a duplicate gets the original answer. */
  lastResult = new Map<string, { seq: number; output: KvOutput }>()
  applied = 0

  apply(item: Committed): void {
    switch (item._tag) {
      case "Internal":
        this.applied = item.index
        return
      case "Install":
        this.restore(item.snapshot.state)
        this.applied = item.snapshot.throughIndex
        return
      case "Entry": {
        this.applied = item.entry.index
        const cmd = decodeKvCommand(item.entry.command)
        if (!this.sessions.shouldApply({ clientId: cmd.client as ClientId, requestId: cmd.seq })) return
        this.lastResult.set(cmd.client, { seq: cmd.seq, output: this.execute(cmd.op) })
        return
      }
    }
  }

  /** The result of `client`'s request `seq`, once applied. */
  resultOf(client: string, seq: number): KvOutput | undefined {
    const r = this.lastResult.get(client)
    return r !== undefined && r.seq === seq ? r.output : undefined
  }

  /** A read served from local state (after a linearizable read fence). */
  read(key: string): KvOutput {
    return { type: "value", value: this.data.get(key) ?? null }
  }

  private execute(op: KvInput): KvOutput {
    switch (op.type) {
      case "get":
        return { type: "value", value: this.data.get(op.key) ?? null }
      case "put":
        this.data.set(op.key, op.value)
        return { type: "done" }
      case "delete":
        this.data.delete(op.key)
        return { type: "done" }
      case "cas": {
        const current = this.data.get(op.key) ?? null
        if (current !== op.from) return { type: "cas", ok: false }
        this.data.set(op.key, op.to)
        return { type: "cas", ok: true }
      }
    }
  }

  snapshot(): Uint8Array {
    return utf8.encode(JSON.stringify({
      data: [...this.data].sort(([a], [b]) => (a < b ? -1 : 1)),
      sessions: fromUtf8.decode(this.sessions.toBytes()),
      last: [...this.lastResult].sort(([a], [b]) => (a < b ? -1 : 1))
    }))
  }

  restore(bytes: Uint8Array): void {
    const s = JSON.parse(fromUtf8.decode(bytes)) as {
      data: Array<[string, string]>
      sessions: string
      last: Array<[string, { seq: number; output: KvOutput }]>
    }
    this.data = new Map(s.data)
    const table = ClientSessionTable.fromBytes(utf8.encode(s.sessions))
    if (table._tag === "Left") throw new Error(`corrupt KV snapshot: ${table.left.reason}`)
    this.sessions = table.right
    this.lastResult = new Map(s.last)
  }
}
