import { describe, expect, it } from "@effect/vitest"
import type { HistoryEvent } from "../../../src/testing/linearizability/index.js"
import {
  HistoryError,
  HistoryRecorder,
  historyFromEvents,
  isUnknown,
  UNKNOWN
} from "../../../src/testing/linearizability/index.js"

type Ev = HistoryEvent<string, number>

describe("historyFromEvents", () => {
  it("uses the event index as time and pairs invocations with completions per client", () => {
    const events: Array<Ev> = [
      { type: "invoke", clientId: "a", input: "x" },
      { type: "invoke", clientId: "b", input: "y" },
      { type: "complete", clientId: "b", output: 2 },
      { type: "complete", clientId: "a", output: 1 }
    ]
    expect(historyFromEvents(events)).toEqual([
      { id: 0, clientId: "a", input: "x", output: 1, call: 0, return: 3 },
      { id: 1, clientId: "b", input: "y", output: 2, call: 1, return: 2 }
    ])
  })

  it("gives timed-out and still-open operations an unknown outcome that never returns", () => {
    const ops = historyFromEvents<string, number>([
      { type: "invoke", clientId: 1, input: "t" },
      { type: "timeout", clientId: 1 },
      { type: "invoke", clientId: 1, input: "again" }, // a client may go on after a timeout
      { type: "invoke", clientId: 2, input: "open" }
    ])
    expect(ops.map((op) => [op.id, op.input, op.output, op.call, op.return])).toEqual([
      [0, "t", UNKNOWN, 0, Infinity],
      [1, "again", UNKNOWN, 2, Infinity],
      [2, "open", UNKNOWN, 3, Infinity]
    ])
    expect(ops.every(isUnknown)).toBe(true)
  })

  it("drops failed operations (definitely no effect) but keeps the ids of the others stable", () => {
    const ops = historyFromEvents<string, number>([
      { type: "invoke", clientId: 1, input: "rejected" },
      { type: "fail", clientId: 1 },
      { type: "invoke", clientId: 1, input: "kept" },
      { type: "complete", clientId: 1, output: 7 }
    ])
    expect(ops).toEqual([{ id: 1, clientId: 1, input: "kept", output: 7, call: 2, return: 3 }])
  })

  it("rejects malformed logs with HistoryError", () => {
    expect(() =>
      historyFromEvents<string, number>([
        { type: "invoke", clientId: 1, input: "a" },
        { type: "invoke", clientId: 1, input: "b" }
      ])
    ).toThrow(HistoryError)
    expect(() => historyFromEvents<string, number>([{ type: "complete", clientId: 1, output: 1 }])).toThrow(
      /event 0: complete for client 1 with no open operation/
    )
    expect(() => historyFromEvents<string, number>([{ type: "timeout", clientId: 1 }])).toThrow(HistoryError)
  })
})

describe("HistoryRecorder", () => {
  it("stamps events with a monotonic counter and agrees with historyFromEvents on its own log", () => {
    const rec = new HistoryRecorder<string, number>()
    const a = rec.invoke("a", "x")
    const b = rec.invoke("b", "y")
    rec.complete(b, 2)
    const c = rec.invoke("b", "z")
    rec.timeout(a)
    rec.fail(c)
    const d = rec.invoke("a", "w")
    expect(rec.isOpen(d)).toBe(true)
    expect(rec.isOpen(a)).toBe(false)
    expect(rec.operations()).toEqual([
      { id: 0, clientId: "a", input: "x", output: UNKNOWN, call: 0, return: Infinity },
      { id: 1, clientId: "b", input: "y", output: 2, call: 1, return: 2 },
      { id: 3, clientId: "a", input: "w", output: UNKNOWN, call: 6, return: Infinity }
    ])
    expect(historyFromEvents(rec.events())).toEqual(rec.operations())
  })

  it("rejects a second invocation by a busy client and closing an operation twice", () => {
    const rec = new HistoryRecorder<string, number>()
    const a = rec.invoke("a", "x")
    expect(() => rec.invoke("a", "y")).toThrow(HistoryError)
    rec.complete(a, 1)
    expect(() => rec.complete(a, 1)).toThrow(/operation 0 is not open/)
    expect(() => rec.timeout(42)).toThrow(HistoryError)
  })
})
