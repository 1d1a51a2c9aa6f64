/**
 * The history a linearizability check runs on: completed operations with call/return times on one
 * logical clock, plus the event log and recorder that produce them.
 *
 * Time is a position in one totally ordered event log (a counter), never a wall clock: two events
 * recorded by the same harness can then never tie or be reordered by clock skew, and a history
 * recorded from a deterministic simulation is itself deterministic (reference §2.5).
 */

/**
 * The output of an operation whose outcome the client never learned (timeout, lost connection,
 * crash while in flight). Such an operation may have taken effect at any point after its call, or
 * never; its output constrains nothing.
 */
export const UNKNOWN: unique symbol = Symbol.for("kuilt/linearizability/UNKNOWN")

/** The type of {@link UNKNOWN}. */
export type Unknown = typeof UNKNOWN

/** A logical client: at most one operation outstanding per client in an event log. */
export type ClientId = string | number

/**
 * One operation of a history. `call` and `return` are logical times (event positions); an
 * operation with an unknown outcome has `output === UNKNOWN` and `return === Infinity`, which is
 * how Porcupine encodes "may linearize anywhere after its call" (reference §2.2-2.3).
 */
export interface Operation<I, O> {
  /** Unique within the history; used in explanations and by the checker's bitsets. */
  readonly id: number
  readonly clientId: ClientId
  readonly input: I
  readonly output: O | Unknown
  readonly call: number
  /** `Infinity` iff `output === UNKNOWN`. */
  readonly return: number
}

/** Whether the operation's outcome is unknown (it may or may not have taken effect). */
export const isUnknown = <I, O>(op: Operation<I, O>): boolean => op.output === UNKNOWN

/**
 * One entry of a harness event log. The event's position in the log is its time.
 *
 * - `invoke`: the client sends a request (opens an operation; one open operation per client).
 * - `complete`: the client received `output` (closes the operation).
 * - `timeout`: the client gave up without an answer: outcome unknown, the operation may still take
 *   effect later. The client may invoke again afterwards.
 * - `fail`: the request definitely had no effect (e.g. rejected before it was proposed). The
 *   operation is dropped from the history. Use it only when the system guarantees no effect: a
 *   wrong `fail` hides real anomalies; when in doubt, record `timeout`.
 */
export type HistoryEvent<I, O> =
  | { readonly type: "invoke"; readonly clientId: ClientId; readonly input: I }
  | { readonly type: "complete"; readonly clientId: ClientId; readonly output: O }
  | { readonly type: "timeout"; readonly clientId: ClientId }
  | { readonly type: "fail"; readonly clientId: ClientId }

/** A malformed event log or recorder use: a harness bug, never a verdict about the system. */
export class HistoryError extends Error {
  override readonly name = "HistoryError"
}

interface Open<I> {
  readonly id: number
  readonly clientId: ClientId
  readonly input: I
  readonly call: number
}

/**
 * Builds the operations of an ordered event log (event index = time). Operations still open at the
 * end of the log get an unknown outcome (they may have taken effect). Operations are returned in
 * invocation order with ids 0, 1, 2, … in that order (ids of `fail`ed operations are skipped, so
 * ids stay stable when a `fail` is turned into a `timeout`).
 *
 * @throws HistoryError on a second `invoke` while the client has an open operation, or on a
 * `complete`/`timeout`/`fail` for a client with none.
 */
export const historyFromEvents = <I, O>(events: Iterable<HistoryEvent<I, O>>): Array<Operation<I, O>> => {
  const open = new Map<ClientId, Open<I>>()
  const done: Array<Operation<I, O> | undefined> = []
  let time = 0
  let nextId = 0
  const close = (clientId: ClientId, what: string): Open<I> => {
    const op = open.get(clientId)
    if (op === undefined) throw new HistoryError(`event ${time}: ${what} for client ${String(clientId)} with no open operation`)
    open.delete(clientId)
    return op
  }
  for (const event of events) {
    switch (event.type) {
      case "invoke": {
        if (open.has(event.clientId)) {
          throw new HistoryError(`event ${time}: client ${String(event.clientId)} invoked while an operation is open`)
        }
        const id = nextId++
        open.set(event.clientId, { id, clientId: event.clientId, input: event.input, call: time })
        done.push(undefined)
        break
      }
      case "complete": {
        const op = close(event.clientId, "complete")
        done[op.id] = { ...op, output: event.output, return: time }
        break
      }
      case "timeout": {
        const op = close(event.clientId, "timeout")
        done[op.id] = { ...op, output: UNKNOWN, return: Infinity }
        break
      }
      case "fail": {
        close(event.clientId, "fail")
        break
      }
    }
    time++
  }
  for (const op of open.values()) done[op.id] = { ...op, output: UNKNOWN, return: Infinity }
  return done.filter((op): op is Operation<I, O> => op !== undefined)
}

/**
 * Records a history while a simulator or harness runs: every call takes the next tick of a
 * monotonic counter, so all clients share one total order without any clock.
 *
 * ```ts
 * const rec = new HistoryRecorder<KvInput, KvOutput>()
 * const op = rec.invoke("c1", { type: "put", key: "x", value: "1" })
 * rec.complete(op, { type: "done" })      // or rec.timeout(op) / rec.fail(op)
 * checkLinearizability(kvModel, rec.operations())
 * ```
 *
 * Failure modes: invoking for a client that has an open operation, or closing an operation twice,
 * throws {@link HistoryError} (the harness lost track of its requests).
 */
export class HistoryRecorder<I, O> {
  private clock = 0
  private readonly ops: Array<{ op: Open<I>; output: O | Unknown; ret: number; dropped: boolean } | undefined> = []
  private readonly openByClient = new Map<ClientId, number>()
  private readonly log: Array<HistoryEvent<I, O>> = []

  /** Opens an operation for `clientId` and returns its id (the handle for complete/timeout/fail). */
  invoke(clientId: ClientId, input: I): number {
    if (this.openByClient.has(clientId)) {
      throw new HistoryError(`client ${String(clientId)} invoked while operation ${this.openByClient.get(clientId)} is open`)
    }
    const id = this.ops.length
    this.ops.push({ op: { id, clientId, input, call: this.clock++ }, output: UNKNOWN, ret: Infinity, dropped: false })
    this.openByClient.set(clientId, id)
    this.log.push({ type: "invoke", clientId, input })
    return id
  }

  /** The operation returned `output` to its client. */
  complete(id: number, output: O): void {
    const rec = this.close(id, "complete")
    rec.output = output
    rec.ret = this.clock++
    this.log.push({ type: "complete", clientId: rec.op.clientId, output })
  }

  /** The client gave up: outcome unknown (the operation may still take effect later). */
  timeout(id: number): void {
    const rec = this.close(id, "timeout")
    this.clock++
    this.log.push({ type: "timeout", clientId: rec.op.clientId })
  }

  /** The operation definitely had no effect (see {@link HistoryEvent}); it is dropped. */
  fail(id: number): void {
    const rec = this.close(id, "fail")
    rec.dropped = true
    this.clock++
    this.log.push({ type: "fail", clientId: rec.op.clientId })
  }

  /** Whether the operation is still waiting for complete/timeout/fail. */
  isOpen(id: number): boolean {
    const rec = this.ops[id]
    return rec !== undefined && this.openByClient.get(rec.op.clientId) === id
  }

  /** The recorded operations in invocation order; still-open ones have an unknown outcome. */
  operations(): Array<Operation<I, O>> {
    const out: Array<Operation<I, O>> = []
    for (const rec of this.ops) {
      if (rec === undefined || rec.dropped) continue
      out.push({ ...rec.op, output: rec.output, return: rec.ret })
    }
    return out
  }

  /** The event log (for {@link historyFromEvents}, or to print/store the raw history). */
  events(): ReadonlyArray<HistoryEvent<I, O>> {
    return this.log
  }

  private close(id: number, what: string) {
    const rec = this.ops[id]
    if (rec === undefined || this.openByClient.get(rec.op.clientId) !== id) {
      throw new HistoryError(`${what}: operation ${id} is not open`)
    }
    this.openByClient.delete(rec.op.clientId)
    return rec
  }
}
