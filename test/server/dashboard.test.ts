// The dashboard in a real headless Chromium, driven over the DevTools protocol: the page renders,
// shows the live numbers of a running server (tables, operations per second, connections), logs
// no console error or exception, and leaves a screenshot in the test's temp dir. Skipped, with the
// reason printed, only where no chromium is installed (.ci/run installs the Debian package).

import { afterAll, describe, expect, test } from 'bun:test'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { Server, connect } from '../../src/index.ts'
import { tempDir, waitFor } from '../contract/helpers.ts'

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', Bun.which('chromium')]
  .find((path): path is string => typeof path === 'string' && existsSync(path))
if (CHROMIUM === undefined) console.log('dashboard test skipped: no chromium (apt-get install -y chromium)')

// A browser start takes seconds on a loaded machine: this test sets its own limit.
const BROWSER_TEST_MS = 60_000

/** One DevTools protocol session over a WebSocket: send() awaits the reply; events are kept. */
class DevTools {
  readonly #socket: WebSocket
  readonly #pending = new Map<number, (message: { result?: unknown; error?: unknown }) => void>()
  readonly events: { method: string; params: any }[] = []
  #id = 0

  private constructor(socket: WebSocket) {
    this.#socket = socket
    socket.onmessage = (event) => {
      const message = JSON.parse(String(event.data))
      if (message.id !== undefined) this.#pending.get(message.id)?.(message)
      else this.events.push(message)
    }
  }

  static async open(url: string): Promise<DevTools> {
    const socket = new WebSocket(url)
    await new Promise((resolve, reject) => {
      socket.onopen = resolve
      socket.onerror = reject
    })
    return new DevTools(socket)
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<any> {
    const id = ++this.#id
    return new Promise((resolve, reject) => {
      this.#pending.set(id, (message) => (message.error ? reject(new Error(JSON.stringify(message.error)))
        : resolve(message.result)))
      this.#socket.send(JSON.stringify({ id, method, params }))
    })
  }

  async evaluate(expression: string): Promise<unknown> {
    const { result } = await this.send('Runtime.evaluate', { expression, returnByValue: true })
    return result.value
  }

  close(): void {
    this.#socket.close()
  }
}

describe('the dashboard in headless Chromium', () => {
  const dir = tempDir()
  afterAll(() => dir[Symbol.dispose]())

  test.skipIf(CHROMIUM === undefined)('renders the live numbers with no console errors, and is screenshotted', async () => {
    await using server = new Server()
    const address = await server.listen({ host: '127.0.0.1', port: 0, password: 'pw', metrics: { port: 0 } })
    await using db = await connect(`cyberdb://:pw@127.0.0.1:${address.port}?pool=1`)
    await db.createDict('sessions', { a: 1, b: 2 })
    await db.createList('jobs', [1, 2, 3])
    const browser = Bun.spawn([CHROMIUM!, '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
      '--no-first-run', '--no-default-browser-check', '--window-size=1200,900', `--user-data-dir=${dir.file('profile')}`,
      '--remote-debugging-port=0', 'about:blank'], { stdout: 'ignore', stderr: 'pipe' })
    try {
      const endpoint = await devToolsEndpoint(browser.stderr)
      const targets = await (await fetch(`http://${endpoint}/json/list`)).json() as { type: string; webSocketDebuggerUrl: string }[]
      const page = await DevTools.open(targets.find((t) => t.type === 'page')!.webSocketDebuggerUrl)
      try {
        await Promise.all(['Runtime.enable', 'Log.enable', 'Page.enable'].map((m) => page.send(m)))
        const url = `http://${address.metrics!.host}:${address.metrics!.port}/?interval=100`
        await page.send('Page.navigate', { url })
        // Writes while the page polls: the rate it shows must come from them.
        let writes = 0
        await waitFor(async () => {
          for (let i = 0; i < 50; i++) await db.dict('sessions').set(`k${writes++ % 100}`, writes)
          const rate = Number(String(await page.evaluate("document.getElementById('ops-rate').textContent"))
            .replace(/,/g, ''))
          const points = await page.evaluate("document.getElementById('ops-line').getAttribute('points')")
          return rate > 0 && String(points).split(' ').length >= 3
        }, 'a non-zero operations rate and a chart of three samples', 30_000)
        const shown = await page.evaluate(`JSON.stringify({
          tables: [...document.querySelectorAll('#tables tr')].map((tr) => tr.firstChild.textContent),
          connections: document.getElementById('connections').textContent,
          status: document.getElementById('status').textContent,
          chart: document.getElementById('ops-line').getAttribute('points').split(' ').length >= 3,
          persistence: document.getElementById('persistence-file').textContent,
          rss: document.getElementById('memory-rss').textContent,
        })`)
        const state = JSON.parse(String(shown))
        expect({ ...state, rss: /\d/.test(state.rss), status: state.status.startsWith('live') }).toEqual({
          tables: ['sessions', 'jobs'], connections: '1', status: true, chart: true,
          persistence: 'none (memory only)', rss: true })
        const { data } = await page.send('Page.captureScreenshot', { format: 'png' })
        const shot = dir.file('dashboard.png')
        writeFileSync(shot, Buffer.from(data, 'base64'))
        expect([...readFileSync(shot).subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG')
        const errors = page.events.filter((e) => e.method === 'Runtime.exceptionThrown' ||
          (e.method === 'Runtime.consoleAPICalled' && (e.params.type === 'error' || e.params.type === 'warning')) ||
          (e.method === 'Log.entryAdded' && e.params.entry.level === 'error'))
        expect(errors).toEqual([])
      } finally {
        page.close()
      }
    } finally {
      browser.kill()
      await browser.exited
    }
  }, BROWSER_TEST_MS)
})

/** Reads Chromium's stderr up to its "DevTools listening on ws://HOST:PORT/..." line. */
async function devToolsEndpoint(stderr: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder()
  let text = ''
  for await (const chunk of stderr) {
    text += decoder.decode(chunk, { stream: true })
    const match = /DevTools listening on ws:\/\/([^/\s]+)\//.exec(text)
    if (match) return match[1]!
  }
  throw new Error(`chromium exited before its DevTools endpoint was up:\n${text}`)
}
