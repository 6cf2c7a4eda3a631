// The security features over real sockets on loopback: encrypt=true end to end (and what an
// eavesdropper sees), sealed frames tampered with by a raw peer, client and server disagreeing about
// encryption, TLS with a certificate made here, the allow-list, and auth hardening (late replies,
// a guess throttle that never locks out, the auth deadline, no password-less listening beyond loopback).

import { afterAll, describe, expect, test } from 'bun:test'
import { Server, connect, type ListenOptions } from '../../src/index.ts'
import { DEFAULT_AUTH_TIMEOUT_MS } from '../../src/server/server.ts'
import { ADDRESS_BURST, ADDRESS_PER_MINUTE, AuthThrottle } from '../../src/security/throttle.ts'
import { manualTimers } from '../fixtures/timers.ts'
import { expectCode, tempDir, waitFor } from '../contract/helpers.ts'
import { RawClient, tapProxy } from '../fixtures/wire.ts'

const PASSWORD = 'security-test'

async function listen(server: Server, options: ListenOptions = {}): Promise<number> {
  const { port } = await server.listen({ host: '127.0.0.1', port: 0, password: PASSWORD, ...options })
  return port
}

async function elapsed(action: () => Promise<unknown>): Promise<number> {
  const started = performance.now()
  await action()
  return performance.now() - started
}

/** Reads a raw connection's last word: one id-0 error frame with `code`, then the end of the stream. */
async function expectConnectionError(client: RawClient, code: string): Promise<void> {
  const message = (await client.nextMessage()) as [number, number, [string, string]]
  expect([message[0], message[1], message[2][0]]).toEqual([0, 1, code])
  expect(await client.nextFrame()).toBeUndefined()
  await client.closed
}

// --- encrypt=true ---

describe('encrypt=true', () => {
  test('a round trip works, and a value never appears in clear on the wire', async () => {
    await using server = new Server()
    const port = await listen(server, { encrypt: true })
    await using tap = tapProxy(port)
    const marker = 'MARKER-a-secret-value-0123456789'
    {
      await using db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${tap.port}?encrypt=true`)
      await db.createDict('secrets', { [marker]: marker })
      expect(await db.dict('secrets').get(marker)).toBe(marker)
    }
    expect(tap.seen().length).toBeGreaterThan(0)
    expect(tap.seen().includes(marker)).toBe(false)
    expect(tap.seen().includes(PASSWORD)).toBe(false)
  })

  test('without encryption the same value does cross in clear (what encrypt=true prevents)', async () => {
    await using server = new Server()
    const port = await listen(server)
    await using tap = tapProxy(port)
    const marker = 'MARKER-a-plain-value-0123456789'
    {
      await using db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${tap.port}`)
      await db.createDict('plain', { k: marker })
      expect(await db.dict('plain').get('k')).toBe(marker)
    }
    expect(tap.seen().includes(marker)).toBe(true)
    expect(tap.seen().includes(PASSWORD)).toBe(false) // the proof is an HMAC, in both modes
  })

  test('a multi-megabyte value (several sealed pieces) round-trips both ways', async () => {
    await using server = new Server()
    const port = await listen(server, { encrypt: true })
    await using db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${port}?encrypt=true`)
    const bytes = new Uint8Array(5 * 1024 * 1024).map((_, i) => (i * 31) % 256)
    const text = 'x'.repeat(3 * 1024 * 1024)
    await db.createDict('big')
    await db.dict('big').set('bytes', bytes)
    await db.dict('big').set('text', text)
    expect(Buffer.from((await db.dict('big').get('bytes')) as Uint8Array).equals(Buffer.from(bytes))).toBe(true)
    expect(await db.dict('big').get('text')).toBe(text)
    expect(await db.dict('big').size()).toBe(2)
  })

  test('pipelined requests over encryption are answered in order', async () => {
    await using server = new Server()
    const port = await listen(server, { encrypt: true })
    await using db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${port}?encrypt=true`)
    await db.createList('seq')
    const list = db.list<number>('seq')
    const lengths = await Promise.all(Array.from({ length: 500 }, (_, i) => list.push(i)))
    expect(lengths).toEqual(Array.from({ length: 500 }, (_, i) => i + 1))
    expect(await list.toArray()).toEqual(Array.from({ length: 500 }, (_, i) => i))
  })

  test('a wrong password over encryption fails with AUTH_FAILED', async () => {
    await using server = new Server()
    const port = await listen(server, { encrypt: true })
    await expectCode(connect(`cyberdb://:wrong@127.0.0.1:${port}?encrypt=true`), 'AUTH_FAILED')
  })

  const disagreements: [string, boolean, boolean, string][] = [
    ['an encrypting server and a plain client', true, false, 'encrypt=true'],
    ['a plain server and an encrypting client', false, true, 'does not encrypt'],
  ]
  for (const [what, serverEncrypts, clientEncrypts, says] of disagreements) {
    test(`${what} disagree: the client fails at once with a clear PROTOCOL error`, async () => {
      await using server = new Server()
      const port = await listen(server, { encrypt: serverEncrypts })
      const url = `cyberdb://:${PASSWORD}@127.0.0.1:${port}?encrypt=${clientEncrypts}&connectTimeout=30`
      let message = ''
      const took = await elapsed(async () => {
        message = (await expectCode(connect(url), 'PROTOCOL')).message
      })
      expect(message).toContain(says)
      expect(took).toBeLessThan(2000)
    })
  }
})

describe('sealed frames from a raw peer', () => {
  test('a correctly sealed request is answered, sealed', async () => {
    await using server = new Server()
    await using client = await RawClient.connect(await listen(server, { encrypt: true }))
    const { channel, answer } = await client.sealedHandshake(PASSWORD)
    expect(answer).toEqual([0, 0, null])
    client.send(channel.seal([1, 'db.create', 'l', ['list']], [2, 'list.push', 'l', [1]]))
    expect([await channel.nextMessage(), await channel.nextMessage()]).toEqual([[1, 0, true], [2, 0, 1]])
  })

  const attacks: [string, (frames: Uint8Array[]) => Uint8Array[]][] = [
    ['a tampered frame', ([a]) => [flipLast(a!)]],
    ['a frame with its length prefix cut short', ([a]) => [a!.subarray(0, a!.length - 1), new Uint8Array(1)]],
    ['a replayed frame', ([a]) => [a!, a!]],
    ['frames out of order', ([a, b]) => [b!, a!]],
    ['a plain frame after the proof', () => [new Uint8Array([0, 0, 0, 5, 0x94, 1, 0xa1, 0x61, 0xa0])]],
  ]
  for (const [what, attack] of attacks) {
    test(`${what} closes that connection with PROTOCOL; nothing of it is applied; others are served`, async () => {
      await using server = new Server()
      const port = await listen(server, { encrypt: true })
      await using bystander = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${port}?encrypt=true`)
      await bystander.createList('l')
      await using client = await RawClient.connect(port)
      const { channel } = await client.sealedHandshake(PASSWORD)
      const frames = [
        channel.seal([1, 'list.push', 'l', ['first']]),
        channel.seal([2, 'list.push', 'l', ['second']]),
      ]
      const sent = attack(frames)
      const expected = sent[0] === frames[0] ? [[1, 0, 1]] : []
      client.send(Buffer.concat(sent))
      const replies: unknown[] = []
      let last: unknown
      for (let i = 0; i < 3 && !Array.isArray((last as unknown[])?.[2]); i++) {
        last = await channel.nextMessage()
        replies.push(last)
      }
      expect(replies.slice(0, -1)).toEqual(expected)
      expect((last as [number, number, [string]])[2][0]).toBe('PROTOCOL')
      expect([last, await client.nextFrame()].map((x) => x === undefined)).toEqual([false, true])
      await client.closed
      expect(await bystander.list('l').toArray()).toEqual(expected.length ? ['first'] : [])
      await using fresh = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${port}?encrypt=true`)
      expect(await fresh.list('l').length()).toBe(expected.length)
    })
  }
})

function flipLast(frame: Uint8Array): Uint8Array {
  const copy = new Uint8Array(frame)
  copy[copy.length - 1]! ^= 0x80
  return copy
}

// --- TLS ---

describe('TLS', () => {
  const dir = tempDir('cyberdb-tls-')
  afterAll(() => dir[Symbol.dispose]())
  const generated = Bun.spawnSync(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
    'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', dir.file('key.pem'), '-out', dir.file('cert.pem'),
    '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'])

  const otherHost = Bun.spawnSync(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
    'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', dir.file('other-key.pem'), '-out', dir.file('other.pem'),
    '-days', '1', '-subj', '/CN=other.example', '-addext', 'subjectAltName=IP:127.0.0.2'])

  test('openssl made self-signed certificates for 127.0.0.1 and 127.0.0.2', () => {
    expect([generated.exitCode, otherHost.exitCode]).toEqual([0, 0])
  })

  async function tlsServer(server: Server): Promise<number> {
    const tls = { cert: await Bun.file(dir.file('cert.pem')).text(), key: await Bun.file(dir.file('key.pem')).text() }
    return listen(server, { tls })
  }

  test('cyberdbs:// with ?ca=FILE verifies the certificate and works', async () => {
    await using server = new Server()
    const port = await tlsServer(server)
    await using db = await connect(`cyberdbs://:${PASSWORD}@127.0.0.1:${port}?ca=${dir.file('cert.pem')}`)
    await db.createDict('tls', { a: 1 })
    expect(await db.dict('tls').toObject()).toEqual({ a: 1 })
  })

  test('connect(url, { ca }) works the same', async () => {
    await using server = new Server()
    const port = await tlsServer(server)
    const ca = await Bun.file(dir.file('cert.pem')).text()
    await using db = await connect(`cyberdbs://127.0.0.1:${port}`, { password: PASSWORD, ca })
    expect(await db.tables()).toEqual([])
  })

  test('without the ca, the self-signed certificate is refused with CONNECTION_CLOSED naming it', async () => {
    await using server = new Server()
    const port = await tlsServer(server)
    const error = await expectCode(connect(`cyberdbs://:${PASSWORD}@127.0.0.1:${port}?connectTimeout=10`), 'CONNECTION_CLOSED')
    expect(error.message.toLowerCase()).toContain('certificate')
  })

  test('a trusted certificate for another address is refused: the host name is verified too', async () => {
    await using server = new Server()
    const tls = { cert: await Bun.file(dir.file('other.pem')).text(), key: await Bun.file(dir.file('other-key.pem')).text() }
    const port = await listen(server, { tls })
    const url = `cyberdbs://:${PASSWORD}@127.0.0.1:${port}?ca=${dir.file('other.pem')}&connectTimeout=10`
    const error = await expectCode(connect(url), 'CONNECTION_CLOSED')
    expect(error.message).toContain('127.0.0.1 is not in the cert')
  })

  test('a plain client against a TLS server fails within its connectTimeout', async () => {
    await using server = new Server()
    const port = await tlsServer(server)
    const took = await elapsed(() => expectCode(connect(`cyberdb://:${PASSWORD}@127.0.0.1:${port}?connectTimeout=0.5`), 'TIMEOUT'))
    expect(took).toBeLessThan(2000)
  })

  test('a TLS client against a plain server fails with CONNECTION_CLOSED within its connectTimeout', async () => {
    await using server = new Server()
    const port = await listen(server)
    const ca = await Bun.file(dir.file('cert.pem')).text()
    const took = await elapsed(async () => {
      const error = await expectCode(connect(`cyberdbs://:${PASSWORD}@127.0.0.1:${port}?connectTimeout=1`, { ca }), 'CONNECTION_CLOSED')
      expect(error.message).toContain('TLS')
    })
    expect(took).toBeLessThan(2500)
  })
})

// --- allow-list ---

describe('allow-list', () => {
  test('a client outside the list is closed before any byte, and counted', async () => {
    await using server = new Server()
    const port = await listen(server, { allow: ['127.0.0.2'] })
    await using raw = await RawClient.connect(port)
    await raw.closed
    expect(raw.received).toBe(0)
    await expectCode(connect(`cyberdb://:${PASSWORD}@127.0.0.1:${port}?connectTimeout=10`), 'CONNECTION_CLOSED')
    expect(server.refused.notAllowed).toBe(2)
    expect(server.connections).toBe(0)
  })

  test('the list applies without encryption or a password too', async () => {
    await using server = new Server()
    const { port } = await server.listen({ host: '127.0.0.1', port: 0, allow: ['10.0.0.0/8'] })
    await expectCode(connect(`cyberdb://127.0.0.1:${port}`), 'CONNECTION_CLOSED')
    expect(server.refused.notAllowed).toBe(1)
  })

  const admitting: string[][] = [['127.0.0.0/8'], ['::ffff:127.0.0.1'], ['127.0.0.1'], ['10.0.0.0/8', '127.0.0.1/32']]
  for (const allow of admitting) {
    test(`[${allow.join(', ')}] admits a 127.0.0.1 client`, async () => {
      await using server = new Server()
      const port = await listen(server, { allow, encrypt: true })
      await using db = await connect(`cyberdb://:${PASSWORD}@127.0.0.1:${port}?encrypt=true`)
      expect(await db.tables()).toEqual([])
      expect(server.refused.notAllowed).toBe(0)
    })
  }

  // This machine has IPv6 loopback (::1 on lo); the test fails, rather than skips, where it has not.
  test('[::1] admits a client of a server on ::1, and [127.0.0.1] refuses it', async () => {
    await using admits = new Server()
    const { port } = await admits.listen({ host: '::1', port: 0, password: PASSWORD, allow: ['::1'] })
    await using db = await connect(`cyberdb://:${PASSWORD}@[::1]:${port}`)
    expect(await db.tables()).toEqual([])
    await using refuses = new Server()
    const other = await refuses.listen({ host: '::1', port: 0, password: PASSWORD, allow: ['127.0.0.1'] })
    await expectCode(connect(`cyberdb://:${PASSWORD}@[::1]:${other.port}`), 'CONNECTION_CLOSED')
    expect([admits.refused.notAllowed, refuses.refused.notAllowed]).toEqual([0, 1])
  })

  test('a bad entry fails listen with BAD_ARGUMENT and nothing listens', async () => {
    await using server = new Server()
    await expectCode(listen(server, { allow: ['127.0.0.300'] }), 'BAD_ARGUMENT')
    expect(server.address).toBeUndefined()
  })
})

// --- auth hardening ---

describe('auth hardening', () => {
  /** A server whose guess throttle runs on timers the test moves by hand. */
  function throttledServer() {
    const timers = manualTimers()
    const throttle = new AuthThrottle({ now: timers.now, setTimer: timers.setTimer })
    return { timers, throttle, server: new Server({ authThrottle: throttle }) }
  }

  const WRONG = new Uint8Array(32).fill(1)

  test('1000 connections opened first, then 1000 wrong proofs: they are checked no faster than the bound', async () => {
    const { timers, throttle, server } = throttledServer()
    await using _ = server
    const port = await listen(server, { maxUnauthenticated: 1000, maxUnauthenticatedPerAddress: 1000 })
    const COUNT = 1000
    const clients: RawClient[] = []
    try {
      for (let wave = 0; wave < COUNT / 250; wave++) { // waves that fit the listen backlog
        clients.push(...await Promise.all(Array.from({ length: 250 }, () => RawClient.connect(port))))
      }
      await Promise.all(clients.map((client) => client.hello()))
      for (const client of clients) client.sendFrame(WRONG)
      // Counted as they arrive: all 1000, of which only the burst is checked at once.
      await waitFor(() => throttle.checked + throttle.waiting === COUNT, 'every proof to arrive')
      expect({ checked: throttle.checked, failed: server.refused.authFailed }).toEqual({ checked: ADDRESS_BURST, failed: ADDRESS_BURST })
      expect(server.refused.throttled).toBe(COUNT - ADDRESS_BURST)
      for (let second = 1; second <= 10; second++) {
        timers.advance(1000)
        expect(throttle.checked).toBe(ADDRESS_BURST + second * ADDRESS_PER_MINUTE / 60)
      }
      // Exactly those were answered (AUTH_FAILED); every other guess is still waiting, unanswered.
      await waitFor(() => clients.filter((client) => client.isClosed).length === ADDRESS_BURST + 10, 'the checked proofs to be answered')
      expect(clients.filter((client) => client.isClosed).length).toBe(ADDRESS_BURST + 10)
    } finally {
      await Promise.all(clients.map((client) => client[Symbol.asyncDispose]()))
    }
    await waitFor(() => throttle.waiting === 0, 'the waiting proofs to be withdrawn with their sockets')
    expect(throttle.checked).toBe(ADDRESS_BURST + 10)
  })

  test('a correct client from the same address gets in while a wrong one is being throttled: no lockout', async () => {
    const { timers, throttle, server } = throttledServer()
    await using _ = server
    const port = await listen(server)
    // A misconfigured worker on this host spends the burst, then keeps trying.
    for (let i = 0; i < ADDRESS_BURST; i++) {
      await using guess = await RawClient.connect(port)
      await guess.hello()
      guess.sendFrame(WRONG)
      await expectConnectionError(guess, 'AUTH_FAILED')
    }
    await using worker = await RawClient.connect(port)
    await worker.hello() // connections are never refused for failed passwords
    worker.sendFrame(WRONG)
    await waitFor(() => throttle.waiting === 1, "the worker's proof to wait")
    const connecting = connect(`cyberdb://:${PASSWORD}@127.0.0.1:${port}?pool=1`)
    await waitFor(() => throttle.waiting === 2, "the correct client's proof to arrive")
    timers.advance(2000) // one turn for the worker's proof, one for the correct client's
    await using db = await connecting
    expect(await db.tables()).toEqual([])
    await expectConnectionError(worker, 'AUTH_FAILED')
    expect(server.refused.authFailed).toBe(ADDRESS_BURST + 1)
  })

  test('wrong proofs are answered at once while the address has checks to spare', async () => {
    await using server = new Server()
    const port = await listen(server)
    await using client = await RawClient.connect(port)
    await client.hello()
    client.sendFrame(WRONG)
    await expectConnectionError(client, 'AUTH_FAILED')
    expect({ failed: server.refused.authFailed, throttled: server.refused.throttled }).toEqual({ failed: 1, throttled: 0 })
  })

  test('a client that does not prove the password within authTimeout is closed with TIMEOUT', async () => {
    await using server = new Server()
    const port = await listen(server, { authTimeout: 0.2 })
    await using silent = await RawClient.connect(port)
    await silent.hello()
    const took = await elapsed(() => expectConnectionError(silent, 'TIMEOUT'))
    expect(took).toBeGreaterThanOrEqual(100)
    expect(took).toBeLessThan(2000)
    await waitFor(() => server.connections === 0, 'the silent connection to be gone')
  })

  test('half a proof does not stop the auth deadline', async () => {
    await using server = new Server()
    const port = await listen(server, { authTimeout: 0.2 })
    await using client = await RawClient.connect(port)
    await client.hello()
    client.send(new Uint8Array([0, 0, 0, 32, 1, 2, 3]))
    await expectConnectionError(client, 'TIMEOUT')
  })

  test('the default auth deadline is 5 s', () => {
    expect(DEFAULT_AUTH_TIMEOUT_MS).toBe(5000)
  })

  const exposed: [string, ListenOptions][] = [
    ['0.0.0.0 without a password', { host: '0.0.0.0' }],
    ['0.0.0.0 with an empty password', { host: '0.0.0.0', password: '' }],
    [':: without a password', { host: '::' }],
    ['a LAN address without a password', { host: '192.168.1.10' }],
  ]
  for (const [what, options] of exposed) {
    test(`listening on ${what} is refused with BAD_ARGUMENT, and nothing listens`, async () => {
      await using server = new Server()
      const error = await expectCode(server.listen({ port: 0, ...options }), 'BAD_ARGUMENT')
      expect(error.message).toContain('without a password')
      expect(server.address).toBeUndefined()
    })
  }

  test('loopback without a password is allowed', async () => {
    await using server = new Server()
    const { port } = await server.listen({ host: '127.0.0.1', port: 0 })
    await using db = await connect(`cyberdb://127.0.0.1:${port}`)
    expect(await db.tables()).toEqual([])
  })
})
