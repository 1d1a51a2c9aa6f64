/**
 * The HTTP API of a `kuilt` server (`serve` or `cluster`): the JSON bodies it answers and accepts,
 * as Schemas shared by the server (`Api.ts`), the command's client (`src/cli/client`) and the
 * dashboard page. Every error body is `ErrorBody`; its `error` names the failure (see `Api.ts` for
 * the status codes).
 */
import { Schema } from "effect"
import { KvResult } from "../cli/kv/KvCommand.js"

export { KvResult }

/** One applied log item, as the dashboard's log tail shows it. */
export const LogLine = Schema.Struct({ index: Schema.Number, term: Schema.NullOr(Schema.Number), text: Schema.String })

/** One node, as its server sees it now. `up: false` nodes carry only `id` and `down`. */
export const NodeStatus = Schema.Struct({
  id: Schema.String,
  up: Schema.Boolean,
  down: Schema.NullOr(Schema.String),
  role: Schema.NullOr(Schema.String),
  term: Schema.Number,
  commit: Schema.Number,
  applied: Schema.Number,
  lastLogIndex: Schema.Number,
  compactionFloor: Schema.Number,
  leader: Schema.NullOr(Schema.String),
  /** The leader's commit index as this node knows it, minus what this node applied. */
  lag: Schema.Number,
  voters: Schema.Array(Schema.String),
  learners: Schema.Array(Schema.String),
  /** On the leader: each follower's match index. */
  followers: Schema.Array(Schema.Struct({ id: Schema.String, matchIndex: Schema.Number })),
  keys: Schema.Number,
  snapshotBytes: Schema.Number,
  commitsPerSecond: Schema.Number,
  healthy: Schema.Boolean,
  problems: Schema.Array(Schema.String),
  tail: Schema.Array(LogLine)
})
export type NodeStatus = typeof NodeStatus.Type

export const Partitions = Schema.Struct({
  isolated: Schema.Array(Schema.String),
  cuts: Schema.Array(Schema.Tuple(Schema.String, Schema.String))
})

/** `GET /api/status`: this server's nodes. */
export const ClusterStatus = Schema.Struct({
  mode: Schema.Literal("cluster", "serve"),
  server: Schema.String,
  /** Server clock, ms since the epoch. */
  at: Schema.Number,
  nodes: Schema.Array(NodeStatus),
  peers: Schema.Array(Schema.Struct({ id: Schema.String, url: Schema.String })),
  /** Present in `cluster` mode (fault controls available). */
  partitions: Schema.NullOr(Partitions)
})
export type ClusterStatus = typeof ClusterStatus.Type

/** Every failure: `error` is a tag (`Unavailable`, `NotLeader`, `OutcomeUnknown`, ...). */
export const ErrorBody = Schema.Struct({
  error: Schema.String,
  message: Schema.String,
  leader: Schema.optional(Schema.NullOr(Schema.String)),
  url: Schema.optional(Schema.NullOr(Schema.String)),
  retryable: Schema.optional(Schema.Boolean),
  first: Schema.optional(Schema.Number)
})
export type ErrorBody = typeof ErrorBody.Type

/** `GET /api/kv?key=`: found (`value` set) or not (`value` null). */
export const GetResponse = Schema.Struct({
  key: Schema.String,
  value: Schema.NullOr(Schema.String),
  revision: Schema.NullOr(Schema.Number),
  index: Schema.Number,
  node: Schema.String
})
export type GetResponse = typeof GetResponse.Type

export const ListResponse = Schema.Struct({
  entries: Schema.Array(Schema.Struct({ key: Schema.String, value: Schema.String, revision: Schema.Number })),
  index: Schema.Number,
  node: Schema.String
})

/** `PUT /api/kv`. */
export const PutRequest = Schema.Struct({ key: Schema.String, value: Schema.String, rid: Schema.optional(Schema.String) })
/** `POST /api/kv/del`. */
export const DelRequest = Schema.Struct({ key: Schema.String, rid: Schema.optional(Schema.String) })
/** `POST /api/kv/cas`. */
export const CasRequest = Schema.Struct({
  key: Schema.String,
  expected: Schema.NullOr(Schema.String),
  value: Schema.NullOr(Schema.String),
  rid: Schema.optional(Schema.String)
})

/** The answer of a write: the result, the node that served it. */
export const WriteResponse = Schema.Struct({ result: KvResult, node: Schema.String })
export type WriteResponse = typeof WriteResponse.Type

/** A change event on `GET /api/watch` (server-sent events, `event: change`). */
export const WatchEvent = Schema.Struct({
  index: Schema.Number,
  key: Schema.String,
  type: Schema.Literal("put", "del"),
  value: Schema.NullOr(Schema.String),
  previous: Schema.NullOr(Schema.String)
})
export type WatchEvent = typeof WatchEvent.Type

/** `GET /api/members` and the answer of a change. */
export const Members = Schema.Struct({
  voters: Schema.Array(Schema.String),
  learners: Schema.Array(Schema.String),
  leader: Schema.NullOr(Schema.String)
})
export type Members = typeof Members.Type

/** `POST /api/members`. */
export const MembersRequest = Schema.Struct({ action: Schema.Literal("add", "promote", "remove"), id: Schema.String })

/** `POST /api/transfer`. */
export const TransferRequest = Schema.Struct({ target: Schema.optional(Schema.String) })
export const TransferResponse = Schema.Struct({ leader: Schema.String })

/** `POST /api/cut`. */
export const CutRequest = Schema.Struct({ a: Schema.String, b: Schema.String })

/** `GET /health`, `GET /health/<node>`. */
export const HealthResponse = Schema.Struct({
  ok: Schema.Boolean,
  nodes: Schema.Array(Schema.Struct({ id: Schema.String, ok: Schema.Boolean, problems: Schema.Array(Schema.String) }))
})
