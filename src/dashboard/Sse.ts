/**
 * Server-sent events (the live feed of the dashboard and of `kuilt watch`): one `event:`/`data:`
 * block per message, a comment line every 15 s so idle connections stay open through proxies.
 * A client that goes away ends the stream (the server interrupts the response).
 */
import { HttpServerResponse } from "@effect/platform"
import { Duration, Schedule, Stream } from "effect"

const utf8 = new TextEncoder()

/** One event: `name` and its JSON `data`. */
export const sse = (name: string, data: unknown): Uint8Array => utf8.encode(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`)

const keepAlive = Stream.fromSchedule(Schedule.spaced(Duration.seconds(15))).pipe(Stream.map(() => utf8.encode(": keep-alive\n\n")))

/** A streaming response of events (with keep-alive comments merged in). */
export const sseStream = <E>(events: Stream.Stream<Uint8Array, E>): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.stream(Stream.merge(events, keepAlive, { haltStrategy: "left" }), {
    contentType: "text/event-stream",
    headers: { "cache-control": "no-store", "x-accel-buffering": "no" }
  })
