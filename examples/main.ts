/**
 * `npm start`: three Raft nodes over the in-memory fabric agree on a log.
 *
 * It proposes from a follower (forwarded to the leader), reads linearizably with a read fence,
 * crashes the leader, waits for a new one and keeps going — printing what each node committed.
 * Runs on the real clock; everything the nodes do is deterministic only in tests (TestClock).
 */
import { Effect, Exit, Option, Ref, Scope, Stream } from "effect"
import { ClusterConfig, InMemoryLoom, InMemoryRaftStorage, RaftNode, type RaftNodeShape, SeamRaftTransport } from "../src/index.js"

const ids = ["n1", "n2", "n3"] as const
const text = new TextDecoder()
const bytes = (s: string) => new TextEncoder().encode(s)

const program = Effect.gen(function*() {
  const loom = yield* InMemoryLoom.make()
  const cluster = ClusterConfig.ofVoters(...ids)
  const nodes: Array<{ id: string; node: RaftNodeShape; scope: Scope.CloseableScope; applied: Ref.Ref<Array<string>> }> = []
  for (const [i, id] of ids.entries()) {
    // Each node has its own Scope: closing it is a crash.
    const scope = yield* Scope.make()
    const seam = yield* (i === 0
      ? loom.host({ sessionName: "demo", peerKey: id })
      : loom.join({ sessionName: "demo", peerKey: id })).pipe(Scope.extend(scope))
    const storage = yield* InMemoryRaftStorage.make()
    const node = yield* RaftNode.make({ cluster, transport: SeamRaftTransport.fromSeam(seam), storage }).pipe(
      Scope.extend(scope)
    )
    // A tiny state machine: the list of applied commands.
    const applied = yield* Ref.make<Array<string>>([])
    yield* node.committedFrom(1).pipe(
      Stream.runForEach((c) => (c._tag === "Entry" ? Ref.update(applied, (xs) => [...xs, text.decode(c.entry.command)]) : Effect.void)),
      Effect.forkIn(scope)
    )
    nodes.push({ id, node, scope, applied })
  }

  const leaderOf = Effect.gen(function*() {
    for (;;) {
      for (const n of nodes) {
        if ((yield* n.node.role.get) === "Leader") return n
      }
      yield* Effect.sleep("10 millis")
    }
  })

  const first = yield* leaderOf
  console.log(`leader elected: ${first.id} (term ${yield* first.node.term.get})`)

  const follower = nodes.find((n) => n !== first)!
  const e1 = yield* follower.node.propose(bytes("hello from a follower"))
  console.log(`${follower.id} proposed, committed at index ${e1.index} (the leader's no-op took index 1)`)
  const e2 = yield* first.node.propose(bytes("hello from the leader"))
  console.log(`${first.id} proposed, committed at index ${e2.index}`)

  const fence = yield* follower.node.readFence
  console.log(`${follower.id} obtained a linearizable read fence at index ${fence}`)

  console.log(`crashing the leader ${first.id} ...`)
  yield* Scope.close(first.scope, Exit.void)
  nodes.splice(nodes.indexOf(first), 1)
  const second = yield* leaderOf
  console.log(`new leader: ${second.id} (term ${yield* second.node.term.get})`)
  const e3 = yield* second.node.propose(bytes("life goes on"))
  console.log(`${second.id} committed index ${e3.index}`)

  yield* Effect.sleep("100 millis")
  for (const n of nodes) {
    const leader = Option.getOrElse(yield* n.node.leader.get, () => "none")
    console.log(`${n.id} (leader: ${leader}) applied: ${JSON.stringify(yield* Ref.get(n.applied))}`)
  }
  for (const n of nodes) yield* Scope.close(n.scope, Exit.void)
})

Effect.runPromise(Effect.scoped(program)).then(
  () => process.exit(0),
  (e) => {
    console.error(e)
    process.exit(1)
  }
)
