// The metrics HTTP listener (ListenOptions.metrics): /metrics (Prometheus text), /health (200
// serving, 503 loading or closing), /info.json (db.info, what the dashboard polls) and / (the
// dashboard). A listener of its own, on loopback by default, so the database's port never speaks
// HTTP; the server's allow-list applies to it too. It reads the server only when asked.

import type { DatabaseInfo } from '../host/info.ts'
import type { Address } from '../listen-options.ts'
import type { AllowList } from '../security/allow-list.ts'
import { DASHBOARD_HTML } from './dashboard.ts'
import { METRICS_CONTENT_TYPE, formatMetrics } from './metrics.ts'

export type Health = 'serving' | 'loading' | 'closing'

export interface MetricsSource {
  info(): DatabaseInfo
  health(): Health
}

export interface MetricsListener {
  readonly address: Address
  stop(): void
}

const NO_STORE = { 'cache-control': 'no-store' }

/** Binds the metrics listener; throws what Bun.serve throws (the caller names the address). */
export function listenMetrics(source: MetricsSource, host: string, port: number,
  allow: AllowList | undefined): MetricsListener {
  const http = Bun.serve({
    hostname: host,
    port,
    fetch(request, server) {
      const address = server.requestIP(request)?.address ?? ''
      if (allow !== undefined && !allow.allows(address)) return new Response('not allowed\n', { status: 403 })
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        return new Response('method not allowed\n', { status: 405, headers: { allow: 'GET, HEAD' } })
      }
      return route(source, new URL(request.url).pathname)
    },
    error() {
      return new Response('internal error\n', { status: 500 })
    },
  })
  return {
    address: { host, port: http.port ?? port },
    stop: () => void http.stop(true),
  }
}

function route(source: MetricsSource, path: string): Response {
  switch (path) {
    case '/metrics':
      return new Response(formatMetrics(source.info()), { headers: { 'content-type': METRICS_CONTENT_TYPE, ...NO_STORE } })
    case '/health': {
      const health = source.health()
      return new Response(`${health}\n`, { status: health === 'serving' ? 200 : 503,
        headers: { 'content-type': 'text/plain; charset=utf-8', ...NO_STORE } })
    }
    case '/info.json':
      return Response.json(source.info(), { headers: NO_STORE })
    case '/':
      return new Response(DASHBOARD_HTML, { headers: { 'content-type': 'text/html; charset=utf-8',
        'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; " +
          "connect-src 'self'; img-src 'self' data:", ...NO_STORE } })
    default:
      return new Response('not found: try /, /metrics, /health or /info.json\n', { status: 404 })
  }
}
