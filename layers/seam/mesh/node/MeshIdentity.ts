/**
 * Who may open a voter link: the relay room that carries the voter links (`MESH_ROOM`) admits a
 * hello only when it is a voter of the core with a lower id than this server's voter (the lower id
 * dials: `services/cluster/VoterMesh.ts`) and carries a `PeerToken` for exactly that id in that
 * room, minted with the cluster secret. Its principal is `peer:<id>`, so a restarted voter takes
 * its own slot back at once; nobody else can.
 */
import { Effect } from "effect"
import { dialer } from "../../../../services/cluster/VoterMesh.js"
import * as PeerToken from "../../websocket/PeerToken.js"
import { tokenPrincipal } from "../../websocket/node/HostIdentity.js"
import type { HelloInfo, Principal } from "../../websocket/node/WebSocketHostOptions.js"
import { AuthRejected } from "../../websocket/node/WebSocketHostOptions.js"

/** The relay room of the voter links (one per accepting server; each dialer is a member). */
export const MESH_ROOM = "kuilt-mesh"

/** Checks a mesh hello (see the module comment). */
export type MeshAuthenticator = (hello: HelloInfo) => Effect.Effect<Principal, AuthRejected>

/**
 * The mesh check of voter `self` among `voters`, keyed by the cluster `secret`. Fails with
 * `InvalidPeerSecret` for a secret under 16 bytes.
 */
export const meshAuthenticator = (
  secret: string | Uint8Array,
  self: string,
  voters: ReadonlyArray<string>
): Effect.Effect<MeshAuthenticator, PeerToken.InvalidPeerSecret> =>
  Effect.map(PeerToken.secret(secret), (key) => {
    const members = new Set(voters)
    return (hello) => {
      const id = hello.peerId
      if (hello.room !== MESH_ROOM) return Effect.fail(new AuthRejected({ reason: `not the mesh room` }))
      if (id === undefined || !members.has(id) || id === self) {
        return Effect.fail(new AuthRejected({ reason: `"${id ?? ""}" is not another voter of this cluster` }))
      }
      if (dialer(id, self) !== id) return Effect.fail(new AuthRejected({ reason: `voter "${id}" does not dial "${self}" (the lower id dials)` }))
      if (hello.credentials === undefined || hello.credentials === "") return Effect.fail(new AuthRejected({ reason: `no token for voter "${id}"` }))
      return PeerToken.verify(key, hello.credentials, { room: MESH_ROOM, peerId: id }).pipe(
        Effect.mapBoth({ onFailure: (e) => new AuthRejected({ reason: e.message }), onSuccess: () => tokenPrincipal(id) })
      )
    }
  })
