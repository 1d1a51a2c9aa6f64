/**
 * Where each client is attached: to this server (a member of its client room, connected), or to
 * another server as that server last said (`Attach`, `Detach`, `Roster` on the voter links) or as
 * its relayed frames show (a client's frame relayed by server S means the client is at S now).
 *
 * Every server keeps the whole table, so whichever voter leads can route a frame for any client
 * by one hop and can tell which learners are gone. A server's entries are replaced as a whole by
 * the `Roster` it sends when a link to it comes up (after its restart the old ones are stale). A
 * client attached nowhere known is reached by sending to every server (`Router`), never lost by a
 * stale entry for long: a `Detach` or the next `Roster` clears it.
 */
export class Attachments {
  /** Clients connected to this server's client room. */
  readonly local = new Set<string>()
  /** Client → the voter id of the server it is attached to (other servers only). */
  private readonly remote = new Map<string, string>()

  /** `server` says these clients attached to it. */
  attach(server: string, clients: Iterable<string>): void {
    for (const c of clients) this.remote.set(c, server)
  }

  /** `server` says these clients left it (ignored for clients attached elsewhere since). */
  detach(server: string, clients: Iterable<string>): void {
    for (const c of clients) if (this.remote.get(c) === server) this.remote.delete(c)
  }

  /** `server`'s complete list: its old entries are replaced. */
  roster(server: string, clients: Iterable<string>): void {
    for (const [c, s] of this.remote) if (s === server) this.remote.delete(c)
    this.attach(server, clients)
  }

  /** Drops the entries at `server` for clients not in `keep` (this server's own, after they left). */
  retain(server: string, keep: ReadonlySet<string>): void {
    for (const [c, s] of this.remote) if (s === server && !keep.has(c)) this.remote.delete(c)
  }

  /** A frame of `client` came relayed by `server`: it is there now. */
  seen(client: string, server: string): void {
    if (this.remote.get(client) !== server) this.remote.set(client, server)
  }

  /** This server's voter id when the client is here, another server's id, or `undefined`. */
  where(client: string, self: string): string | undefined {
    return this.local.has(client) ? self : this.remote.get(client)
  }

  /** Attached here, or at a server `reachable` says is up. */
  present(client: string, reachable: (server: string) => boolean): boolean {
    if (this.local.has(client)) return true
    const s = this.remote.get(client)
    return s !== undefined && reachable(s)
  }

  /** Clients attached to other servers, for health displays. */
  get remoteCount(): number {
    return this.remote.size
  }
}
