/**
 * Why a WebSocket host refused or ended a connection. Each code is sent in a `Reject` frame and
 * used as the WebSocket close code (application range 4000–4999), so a client learns it even if
 * one of the two is lost. `1009` (message too big) comes from the WebSocket layer itself when a
 * frame exceeds the host's `maxFrameBytes`.
 *
 * Retryable codes (a later join may succeed): `RoomFull`, `HostFull`, `AddressLimit`,
 * `HandshakeTimeout`, `SlowConsumer`, `HeartbeatTimeout`, `Superseded`, `HostClosing`. The others
 * are final for the same request.
 */
export const RejectCode = {
  /** The first frame was not a well-formed `Hello` (or exceeded the handshake size limit). */
  MalformedHello: 4400,
  /**
   * The credentials do not prove the claimed peer id: no token, a token for another peer or room,
   * an expired or forged one, or the host's verifier refused them.
   */
  AuthRefused: 4401,
  /** No `Hello` arrived within the handshake timeout. */
  HandshakeTimeout: 4408,
  /** The requested peer id is live in the room (and no valid resume token was given). */
  PeerIdInUse: 4409,
  /** The resume token is unknown, expired, rotated, or bound to another room or peer. */
  ResumeTokenInvalid: 4410,
  /** The client speaks another handshake protocol version. */
  ProtocolMismatch: 4426,
  /** The room has `roomCapacity` members. */
  RoomFull: 4429,
  /** The host has `maxRooms` rooms or `maxConnections` connections. */
  HostFull: 4430,
  /** The client's address has `maxConnectionsPerAddress` connections open. */
  AddressLimit: 4431,
  /**
   * The connection's unsent bytes exceeded `maxOutboundBytesPerConnection` (a slow reader): later
   * frames for it are dropped, it is closed with this code and destroyed after a short grace.
   */
  SlowConsumer: 4008,
  /** Nothing was heard from the connection for the heartbeat timeout (a half-open link). */
  HeartbeatTimeout: 4001,
  /**
   * The same member resumed, or the same authenticated identity joined again (a restarted process
   * taking its slot back), on a newer connection; this one is closed.
   */
  Superseded: 4002,
  /** The host is shutting down. */
  HostClosing: 4003,
  /** A client sent frames the protocol forbids after too many warnings (see host docs). */
  ProtocolViolation: 4004
} as const

export type RejectCode = (typeof RejectCode)[keyof typeof RejectCode]

/** WebSocket close code for a frame larger than the host's `maxFrameBytes` (RFC 6455 §7.4.1). */
export const CLOSE_MESSAGE_TOO_BIG = 1009

/** The name of a code, for messages (`"RoomFull"`), or `"code <n>"` for an unknown one. */
export const rejectCodeName = (code: number): string => {
  for (const [name, value] of Object.entries(RejectCode)) if (value === code) return name
  return code === CLOSE_MESSAGE_TOO_BIG ? "MessageTooBig" : `code ${code}`
}

/** True for codes after which the same join may succeed later. */
export const isRetryable = (code: number): boolean =>
  code === RejectCode.RoomFull || code === RejectCode.HostFull || code === RejectCode.AddressLimit ||
  code === RejectCode.HandshakeTimeout ||
  code === RejectCode.SlowConsumer || code === RejectCode.HeartbeatTimeout || code === RejectCode.Superseded ||
  code === RejectCode.HostClosing
