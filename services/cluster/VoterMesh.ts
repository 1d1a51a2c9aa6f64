/**
 * The voter core's links: the complete graph K_m of m voters (m = 1, 3 or 5 in practice), every
 * pair linked directly (no relay host between voters). A `VoterMesh` gives each voter that this
 * process runs one `Seam` that reaches every other voter over its own pair link, so a Raft node
 * (through the cluster's router) talks to its peers as if they shared one room.
 *
 * Implementations: in memory for voters in one process (`layers/seam/mesh/InMemoryVoterMesh.ts`),
 * and direct WebSocket links between server processes (`layers/seam/mesh/node/WebSocketVoterMesh.ts`),
 * where each link is re-established by itself under the same seam: a tear and a restore never lose
 * the node, its log or its identity.
 */
import type { Effect } from "effect"
import { Context } from "effect"
import type { NodeId } from "../raft/NodeId.js"
import type { SeamShape } from "../seam/Seam.js"

/** One direction-free pair link `a`–`b` as seen from the voter `from` of this process. */
export interface MeshLinkStatus {
  /** The voter of this process. */
  readonly from: NodeId
  /** The voter at the other end. */
  readonly to: NodeId
  /** `Up`: frames flow; `Connecting`: being (re-)established; `Down`: nothing is trying (closed). */
  readonly state: "Up" | "Connecting" | "Down"
  /** Which side opens the link: the lower id dials (`"dials"`), the higher accepts (`"accepts"`), or in memory. */
  readonly role: "dials" | "accepts" | "memory"
  /** Times the link went down after being up. */
  readonly drops: number
  /** The last reason it was down, if any. */
  readonly lastError: string | undefined
}

/** What a `VoterMesh` offers; the service is `VoterMesh` below. */
export interface VoterMeshShape {
  /** Every voter of the core, in a fixed order (the same in every process). */
  readonly voters: ReadonlyArray<NodeId>
  /**
   * One seam per voter run by this process: `selfId` is the voter, `peers` the voters it can reach
   * right now (always itself). Frames between two voters travel only on their own pair link.
   * Its `incoming` is collected once, by whoever runs the voter.
   */
  readonly seams: ReadonlyMap<NodeId, SeamShape>
  /** The pair links of this process's voters, now. */
  readonly links: Effect.Effect<ReadonlyArray<MeshLinkStatus>>
}

/** The `VoterMesh` service: the voter core's links, from context. */
export class VoterMesh extends Context.Tag("kuilt/VoterMesh")<VoterMesh, VoterMeshShape>() {}

/** Who opens the link between `a` and `b`: the lower id (string order) dials the higher. */
export const dialer = (a: string, b: string): string => (a < b ? a : b)
