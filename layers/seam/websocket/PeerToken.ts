/**
 * `PeerToken`: the infrastructure-free default identity of the WebSocket fabric. Whoever holds a
 * shared secret mints a token that binds one peer id in one room until an expiry; the host (or any
 * other verifier, e.g. a voter accepting a direct link from another voter) checks it with the same
 * secret. No accounts, no key server: one secret, distributed like any other deployment secret.
 *
 * Format: `kuilt1.<expiry, Unix seconds>.<room, base64url>.<peer id, base64url>.<mac, base64url>`,
 * the mac being HMAC-SHA-256 over everything before the last dot. Room and peer id travel encoded,
 * so no choice of names can make two different claims share one signed string.
 *
 * Platform-neutral: WebCrypto (`globalThis.crypto.subtle`, Node 20+ and every browser). The mac is
 * checked with `subtle.verify`, which compares in constant time.
 */
import { Clock, Data, Duration, Effect, Either, Encoding } from "effect"

const PREFIX = "kuilt1"
/** Shortest secret accepted, in bytes (128 bits). */
export const MIN_SECRET_BYTES = 16

/** A secret that cannot key the HMAC (too short, or WebCrypto is missing). */
export class InvalidPeerSecret extends Data.TaggedError("InvalidPeerSecret")<{ readonly reason: string }> {
  override get message() {
    return `invalid peer-token secret: ${this.reason}`
  }
}

/** Why a token was refused. */
export type PeerTokenProblem = "malformed" | "signature" | "expired" | "room" | "peer"

/** A token that does not prove the claim it was offered for. */
export class PeerTokenInvalid extends Data.TaggedError("PeerTokenInvalid")<{
  readonly problem: PeerTokenProblem
  readonly reason: string
}> {
  override get message() {
    return `peer token refused (${this.problem}): ${this.reason}`
  }
}

/** What a valid token says. */
export interface PeerTokenClaims {
  readonly room: string
  readonly peerId: string
  /** Expiry, Unix milliseconds (whole seconds on the wire). */
  readonly expiresAt: number
}

/** An imported secret (an HMAC-SHA-256 `CryptoKey`); make it once, use it for every token. */
export interface PeerSecret {
  readonly _tag: "PeerSecret"
  readonly key: CryptoKey
}

const utf8 = new TextEncoder()
const text = new TextDecoder("utf-8", { fatal: true })

/**
 * Imports `secret` (a string, taken as UTF-8, or raw bytes). Fails with `InvalidPeerSecret` when
 * it is shorter than 16 bytes or the runtime has no WebCrypto.
 */
export const secret = (secret: string | Uint8Array): Effect.Effect<PeerSecret, InvalidPeerSecret> =>
  Effect.suspend(() => {
    const bytes = typeof secret === "string" ? utf8.encode(secret) : Uint8Array.from(secret)
    if (bytes.byteLength < MIN_SECRET_BYTES) {
      return Effect.fail(new InvalidPeerSecret({ reason: `it has ${bytes.byteLength} bytes; at least ${MIN_SECRET_BYTES} are needed` }))
    }
    const subtle = globalThis.crypto?.subtle
    if (subtle === undefined) return Effect.fail(new InvalidPeerSecret({ reason: "this runtime has no WebCrypto (crypto.subtle)" }))
    return Effect.tryPromise({
      try: () => subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]),
      catch: (e) => new InvalidPeerSecret({ reason: `WebCrypto refused the key: ${String(e)}` })
    }).pipe(Effect.map((key): PeerSecret => ({ _tag: "PeerSecret", key })))
  })

const b64 = (s: string) => Encoding.encodeBase64Url(utf8.encode(s))

const signedPart = (expirySeconds: number, room: string, peerId: string) => `${PREFIX}.${expirySeconds}.${b64(room)}.${b64(peerId)}`

/** Mints a token for `peerId` in `room`, valid for `ttl` from now (Effect's `Clock`). */
export const mint = (
  key: PeerSecret,
  claim: { readonly room: string; readonly peerId: string; readonly ttl: Duration.DurationInput }
): Effect.Effect<string> =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const expiry = Math.ceil((now + Duration.toMillis(Duration.decode(claim.ttl))) / 1000)
    const body = signedPart(expiry, claim.room, claim.peerId)
    // Signing with an imported HMAC key cannot fail short of a broken runtime: a defect.
    const mac = yield* Effect.promise(() => crypto.subtle.sign("HMAC", key.key, utf8.encode(body)))
    return `${body}.${Encoding.encodeBase64Url(new Uint8Array(mac))}`
  })

const decodeName = (part: string): string | undefined => {
  const bytes = Encoding.decodeBase64Url(part)
  if (Either.isLeft(bytes)) return undefined
  try {
    return text.decode(bytes.right)
  } catch {
    return undefined
  }
}

/**
 * Checks that `token` proves `expected` (this peer id in this room) now. `leeway` tolerates clocks
 * of minter and verifier that disagree (default 60 s). Fails with `PeerTokenInvalid` naming the
 * problem; never throws, whatever the input.
 */
export const verify = (
  key: PeerSecret,
  token: string,
  expected: { readonly room: string; readonly peerId: string },
  options: { readonly leeway?: Duration.DurationInput } = {}
): Effect.Effect<PeerTokenClaims, PeerTokenInvalid> =>
  Effect.gen(function*() {
    const refuse = (problem: PeerTokenProblem, reason: string) => Effect.fail(new PeerTokenInvalid({ problem, reason }))
    const parts = token.split(".")
    if (parts.length !== 5 || parts[0] !== PREFIX) return yield* refuse("malformed", "not a kuilt1 token")
    const [, expiryText, roomPart, peerPart, macPart] = parts as [string, string, string, string, string]
    const expiry = /^[0-9]{1,12}$/.test(expiryText) ? Number(expiryText) : NaN
    const room = decodeName(roomPart)
    const peerId = decodeName(peerPart)
    const mac = Encoding.decodeBase64Url(macPart)
    if (!Number.isSafeInteger(expiry) || room === undefined || peerId === undefined || Either.isLeft(mac)) {
      return yield* refuse("malformed", "a field does not decode")
    }
    // The signed text is rebuilt from the decoded fields: a token is accepted only in its one
    // canonical spelling.
    const body = signedPart(expiry, room, peerId)
    if (`${body}.${macPart}` !== token) return yield* refuse("malformed", "not in canonical form")
    const ok = yield* Effect.promise(() => crypto.subtle.verify("HMAC", key.key, Uint8Array.from(mac.right), utf8.encode(body)))
    if (!ok) return yield* refuse("signature", "not signed with this secret")
    const now = yield* Clock.currentTimeMillis
    const leeway = Duration.toMillis(Duration.decode(options.leeway ?? Duration.seconds(60)))
    if (expiry * 1000 + leeway <= now) return yield* refuse("expired", `expired at ${new Date(expiry * 1000).toISOString()}`)
    if (room !== expected.room) return yield* refuse("room", `issued for another room`)
    if (peerId !== expected.peerId) return yield* refuse("peer", `issued for peer "${peerId}"`)
    return { room, peerId, expiresAt: expiry * 1000 }
  })

/** What a client is about to claim when it asks for credentials. */
export interface CredentialClaim {
  readonly room: string
  /** The requested peer id (`undefined`: the host assigns one, so no token can name it). */
  readonly peerId: string | undefined
}

/**
 * Where a joiner's credentials come from: called for every connection attempt (join, resume,
 * rejoin), so a minting source hands out fresh tokens and a long-lived seam outlives any one token.
 */
export type CredentialSource = (claim: CredentialClaim) => Effect.Effect<string | undefined>

/**
 * A `CredentialSource` that mints a token with `secret` for each attempt, valid for `ttl` (default
 * 1 hour). For processes that hold the secret (servers, voters); browsers get tokens minted by a
 * server instead. Fails with `InvalidPeerSecret` for an unusable secret.
 */
export const credentials = (
  secretValue: string | Uint8Array,
  options: { readonly ttl?: Duration.DurationInput } = {}
): Effect.Effect<CredentialSource, InvalidPeerSecret> =>
  Effect.map(secret(secretValue), (key): CredentialSource => (claim) =>
    claim.peerId === undefined
      ? Effect.succeed(undefined)
      : mint(key, { room: claim.room, peerId: claim.peerId, ttl: options.ttl ?? Duration.hours(1) }))

/** The peer-token functions, as a namespace (`PeerToken.mint`, …). */
export const PeerToken = { secret, mint, verify, credentials, MIN_SECRET_BYTES }
