/**
 * The host↔client wire protocol: every frame round-trips, random and mutated bytes never throw,
 * and the hot-path encoders write exactly what the codec writes.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck } from "effect"
import { fuzzProperty, roundTripProperty } from "../../../../src/codec/testing.js"
import {
  decodeMessage,
  encodeBroadcast,
  encodeMessage,
  encodeRelay,
  MessageType,
  PROTOCOL_VERSION,
  ProtocolCodec,
  RELAY_OVERHEAD_BYTES,
  WireMessage
} from "../../../../layers/seam/websocket/Protocol.js"

describe("WebSocket protocol codec", () => {
  it("round-trips every frame type generated from the Schema", () => {
    FastCheck.assert(roundTripProperty(WireMessage, ProtocolCodec), { numRuns: 2000, seed: 8 })
  })

  it("never throws on random or mutated frames and only accepts Schema-valid values", () => {
    FastCheck.assert(fuzzProperty(ProtocolCodec, { schema: WireMessage, canonical: true }), { numRuns: 10_000, seed: 9 })
  })

  it("the one-allocation relay and broadcast encoders match the codec", () => {
    const payload = Uint8Array.of(1, 2, 3)
    expect(encodeRelay(MessageType.RelayTo, "pëer", payload)).toEqual(encodeMessage({ _tag: "RelayTo", to: "pëer", payload }))
    expect(encodeRelay(MessageType.RelayFrom, "a", payload)).toEqual(encodeMessage({ _tag: "RelayFrom", from: "a", payload }))
    expect(encodeBroadcast(payload)).toEqual(encodeMessage({ _tag: "Broadcast", payload }))
  })

  it("a relay of the longest peer id adds exactly RELAY_OVERHEAD_BYTES to its payload", () => {
    const id = "é".repeat(127) + "x" // 255 UTF-8 bytes
    expect(encodeRelay(MessageType.RelayFrom, id, new Uint8Array(100)).byteLength).toBe(100 + RELAY_OVERHEAD_BYTES)
  })

  it("refuses an empty room, an over-long name and a resume token of the wrong size", () => {
    const hello = { _tag: "Hello", protocolVersion: PROTOCOL_VERSION, room: "r", displayName: "", sessionId: "" } as const
    expect(Either.isRight(decodeMessage(encodeMessage(hello)))).toBe(true)
    expect(Either.isLeft(decodeMessage(encodeMessage({ ...hello, room: "" })))).toBe(true)
    expect(Either.isLeft(decodeMessage(encodeMessage({ ...hello, room: "x".repeat(256) })))).toBe(true)
    expect(Either.isLeft(decodeMessage(encodeMessage({ ...hello, resumeToken: new Uint8Array(15) })))).toBe(true)
  })
})
