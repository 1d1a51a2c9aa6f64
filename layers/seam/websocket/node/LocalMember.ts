/**
 * A member of a relay room that lives in the relay's own process: the server's own seam among its
 * clients (a cluster server that serves clients and relays for them, say). It is admitted like a
 * client — a slot, the roster, frames relayed with the sender stamped by the relay — but without a
 * socket, a handshake, rate limits or heartbeats to miss: frames are handed over in memory.
 *
 * Both directions reuse the wire encoding, so the relay's routing and the client's `Seam` are the
 * ones every socket member gets (`HostRouting.route`, `ClientSession`): the host side of the link
 * decodes what the relay delivers to it, and the member's sends are routed as if read from a
 * socket. The member's identity is `local:<peerId>`, a principal no hello can present, so no
 * client can take its slot over; a client claiming its id is refused with `PeerIdInUse`.
 */
import { Effect, Either, Scope } from "effect"
import { DeliveryPolicy } from "../../../../services/seam/DeliveryPolicy.js"
import type { SeamShape } from "../../../../services/seam/Seam.js"
import { WeaveFailed } from "../../../../services/seam/SeamErrors.js"
import { CloseReason } from "../../../../services/seam/SeamState.js"
import type { ClientLink } from "../client/ClientLink.js"
import { ClientSession } from "../client/ClientSession.js"
import { decodeMessage, PROTOCOL_VERSION } from "../Protocol.js"
import { rejectCodeName } from "../RejectCode.js"
import type { Connection, HostLink } from "./HostMembers.js"
import { route } from "./HostRouting.js"
import type { HostRooms } from "./WebSocketHostRooms.js"

/** Options of an in-process member. */
export interface LocalMemberOptions {
  /** Display name shown in the relay's `rooms` stats. Default: the peer id. */
  readonly displayName?: string
  /**
   * Most frames queued for the member's collector before its seam tears with `FrameOverflow`.
   * Default 65 536.
   */
  readonly maxBufferedFrames?: number
}

/** The principal of an in-process member (no hello can claim it: hellos get `peer:` or a verifier's). */
export const localPrincipal = (peerId: string): string => `local:${peerId}`

/**
 * Admits `peerId` to `room` as an in-process member and returns its seam, bound to the caller's
 * scope (closing it leaves the room at once, as a `Bye` would). Fails with `WeaveFailed` when the
 * relay refuses it (the id is live in the room, the room or the relay is full).
 */
export const makeLocalMember = (
  rooms: HostRooms,
  room: string,
  peerId: string,
  options: LocalMemberOptions = {}
): Effect.Effect<SeamShape, WeaveFailed, Scope.Scope> =>
  Effect.gen(function*() {
    let session: ClientSession | undefined
    let conn: Connection | undefined
    let refused: string | undefined
    const clientLink: ClientLink = {
      send: (bytes) => {
        const c = conn
        if (c === undefined || c.phase !== "member") return false
        c.heard = true
        const decoded = decodeMessage(bytes)
        // Our own encoder wrote these bytes: a decode failure would be a bug, dropped like one.
        if (Either.isLeft(decoded)) return false
        route(rooms, c, decoded.right)
        return true
      },
      bufferedAmount: () => 0,
      close: () => {
        const c = conn
        if (c !== undefined) rooms.onClose(c)
      },
      down: Effect.never,
      release: Effect.void
    }
    const hostLink: HostLink = {
      send: (bytes) => {
        const decoded = decodeMessage(bytes)
        if (Either.isLeft(decoded)) return
        const m = decoded.right
        switch (m._tag) {
          case "Welcome":
            session ??= new ClientSession(m, DeliveryPolicy.reliable(), options.maxBufferedFrames ?? 65_536, undefined)
            session.up(clientLink, m)
            return
          case "Reject":
            if (session === undefined) refused = `${rejectCodeName(m.code)}: ${m.reason}`
            return
          default:
            session?.onFrame(m)
        }
      },
      bufferedAmount: () => 0,
      // The relay ended the membership (closing, superseded): the seam tears for good.
      close: (code, reason) => session?.tear(CloseReason.Error({ cause: new WeaveFailed({ reason: `relay closed the member: ${code} ${reason}` }) }), false),
      terminate: () => session?.tear(CloseReason.Unreachable(), false),
      pause: () => {},
      resume: () => {},
      origin: undefined,
      address: undefined
    }
    conn = rooms.open(hostLink, rooms.now())
    if (conn === undefined) return yield* new WeaveFailed({ reason: refused ?? "the relay refused the connection" })
    rooms.admit(conn, {
      _tag: "Hello",
      protocolVersion: PROTOCOL_VERSION,
      room,
      displayName: options.displayName ?? peerId,
      sessionId: "",
      peerId
    }, localPrincipal(peerId))
    const admitted = session as ClientSession | undefined
    if (admitted === undefined) {
      rooms.onClose(conn)
      return yield* new WeaveFailed({ reason: refused ?? "the relay did not admit the member" })
    }
    const scope = yield* Effect.scope
    // Leaving says Bye (the slot is freed at once) and releases the connection.
    yield* Scope.addFinalizer(scope, Effect.sync(() => admitted.tear(CloseReason.Normal(), true)))
    return admitted.seam()
  })
