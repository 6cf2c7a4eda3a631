import { describe, expect, test } from 'bun:test'
import { existsSync, mkdirSync, readdirSync } from 'node:fs'
import { relative } from 'node:path'
import { Server, connect } from '../src/index.ts'
import { expectCode, tempDir } from './contract/helpers.ts'

describe('memory://', () => {
  for (const url of ['memory://', 'memory:']) {
    test(`${url} opens an empty in-process database of its own`, async () => {
      await using a = await connect(url)
      await using b = await connect(url)
      await a.createDict('t', { k: 1 })
      expect([await a.tables(), await b.tables()]).toEqual([[{ name: 't', type: 'dict', size: 1 }], []])
    })
  }
})

describe('file:', () => {
  const forms: [string, (path: string) => string][] = [
    ['file:/absolute/path', (path) => `file:${path}`],
    ['file:///absolute/path', (path) => `file://${path}`],
    ['file:relative/path', (path) => `file:${relative(process.cwd(), path)}`],
    ['file:./relative/path', (path) => `file:./${relative(process.cwd(), path)}`],
    ['file:PATH?backup=SECONDS', (path) => `file:${path}?backup=300`],
  ]
  for (const [form, url] of forms) {
    test(`${form} opens the data file at that path and keeps data across opens`, async () => {
      using dir = tempDir()
      const path = dir.file('data.cdb')
      {
        await using db = await connect(url(path))
        await db.createList('l', [1, 2])
      }
      expect(existsSync(path)).toBe(true)
      await using again = await connect(`file:${path}`)
      expect(await again.list('l').toArray()).toEqual([1, 2])
    })
  }

  test('a file: path that is a folder is BAD_ARGUMENT, and nothing is created beside it (8.16a)', async () => {
    using dir = tempDir()
    const folder = dir.file('folder')
    mkdirSync(folder)
    const messages = []
    for (const url of [`file:${folder}`, `file:${folder}/`, `file:${dir.file('new')}/`]) {
      messages.push((await expectCode(connect(url), 'BAD_ARGUMENT')).message)
    }
    expect(messages[0]).toBe(`the data file "${folder}" is a folder: give the path of a file in it, such as "${folder}/data.cdb"`)
    expect(readdirSync(dir.path).sort()).toEqual(['folder'])
    expect(readdirSync(folder)).toEqual([])
    const server = new Server()
    expect(() => server.setBackup(folder, 300)).toThrow(messages[0])
    expect(readdirSync(dir.path).sort()).toEqual(['folder'])
  })

  test('a file: path is percent-decoded', async () => {
    using dir = tempDir()
    {
      await using db = await connect(`file:${dir.path}/with%20space%25.cdb`)
      await db.createDict('d')
    }
    expect(existsSync(dir.file('with space%.cdb'))).toBe(true)
  })

  test('a file in a folder that does not exist fails with BAD_ARGUMENT naming the path', async () => {
    using dir = tempDir()
    const error = await expectCode(connect(`file:${dir.path}/no/such/folder/x.cdb`), 'BAD_ARGUMENT')
    expect(error.message).toContain(`${dir.path}/no/such/folder/x.cdb`)
  })
})

describe('bad URLs', () => {
  const FORMS = ['memory://', 'file:PATH', 'cyberdb://']
  const bad: [string, unknown, string][] = [
    ['an unknown scheme', 'http://localhost/x', 'unknown scheme'],
    ['a bare word', 'memory', 'unknown scheme'],
    ['an empty string', '', 'unknown scheme'],
    ['memory:// with something after it', 'memory://x', 'unknown scheme'],
    ['an empty file path', 'file:', 'the file path is empty'],
    ['an empty file path with a query', 'file:?backup=5', 'the file path is empty'],
    ['an empty file path after //', 'file://', 'the file path is empty'],
    ['a malformed %-escape in the path', 'file:/tmp/a%zz.cdb', 'malformed %-escape'],
    ['an unknown file parameter', 'file:/tmp/x.cdb?bakup=5', 'unknown parameter "bakup"'],
    ['a zero backup', 'file:/tmp/x.cdb?backup=0', 'backup must be a positive number'],
    ['a negative backup', 'file:/tmp/x.cdb?backup=-1', 'backup must be a positive number'],
    ['a backup that is not a number', 'file:/tmp/x.cdb?backup=often', 'backup must be a positive number'],
    ['an empty backup', 'file:/tmp/x.cdb?backup=', 'backup must be a positive number'],
    ['an infinite backup', 'file:/tmp/x.cdb?backup=Infinity', 'backup must be a positive number'],
    ['undefined', undefined, 'it is not a string'],
    ['null', null, 'it is not a string'],
    ['a number', 42, 'it is not a string'],
    ['a URL object', new URL('file:///tmp/x.cdb'), 'it is not a string'],
  ]
  for (const [what, url, why] of bad) {
    test(`${what} fails with BAD_ARGUMENT saying why and naming the accepted forms`, async () => {
      const error = await expectCode(connect(url as string), 'BAD_ARGUMENT')
      expect(error.message).toContain(why)
      for (const form of FORMS) expect(error.message).toContain(form)
    })
  }

  const secrets: [string, string][] = [
    // (redis:// was the example of an unknown scheme here until issue 15 made it a known one)
    ['in the userinfo of an unknown scheme', 'mysql://:hunter2@localhost:3306'],
    ['with a user name, in an unknown scheme', 'postgres://admin:hunter2@db.example/app'],
    ['in the userinfo of a cyberdb URL with a bad parameter', 'cyberdb://:hunter2@127.0.0.1:9980?bogus=1'],
    ['in a password parameter of a cyberdb URL with a bad pool', 'cyberdb://127.0.0.1:9980?password=hunter2&pool=0'],
  ]
  for (const [where, url] of secrets) {
    test(`a password ${where} is never echoed in the error`, async () => {
      const error = await expectCode(connect(url), 'BAD_ARGUMENT')
      expect(error.message).not.toContain('hunter2')
      expect(error.message).toContain('***')
    })
  }
})

describe('the environment (CYBERDB_URL, CYBERDB_PASSWORD)', () => {
  /** Runs `body` with these variables set (undefined: unset), then puts the old values back. */
  async function withEnv(vars: Record<string, string | undefined>, body: () => Promise<void>) {
    const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]))
    const put = (values: Record<string, string | undefined>) => {
      for (const [name, value] of Object.entries(values)) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
    }
    put(vars)
    try {
      await body()
    } finally {
      put(saved)
    }
  }

  test('connect() with no argument opens memory:// when CYBERDB_URL is unset or empty', async () => {
    for (const value of [undefined, '']) {
      await withEnv({ CYBERDB_URL: value }, async () => {
        await using a = await connect()
        await using b = await connect()
        await a.createDict('t', { k: 1 })
        expect([await a.tables(), await b.tables()]).toEqual([[{ name: 't', type: 'dict', size: 1 }], []])
      })
    }
  })

  test('connect() with no argument opens CYBERDB_URL, read at the call', async () => {
    using dir = tempDir()
    const path = dir.file('env.cdb')
    await withEnv({ CYBERDB_URL: `file:${path}` }, async () => {
      {
        await using db = await connect()
        await db.createDict('kept', { a: 1 })
      }
      await using again = await connect()
      expect(await again.dict('kept').get('a')).toBe(1)
    })
    await withEnv({ CYBERDB_URL: 'http://nowhere/' }, async () => {
      expect((await expectCode(connect(), 'BAD_ARGUMENT')).message).toContain('unknown scheme')
    })
  })

  test('connect(undefined) stays BAD_ARGUMENT: only a call without arguments reads CYBERDB_URL', async () => {
    await withEnv({ CYBERDB_URL: 'memory://' }, async () => {
      const error = await expectCode(connect(undefined as unknown as string), 'BAD_ARGUMENT')
      expect(error.message).toContain('it is not a string')
    })
  })

  test('a server URL without a password takes CYBERDB_PASSWORD; one in the URL or options wins', async () => {
    await using server = new Server()
    const { port } = await server.listen({ host: '127.0.0.1', port: 0, password: 'from-env' })
    await withEnv({ CYBERDB_PASSWORD: 'from-env' }, async () => {
      await using db = await connect(`cyberdb://127.0.0.1:${port}`)
      await db.createDict('t')
      expect((await db.tables()).map((table) => table.name)).toEqual(['t'])
    })
    await withEnv({ CYBERDB_PASSWORD: 'wrong', CYBERDB_URL: `cyberdb://127.0.0.1:${port}` }, async () => {
      await expectCode(connect(), 'AUTH_FAILED')
      await using byUrl = await connect(`cyberdb://:from-env@127.0.0.1:${port}`)
      await using byOption = await connect(`cyberdb://127.0.0.1:${port}`, { password: 'from-env' })
      expect([(await byUrl.tables()).length, (await byOption.tables()).length]).toEqual([1, 1])
    })
  })
})
