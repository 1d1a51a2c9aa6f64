/**
 * A worked example of a wire message family, used only by the codec tests: Schemas as the contract,
 * a hand-written codec on top of the groundwork, nothing else. `Append` has the shape of a Raft
 * AppendEntries (entries with index, term, command bytes and an optional dedup key).
 */
import { Schema } from "effect"
import {
  type BinaryReader,
  type BinaryWriter,
  type CodecOptions,
  taggedUnionCodec,
  U16,
  U32,
  U8,
  Uint53
} from "../../src/codec/index.js"

export const Ping = Schema.TaggedStruct("Ping", {
  term: Uint53,
  nonce: U32,
  payload: Schema.Uint8ArrayFromSelf,
  note: Schema.optionalWith(Schema.String, { exact: true })
})
export type Ping = typeof Ping.Type

export const Pong = Schema.TaggedStruct("Pong", {
  term: Uint53,
  nonce: U32,
  ok: Schema.Boolean
})
export type Pong = typeof Pong.Type

export const Entry = Schema.Struct({
  index: Uint53,
  term: Uint53,
  command: Schema.Uint8ArrayFromSelf,
  dedupKey: Schema.optionalWith(Schema.String, { exact: true })
})
export type Entry = typeof Entry.Type

export const Append = Schema.TaggedStruct("Append", {
  term: Uint53,
  prevLogIndex: Uint53,
  leaderCommit: Uint53,
  flags: U8,
  window: U16,
  entries: Schema.Array(Entry)
})
export type Append = typeof Append.Type

export const Example = Schema.Union(Ping, Pong, Append)
export type Example = typeof Example.Type

/** Type bytes of the example frames. */
export const PING = 1
export const PONG = 2
export const APPEND = 3

// Field helpers are module-level functions so that writing/reading allocates no closures.
const writeString = (w: BinaryWriter, s: string): void => {
  w.string(s)
}
const readString = (r: BinaryReader): string => r.string()

const writeEntry = (w: BinaryWriter, e: Entry): void => {
  // varuint: indices and terms are small in practice, so this saves ~14 bytes per entry.
  w.varuint(e.index).varuint(e.term).bytes(e.command).optional(e.dedupKey, writeString)
}
const readEntry = (r: BinaryReader): Entry => {
  const index = r.varuint()
  const term = r.varuint()
  const command = r.bytes()
  const dedupKey = r.optional(readString)
  // exactOptionalPropertyTypes: an absent key, never `dedupKey: undefined`.
  return dedupKey === undefined ? { index, term, command } : { index, term, command, dedupKey }
}
/** Smallest encoded entry: two 1-byte varuints, an empty command (4) and an absent key (1). */
const MIN_ENTRY_BYTES = 7

/** Builds the example codec; `options` are passed through (e.g. `copyBytes`). */
export const makeExampleCodec = (options?: CodecOptions) =>
  taggedUnionCodec<Example>({
    Ping: {
      type: PING,
      write: (w, m) => {
        w.uint53(m.term).u32(m.nonce).bytes(m.payload).optional(m.note, writeString)
      },
      read: (r) => {
        const term = r.uint53()
        const nonce = r.u32()
        const payload = r.bytes()
        const note = r.optional(readString)
        return note === undefined
          ? { _tag: "Ping", term, nonce, payload }
          : { _tag: "Ping", term, nonce, payload, note }
      }
    },
    Pong: {
      type: PONG,
      write: (w, m) => {
        w.uint53(m.term).u32(m.nonce).bool(m.ok)
      },
      read: (r) => ({ _tag: "Pong", term: r.uint53(), nonce: r.u32(), ok: r.bool() })
    },
    Append: {
      type: APPEND,
      write: (w, m) => {
        w.uint53(m.term).uint53(m.prevLogIndex).uint53(m.leaderCommit).u8(m.flags).u16(m.window)
        w.array(m.entries, writeEntry)
      },
      read: (r) => ({
        _tag: "Append",
        term: r.uint53(),
        prevLogIndex: r.uint53(),
        leaderCommit: r.uint53(),
        flags: r.u8(),
        window: r.u16(),
        entries: r.array(readEntry, 1 << 16, MIN_ENTRY_BYTES)
      }),
    }
  }, options)

export const ExampleCodec = makeExampleCodec()

/** A 64-entry `Append`, the shape the codec benchmarks use: 16-byte commands, dedup key on half. */
export const append64: Append = {
  _tag: "Append",
  term: 7,
  prevLogIndex: 1_000,
  leaderCommit: 990,
  flags: 0,
  window: 64,
  entries: Array.from({ length: 64 }, (_, i): Entry => {
    const command = new Uint8Array(16).fill(i)
    return i % 2 === 0
      ? { index: 1_001 + i, term: 7, command, dedupKey: `client-${i}:${i * 3}` }
      : { index: 1_001 + i, term: 7, command }
  })
}
