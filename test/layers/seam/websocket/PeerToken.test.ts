/**
 * Peer tokens: a token proves exactly one peer id in one room until its expiry, for holders of one
 * secret; anything else is refused with the problem named, and no input makes `verify` throw.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, TestClock } from "effect"
import * as fc from "effect/FastCheck"
import { PeerToken } from "../../../../layers/seam/websocket/PeerToken.js"

const SECRET = "a shared secret of at least 16 bytes"
const problemOf = (e: Either.Either<unknown, { problem: string }>) => (Either.isLeft(e) ? e.left.problem : "accepted")

describe("PeerToken", () => {
  it.effect("a minted token proves its peer in its room, and nothing else", () =>
    Effect.gen(function*() {
      const key = yield* PeerToken.secret(SECRET)
      const token = yield* PeerToken.mint(key, { room: "orders", peerId: "n1", ttl: "1 hour" })
      const claims = yield* PeerToken.verify(key, token, { room: "orders", peerId: "n1" })
      expect(claims).toEqual({ room: "orders", peerId: "n1", expiresAt: 3_600_000 })
      const refused = (room: string, peerId: string) => Effect.either(PeerToken.verify(key, token, { room, peerId }))
      expect(problemOf(yield* refused("orders", "n2"))).toBe("peer")
      expect(problemOf(yield* refused("other", "n1"))).toBe("room")
    }))

  it.effect("a token of another secret, a tampered token and an expired one are refused", () =>
    Effect.gen(function*() {
      const key = yield* PeerToken.secret(SECRET)
      const other = yield* PeerToken.secret("another secret, also long enough")
      const foreign = yield* PeerToken.mint(other, { room: "r", peerId: "n1", ttl: "1 hour" })
      const claim = { room: "r", peerId: "n1" }
      expect(problemOf(yield* Effect.either(PeerToken.verify(key, foreign, claim)))).toBe("signature")
      const token = yield* PeerToken.mint(key, { room: "r", peerId: "n1", ttl: "1 minute" })
      // Claim another peer under the same mac: the mac covers the peer id.
      const parts = token.split(".")
      const forged = [parts[0], parts[1], parts[2], btoa("n2").replace(/=+$/, ""), parts[4]].join(".")
      expect(problemOf(yield* Effect.either(PeerToken.verify(key, forged, { room: "r", peerId: "n2" })))).toBe("signature")
      // Push the expiry forward: also covered.
      const later = [parts[0], String(Number(parts[1]) + 3600), parts[2], parts[3], parts[4]].join(".")
      expect(problemOf(yield* Effect.either(PeerToken.verify(key, later, claim)))).toBe("signature")
      yield* TestClock.adjust(Duration.minutes(1))
      // Within the default leeway of 60 s it still holds; past it, it is expired.
      expect(problemOf(yield* Effect.either(PeerToken.verify(key, token, claim)))).toBe("accepted")
      yield* TestClock.adjust(Duration.seconds(61))
      expect(problemOf(yield* Effect.either(PeerToken.verify(key, token, claim)))).toBe("expired")
      expect(problemOf(yield* Effect.either(PeerToken.verify(key, token, claim, { leeway: "1 hour" })))).toBe("accepted")
    }))

  it.effect("names with dots, newlines and non-ASCII cannot be confused with each other", () =>
    Effect.gen(function*() {
      const key = yield* PeerToken.secret(SECRET)
      const token = yield* PeerToken.mint(key, { room: "a.b", peerId: "c\nd", ttl: "1 hour" })
      expect((yield* PeerToken.verify(key, token, { room: "a.b", peerId: "c\nd" })).peerId).toBe("c\nd")
      expect(problemOf(yield* Effect.either(PeerToken.verify(key, token, { room: "a", peerId: "b.c\nd" })))).toBe("room")
      const unicode = yield* PeerToken.mint(key, { room: "räum", peerId: "节点-1", ttl: "1 hour" })
      expect((yield* PeerToken.verify(key, unicode, { room: "räum", peerId: "节点-1" })).room).toBe("räum")
    }))

  it.effect("a secret shorter than 16 bytes is refused", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(PeerToken.secret("short"))
      expect(error._tag).toBe("InvalidPeerSecret")
      const credentials = yield* Effect.flip(PeerToken.credentials(new Uint8Array(15)))
      expect(credentials._tag).toBe("InvalidPeerSecret")
    }))

  it.effect("a credential source mints a fresh token per claim, and none without a peer id", () =>
    Effect.gen(function*() {
      const key = yield* PeerToken.secret(SECRET)
      const source = yield* PeerToken.credentials(SECRET, { ttl: "10 minutes" })
      const first = yield* source({ room: "r", peerId: "n1" })
      yield* TestClock.adjust(Duration.minutes(5))
      const second = yield* source({ room: "r", peerId: "n1" })
      expect(first).not.toBe(second)
      expect((yield* PeerToken.verify(key, second!, { room: "r", peerId: "n1" })).expiresAt).toBe(15 * 60_000)
      expect(yield* source({ room: "r", peerId: undefined })).toBeUndefined()
    }))

  it.effect("verify never throws and refuses every random or mutated string", () =>
    Effect.gen(function*() {
      const key = yield* PeerToken.secret(SECRET)
      const valid = yield* PeerToken.mint(key, { room: "r", peerId: "p", ttl: "1 hour" })
      const inputs = fc.sample(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.tuple(fc.nat({ max: valid.length - 1 }), fc.char()).map(([i, c]) => valid.slice(0, i) + c + valid.slice(i + 1)),
          fc.nat({ max: valid.length - 1 }).map((i) => valid.slice(0, i))
        ),
        { numRuns: 500, seed: 15 }
      )
      let accepted = 0
      for (const input of inputs) {
        const result = yield* Effect.either(PeerToken.verify(key, input, { room: "r", peerId: "p" }))
        if (Either.isRight(result)) {
          accepted++
          expect(input).toBe(valid)
        }
      }
      expect(accepted).toBeLessThanOrEqual(inputs.filter((i) => i === valid).length)
    }))
})
