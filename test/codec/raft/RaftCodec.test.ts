import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Either, FastCheck } from "effect"
import { decodeRaftMessage, encodeRaftMessage, entryWireSize, RaftCodec } from "../../../src/codec/raft/RaftCodec.js"
import { RaftMessage } from "../../../src/codec/raft/RaftMessage.js"
import type { AppendEntries } from "../../../src/codec/raft/RaftMessage.js"
import { expectDecodeError, fuzzProperty, roundTripProperty } from "../../../src/codec/testing.js"
import { ClusterConfig, ConfigPayload, sameMembers } from "../../../services/raft/ClusterConfig.js"
import type { ClientId } from "../../../services/raft/ClientId.js"
import { LogEntry } from "../../../services/raft/LogEntry.js"
import type { CommandEntry } from "../../../services/raft/LogEntry.js"

const entry = (index: number, command: Uint8Array, requestId = index): CommandEntry => ({
  _tag: "Command",
  index,
  term: 3,
  command,
  dedupKey: { clientId: "auto:n1-00000000deadbeef" as ClientId, requestId }
})

const append = (entries: AppendEntries["entries"]): AppendEntries => ({
  _tag: "AppendEntries",
  term: 3,
  prevLogIndex: 7,
  prevLogTerm: 2,
  entries,
  leaderCommit: 6,
  round: 0
})

describe("RaftCodec", () => {
  it("round-trips every message type generated from the Schema", () => {
    FastCheck.assert(roundTripProperty(RaftMessage, RaftCodec), { numRuns: 2000, seed: 42 })
  })

  it("never throws on random or mutated frames and only accepts Schema-valid values", () => {
    FastCheck.assert(fuzzProperty(RaftCodec, { schema: RaftMessage, canonical: true }), { numRuns: 10_000, seed: 7 })
  })

  it("round-trips a joint configuration entry and a 64-entry AppendEntries", () => {
    const joint = ConfigPayload.make({ old: ClusterConfig.ofVoters("a", "b", "c"), new: ClusterConfig.of(["a", "b", "d"], ["e"]) })
    const entries: Array<LogEntry> = [{ _tag: "NoOp", index: 8, term: 3 }, { _tag: "Config", index: 9, term: 3, config: joint }]
    for (let i = 10; i < 72; i++) entries.push(entry(i, new Uint8Array(16).fill(i)))
    const decoded = decodeRaftMessage(encodeRaftMessage(append(entries)))
    expect(Either.isRight(decoded)).toBe(true)
    const m = Either.getOrThrow(decoded) as AppendEntries
    expect(m.entries.length).toBe(64)
    const cfg = m.entries[1]!
    expect(cfg._tag === "Config" && cfg.config.old !== undefined && sameMembers(cfg.config.old, joint.old!) && sameMembers(cfg.config.new, joint.new)).toBe(true)
  })

  it("carries the longest ids the schemas allow, also when every character needs 3 or 4 UTF-8 bytes", () => {
    // 255 UTF-8 bytes is the one id limit; "€" takes 3 UTF-8 bytes, "𝄞" (a surrogate pair) 4.
    for (const id of ["x".repeat(255), "€".repeat(85), "𝄞".repeat(63) + "€"]) {
      const config = ConfigPayload.make({ new: ClusterConfig.of([id], ["l"]) })
      const entries: Array<LogEntry> = [
        { ...entry(8, new Uint8Array([1])), dedupKey: { clientId: id as ClientId, requestId: 1 } },
        { _tag: "Config", index: 9, term: 3, config }
      ]
      const m = Either.getOrThrow(decodeRaftMessage(encodeRaftMessage(append(entries)))) as AppendEntries
      const [cmd, cfg] = m.entries
      expect(cmd?._tag === "Command" && cmd.dedupKey.clientId).toBe(id)
      expect(cfg?._tag === "Config" && [...cfg.config.new.voters]).toEqual([id])
    }
  })

  it("refuses an id longer than any id the schemas allow (one byte over the limit is enough)", () => {
    for (const tooLong of ["€".repeat(256), "€".repeat(85) + "x", "x".repeat(256)] as Array<ClientId>) {
      const bytes = encodeRaftMessage(append([{ ...entry(8, new Uint8Array([1])), dedupKey: { clientId: tooLong, requestId: 1 } }]))
      expect(Either.isLeft(decodeRaftMessage(bytes))).toBe(true)
    }
  })

  it("entryWireSize is exactly the bytes an entry adds to an AppendEntries", () => {
    const base = encodeRaftMessage(append([])).byteLength
    FastCheck.assert(
      FastCheck.property(Arbitrary.make(LogEntry), (e) => {
        const withOne = encodeRaftMessage({ ...append([]), prevLogIndex: 0, prevLogTerm: 0 }).byteLength
        const size = encodeRaftMessage({ ...append([e]), prevLogIndex: 0, prevLogTerm: 0 }).byteLength - withOne
        expect(size).toBe(entryWireSize(e))
      }),
      { numRuns: 1000, seed: 3 }
    )
    expect(base).toBeGreaterThan(0)
  })

  it("refuses an entry count that the remaining bytes cannot hold, before allocating", () => {
    const frame = encodeRaftMessage(append([]))
    // The u32 count is the last 4 bytes of an empty AppendEntries.
    const forged = frame.slice()
    new DataView(forged.buffer).setUint32(forged.length - 4, 0xffff_ffff, true)
    expectDecodeError(decodeRaftMessage(forged), "entry count")
  })

  it("refuses unknown entry kinds and unknown message types", () => {
    expectDecodeError(decodeRaftMessage(Uint8Array.of(1, 200)), "unknown type")
    const frame = encodeRaftMessage(append([{ _tag: "NoOp", index: 8, term: 3 }]))
    const badKind = frame.slice()
    badKind[badKind.length - 3] = 9
    expectDecodeError(decodeRaftMessage(badKind), "entry kind")
  })
})
