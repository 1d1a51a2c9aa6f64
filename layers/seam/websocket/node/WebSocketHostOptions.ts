/**
 * Options and public types of the WebSocket host (`WebSocketHost.make`), with their defaults.
 * Every limit has a finite default so a host started with no options still bounds what one client
 * can make it hold.
 */
import type { Duration, Effect } from "effect"
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

export interface WebSocketHostOptions {
  /** TCP port; `0` (the default) picks a free one (read it from `host.port`). */
  readonly port?: number
  /** Interface to listen on. Default `"127.0.0.1"` (loopback only): exposing a host is a choice. */
  readonly host?: string
  /** The host's identity, sent in `Welcome` (clients may pin it). Default: a random UUID. */
  readonly serverPeerId?: string
  /**
   * Largest WebSocket message accepted, in bytes. Default 1 MiB (the `ws` default of 100 MiB would
   * let one client make the host buffer 100 MiB per message). A larger message closes the
   * connection with 1009. Payload budgets are this minus `RELAY_OVERHEAD_BYTES`.
   */
  readonly maxFrameBytes?: number
  /** Largest first frame (the `Hello`), in bytes. Default 8 KiB; a larger one is `MalformedHello`. */
  readonly maxHelloBytes?: number
  /**
   * Most bytes queued for one connection and not yet written to its socket. Default 4 MiB. A send
   * that would exceed it disconnects that connection (`SlowConsumer`, counted in stats); the
   * member keeps its slot for the reconnect window. Policy: disconnect the slow reader, never
   * drop frames silently in the middle of a live stream and never stall the other members.
   */
  readonly maxOutboundBytesPerConnection?: number
  /** Most members of one room. Default 64; a join beyond it is `RoomFull`. */
  readonly roomCapacity?: number
  /** Most rooms. Default 1024; a join creating one more is `HostFull`. */
  readonly maxRooms?: number
  /** Most open connections (including ones still in the handshake). Default 1024 (`HostFull`). */
  readonly maxConnections?: number
  /** Time a connection has to send its `Hello` and be admitted. Default 5 s (`HandshakeTimeout`). */
  readonly handshakeTimeout?: Duration.DurationInput
  /** How long a dropped member keeps its slot for a resume. Default 10 s; 0 frees it at once. */
  readonly reconnectWindow?: Duration.DurationInput
  /** Ping period. Default 5 s. A connection silent for 3 periods is closed (`HeartbeatTimeout`). */
  readonly heartbeatInterval?: Duration.DurationInput
  /**
   * Bad frames (undecodable, or of a host-only type) tolerated per connection; they are dropped
   * and counted, and one more closes the connection with `ProtocolViolation`. Default 100.
   */
  readonly maxBadFrames?: number
  /**
   * Browser origins allowed to connect. When set, an upgrade whose `Origin` header is present and
   * not listed is refused with HTTP 403 before any WebSocket state exists. Requests without an
   * `Origin` (non-browser clients, which could forge it anyway) are allowed.
   */
  readonly allowedOrigins?: ReadonlyArray<string>
  /**
   * Authentication at hello: credentials → principal. A failure (`AuthRejected`) or a defect
   * rejects the connection with `AuthRefused`. Runs within the handshake timeout.
   */
  readonly authenticate?: (hello: HelloInfo) => Effect.Effect<Principal, AuthRejected>
}

/** The options with every default filled in (durations in ms). */
export interface ResolvedHostOptions {
  readonly port: number
  readonly host: string
  readonly serverPeerId: string
  readonly maxFrameBytes: number
  readonly maxHelloBytes: number
  readonly maxOutboundBytesPerConnection: number
  readonly roomCapacity: number
  readonly maxRooms: number
  readonly maxConnections: number
  readonly handshakeTimeoutMs: number
  readonly reconnectWindowMs: number
  readonly heartbeatIntervalMs: number
  readonly maxBadFrames: number
  readonly allowedOrigins: ReadonlyArray<string> | undefined
  readonly authenticate: WebSocketHostOptions["authenticate"]
}

/** Counters of a host (read them; they are updated in place). */
export interface HostCounters {
  connectionsOpened: number
  admitted: number
  resumed: number
  /** Rejections by reject-code name (`"RoomFull"`, …). */
  readonly rejected: Record<string, number>
  /** Upgrades refused for their `Origin`. */
  originRefused: number
  relayed: number
  broadcasts: number
  /** `RelayTo` naming a peer that is not in the sender's room (or not connected right now). */
  droppedNoPeer: number
  /** Payloads over the budget (only a misbehaving client sends them). */
  droppedOverBudget: number
  /** Undecodable frames and frames of a type a client may not send. */
  droppedBadFrames: number
  slowConsumers: number
  heartbeatTimeouts: number
  windowsExpired: number
}

/** One member as `stats()` shows it. */
export interface MemberStats {
  readonly peerId: string
  readonly displayName: string
  readonly connected: boolean
  readonly principal: Principal | undefined
}

/** One room as `stats()` shows it. */
export interface RoomStats {
  readonly name: string
  readonly members: ReadonlyArray<MemberStats>
}
