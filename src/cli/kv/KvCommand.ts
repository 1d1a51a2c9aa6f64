/**
 * The built-in key-value store's commands and results: what `kuilt put/get/cas/del` propose and
 * what every replica answers after applying them. Commands cross the wire inside Raft entries, so
 * they are `Schema`s (JSON in UTF-8); a command that does not decode is applied as a no-op with
 * an `Invalid` result on every replica alike (the log is never stuck on a bad entry).
 *
 * Each command may carry a request id (`rid`, chosen by the client): a retry of the same request
 * — after a timeout, a dropped connection or a failover to another server — is answered with the
 * first result instead of being applied twice (see `KvStore`).
 */
import { Either, Schema } from "effect"

/** Longest key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024
/** Longest request id, in UTF-8 bytes. */
export const MAX_RID_BYTES = 128

const utf8Length = (s: string): number => new TextEncoder().encode(s).byteLength

/** A key: 1..1024 bytes of UTF-8. */
export const Key = Schema.String.pipe(
  Schema.filter((s) => s.length > 0 && utf8Length(s) <= MAX_KEY_BYTES, {
    message: () => `a key is 1..${MAX_KEY_BYTES} bytes of UTF-8`
  })
)

const Rid = Schema.optional(Schema.String.pipe(
  Schema.filter((s) => s.length > 0 && utf8Length(s) <= MAX_RID_BYTES, {
    message: () => `a request id is 1..${MAX_RID_BYTES} bytes`
  })
))

/** Sets `key` to `value`. */
export const Put = Schema.TaggedStruct("Put", { key: Key, value: Schema.String, rid: Rid })
/** Removes `key` (a no-op when absent). */
export const Del = Schema.TaggedStruct("Del", { key: Key, rid: Rid })
/**
 * Compare-and-swap: when the current value of `key` is `expected` (`null`: absent), sets it to
 * `value` (`null`: removes it).
 */
export const Cas = Schema.TaggedStruct("Cas", {
  key: Key,
  expected: Schema.NullOr(Schema.String),
  value: Schema.NullOr(Schema.String),
  rid: Rid
})

export const KvCommand = Schema.Union(Put, Del, Cas)
export type KvCommand = typeof KvCommand.Type

/**
 * What applying a command did, at log index `revision`. `previous` is the value before it; `ok`
 * says whether a `Cas` matched; `current` is the value after it.
 */
export const KvResult = Schema.Union(
  Schema.TaggedStruct("Put", { revision: Schema.Number, previous: Schema.NullOr(Schema.String) }),
  Schema.TaggedStruct("Del", { revision: Schema.Number, previous: Schema.NullOr(Schema.String) }),
  Schema.TaggedStruct("Cas", { revision: Schema.Number, ok: Schema.Boolean, current: Schema.NullOr(Schema.String) }),
  Schema.TaggedStruct("Invalid", { revision: Schema.Number, reason: Schema.String })
)
export type KvResult = typeof KvResult.Type

const Json = Schema.parseJson(KvCommand)
const encodeJson = Schema.encodeSync(Json)
const decodeJson = Schema.decodeUnknownEither(Json)
const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder("utf-8", { fatal: true })

/** The bytes to propose for `command`. */
export const encodeCommand = (command: KvCommand): Uint8Array => utf8.encode(encodeJson(command))

/** Decodes a proposed command; `Left(reason)` for anything else (never throws). */
export const decodeCommand = (bytes: Uint8Array): Either.Either<KvCommand, string> => {
  let text: string
  try {
    text = fromUtf8.decode(bytes)
  } catch {
    return Either.left("not UTF-8")
  }
  return Either.mapLeft(decodeJson(text), (e) => e.message.split("\n")[0] ?? "undecodable")
}

/** Checks a key from outside (an HTTP request, a flag): the reason it is refused, if any. */
export const keyProblem = (key: string): string | undefined =>
  key.length === 0 ? "a key must not be empty" : utf8Length(key) > MAX_KEY_BYTES ? `a key is at most ${MAX_KEY_BYTES} bytes` : undefined
