/**
 * What the host's authentication sees and answers (`HostIdentity`, `WebSocketRelayOptions.identity`):
 * the client's hello, the principal it is proven to be, and the refusal. Kept apart from the
 * options so `HostIdentity` and `WebSocketHostOptions` do not import each other.
 */
import { Data } from "effect"

/** What the authentication hook sees of a client's `Hello`. */
export interface HelloInfo {
  readonly room: string
  readonly displayName: string
  readonly sessionId: string
  readonly peerId: string | undefined
  readonly credentials: string | undefined
  /** The `Origin` header of the upgrade request, when the client sent one. */
  readonly origin: string | undefined
  /** True when the hello carries a resume token (the hook runs for resumes too). */
  readonly resuming: boolean
}

/** The authentication hook refused a hello; `reason` is sent to the client in the `Reject`. */
export class AuthRejected extends Data.TaggedError("AuthRejected")<{ readonly reason: string }> {}

/** Who the authentication hook says a client is (kept with the member, shown in `stats`). */
export type Principal = string
