/**
 * The voter core in one process: K_m over an `InMemoryLoom`, where every seam reaches every other
 * (a flat mesh is the complete graph). Frames are handed over by reference; the loom's fault
 * controls (`loom.faults.cut(a, b)`, `isolate`, latency, loss) act on the pair links, so tests can
 * partition voters of one process as they would partition servers.
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import type { MeshLinkStatus, VoterMeshShape } from "../../../services/cluster/VoterMesh.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { SeamShape } from "../../../services/seam/Seam.js"
import type { WeaveFailed } from "../../../services/seam/SeamErrors.js"
import { InMemoryLoom } from "../inmemory/InMemoryLoom.js"
import type { InMemoryLoomOptions, InMemoryLoomShape } from "../inmemory/InMemoryLoom.js"

/** Name of the in-memory session that holds the voters. */
export const MESH_SESSION = "kuilt-voter-mesh"

/** An in-memory mesh, with the loom under it (for fault injection). */
export interface InMemoryVoterMeshShape extends VoterMeshShape {
  readonly loom: InMemoryLoomShape
}

/**
 * Links `voters` (all run by this process) into K_m over a fresh `InMemoryLoom` made with
 * `options`, in the caller's scope. Fails with `WeaveFailed` for an id the loom refuses (empty,
 * over 255 characters, duplicated).
 */
export const make = (
  voters: ReadonlyArray<NodeId>,
  options: InMemoryLoomOptions = {}
): Effect.Effect<InMemoryVoterMeshShape, WeaveFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const loom = yield* InMemoryLoom.make(options)
    const seams = new Map<NodeId, SeamShape>()
    for (const [i, id] of voters.entries()) {
      const seam = i === 0
        ? yield* loom.host({ sessionName: MESH_SESSION, maxPeers: voters.length, peerKey: id })
        : yield* loom.join({ sessionName: MESH_SESSION, peerKey: id })
      seams.set(id, seam)
    }
    const links = Effect.gen(function*() {
      const out: Array<MeshLinkStatus> = []
      for (const [from, seam] of seams) {
        const peers = yield* seam.peers.get
        for (const to of voters) {
          if (to === from) continue
          out.push({ from, to, state: peers.has(to as string as never) ? "Up" : "Down", role: "memory", drops: 0, lastError: undefined })
        }
      }
      return out
    })
    return { voters, seams, links, loom }
  })

/** `InMemoryVoterMesh.make`: see `make`. */
export const InMemoryVoterMesh = { make, MESH_SESSION }
