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
    ['in the userinfo of an unknown scheme', 'redis://:hunter2@localhost:6379'],
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
