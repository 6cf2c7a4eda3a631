// How a database is served, and where it ended up listening: shared by the server, which reads
// them, and the client's Database.serve(), which passes them on (the client imports no server).

export interface ListenOptions {
  /** Default 127.0.0.1. */
  host?: string
  /** Default 9980; 0 picks a free port. */
  port?: number
  /** Listen on this unix socket file too; alone (no `port`, no `host`), on it only. The file is
   * created owner-only (0600) and removed on close; its permissions, and those of its directory,
   * are what guard it: `allow` does not apply (a unix peer has no address), while the password,
   * `encrypt`, the limits and the timeouts do. A socket file nobody listens on (a crashed
   * server's) is replaced; one a live server listens on fails with BAD_ARGUMENT. No TLS on it:
   * clients connect with cyberdb+unix://. */
  unix?: string
  /** Clients prove they know it (HMAC of a nonce); it never crosses the wire. Default: none. */
  password?: string
  /** Connections past this get an error frame and are closed; when full, the oldest connection
   * that has not sent a proof yet is closed to make room instead. Default 10000. */
  maxConnections?: number
  /** Connections not yet authenticated, in all; past it the oldest silent one (no proof sent) is
   * closed to make room, or the new one refused. Authenticated sessions do not count. Default 1024. */
  maxUnauthenticated?: number
  /** The same, per client address. Default 128. */
  maxUnauthenticatedPerAddress?: number
  /** Seconds of silence after which a connection is closed; 0 for never. Default 900. */
  idleTimeout?: number
  /** Largest frame accepted or sent. Default 64 MiB. */
  maxFrameBytes?: number
  /** One line per connection event: on stdout (true), or handed to this function. Default false. */
  log?: boolean | ((message: string) => void)
  /** Seal every frame after the hello with AES-256-GCM (clients connect with ?encrypt=true). */
  encrypt?: boolean
  /** Addresses and CIDR ranges that may connect ("127.0.0.1", "10.0.0.0/8", "fd00::/8"); others
   * are closed before a byte from them is read. Default: everyone. TCP only: see `unix`. */
  allow?: string[]
  /** Serve over TLS (clients connect with cyberdbs://). PEM strings or files. */
  tls?: { cert: string | Bun.BunFile; key: string | Bun.BunFile }
  /** Seconds from connecting by which a client must have proved the password. Default 5. */
  authTimeout?: number
  /** Output a client has not taken past which its session runs no further request until it
   * drains. Default 8 MiB. */
  maxUnsentBytes?: number
  /** Output not yet taken by all clients together past which no session runs a request until
   * it drains: with many clients that stop reading, memory stays at this plus one reply.
   * Default 256 MiB. */
  maxUnsentTotalBytes?: number
  /** Serve /metrics (Prometheus), /health and a live dashboard at / over HTTP on a port of their
   * own (0 picks one). Host default 127.0.0.1; the allow-list applies. Default: none. */
  metrics?: { port?: number; host?: string }
}

export interface Address {
  /** '' when listening on a unix socket only. */
  host: string
  /** 0 when listening on a unix socket only. */
  port: number
  /** The unix socket file, when listening on one. */
  unix?: string
  /** Where the metrics listener bound, when `metrics` was given. */
  metrics?: { host: string; port: number }
}
