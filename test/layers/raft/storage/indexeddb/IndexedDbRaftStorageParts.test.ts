/**
 * The browser-independent parts of IndexedDbRaftStorage, checked in Node: the checksum, the log
 * shape (bounds and term runs) against a plain array model, the record codec, write planning,
 * and the load checks over hand-made raw records. The storage as a whole runs in Chromium
 * (`IndexedDbRaftStorage.test.ts`).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Fiber } from "effect"
import * as IndexedDbRaftStorage from "../../../../../layers/raft/storage/indexeddb/IndexedDbRaftStorage.js"
import {
  decodeEntry,
  decodeLogShape,
  encodeEntry,
  encodeHardState,
  encodeLogShape,
  seal,
  unseal
} from "../../../../../layers/raft/storage/indexeddb/IndexedDbRaftStorageCodec.js"
import { crc32 } from "../../../../../src/codec/Crc32.js"
import { FORMAT_MARKER, openDatabase, transact } from "../../../../../layers/raft/storage/indexeddb/IndexedDbRaftStorageIdb.js"
import { LogShape } from "../../../../../layers/raft/storage/indexeddb/IndexedDbRaftStorageLogShape.js"
import { EMPTY_MIRROR, planWrite } from "../../../../../layers/raft/storage/indexeddb/IndexedDbRaftStoragePlan.js"
import { checkLoad, type RawLoad } from "../../../../../layers/raft/storage/indexeddb/IndexedDbRaftStorageVerify.js"
import { bytes, cmd, conf, jointConfig, MAX, nid, noop, noops } from "../../../../conformance/RaftStorageFixtures.js"
import type { ClientId } from "../../../../../services/raft/ClientId.js"

/** Bit-at-a-time CRC-32, the definition the table-driven version must match. */
const referenceCrc32 = (data: Uint8Array): number => {
  let c = 0xffffffff
  for (const b of data) {
    c ^= b
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  }
  return (c ^ 0xffffffff) >>> 0
}

/** A small deterministic generator (xorshift32) so the model tests are reproducible. */
const rng = (seed: number) => () => {
  seed ^= seed << 13
  seed ^= seed >>> 17
  seed ^= seed << 5
  return (seed >>> 0) / 0x1_0000_0000
}

describe("IndexedDbRaftStorage parts", () => {
  it("crc32 gives the standard check value and matches the bitwise definition at every length and offset", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926)
    expect(crc32(new Uint8Array(0))).toBe(0)
    const next = rng(7)
    const buf = Uint8Array.from({ length: 300 }, () => Math.floor(next() * 256))
    for (let len = 0; len < 40; len++) {
      for (let off = 0; off < 4; off++) {
        const view = buf.subarray(off, off + len)
        expect(crc32(view)).toBe(referenceCrc32(view))
      }
    }
    expect(crc32(buf)).toBe(referenceCrc32(buf))
  })

  it("the log shape tracks bounds and terms exactly like an array of terms under random appends, truncations and discards", () => {
    const next = rng(42)
    let shape = LogShape.empty
    let first = 1
    let terms: Array<number> = [] // terms[k] is the term of index first + k
    let term = 1
    for (let step = 0; step < 1500; step++) {
      const op = next()
      if (op < 0.5) {
        const n = 1 + Math.floor(next() * 5)
        if (next() < 0.3) term++
        const start = first + terms.length
        shape = shape.append(Array.from({ length: n }, (_, k) => ({ index: start + k, term })))
        for (let k = 0; k < n; k++) terms.push(term)
      } else if (op < 0.75) {
        const at = first + Math.floor(next() * (terms.length + 2)) - 1
        shape = shape.truncateFrom(at)
        if (at <= first) terms = []
        else terms = terms.slice(0, Math.max(0, at - first))
      } else {
        const through = first + Math.floor(next() * (terms.length + 2)) - 2
        shape = shape.discardThrough(through)
        if (through >= first) {
          const drop = Math.min(terms.length, through - first + 1)
          terms = terms.slice(drop)
          first = through + 1
        }
      }
      if (terms.length === 0) {
        expect(shape.isEmpty).toBe(true)
        first = shape.first ?? first // an empty log restarts where the next append puts it
      } else {
        expect([shape.first, shape.last]).toEqual([first, first + terms.length - 1])
        for (let k = 0; k < terms.length; k++) expect(shape.termAt(first + k)).toBe(terms[k])
        const decoded = decodeLogShape(encodeLogShape(shape))
        expect(Either.isRight(decoded) && decoded.right.runs).toEqual(shape.runs)
      }
    }
  })

  it("entries of every kind round-trip through their encoding, including ids at the plausibility edges", () => {
    const entries = [
      noop(1, 0),
      cmd(2, 1, bytes(0, 255)),
      cmd(MAX, MAX, new Uint8Array(0), "节点\u200d二".repeat(10)),
      conf(4, 2, jointConfig())
    ]
    for (const e of entries) expect(decodeEntry(encodeEntry(e))).toEqual(Either.right(e))
  })

  it("an id with a lone surrogate is refused at encoding, since it would not come back the same", () => {
    // `ClientId`'s Schema refuses such an id where it enters (IdLimit), so build the entry around
    // it: the encoder must still refuse it on its own rather than write a mangled id.
    const entry = { ...cmd(1, 1, bytes(1)), dedupKey: { clientId: "a\ud800b" as ClientId, requestId: 1 } }
    expect(() => encodeEntry(entry)).toThrow(RangeError)
  })

  it("a sealed record with any single bit flipped fails its checksum, and garbage never throws", () => {
    const sealed = seal(encodeEntry(cmd(9, 3, bytes(1, 2, 3))))
    for (let bit = 0; bit < sealed.data.length * 8; bit++) {
      const data = sealed.data.slice()
      data[bit >> 3] = data[bit >> 3]! ^ (1 << (bit & 7))
      expect(Either.isLeft(unseal({ crc32: sealed.crc32, data }))).toBe(true)
    }
    const next = rng(3)
    for (let n = 0; n < 500; n++) {
      const junk = Uint8Array.from({ length: Math.floor(next() * 40) }, () => Math.floor(next() * 256))
      expect(() => decodeEntry(junk)).not.toThrow()
      expect(() => decodeLogShape(junk)).not.toThrow()
    }
    expect(Either.isLeft(unseal("not a record"))).toBe(true)
  })

  it("planning a batch validates it and derives the operations in the contract's order", () => {
    const base = planWrite(EMPTY_MIRROR, { hardState: { term: 2, votedFor: null }, append: noops(1, 6, 1) })
    expect(Either.isRight(base)).toBe(true)
    const mirror = Either.getOrThrow(base).next
    expect(Either.isLeft(planWrite(mirror, { append: noops(8, 8, 2) }))).toBe(true)
    const plan = Either.getOrThrow(planWrite(mirror, {
      snapshot: { meta: { lastIncludedIndex: 10, lastIncludedTerm: 2, config: jointConfig() }, state: bytes(1) },
      truncateFrom: 5,
      append: [cmd(11, 2)],
      discardThrough: 10
    }))
    // Truncation removes 5..6, the rest lies below the new snapshot and is cleared for entry 11.
    expect(plan.deleteFrom).toBe(5)
    expect(plan.clearLog).toBe(true)
    expect(plan.deleteThrough).toBeUndefined() // nothing at or below 10 remains to discard
    expect([plan.next.log.first, plan.next.log.last]).toEqual([11, 11])
    expect(Either.getOrThrow(planWrite(mirror, { truncateFrom: 99 })).logChanged).toBe(false)
  })

  it("load checks refuse a state whose records agree with each other but break the Raft rules", () => {
    const log = LogShape.empty.append([{ index: 1, term: 3 }])
    const raw: RawLoad = {
      meta: {
        format: FORMAT_MARKER,
        hardState: seal(encodeHardState({ term: 2, votedFor: nid("a") })),
        leaderForTerm: undefined,
        snapshot: undefined,
        log: seal(encodeLogShape(log))
      },
      state: undefined,
      keys: [1],
      entries: [seal(encodeEntry(noop(1, 3)))],
      entriesFrom: 1
    }
    const checked = checkLoad(raw)
    expect(Either.isLeft(checked) && checked.left).toContain("above the hard-state term 2")
    expect(Either.isLeft(checkLoad({ ...raw, meta: { ...raw.meta, format: "something else" } }))).toBe(true)
  })

  it.effect("without IndexedDB (as in Node) make fails with a StorageError instead of throwing", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.scoped(IndexedDbRaftStorage.make({ databaseName: "node" })))
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
        expect(exit.cause.error._tag).toBe("StorageError")
        expect(exit.cause.error.reason).toContain("IndexedDB is not available")
      }
    }))

  // Failures a real browser produces only under conditions a test cannot arrange (a full disk, a
  // tab that holds an old version open), driven through minimal stand-ins for the DOM objects.
  it.effect("a transaction the browser aborts for lack of quota fails with a StorageError naming QuotaExceededError", () =>
    Effect.gen(function*() {
      const tx = { error: null as unknown, oncomplete: null, onabort: null as null | (() => void), abort: () => undefined }
      const db = { transaction: () => tx } as unknown as IDBDatabase
      const fiber = yield* Effect.fork(transact(db, ["entries"], "readwrite", "writing a batch", () => () => "written"))
      yield* Effect.yieldNow()
      tx.error = { name: "QuotaExceededError", message: "The quota has been exceeded." }
      tx.onabort!()
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error.reason).toContain("QuotaExceededError")
      expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error.reason).toContain("quota is exhausted")
    }))

  it.effect("an upgrade blocked by another open connection fails with StorageError, and a late success is closed", () =>
    Effect.gen(function*() {
      let closed = false
      const request = {
        result: { close: () => (closed = true) },
        onblocked: null as null | (() => void),
        onsuccess: null as null | (() => void)
      }
      const factory = { open: () => request } as unknown as IDBFactory
      const fiber = yield* Effect.fork(openDatabase(factory, "held"))
      yield* Effect.yieldNow()
      request.onblocked!()
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error.reason).toContain("blocked")
      request.onsuccess!() // the other connection closed after all: this one must not leak
      expect(closed).toBe(true)
    }))

  it.effect("an injected IndexedDB implementation is the one opened, and its VersionError becomes a StorageError", () =>
    Effect.gen(function*() {
      const opened: Array<[string, number]> = []
      const request = {
        error: { name: "VersionError", message: "The requested version (1) is less than the existing version (2)." },
        onerror: null as null | ((event: { preventDefault: () => void }) => void)
      }
      const factory = {
        open: (name: string, version: number) => {
          opened.push([name, version])
          return request
        }
      } as unknown as IDBFactory
      const fiber = yield* Effect.fork(Effect.scoped(IndexedDbRaftStorage.make({
        databaseName: "injected",
        indexedDB: factory,
        IDBKeyRange: {} as typeof IDBKeyRange
      })))
      yield* Effect.yieldNow()
      request.onerror!({ preventDefault: () => undefined })
      const exit = yield* Fiber.await(fiber)
      expect(opened).toEqual([["injected", IndexedDbRaftStorage.SCHEMA_VERSION]])
      expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error.reason).toContain("VersionError")
    }))
})
