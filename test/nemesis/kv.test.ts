/**
 * The nemesis harness's state machine: the session table makes a retried request apply once, a
 * filtered retry still answers what its first copy did, and the digest tells replicas that
 * applied different logs apart.
 */
import { describe, expect, it } from "@effect/vitest"
import { decodeCommand, encodeCommand, KvStateMachine } from "./kv.js"

describe("nemesis KvStateMachine", () => {
  it("applies a retried request id once and answers the retry with the first copy's result", () => {
    const sm = new KvStateMachine()
    const cas = encodeCommand({ c: "c1", r: 1, op: { type: "cas", key: "k", from: null, to: "a" } })
    sm.applyCommand(1, cas)
    sm.applyCommand(2, encodeCommand({ c: "c2", r: 1, op: { type: "put", key: "k", value: "b" } }))
    // The same request appended again (a retry on another node after a lost answer).
    sm.applyCommand(3, cas)
    expect(sm.store.get("k")).toBe("b")
    expect(sm.resultOf("c1", 1)).toEqual({ type: "cas", ok: true })
    expect(sm.duplicates).toBe(1)
    expect(sm.applied).toEqual(["c1:1@1", "c2:1@2"])
    expect(sm.appliedIndex).toBe(3)
  })

  it("a later request of the same client applies; an older one arriving late does not", () => {
    const sm = new KvStateMachine()
    sm.applyCommand(1, encodeCommand({ c: "c1", r: 2, op: { type: "put", key: "k", value: "new" } }))
    sm.applyCommand(2, encodeCommand({ c: "c1", r: 1, op: { type: "put", key: "k", value: "old" } }))
    expect(sm.store.get("k")).toBe("new")
    expect(sm.resultOf("c1", 1)).toBeUndefined()
    expect(sm.resultOf("c1", 2)).toEqual({ type: "done" })
  })

  it("a CAS whose compare fails is a completed { ok: false } and changes nothing", () => {
    const sm = new KvStateMachine()
    sm.applyCommand(1, encodeCommand({ c: "c1", r: 1, op: { type: "cas", key: "k", from: "x", to: "y" } }))
    expect(sm.resultOf("c1", 1)).toEqual({ type: "cas", ok: false })
    expect(sm.read("k")).toEqual({ type: "value", value: null })
  })

  it("counts entries that are not commands instead of applying them", () => {
    const sm = new KvStateMachine()
    sm.applyCommand(1, new Uint8Array([0xff, 0x00, 0x7b]))
    sm.applyCommand(2, new TextEncoder().encode(JSON.stringify({ c: 1, r: "x" })))
    expect(sm.undecodable).toBe(2)
    expect(sm.applied).toEqual([])
    expect(decodeCommand(new TextEncoder().encode("null"))).toBeUndefined()
  })

  it("replicas that applied the same log have equal digests; a different order differs", () => {
    const a = new KvStateMachine()
    const b = new KvStateMachine()
    const c = new KvStateMachine()
    const x = encodeCommand({ c: "c1", r: 1, op: { type: "put", key: "k", value: "1" } })
    const y = encodeCommand({ c: "c2", r: 1, op: { type: "put", key: "k", value: "2" } })
    for (const sm of [a, b]) {
      sm.applyCommand(1, x)
      sm.applyInternal(2)
      sm.applyCommand(3, y)
    }
    c.applyCommand(1, y)
    c.applyInternal(2)
    c.applyCommand(3, x)
    expect(a.digest).toBe(b.digest)
    expect(c.digest).not.toBe(a.digest)
  })
})
