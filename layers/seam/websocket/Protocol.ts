/**
 * The wire protocol between a WebSocket host and its clients.
 *
 * Every WebSocket message is one binary frame `[WIRE_VERSION][type][fields]` written with the
 * shared `BinaryWriter` (see `src/codec`). The admission handshake carries its own
 * `PROTOCOL_VERSION` so a host can refuse an incompatible client with a code instead of
 * misreading it.
 *
 * Client → host: `Hello`, `RelayTo`, `Broadcast`, `Ping`, `Pong`, `Bye`.
 * Host → client: `Welcome`, `Reject`, `Roster`, `RelayFrom`, `Ping`, `Pong`.
 *
 * Why `RelayTo` has no sender field and `RelayFrom` has one: the host stamps the sender from the
 * connection it read the frame on, so a client has no way to claim to be somebody else. A client
 * that sends a host-only frame (`RelayFrom`, `Welcome`, …) is breaking the protocol: the host drops
 * and counts it (see `WebSocketHost`).
 */
import { Schema } from "effect"
import type { Either } from "effect"
import type { BinaryReader } from "../../../src/codec/BinaryReader.js"
import type { BinaryWriter } from "../../../src/codec/BinaryWriter.js"
import type { DecodeError } from "../../../src/codec/Frame.js"
import { FRAME_HEADER_BYTES, WIRE_VERSION } from "../../../src/codec/Frame.js"
import { taggedUnionCodec } from "../../../src/codec/Codec.js"
import { U16, U32 } from "../../../src/codec/WireInt.js"

/** The handshake protocol version this build speaks (sent in `Hello`, echoed in `Welcome`). */
export const PROTOCOL_VERSION = 1

/** Longest peer id, room name, display name or session id on this fabric, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 255
/** Longest credentials string accepted in a `Hello`, in UTF-8 bytes. */
export const MAX_CREDENTIALS_BYTES = 4096
/** Length of a resume token in bytes (random; 128 bits are unguessable). */
export const RESUME_TOKEN_BYTES = 16
/** Most peers in one roster frame (a room's capacity cannot exceed it). */
export const MAX_ROSTER = 4096

/**
 * Bytes a relayed frame adds around its payload in the worst case:
 * header, the peer id's length prefix and bytes, the payload's length prefix.
 * A host whose frames may be `maxFrameBytes` long offers a payload budget of
 * `maxFrameBytes - RELAY_OVERHEAD_BYTES`.
 */
export const RELAY_OVERHEAD_BYTES = FRAME_HEADER_BYTES + 4 + MAX_NAME_BYTES + 4

const utf8Length = (s: string): number => new TextEncoder().encode(s).byteLength
const wellFormed = (s: string): boolean => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s)

/** A string of well-formed Unicode whose UTF-8 encoding has `min..max` bytes. */
const Utf8String = (min: number, max: number, identifier: string) =>
  Schema.String.pipe(
    Schema.filter((s) => wellFormed(s) && utf8Length(s) >= min && utf8Length(s) <= max)
  ).annotations({
    identifier,
    arbitrary: () => (fc) => fc.string({ minLength: min, maxLength: Math.min(max, 40) })
  })

/** A peer id, room name or host id: 1..255 UTF-8 bytes. */
export const WireName = Utf8String(1, MAX_NAME_BYTES, "WireName")
/** A display name or session id: 0..255 UTF-8 bytes. */
const Label = Utf8String(0, MAX_NAME_BYTES, "Label")
const Credentials = Utf8String(0, MAX_CREDENTIALS_BYTES, "Credentials")
const Reason = Utf8String(0, 1024, "Reason")
const ResumeToken = Schema.Uint8ArrayFromSelf.pipe(Schema.filter((b) => b.byteLength === RESUME_TOKEN_BYTES)).annotations({
  identifier: "ResumeToken",
  arbitrary: () => (fc) => fc.uint8Array({ minLength: RESUME_TOKEN_BYTES, maxLength: RESUME_TOKEN_BYTES })
})
const Roster = Schema.Array(WireName).pipe(Schema.maxItems(MAX_ROSTER))

/**
 * The client's admission request. `peerId`: a requested, stable id (Raft needs fixed ids); absent,
 * the host assigns one. `credentials`: for the host's authentication hook. `resumeToken`: from an
 * earlier `Welcome` of the same room, to take the old slot back.
 */
export const Hello = Schema.TaggedStruct("Hello", {
  protocolVersion: U16,
  room: WireName,
  displayName: Label,
  sessionId: Label,
  peerId: Schema.optionalWith(WireName, { exact: true }),
  credentials: Schema.optionalWith(Credentials, { exact: true }),
  resumeToken: Schema.optionalWith(ResumeToken, { exact: true })
})
export type Hello = typeof Hello.Type

/**
 * The host's admission: who the client is now and the room's current members. `maxPayloadBytes`
 * is the largest payload a relay may carry; the host pings every `heartbeatIntervalMs` (a client
 * that hears nothing for 3 intervals presumes a dead link); a dropped client may resume within
 * `reconnectWindowMs`; `resumed` says this admission took an earlier slot back.
 */
export const Welcome = Schema.TaggedStruct("Welcome", {
  protocolVersion: U16,
  serverPeerId: WireName,
  room: WireName,
  peerId: WireName,
  resumeToken: ResumeToken,
  maxPayloadBytes: U32,
  heartbeatIntervalMs: U32,
  reconnectWindowMs: U32,
  resumed: Schema.Boolean,
  roster: Roster
})
export type Welcome = typeof Welcome.Type

/** The host refuses (or ends) a connection; `code` is a `RejectCode` and also the close code. */
export const Reject = Schema.TaggedStruct("Reject", { code: U16, reason: Reason })
export type Reject = typeof Reject.Type

/** The room's members (including the receiver) after a change. */
export const RosterUpdate = Schema.TaggedStruct("Roster", { peers: Roster })
export type RosterUpdate = typeof RosterUpdate.Type

/** Client → host: relay `payload` to `to` (no sender field: the host knows who sent it). */
export const RelayTo = Schema.TaggedStruct("RelayTo", { to: WireName, payload: Schema.Uint8ArrayFromSelf })
export type RelayTo = typeof RelayTo.Type

/** Host → client: `payload` from `from`, stamped by the host. */
export const RelayFrom = Schema.TaggedStruct("RelayFrom", { from: WireName, payload: Schema.Uint8ArrayFromSelf })
export type RelayFrom = typeof RelayFrom.Type

/** Client → host: relay `payload` to every other member of the room. */
export const Broadcast = Schema.TaggedStruct("Broadcast", { payload: Schema.Uint8ArrayFromSelf })
export type Broadcast = typeof Broadcast.Type

/** A keepalive probe; the other side answers with a `Pong` carrying the same nonce. */
export const Ping = Schema.TaggedStruct("Ping", { nonce: U32 })
export type Ping = typeof Ping.Type
/** The answer to a `Ping`, echoing its nonce. */
export const Pong = Schema.TaggedStruct("Pong", { nonce: U32 })
export type Pong = typeof Pong.Type

/** A clean leave: the host frees the slot at once (no reconnect window). */
export const Bye = Schema.TaggedStruct("Bye", {})
export type Bye = typeof Bye.Type

/** Every protocol frame (the contract; `ProtocolCodec` is its binary form). */
export const WireMessage = Schema.Union(Hello, Welcome, Reject, RosterUpdate, RelayTo, RelayFrom, Broadcast, Ping, Pong, Bye)
export type WireMessage = typeof WireMessage.Type

/** Type bytes (stable: they are the wire contract). */
export const MessageType = {
  Hello: 0x10,
  Welcome: 0x11,
  Reject: 0x12,
  Roster: 0x13,
  RelayTo: 0x20,
  RelayFrom: 0x21,
  Broadcast: 0x22,
  Ping: 0x30,
  Pong: 0x31,
  Bye: 0x3f
} as const

const readName = (r: BinaryReader): string => {
  const s = r.string(MAX_NAME_BYTES)
  if (s.length === 0) r.fail("empty name")
  return s
}
const readLabel = (r: BinaryReader): string => r.string(MAX_NAME_BYTES)
const readToken = (r: BinaryReader): Uint8Array => {
  const t = r.bytes(RESUME_TOKEN_BYTES)
  if (t.length !== RESUME_TOKEN_BYTES) r.fail(`resume token must be ${RESUME_TOKEN_BYTES} bytes`)
  return t
}
const writeString = (w: BinaryWriter, s: string) => void w.string(s)
const writeBytes = (w: BinaryWriter, b: Uint8Array) => void w.bytes(b)
const readCredentials = (r: BinaryReader) => r.string(MAX_CREDENTIALS_BYTES)

/** The codec of every protocol frame. `decode` never throws: bad bytes are a `DecodeError`. */
export const ProtocolCodec = taggedUnionCodec<WireMessage>({
  Hello: {
    type: MessageType.Hello,
    write: (w, m) => {
      w.u16(m.protocolVersion).string(m.room).string(m.displayName).string(m.sessionId)
      w.optional(m.peerId, writeString).optional(m.credentials, writeString).optional(m.resumeToken, writeBytes)
    },
    read: (r) => {
      const protocolVersion = r.u16()
      const room = readName(r)
      const displayName = readLabel(r)
      const sessionId = readLabel(r)
      const peerId = r.optional(readName)
      const credentials = r.optional(readCredentials)
      const resumeToken = r.optional(readToken)
      return {
        _tag: "Hello",
        protocolVersion,
        room,
        displayName,
        sessionId,
        ...(peerId === undefined ? {} : { peerId }),
        ...(credentials === undefined ? {} : { credentials }),
        ...(resumeToken === undefined ? {} : { resumeToken })
      }
    }
  },
  Welcome: {
    type: MessageType.Welcome,
    write: (w, m) => {
      w.u16(m.protocolVersion).string(m.serverPeerId).string(m.room).string(m.peerId).bytes(m.resumeToken)
      w.u32(m.maxPayloadBytes).u32(m.heartbeatIntervalMs).u32(m.reconnectWindowMs).bool(m.resumed)
      w.array(m.roster, writeString)
    },
    read: (r) => ({
      _tag: "Welcome",
      protocolVersion: r.u16(),
      serverPeerId: readName(r),
      room: readName(r),
      peerId: readName(r),
      resumeToken: readToken(r),
      maxPayloadBytes: r.u32(),
      heartbeatIntervalMs: r.u32(),
      reconnectWindowMs: r.u32(),
      resumed: r.bool(),
      roster: r.array(readName, MAX_ROSTER, 5)
    })
  },
  Reject: {
    type: MessageType.Reject,
    write: (w, m) => void w.u16(m.code).string(m.reason),
    read: (r) => ({ _tag: "Reject", code: r.u16(), reason: r.string(1024) })
  },
  Roster: {
    type: MessageType.Roster,
    write: (w, m) => void w.array(m.peers, writeString),
    read: (r) => ({ _tag: "Roster", peers: r.array(readName, MAX_ROSTER, 5) })
  },
  RelayTo: {
    type: MessageType.RelayTo,
    write: (w, m) => void w.string(m.to).bytes(m.payload),
    read: (r) => ({ _tag: "RelayTo", to: readName(r), payload: r.bytes() })
  },
  RelayFrom: {
    type: MessageType.RelayFrom,
    write: (w, m) => void w.string(m.from).bytes(m.payload),
    read: (r) => ({ _tag: "RelayFrom", from: readName(r), payload: r.bytes() })
  },
  Broadcast: {
    type: MessageType.Broadcast,
    write: (w, m) => void w.bytes(m.payload),
    read: (r) => ({ _tag: "Broadcast", payload: r.bytes() })
  },
  Ping: {
    type: MessageType.Ping,
    write: (w, m) => void w.u32(m.nonce),
    read: (r) => ({ _tag: "Ping", nonce: r.u32() })
  },
  Pong: {
    type: MessageType.Pong,
    write: (w, m) => void w.u32(m.nonce),
    read: (r) => ({ _tag: "Pong", nonce: r.u32() })
  },
  Bye: {
    type: MessageType.Bye,
    write: () => {},
    read: () => ({ _tag: "Bye" })
  }
})

/** Encodes one protocol frame. */
export const encodeMessage = (m: WireMessage): Uint8Array => ProtocolCodec.encode(m)

/** Decodes one protocol frame; payloads are zero-copy views into `bytes`. */
export const decodeMessage = (bytes: Uint8Array): Either.Either<WireMessage, DecodeError> => ProtocolCodec.decode(bytes)

const utf8 = new TextEncoder()

/** The UTF-8 bytes of a peer id, for `encodeRelayWith` (callers cache them per peer). */
export const peerIdBytes = (peer: string): Uint8Array => utf8.encode(peer)

/**
 * Encodes a relayed frame in one allocation (the hot path: one per delivered frame). Equivalent to
 * `encodeMessage({ _tag, from|to: peer, payload })`.
 */
export const encodeRelay = (type: typeof MessageType.RelayTo | typeof MessageType.RelayFrom, peer: string, payload: Uint8Array): Uint8Array =>
  encodeRelayWith(type, utf8.encode(peer), payload)

/** `encodeRelay` with the peer id already encoded (`peerIdBytes`). */
export const encodeRelayWith = (
  type: typeof MessageType.RelayTo | typeof MessageType.RelayFrom,
  id: Uint8Array,
  payload: Uint8Array
): Uint8Array => {
  const out = new Uint8Array(FRAME_HEADER_BYTES + 4 + id.length + 4 + payload.length)
  const view = new DataView(out.buffer)
  out[0] = WIRE_VERSION
  out[1] = type
  view.setUint32(2, id.length, true)
  out.set(id, 6)
  view.setUint32(6 + id.length, payload.length, true)
  out.set(payload, 10 + id.length)
  return out
}

/** Encodes a `Broadcast` in one allocation. */
export const encodeBroadcast = (payload: Uint8Array): Uint8Array => {
  const out = new Uint8Array(FRAME_HEADER_BYTES + 4 + payload.length)
  out[0] = WIRE_VERSION
  out[1] = MessageType.Broadcast
  new DataView(out.buffer).setUint32(2, payload.length, true)
  out.set(payload, 6)
  return out
}
