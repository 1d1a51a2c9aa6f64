/**
 * The server cluster's two wire formats (Schemas are the contract; the codecs their binary form,
 * `[WIRE_VERSION][type][fields]` as every kuilt frame).
 *
 * `ClientWire`, between a client and its entry server (over the entry server's client room):
 * - `Raft { origin, dest, payload }` both ways. Up, `origin` must be the client the relay stamped
 *   as the sender (checked at this first hop) and `dest` a voter; down, `origin` is a voter.
 * - `Attached { server, voters }`: the server's first frame to a client it sees: who it is and the
 *   voter core the client's node must trust.
 * - `Admission { admitted, limit }`: the client is a learner now (`admitted`), or the cluster
 *   refused it because it holds `limit` learners.
 *
 * `MeshWire`, between two voters on their pair link:
 * - `Peer { payload }`: a Raft frame from the link's other voter.
 * - `Relay { origin, dest, payload }`: a client's frame for a voter of the receiving server, or a
 *   voter's frame for a client attached to it. One hop only: a server never passes a relayed
 *   frame on.
 * - `Attach`, `Detach`, `Roster { clients }`: the clients attached to the sending server (changes,
 *   or the whole list after a link comes up).
 * - `Admit { clients }`: please admit these clients as learners (to the leader);
 *   `Refuse { clients, limit }`: the leader refused them (the learner bound).
 */
import { Schema } from "effect"
import type { Either } from "effect"
import type { BinaryReader } from "../codec/BinaryReader.js"
import type { BinaryWriter } from "../codec/BinaryWriter.js"
import { taggedUnionCodec } from "../codec/Codec.js"
import type { DecodeError } from "../codec/Frame.js"
import { FRAME_HEADER_BYTES, WIRE_VERSION } from "../codec/Frame.js"
import { U32 } from "../codec/WireInt.js"
import { MAX_NAME_BYTES, WireName } from "../../layers/seam/websocket/Protocol.js"

/** Most ids in one list frame (attachments, admissions). */
export const MAX_IDS = 65_536

/** Bytes a `Raft` or `Relay` frame adds around its payload in the worst case (header, two ids, lengths). */
export const ENVELOPE_OVERHEAD_BYTES = FRAME_HEADER_BYTES + 2 * (4 + MAX_NAME_BYTES) + 4

const Ids = Schema.Array(WireName).pipe(Schema.maxItems(MAX_IDS))

export const Raft = Schema.TaggedStruct("Raft", { origin: WireName, dest: WireName, payload: Schema.Uint8ArrayFromSelf })
export const Attached = Schema.TaggedStruct("Attached", { server: WireName, voters: Ids })
export const Admission = Schema.TaggedStruct("Admission", { admitted: Schema.Boolean, limit: U32 })
/** Every client-room frame. */
export const ClientMessage = Schema.Union(Raft, Attached, Admission)
export type ClientMessage = typeof ClientMessage.Type

export const Peer = Schema.TaggedStruct("Peer", { payload: Schema.Uint8ArrayFromSelf })
export const Relay = Schema.TaggedStruct("Relay", { origin: WireName, dest: WireName, payload: Schema.Uint8ArrayFromSelf })
export const Attach = Schema.TaggedStruct("Attach", { clients: Ids })
export const Detach = Schema.TaggedStruct("Detach", { clients: Ids })
export const Roster = Schema.TaggedStruct("Roster", { clients: Ids })
export const Admit = Schema.TaggedStruct("Admit", { clients: Ids })
export const Refuse = Schema.TaggedStruct("Refuse", { clients: Ids, limit: U32 })
/** Every voter-link frame. */
export const MeshMessage = Schema.Union(Peer, Relay, Attach, Detach, Roster, Admit, Refuse)
export type MeshMessage = typeof MeshMessage.Type

/** Type bytes (the wire contract). */
export const ClusterType = {
  Raft: 0x40,
  Attached: 0x41,
  Admission: 0x42,
  Peer: 0x50,
  Relay: 0x51,
  Attach: 0x52,
  Detach: 0x53,
  Roster: 0x54,
  Admit: 0x55,
  Refuse: 0x56
} as const

const readName = (r: BinaryReader): string => {
  const s = r.string(MAX_NAME_BYTES)
  if (s.length === 0) r.fail("empty id")
  return s
}
const writeName = (w: BinaryWriter, s: string) => void w.string(s)
const readIds = (r: BinaryReader) => r.array(readName, MAX_IDS, 5)

const envelope = <T extends "Raft" | "Relay">(tag: T, type: number) => ({
  type,
  write: (w: BinaryWriter, m: { readonly origin: string; readonly dest: string; readonly payload: Uint8Array }) =>
    void w.string(m.origin).string(m.dest).bytes(m.payload),
  read: (r: BinaryReader) => ({ _tag: tag, origin: readName(r), dest: readName(r), payload: r.bytes() })
})

const list = <T extends "Attach" | "Detach" | "Roster" | "Admit">(tag: T, type: number) => ({
  type,
  write: (w: BinaryWriter, m: { readonly clients: ReadonlyArray<string> }) => void w.array(m.clients, writeName),
  read: (r: BinaryReader) => ({ _tag: tag, clients: readIds(r) })
})

/** The client-room codec; `decode` never throws (bad bytes are a `DecodeError`), payloads are zero-copy. */
export const ClientCodec = taggedUnionCodec<ClientMessage>({
  Raft: envelope("Raft", ClusterType.Raft),
  Attached: {
    type: ClusterType.Attached,
    write: (w, m) => void w.string(m.server).array(m.voters, writeName),
    read: (r) => ({ _tag: "Attached", server: readName(r), voters: readIds(r) })
  },
  Admission: {
    type: ClusterType.Admission,
    write: (w, m) => void w.bool(m.admitted).u32(m.limit),
    read: (r) => ({ _tag: "Admission", admitted: r.bool(), limit: r.u32() })
  }
})

/** The voter-link codec; `decode` never throws, payloads are zero-copy. */
export const MeshCodec = taggedUnionCodec<MeshMessage>({
  Peer: {
    type: ClusterType.Peer,
    write: (w, m) => void w.bytes(m.payload),
    read: (r) => ({ _tag: "Peer", payload: r.bytes() })
  },
  Relay: envelope("Relay", ClusterType.Relay),
  Attach: list("Attach", ClusterType.Attach),
  Detach: list("Detach", ClusterType.Detach),
  Roster: list("Roster", ClusterType.Roster),
  Admit: list("Admit", ClusterType.Admit),
  Refuse: {
    type: ClusterType.Refuse,
    write: (w, m) => void w.array(m.clients, writeName).u32(m.limit),
    read: (r) => ({ _tag: "Refuse", clients: readIds(r), limit: r.u32() })
  }
})

export const decodeClient = (bytes: Uint8Array): Either.Either<ClientMessage, DecodeError> => ClientCodec.decode(bytes)
export const decodeMesh = (bytes: Uint8Array): Either.Either<MeshMessage, DecodeError> => MeshCodec.decode(bytes)

const utf8 = new TextEncoder()

/** UTF-8 bytes of ids, encoded once per id (bounded: a long-lived cache restarts now and then). */
export class IdBytes {
  private readonly cache = new Map<string, Uint8Array>()
  of(id: string): Uint8Array {
    let bytes = this.cache.get(id)
    if (bytes === undefined) {
      if (this.cache.size >= 4096) this.cache.clear()
      bytes = utf8.encode(id)
      this.cache.set(id, bytes)
    }
    return bytes
  }
}

/**
 * A `Raft` (client room) or `Relay` (voter link) frame in one allocation, byte for byte what the
 * codec writes (the hot path: one per relayed Raft frame).
 */
export const encodeEnvelope = (
  type: typeof ClusterType.Raft | typeof ClusterType.Relay,
  origin: Uint8Array,
  dest: Uint8Array,
  payload: Uint8Array
): Uint8Array => {
  const out = new Uint8Array(FRAME_HEADER_BYTES + 4 + origin.length + 4 + dest.length + 4 + payload.length)
  const view = new DataView(out.buffer)
  out[0] = WIRE_VERSION
  out[1] = type
  let at = 2
  view.setUint32(at, origin.length, true)
  out.set(origin, at + 4)
  at += 4 + origin.length
  view.setUint32(at, dest.length, true)
  out.set(dest, at + 4)
  at += 4 + dest.length
  view.setUint32(at, payload.length, true)
  out.set(payload, at + 4)
  return out
}

/** A `Peer` frame in one allocation (what `MeshCodec` writes). */
export const encodePeer = (payload: Uint8Array): Uint8Array => {
  const out = new Uint8Array(FRAME_HEADER_BYTES + 4 + payload.length)
  out[0] = WIRE_VERSION
  out[1] = ClusterType.Peer
  new DataView(out.buffer).setUint32(2, payload.length, true)
  out.set(payload, 6)
  return out
}

/** The relay room where a server meets its clients (one per server; each client is a member). */
export const CLIENT_ROOM = "kuilt-clients"
