import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { ClientSessionTable } from "../../src/raft/ClientSessionTable.js"
import type { ClientId } from "../../services/raft/ClientId.js"

const id = (s: string) => s as ClientId
const key = (c: string, r: number) => ({ clientId: id(c), requestId: r })

describe("ClientSessionTable", () => {
  it("applies a request once and filters its retries", () => {
    const t = ClientSessionTable.empty()
    expect(t.shouldApply(key("durable-a", 1))).toBe(true)
    expect(t.shouldApply(key("durable-a", 1))).toBe(false)
    expect(t.shouldApply(key("durable-a", 2))).toBe(true)
    expect(t.shouldApply(key("durable-a", 1))).toBe(false)
    expect(t.highWaterMark(id("durable-a"))).toBe(2)
  })

  it("always applies a command without a key", () => {
    const t = ClientSessionTable.empty()
    expect(t.shouldApply(undefined)).toBe(true)
    expect(t.shouldApply(undefined)).toBe(true)
    expect(t.size).toBe(0)
  })

  it("keeps clients independent", () => {
    const t = ClientSessionTable.empty()
    expect(t.shouldApply(key("a", 5))).toBe(true)
    expect(t.shouldApply(key("b", 1))).toBe(true)
    expect(t.shouldApply(key("b", 1))).toBe(false)
    expect(t.shouldApply(key("a", 4))).toBe(false)
  })

  it("prunes the previous auto ids of the same node family, never durable ids", () => {
    const t = ClientSessionTable.empty()
    t.shouldApply(key("auto:n1-0000000000000001", 3))
    t.shouldApply(key("auto:n2-0000000000000001", 3))
    t.shouldApply(key("durable-n1", 3))
    t.shouldApply(key("auto:n1-0000000000000002", 1))
    expect(t.highWaterMark(id("auto:n1-0000000000000001"))).toBeUndefined()
    expect(t.highWaterMark(id("auto:n2-0000000000000001"))).toBe(3)
    expect(t.highWaterMark(id("durable-n1"))).toBe(3)
    expect(t.size).toBe(3)
  })

  it("closeSession forgets a client so its ids start again", () => {
    const t = ClientSessionTable.empty()
    t.shouldApply(key("durable-a", 9))
    t.closeSession(id("durable-a"))
    expect(t.shouldApply(key("durable-a", 1))).toBe(true)
  })

  it("round-trips through bytes deterministically and keeps its decisions", () => {
    const t = ClientSessionTable.empty()
    t.shouldApply(key("b", 2))
    t.shouldApply(key("a", 7))
    t.shouldApply(key("auto:n1-00000000000000ff", 4))
    const bytes = t.toBytes()
    const back = Either.getOrThrow(ClientSessionTable.fromBytes(bytes))
    expect(back.toBytes()).toEqual(bytes)
    expect(back.shouldApply(key("a", 7))).toBe(false)
    expect(back.shouldApply(key("a", 8))).toBe(true)
    // Family pruning survives the round trip.
    back.shouldApply(key("auto:n1-0000000000000100", 1))
    expect(back.highWaterMark(id("auto:n1-00000000000000ff"))).toBeUndefined()
  })

  it("refuses bytes that are not a table with a typed error", () => {
    for (const bad of [Uint8Array.of(0xff, 0xfe), new TextEncoder().encode("{}"), new TextEncoder().encode('{"marks":[["",1]]}')]) {
      const r = ClientSessionTable.fromBytes(bad)
      expect(Either.isLeft(r) && r.left._tag).toBe("ClientSessionTableDecodeError")
    }
  })
})
