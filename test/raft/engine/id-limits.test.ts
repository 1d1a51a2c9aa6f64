/**
 * The one id limit (services/IdLimit.ts: 1..255 bytes of well-formed UTF-8), the same in Schema,
 * wire and storage: ids are checked where they enter (`RaftNode.make`, `changeMembership`), a node
 * id at the limit works end to end (its automatic client id stays within the limit, its forwarded
 * proposals commit, its session table serialises), and no remote frame at or over a limit — of any
 * kind, from a member or not — stops a node.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber, Option, TestClock } from "effect"
import { InMemoryLoom } from "../../../layers/seam/inmemory/InMemoryLoom.js"
import * as InMemoryRaftStorage from "../../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import { SeamRaftTransport } from "../../../layers/raft/transport/SeamRaftTransport.js"
import { utf8Length } from "../../../services/IdLimit.js"
import { encodeRaftMessage } from "../../../src/codec/raft/RaftCodec.js"
import type { RaftMessage } from "../../../src/codec/raft/RaftMessage.js"
import { DeliveryPolicy } from "../../../services/seam/DeliveryPolicy.js"
import type { PeerId } from "../../../services/seam/PeerId.js"
import { ClientIdentity } from "../../../services/raft/ClientId.js"
import type { ClientId } from "../../../services/raft/ClientId.js"
import { ClusterConfig, ConfigPayload } from "../../../services/raft/ClusterConfig.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import { ClientSessionTable } from "../../../src/raft/ClientSessionTable.js"
import * as Raft from "../../../src/raft/RaftNode.js"
import { advanceUntil, awaitLeader, bytes, startCluster } from "./fixture.js"

const at = { ascii: "a".repeat(255), euro: "€".repeat(85), clef: "𝄞".repeat(63) + "€" }
const over = { ascii: "a".repeat(256), euro: "€".repeat(86), mixed: "€".repeat(85) + "x" }

/** A config built without validation, as a caller bypassing the Schema could. */
const unchecked = (voters: Array<string>, learners: Array<string> = []) =>
  new ClusterConfig({ voters: new Set(voters as Array<NodeId>), learners: new Set(learners as Array<NodeId>) }, { disableValidation: true })

describe("ids are checked where they enter", () => {
  it("the limits are what they claim (255 bytes at, 256+ over)", () => {
    for (const id of Object.values(at)) expect(utf8Length(id)).toBeLessThanOrEqual(255)
    for (const id of Object.values(over)) expect(utf8Length(id)).toBeGreaterThan(255)
  })

  it.scoped("RaftNode.make refuses a node id, member, durable client id or joinVia over the limit with RaftConfigError", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make({ policy: DeliveryPolicy.lossy(64), seed: 1 })
      const seam = yield* loom.host({ sessionName: "ids", peerKey: "ok", maxPeers: 4 })
      const transport = SeamRaftTransport.fromSeam(seam)
      const storage = yield* InMemoryRaftStorage.make()
      const attempts: Array<Parameters<typeof Raft.make>[0]> = [
        ...Object.values(over).map((id) => ({ cluster: unchecked([id]), transport: { ...transport, selfId: id as NodeId }, storage })),
        { cluster: unchecked(["ok"]), transport: { ...transport, selfId: "\ud800x" as NodeId }, storage },
        ...Object.values(over).map((id) => ({ cluster: unchecked(["ok", id]), transport, storage })),
        ...Object.values(over).map((id) => ({ cluster: unchecked(["ok"]), transport, storage, identity: ClientIdentity.Durable({ clientId: id as ClientId }) })),
        { cluster: unchecked([], ["ok"]), transport, storage, joinVia: [over.euro] }
      ]
      for (const options of attempts) {
        const error = yield* Raft.make(options).pipe(Effect.flip)
        expect(error._tag).toBe("RaftConfigError")
        expect(error._tag === "RaftConfigError" && error.reason).toMatch(/bytes long|well-formed/)
      }
    }))

  it.scoped("changeMembership refuses a member id over the limit with InvalidMembership", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ids: ["n1"], cluster: ClusterConfig.ofVoters("n1") })
      const leader = yield* awaitLeader(c, 10)
      yield* TestClock.adjust("5 millis")
      for (const id of Object.values(over)) {
        const error = yield* leader.node.changeMembership(unchecked(["n1"], [id])).pipe(Effect.flip)
        expect(error._tag).toBe("InvalidMembership")
      }
    }))
})

describe("node ids at the limit work end to end", () => {
  for (const [name, long] of Object.entries(at)) {
    it.scoped(`a cluster whose nodes have 255-byte ids (${name}) elects, forwards and commits; auto client ids fit; session tables serialise`, () =>
      Effect.gen(function*() {
        const ids = [long, `${long.slice(0, -1)}2`.slice(-255), "n3"].map((id, i) => (utf8Length(id) <= 255 ? id : `n${i}`))
        const c = yield* startCluster({ ids, cluster: ClusterConfig.ofVoters(...ids), seed: 71 })
        const leader = yield* awaitLeader(c)
        const table = ClientSessionTable.empty()
        for (const n of c.nodes) {
          const clientId = yield* n.node.clientId
          expect(utf8Length(clientId)).toBeLessThanOrEqual(255)
          const failure = yield* Effect.fork(n.node.awaitFailure)
          // Each node proposes: followers forward to the leader, whatever the leader's id.
          const entry = yield* n.node.propose(bytes(`from ${n.id.length}`))
          expect(entry.dedupKey.clientId).toBe(clientId)
          expect(table.shouldApply(entry.dedupKey)).toBe(true)
          yield* TestClock.adjust("5 millis")
          expect(Option.isNone(yield* Fiber.poll(failure))).toBe(true)
        }
        const restored = ClientSessionTable.fromBytes(table.toBytes())
        expect(Either.isRight(restored) && restored.right.size).toBe(3)
        expect(yield* leader.node.role.get).toBe("Leader")
      }))
  }
})

describe("no remote frame at or over an id limit stops a node", () => {
  /** Every frame kind that carries an id, with `id` in each id field. */
  const framesWith = (id: string, term: number, last: number): Array<RaftMessage> => [
    {
      _tag: "AppendEntries",
      term,
      prevLogIndex: last,
      prevLogTerm: term,
      entries: [{ _tag: "Command", index: last + 1, term, command: bytes("x"), dedupKey: { clientId: id as ClientId, requestId: 1 } }],
      leaderCommit: 0,
      round: 0
    },
    {
      _tag: "AppendEntries",
      term,
      prevLogIndex: last,
      prevLogTerm: term,
      entries: [{ _tag: "Config", index: last + 1, term, config: ConfigPayload.make({ new: unchecked(["n1", "n2", "n3"], [id]) }, { disableValidation: true }) }],
      leaderCommit: 0,
      round: 0
    },
    {
      _tag: "InstallSnapshot",
      term,
      lastIncludedIndex: last + 5,
      lastIncludedTerm: term,
      offset: 0,
      totalBytes: 1,
      data: bytes("s"),
      done: true,
      config: ConfigPayload.make({ new: unchecked([id]) }, { disableValidation: true }),
      round: 0
    },
    { _tag: "Forward", clientRequestId: 3, command: bytes("fwd"), dedupKey: { clientId: id as ClientId, requestId: 1 } },
    { _tag: "Vouch", term, leader: id as NodeId }
  ]
  /** Frame kinds without ids, sent under an over-long sender id. */
  const plain = (term: number): Array<RaftMessage> => [
    { _tag: "RequestVote", term: term + 1, lastLogIndex: 1000, lastLogTerm: term + 1, leadershipTransfer: false },
    { _tag: "PreVote", term: term + 1, lastLogIndex: 1000, lastLogTerm: term + 1, round: 1 },
    { _tag: "TimeoutNow", term },
    { _tag: "ReadIndexRequest", requestId: 1 },
    { _tag: "VouchRequest", term },
    { _tag: "AppendEntriesResponse", term: term + 1, success: true, matchIndex: 1000, rejectedIndex: 0, conflictIndex: 0, conflictTerm: 0, echoedRound: 1 }
  ]

  it.scoped("from a member and from senders at and over the limit, every node keeps running and the cluster keeps committing", () =>
    Effect.gen(function*() {
      const ids = ["n1", "n2", "n3"]
      const c = yield* startCluster({ ids, cluster: ClusterConfig.ofVoters(...ids), seed: 72 })
      const leader = yield* awaitLeader(c)
      yield* leader.node.propose(bytes("before"))
      yield* TestClock.adjust("20 millis")
      const failures = yield* Effect.forEach(c.nodes, (n) => Effect.fork(n.node.awaitFailure))
      const term = yield* leader.node.term.get
      const last = yield* leader.node.commitIndex.get
      const follower = c.nodes.find((n) => n !== leader)!
      const senders = [follower.id, leader.id, at.euro, at.ascii, over.ascii, over.euro]
      let injected = 0
      for (const target of c.nodes) {
        for (const from of senders) {
          if (from === target.id) continue
          for (const id of [...Object.values(at), ...Object.values(over)]) {
            for (const f of framesWith(id, term, last)) {
              yield* c.loom.faults.inject(target.id as PeerId, from as PeerId, encodeRaftMessage(f)).pipe(Effect.ignore)
              injected++
            }
          }
          for (const f of plain(term)) yield* c.loom.faults.inject(target.id as PeerId, from as PeerId, encodeRaftMessage(f)).pipe(Effect.ignore)
        }
        yield* TestClock.adjust("2 millis")
      }
      expect(injected).toBeGreaterThan(100)
      yield* TestClock.adjust("100 millis")
      for (const f of failures) expect(Option.isNone(yield* Fiber.poll(f))).toBe(true)
      // Whoever leads now, every node still commits what the cluster commits.
      const now = yield* awaitLeader(c)
      const e = yield* now.node.propose(bytes("after"))
      yield* advanceUntil(
        Effect.map(Effect.forEach(c.nodes, (n) => n.node.commitIndex.get), (xs) => xs.every((x) => x >= e.index)),
        500,
        "every node to commit the entry proposed after the frames"
      )
      for (const f of failures) expect(Option.isNone(yield* Fiber.poll(f))).toBe(true)
    }))
})
