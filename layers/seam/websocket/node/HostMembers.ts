/**
 * The host's plain records: one accepted socket (`HostLink`, `Connection`), one room member
 * (`Member`, which outlives its connections for the reconnect window) and a room. Mutated only by
 * `HostRooms`, synchronously.
 */
import { peerIdBytes } from "../Protocol.js"
import type { Principal } from "./WebSocketHostOptions.js"
import { TokenBucket } from "./TokenBucket.js"

/** One accepted WebSocket, as the rooms see it. */
export interface HostLink {
  /** Queues one binary message. */
  readonly send: (bytes: Uint8Array) => void
  /** Bytes queued and not yet written to the socket. */
  readonly bufferedAmount: () => number
  /** Closes with a close frame (queued after pending data). */
  readonly close: (code: number, reason: string) => void
  /** Destroys the socket at once (frees its buffers; the peer sees 1006). */
  readonly terminate: () => void
  /** Stops reading from the socket (TCP then pushes back on the sender). */
  readonly pause: () => void
  /** Reads again after `pause`. */
  readonly resume: () => void
  /** The `Origin` header of the upgrade request, when the client sent one. */
  readonly origin: string | undefined
  /** The remote address (per-address limits), when known. */
  readonly address: string | undefined
}

export class Connection {
  phase: "handshake" | "authenticating" | "member" | "closed" = "handshake"
  member: Member | undefined = undefined
  heard = true
  lastHeard: number
  badFrames = 0
  byeReceived = false
  /** Paused for its rate limit (a resume is scheduled). */
  paused = false
  /** Frames read in a turn that already had its quantum, handled in later turns (reading paused). */
  backlog: Array<Uint8Array> | undefined = undefined
  /** The loop turn of `turnFrames` (see `Turns`). */
  turn = -1
  /** Frames handled in `turn`. */
  turnFrames = 0
  /** Set when the socket is being closed and must be destroyed if still open at this time. */
  terminateAt: number | undefined = undefined
  /** Released from the per-address count (exactly once, when the socket closes). */
  released = false
  readonly messages: TokenBucket
  readonly bytes: TokenBucket

  constructor(
    readonly link: HostLink,
    readonly openedAt: number,
    limits: { readonly messagesPerSecond: number; readonly messageBurst: number; readonly bytesPerSecond: number; readonly byteBurst: number }
  ) {
    this.lastHeard = openedAt
    this.messages = new TokenBucket(limits.messagesPerSecond, limits.messageBurst, openedAt)
    this.bytes = new TokenBucket(limits.bytesPerSecond, limits.byteBurst, openedAt)
  }
}

export class Member {
  conn: Connection | undefined = undefined
  /** The id's UTF-8 bytes, written into every frame this member sends. */
  readonly idBytes: Uint8Array
  /** When the connection dropped (the reconnect window runs from here). */
  droppedAt = 0
  constructor(
    readonly peerId: string,
    readonly room: Room,
    public token: string,
    readonly displayName: string,
    /** Who proved this id at admission (`undefined` on an open host). */
    readonly principal: Principal | undefined
  ) {
    this.idBytes = peerIdBytes(peerId)
  }
}

export class Room {
  readonly members = new Map<string, Member>()
  constructor(readonly name: string) {}
}
