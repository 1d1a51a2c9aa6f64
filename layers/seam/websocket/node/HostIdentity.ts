/**
 * `HostIdentity`: how a host binds a claimed peer id to a credential.
 *
 * - `SharedSecret` (the default to deploy with): every hello must carry a `PeerToken` for exactly
 *   the room and peer id it claims, minted with the same secret. Principal: `peer:<id>`.
 * - `Verifier`: any other scheme (sessions, JWTs, mTLS headers checked by a proxy, …): a function of
 *   the hello that returns the principal or refuses. The principal must name the credential's owner:
 *   two hellos with the same principal are the same identity (it may take its own slot back).
 * - `Open`: no identity at all; any client may claim any free id. The host logs a warning at start.
 *
 * A claim that fails is refused with `AuthRefused` (counted by reason). A slot held by a member is
 * taken over only by a hello of the same principal; under `Open` there is no principal, so a live
 * or reconnecting slot is never taken over (`PeerIdInUse`).
 */
import { Data, Effect } from "effect"
import * as PeerToken from "../PeerToken.js"
import type { HelloInfo, Principal } from "./WebSocketHostOptions.js"
import { AuthRejected } from "./WebSocketHostOptions.js"

export type HostIdentity = Data.TaggedEnum<{
  Open: {}
  SharedSecret: {
    /** At least 16 bytes; a string is taken as UTF-8. */
    readonly secret: string | Uint8Array
    /** Tolerated clock difference between minters and the host. Default 60 s. */
    readonly leewayMs?: number
  }
  Verifier: {
    /** Credentials → principal. A failure or a defect refuses the hello with `AuthRefused`. */
    readonly authenticate: (hello: HelloInfo) => Effect.Effect<Principal, AuthRejected>
  }
}>

const constructors = Data.taggedEnum<HostIdentity>()

/** The identity constructors: `HostIdentity.sharedSecret({ secret })`, `.verifier(...)`, `.open()`. */
export const HostIdentity = {
  open: (): HostIdentity => constructors.Open(),
  sharedSecret: (options: { readonly secret: string | Uint8Array; readonly leewayMs?: number }): HostIdentity =>
    constructors.SharedSecret(options),
  verifier: (authenticate: (hello: HelloInfo) => Effect.Effect<Principal, AuthRejected>): HostIdentity =>
    constructors.Verifier({ authenticate }),
  $is: constructors.$is,
  $match: constructors.$match
}

/** A resolved identity: `undefined` for an open host. */
export type Authenticator = ((hello: HelloInfo) => Effect.Effect<Principal, AuthRejected>) | undefined

/** The principal of a peer proven by a peer token. */
export const tokenPrincipal = (peerId: string): Principal => `peer:${peerId}`

/**
 * Turns the option into the hello check (importing a shared secret once). Fails with
 * `InvalidPeerSecret` for a secret that is too short.
 */
export const authenticatorOf = (identity: HostIdentity): Effect.Effect<Authenticator, PeerToken.InvalidPeerSecret> => {
  switch (identity._tag) {
    case "Open":
      return Effect.succeed(undefined)
    case "Verifier":
      return Effect.succeed(identity.authenticate)
    case "SharedSecret":
      return Effect.map(PeerToken.secret(identity.secret), (key) => (hello: HelloInfo) => {
        const peerId = hello.peerId
        if (peerId === undefined) return Effect.fail(new AuthRejected({ reason: "a peer id is required: a token binds one id" }))
        if (hello.credentials === undefined || hello.credentials === "") {
          return Effect.fail(new AuthRejected({ reason: `no token for peer "${peerId}"` }))
        }
        return PeerToken.verify(key, hello.credentials, { room: hello.room, peerId }, {
          ...(identity.leewayMs === undefined ? {} : { leeway: identity.leewayMs })
        }).pipe(
          Effect.mapBoth({
            onFailure: (e) => new AuthRejected({ reason: e.message }),
            onSuccess: () => tokenPrincipal(peerId)
          })
        )
      })
  }
}
