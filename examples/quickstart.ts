import { Console, Context, Effect, Layer } from "effect"
import { ClusterConfig, InMemoryLoom, InMemoryRaftStorage, Loom, RaftNode, SeamRaftTransport } from "kuilt"

const cluster = ClusterConfig.ofVoters("n1", "n2", "n3")

// One node as a Layer: a seam woven on the Loom in context (n1 hosts the session, the others
// join it), Raft over that seam, in-memory storage.
const node = (id: string) =>
  RaftNode.layer({ cluster }).pipe(
    Layer.provide(SeamRaftTransport.layer),
    Layer.provide(
      id === "n1"
        ? Loom.layerHost({ sessionName: "demo", peerKey: id })
        : Loom.layerJoin({ sessionName: "demo", peerKey: id })
    ),
    Layer.provide(InMemoryRaftStorage.layer())
  )

const program = Effect.gen(function*() {
  // Three nodes in this scope, the host first.
  const nodes = yield* Effect.forEach(["n1", "n2", "n3"], (id) => Effect.map(Layer.build(node(id)), Context.get(RaftNode)))
  // Any node may propose: a follower forwards to the leader (parking the call until one is known).
  const entry = yield* nodes[2]!.propose(new TextEncoder().encode("hello"))
  yield* Console.log(`committed at index ${entry.index} in term ${entry.term}`)
})

// The fabric all three share: swap this Layer to run the same nodes over another Loom.
program.pipe(Effect.scoped, Effect.provide(InMemoryLoom.layer()), Effect.runPromise)
