/**
 * Options and public types of the WebSocket relay (`WebSocketRelay.make`, mounted on an
 * `HttpServer`) and of the standalone host (`WebSocketHost.make`), with their defaults. Every limit
 * has a finite default so a host started with no options still bounds what one client can make it
 * hold.
 */
import type { Duration } from "effect"
import { Data } from "effect"
import type { HostIdentity } from "./HostIdentity.js"

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

/**
 * Per-connection rate limits (token buckets). A connection that exceeds either is not read from
 * until it is back within the limit (frames already read are relayed): TCP pushes back on the
 * sender and nothing is dropped. Each pause counts as `rateLimited`.
 */
export interface RateLimit {
  /** Messages per second. Default 20 000. */
  readonly messagesPerSecond?: number
  /** Messages a quiet connection may send at once. Default: one second's worth. */
  readonly messageBurst?: number
  /** Bytes per second. Default 32 MiB. */
  readonly bytesPerSecond?: number
  /** Bytes a quiet connection may send at once. Default: one second's worth, at least `maxFrameBytes`. */
  readonly byteBurst?: number
}

/** Options of the relay: rooms, identity and limits (no listener). */
export interface WebSocketRelayOptions {
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
   * that would exceed it ends that connection: the frame and every later one for it are dropped
   * (counted), it is closed with `SlowConsumer` (4008) and destroyed after `slowConsumerGrace`;
   * the member keeps its slot for the reconnect window. Other members are never stalled.
   */
  readonly maxOutboundBytesPerConnection?: number
  /** How long a slow reader's close may take before its socket is destroyed. Default 1 s. */
  readonly slowConsumerGrace?: Duration.DurationInput
  /** Most members of one room. Default 64; a join beyond it is `RoomFull`. */
  readonly roomCapacity?: number
  /** Most rooms. Default 1024; a join creating one more is `HostFull`. */
  readonly maxRooms?: number
  /** Most open connections (including ones still in the handshake). Default 1024 (`HostFull`). */
  readonly maxConnections?: number
  /**
   * Most open connections from one remote address. Default 64 (`AddressLimit`). Behind a reverse
   * proxy every client has the proxy's address: raise it, or limit per client at the proxy.
   */
  readonly maxConnectionsPerAddress?: number
  /** Per-connection message and byte rates; see `RateLimit` for the defaults. */
  readonly rateLimit?: RateLimit
  /**
   * Most frames of one connection handled in one turn of the event loop. Default 64. Past it the
   * connection stops being read and the frames already read are handled in the next turns, so a
   * burst (even within its rate) cannot hold the loop: other connections are served in between.
   */
  readonly maxFramesPerTurn?: number
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
   * How a claimed peer id is bound to a credential (`HostIdentity`): a shared secret (peer tokens),
   * a verifier of your own, or open. Default: open, with a warning logged at start. Runs at every
   * hello (resumes too), within the handshake timeout; a refusal is `AuthRefused`.
   */
  readonly identity?: HostIdentity
}

/** TLS material for `wss://`, PEM-encoded. */
export interface TlsOptions {
  readonly key: string | Uint8Array
  readonly cert: string | Uint8Array
}

/** Options of a standalone host: the relay's, plus where and how it listens. */
export interface WebSocketHostOptions extends WebSocketRelayOptions {
  /** TCP port; `0` (the default) picks a free one (read it from `host.port`). */
  readonly port?: number
  /** Interface to listen on. Default `"127.0.0.1"` (loopback only): exposing a host is a choice. */
  readonly host?: string
  /** Serve `wss://` with this key and certificate. Default: plain `ws://`. */
  readonly tls?: TlsOptions
  /** The path of the relay. Default `"/kuilt"`; other paths answer 404. */
  readonly path?: string
}

/** The relay options with every default filled in (durations in ms). */
export interface ResolvedHostOptions {
  readonly serverPeerId: string
  readonly maxFrameBytes: number
  readonly maxHelloBytes: number
  readonly maxOutboundBytesPerConnection: number
  readonly roomCapacity: number
  readonly maxRooms: number
  readonly maxConnections: number
  readonly maxConnectionsPerAddress: number
  readonly messagesPerSecond: number
  readonly messageBurst: number
  readonly bytesPerSecond: number
  readonly byteBurst: number
  readonly maxFramesPerTurn: number
  readonly slowConsumerGraceMs: number
  readonly handshakeTimeoutMs: number
  readonly reconnectWindowMs: number
  readonly heartbeatIntervalMs: number
  readonly maxBadFrames: number
  readonly allowedOrigins: ReadonlyArray<string> | undefined
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
  /** Members that took their own live or reconnecting slot back by joining again (same principal). */
  takeovers: number
  relayed: number
  broadcasts: number
  /** Frames written to members (a broadcast counts once per receiver). */
  framesDelivered: number
  /** Payload bytes written to members (a broadcast counts once per receiver). */
  bytesDelivered: number
  /** Times a connection was paused for exceeding its rate limit. */
  rateLimited: number
  /** Frames handled in a later loop turn because their connection had its quantum (`maxFramesPerTurn`). */
  deferredFrames: number
  /** `RelayTo` naming a peer that is not in the sender's room (or not connected right now). */
  droppedNoPeer: number
  /** Payloads over the budget (only a misbehaving client sends them). */
  droppedOverBudget: number
  /** Undecodable frames and frames of a type a client may not send. */
  droppedBadFrames: number
  /** Connections ended as slow readers. */
  slowConsumers: number
  /** Frames dropped for a connection that was being closed as a slow reader. */
  droppedSlowConsumer: number
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
