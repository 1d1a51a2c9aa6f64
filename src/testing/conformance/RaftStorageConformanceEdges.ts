/**
 * RaftStorage conformance, part 1: faithful round-trips at the plausibility edges (terms and
 * indices at 0/1 and 2^53−1, empty and 1 MiB payloads, every entry kind, long and unicode ids),
 * the hard state and leader record, snapshots, and copy semantics of byte arrays.
 */
import { Effect } from "effect"
import type { RaftStorageShape } from "../../../services/raft/RaftStorage.js"
import { EMPTY_DURABLE_STATE } from "../../../services/raft/RaftStorage.js"
import { sameMembers } from "../../../services/raft/ClusterConfig.js"
import type { RaftStorageHarness } from "./RaftStorageHarness.js"
import {
  bytes,
  checkNowAndAfterReopen,
  cmd,
  conf,
  configOf,
  jointConfig,
  MAX,
  nid,
  noop,
  noops,
  sameBytes,
  snapshotAt,
  storageErrorCheck
} from "./RaftStorageFixtures.js"
import type { ConformanceTestApi } from "./TestApi.js"

export const registerEdgeTests = <H extends RaftStorageShape, E>(
  { expect, it }: ConformanceTestApi,
  harness: RaftStorageHarness<H, E>
) => {
  const expectStorageError = storageErrorCheck(expect)
  const roundTrip = (name: string, body: (s: H) => Effect.Effect<void, unknown>, check: (s: RaftStorageShape) => Effect.Effect<void, unknown>) =>
    it.scoped(name, () =>
      Effect.gen(function*() {
        const s = yield* harness.make()
        yield* body(s)
        yield* checkNowAndAfterReopen(harness, s, check)
      }))

  roundTrip("a storage that never wrote anything loads term 0, no vote, no leader, no snapshot and no entries", () => Effect.void, (s) =>
    Effect.gen(function*() {
      expect(yield* s.load).toEqual(EMPTY_DURABLE_STATE)
      expect(yield* s.entries(0, MAX)).toEqual([])
    }))

  roundTrip(
    "term and vote written together load together",
    (s) => s.write({ hardState: { term: 7, votedFor: nid("b") } }),
    (s) => Effect.map(s.load, (st) => expect(st.hardState).toEqual({ term: 7, votedFor: "b" }))
  )

  roundTrip(
    "a hard state without a vote loads with votedFor null",
    (s) => s.write({ hardState: { term: 3, votedFor: null } }),
    (s) => Effect.map(s.load, (st) => expect(st.hardState).toEqual({ term: 3, votedFor: null }))
  )

  roundTrip(
    "a later hard state replaces the earlier one, clearing the vote in the new term",
    (s) =>
      Effect.gen(function*() {
        yield* s.write({ hardState: { term: 4, votedFor: nid("a") } })
        yield* s.write({ hardState: { term: 5, votedFor: null } })
      }),
    (s) => Effect.map(s.load, (st) => expect(st.hardState).toEqual({ term: 5, votedFor: null }))
  )

  roundTrip(
    "the largest plausible term, 2^53−1, round-trips in the hard state and the leader record",
    (s) => s.write({ hardState: { term: MAX, votedFor: nid("a") }, leaderForTerm: { term: MAX, leaderId: nid("a") } }),
    (s) =>
      Effect.map(s.load, (st) => {
        expect(st.hardState).toEqual({ term: MAX, votedFor: "a" })
        expect(st.leaderForTerm).toEqual({ term: MAX, leaderId: "a" })
      })
  )

  roundTrip(
    "the leader-for-term record round-trips and a later term's record replaces it",
    (s) =>
      Effect.gen(function*() {
        yield* s.write({ hardState: { term: 2, votedFor: null }, leaderForTerm: { term: 2, leaderId: nid("a") } })
        expect((yield* s.load).leaderForTerm).toEqual({ term: 2, leaderId: "a" })
        yield* s.write({ hardState: { term: 3, votedFor: null }, leaderForTerm: { term: 3, leaderId: nid("c") } })
      }),
    (s) => Effect.map(s.load, (st) => expect(st.leaderForTerm).toEqual({ term: 3, leaderId: "c" }))
  )

  roundTrip(
    "a NoOp at index 1 with term 0 round-trips",
    (s) => s.write({ append: [noop(1, 0)] }),
    (s) => Effect.map(s.load, (st) => expect(st.entries).toEqual([noop(1, 0)]))
  )

  roundTrip(
    "a Command round-trips with its bytes and its dedup key",
    (s) => s.write({ hardState: { term: 1, votedFor: null }, append: [cmd(1, 1, bytes(0, 1, 127, 128, 255))] }),
    (s) =>
      Effect.map(s.load, (st) => {
        expect(st.entries).toEqual([cmd(1, 1, bytes(0, 1, 127, 128, 255))])
        expect(st.entries[0]!._tag === "Command" && st.entries[0]!.dedupKey).toEqual({ clientId: "client", requestId: 1 })
      })
  )

  roundTrip(
    "an empty command round-trips as an empty byte array",
    (s) => s.write({ hardState: { term: 1, votedFor: null }, append: [cmd(1, 1, new Uint8Array(0))] }),
    (s) =>
      Effect.map(s.load, (st) => {
        const e = st.entries[0]!
        expect(e._tag).toBe("Command")
        if (e._tag === "Command") expect(e.command.length).toBe(0)
      })
  )

  const big = Uint8Array.from({ length: 1024 * 1024 }, (_, i) => (i * 31 + (i >> 8)) & 0xff)
  roundTrip(
    "a 1 MiB command round-trips byte for byte",
    (s) => s.write({ hardState: { term: 1, votedFor: null }, append: [cmd(1, 1, big)] }),
    (s) =>
      Effect.gen(function*() {
        const [e] = yield* s.entries(1, 2)
        expect(e?._tag).toBe("Command")
        if (e?._tag === "Command") expect(sameBytes(e.command, big)).toBe(true)
      })
  )

  roundTrip(
    "a Config entry with a joint payload round-trips, learners included",
    (s) => s.write({ hardState: { term: 2, votedFor: null }, append: [conf(1, 2, jointConfig())] }),
    (s) =>
      Effect.map(s.load, (st) => {
        const e = st.entries[0]!
        expect(e._tag).toBe("Config")
        if (e._tag !== "Config") return
        expect(e.config.old !== undefined).toBe(true)
        expect(e.config.old !== undefined && sameMembers(e.config.old, jointConfig().old!)).toBe(true)
        expect(sameMembers(e.config.new, jointConfig().new)).toBe(true)
        expect([...e.config.new.learners]).toEqual(["e"])
      })
  )

  const long = (c: string) => c.repeat(255)
  roundTrip(
    "ids of 255 characters round-trip in the vote, the leader record, a dedup key and a config",
    (s) =>
      s.write({
        hardState: { term: 1, votedFor: nid(long("v")) },
        leaderForTerm: { term: 1, leaderId: nid(long("l")) },
        append: [cmd(1, 1, bytes(1), long("c")), conf(2, 1, configOf([long("v")], [long("l")]))]
      }),
    (s) =>
      Effect.map(s.load, (st) => {
        expect(st.hardState.votedFor).toBe(long("v"))
        expect(st.leaderForTerm?.leaderId).toBe(long("l"))
        expect(st.entries).toEqual([cmd(1, 1, bytes(1), long("c")), conf(2, 1, configOf([long("v")], [long("l")]))])
      })
  )

  const uni = ["nœud-🦀", "节点\u200d二", "e\u0301\u0301", "𝔘𝔫𝔦"]
  roundTrip(
    "unicode ids (astral, combining, zero-width) round-trip unchanged",
    (s) =>
      s.write({
        hardState: { term: 1, votedFor: nid(uni[0]!) },
        leaderForTerm: { term: 1, leaderId: nid(uni[1]!) },
        append: [cmd(1, 1, bytes(9), uni[2]!), conf(2, 1, configOf(uni.slice(0, 2), uni.slice(2)))]
      }),
    (s) =>
      Effect.map(s.load, (st) => {
        expect(st.hardState.votedFor).toBe(uni[0])
        expect(st.leaderForTerm?.leaderId).toBe(uni[1])
        expect(st.entries).toEqual([cmd(1, 1, bytes(9), uni[2]!), conf(2, 1, configOf(uni.slice(0, 2), uni.slice(2)))])
      })
  )

  roundTrip(
    "a lone entry at index 2^53−1 with term 2^53−1, after a snapshot at 2^53−2, round-trips",
    (s) =>
      s.write({
        snapshot: snapshotAt(MAX - 1, MAX - 1),
        hardState: { term: MAX, votedFor: null },
        append: [cmd(MAX, MAX, bytes(7))]
      }),
    (s) =>
      Effect.gen(function*() {
        const st = yield* s.load
        expect(st.snapshot?.meta.lastIncludedIndex).toBe(MAX - 1)
        expect(st.snapshot?.meta.lastIncludedTerm).toBe(MAX - 1)
        expect(st.entries).toEqual([cmd(MAX, MAX, bytes(7))])
        expect(yield* s.entries(MAX, MAX + 1)).toEqual([cmd(MAX, MAX, bytes(7))])
      })
  )

  roundTrip(
    "entries of all three kinds in one batch load in order, each with its kind",
    (s) => s.write({ hardState: { term: 2, votedFor: null }, append: [noop(1, 1), cmd(2, 1), conf(3, 2), cmd(4, 2)] }),
    (s) => Effect.map(s.load, (st) => expect(st.entries).toEqual([noop(1, 1), cmd(2, 1), conf(3, 2), cmd(4, 2)]))
  )

  roundTrip(
    "a snapshot round-trips with its index, term, config and state bytes",
    (s) =>
      s.write({
        hardState: { term: 4, votedFor: null },
        snapshot: snapshotAt(12, 4, bytes(9, 8, 7, 0, 255), configOf(["a", "b"], ["c"]))
      }),
    (s) =>
      Effect.map(s.load, (st) => {
        expect(st.snapshot?.meta.lastIncludedIndex).toBe(12)
        expect(st.snapshot?.meta.lastIncludedTerm).toBe(4)
        expect(sameMembers(st.snapshot!.meta.config.new, configOf(["a", "b"], ["c"]).new)).toBe(true)
        expect(st.snapshot?.meta.config.old !== undefined).toBe(false)
        expect([...(st.snapshot?.state ?? [])]).toEqual([9, 8, 7, 0, 255])
      })
  )

  roundTrip(
    "a snapshot whose config is joint and whose state is empty round-trips",
    (s) => s.write({ hardState: { term: 2, votedFor: null }, snapshot: snapshotAt(5, 2, new Uint8Array(0), jointConfig()) }),
    (s) =>
      Effect.map(s.load, (st) => {
        expect(st.snapshot?.state.length).toBe(0)
        expect(st.snapshot?.meta.config.old !== undefined && sameMembers(st.snapshot.meta.config.old, jointConfig().old!)).toBe(true)
        expect(sameMembers(st.snapshot!.meta.config.new, jointConfig().new)).toBe(true)
      })
  )

  roundTrip(
    "a later snapshot replaces the earlier one",
    (s) =>
      Effect.gen(function*() {
        yield* s.write({ hardState: { term: 3, votedFor: null }, snapshot: snapshotAt(5, 2, bytes(5)) })
        yield* s.write({ snapshot: snapshotAt(9, 3, bytes(9), configOf(["x"])) })
      }),
    (s) =>
      Effect.map(s.load, (st) => {
        expect(st.snapshot?.meta.lastIncludedIndex).toBe(9)
        expect(sameMembers(st.snapshot!.meta.config.new, configOf(["x"]).new)).toBe(true)
        expect([...(st.snapshot?.state ?? [])]).toEqual([9])
      })
  )

  roundTrip(
    "bytes are copied on write: mutating a command or a snapshot state afterwards changes nothing stored",
    (s) =>
      Effect.gen(function*() {
        const command = bytes(1, 2, 3)
        const state = bytes(4, 5, 6)
        yield* s.write({ hardState: { term: 1, votedFor: null }, snapshot: snapshotAt(2, 1, state), append: [cmd(3, 1, command)] })
        command.fill(0)
        state.fill(0)
      }),
    (s) =>
      Effect.gen(function*() {
        const st = yield* s.load
        expect([...st.snapshot!.state]).toEqual([4, 5, 6])
        expect(st.entries).toEqual([cmd(3, 1, bytes(1, 2, 3))])
      })
  )

  roundTrip(
    "bytes read are the reader's own: mutating what load or entries returned changes nothing stored",
    (s) =>
      Effect.gen(function*() {
        yield* s.write({ hardState: { term: 1, votedFor: null }, snapshot: snapshotAt(2, 1, bytes(4, 5)), append: [cmd(3, 1, bytes(1, 2))] })
        const st = yield* s.load
        st.snapshot!.state.fill(0)
        for (const e of st.entries) if (e._tag === "Command") e.command.fill(0)
        for (const e of yield* s.entries(3, 4)) if (e._tag === "Command") e.command.fill(0)
      }),
    (s) =>
      Effect.gen(function*() {
        const st = yield* s.load
        expect([...st.snapshot!.state]).toEqual([4, 5])
        expect(yield* s.entries(3, 4)).toEqual([cmd(3, 1, bytes(1, 2))])
      })
  )

  roundTrip(
    "a hard-state term below the stored one is refused with StorageError and changes nothing",
    (s) =>
      Effect.gen(function*() {
        yield* s.write({ hardState: { term: 6, votedFor: nid("a") } })
        yield* expectStorageError(s.write({ hardState: { term: 5, votedFor: nid("b") } }))
      }),
    (s) => Effect.map(s.load, (st) => expect(st.hardState).toEqual({ term: 6, votedFor: "a" }))
  )

  roundTrip(
    "an empty batch changes nothing",
    (s) =>
      Effect.gen(function*() {
        yield* s.write({ hardState: { term: 2, votedFor: null }, append: noops(1, 3, 2) })
        yield* s.write({})
      }),
    (s) =>
      Effect.map(s.load, (st) => {
        expect(st.hardState).toEqual({ term: 2, votedFor: null })
        expect(st.entries).toEqual(noops(1, 3, 2))
      })
  )
}
