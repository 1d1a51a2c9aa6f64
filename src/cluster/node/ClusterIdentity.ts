/**
 * Who may enter a cluster server's relay, and as whom. One relay carries two rooms:
 *
 * - the mesh room, for the voter links: only a lower voter with a token minted with the cluster
 *   secret (`layers/seam/mesh/node/MeshIdentity.ts`);
 * - the client room (`CLIENT_ROOM`), for learner clients: a client must name itself, may never
 *   claim a voter's id, and — when the server has a client secret — must carry a `PeerToken` for
 *   its id in that room (minted by whoever holds the client secret: the client itself, or an app
 *   server handing tokens out). Its principal is then `peer:<id>`: a restarted client takes its
 *   slot back. Without a client secret every hello is its own principal, so no client can take
 *   over the slot of another, and a warning is logged at start.
 *
 * Any other room is refused. A refusal is `AuthRefused`, counted by the relay.
 */
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { meshAuthenticator, MESH_ROOM } from "../../../layers/seam/mesh/node/MeshIdentity.js"
import { tokenPrincipal } from "../../../layers/seam/websocket/node/HostIdentity.js"
import { HostIdentity } from "../../../layers/seam/websocket/node/HostIdentity.js"
import { AuthRejected } from "../../../layers/seam/websocket/node/WebSocketHostOptions.js"
import * as PeerToken from "../../../layers/seam/websocket/PeerToken.js"
import { CLIENT_ROOM } from "../ClusterWire.js"

export interface ClusterIdentityOptions {
  /** The voter whose relay this is. */
  readonly self: string
  readonly voters: ReadonlyArray<string>
  /** The cluster secret (voter links); `undefined` when every voter runs in this process. */
  readonly secret: string | Uint8Array | undefined
  /** The client secret; `undefined`: clients are not authenticated (only kept off voter ids). */
  readonly clientSecret: string | Uint8Array | undefined
}

/** The relay identity of a cluster server. Fails with `InvalidPeerSecret` for a secret under 16 bytes. */
export const clusterIdentity = (options: ClusterIdentityOptions): Effect.Effect<HostIdentity, PeerToken.InvalidPeerSecret> =>
  Effect.gen(function*() {
    const mesh = options.secret === undefined ? undefined : yield* meshAuthenticator(options.secret, options.self, options.voters)
    const clientKey = options.clientSecret === undefined ? undefined : yield* PeerToken.secret(options.clientSecret)
    const voters = new Set(options.voters)
    return HostIdentity.verifier((hello) => {
      if (hello.room === MESH_ROOM) {
        return mesh === undefined ? Effect.fail(new AuthRejected({ reason: "this server has no voter links" })) : mesh(hello)
      }
      if (hello.room !== CLIENT_ROOM) return Effect.fail(new AuthRejected({ reason: `no room "${hello.room}" here` }))
      const id = hello.peerId
      if (id === undefined) return Effect.fail(new AuthRejected({ reason: "a client must name itself (peer id)" }))
      if (voters.has(id)) return Effect.fail(new AuthRejected({ reason: `"${id}" is a voter's id; a client may not claim it` }))
      if (clientKey === undefined) return Effect.succeed(`client:${randomUUID()}`)
      if (hello.credentials === undefined || hello.credentials === "") {
        return Effect.fail(new AuthRejected({ reason: `no token for client "${id}"` }))
      }
      return PeerToken.verify(clientKey, hello.credentials, { room: CLIENT_ROOM, peerId: id }).pipe(
        Effect.mapBoth({ onFailure: (e) => new AuthRejected({ reason: e.message }), onSuccess: () => tokenPrincipal(id) })
      )
    })
  })
