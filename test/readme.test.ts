// Every `sh` block of the README runs as written from a clone, with only Node and npm on the PATH
// (bun comes from `npx bun`): its fixed ports swapped for free ones and data.cdb for a temp file.
// `console` blocks are shown, not run (npm install would replace the shared node_modules).

import { afterAll, expect, test } from 'bun:test'
import { join } from 'node:path'
import { tempDir } from './contract/helpers.ts'

const ROOT = join(import.meta.dir, '..')
const README = await Bun.file(join(ROOT, 'README.md')).text()
const dir = tempDir('cyberdb-readme-')
afterAll(() => dir[Symbol.dispose]())

const blocks = [...README.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map(([, lang, body]) => ({ lang: lang!, body: body! }))
const shell = blocks.filter((block) => block.lang === 'sh')

/** A port that was free a moment ago (the README's commands take a fixed one). */
function freePort(): number {
  const listener = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = listener.port
  listener.stop(true)
  return port
}

/** Kills what is left of a process group this test started (setsid made its leader's pid the id). */
function sweep(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL')
  } catch {
    // the group is gone already
  }
}

/** PATH without any directory holding a bun: the README promises Node and npm are enough. */
function nodeOnlyPath(): string {
  return (process.env.PATH ?? '').split(':')
    .filter((entry) => entry !== '' && !Bun.file(join(entry, 'bun')).size && !entry.includes('node_modules'))
    .join(':')
}

test('the README marks its blocks: sh runs, console is shown; shell commands never call a bare bun', () => {
  expect(shell.length).toBeGreaterThanOrEqual(2)
  expect(blocks.filter((block) => !['ts', 'sh', 'console'].includes(block.lang))).toEqual([])
  for (const block of blocks.filter((b) => b.lang !== 'ts')) {
    for (const line of block.body.split('\n')) {
      // bun as the command itself (npx bun is fine): at the start, after ; & | ( or VAR=value
      expect(line.replace(/\s#.*/, '')).not.toMatch(/(^|[;&|(])\s*(\w+=\S*\s+)*(bun|bunx)\s/)
    }
  }
  // The first screen: exactly `npm install && npm start` and `npm test`.
  const first = blocks.find((block) => block.lang !== 'ts')!
  expect(first.body.split('\n').filter(Boolean).map((line) => line.replace(/\s+#.*/, ''))).toEqual([
    'npm install && npm start', 'npm test',
  ])
})

test('npm start runs cyberdb serve and prints a URL to connect to', async () => {
  // Its own process group: npm forwards no SIGTERM, so the group gets it (the server saves, exits).
  const proc = Bun.spawn(['setsid', 'npm', 'start', '--', '--port', '0', '--data', dir.file('start.cdb')], {
    cwd: ROOT, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe',
    env: { ...process.env, PATH: nodeOnlyPath(), CYBERDB_PASSWORD: 'secret', npm_config_update_notifier: 'false' },
  })
  const bound = setTimeout(() => sweep(proc.pid), 30_000)
  const reader = proc.stdout.getReader()
  let text = ''
  while (!/cyberdb: serving /.test(text)) {
    const { value, done } = await reader.read()
    if (done) break
    text += new TextDecoder().decode(value)
  }
  process.kill(-proc.pid, 'SIGTERM')
  for (;;) {
    const { value, done } = await reader.read() // to the end: every process of the group is gone
    if (done) break
    text += new TextDecoder().decode(value)
  }
  clearTimeout(bound)
  await proc.exited
  expect(text).toMatch(/cyberdb: connect with cyberdb:\/\/127\.0\.0\.1:\d+ \(password from CYBERDB_PASSWORD\)/)
  expect(text).toContain('cyberdb: stopped; saved 0 tables, 0 entries')
  expect(text).not.toContain('secret')
}, 30_000)

test('every sh block runs as written, in order, and says what the README says it does', async () => {
  const ports = new Map([['9980', String(freePort())], ['8000', String(freePort())]])
  const outputs: string[] = []
  for (const block of shell) {
    const script = block.body
      .replace(/\b(9980|8000)\b/g, (port) => ports.get(port)!)
      .replace(/(?<![\w/.])data\.cdb\b/g, dir.file('data.cdb'))
    // At the end the whole group (the background servers, and npx, which forwards no signal) gets
    // SIGTERM: the servers save and exit, and their stdout closing ends the read. A bound kills it.
    const proc = Bun.spawn(['setsid', 'bash', '-euo', 'pipefail', '-c', `${script}\ntrap '' TERM\nkill -TERM 0\nwait`], {
      cwd: ROOT, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe',
      env: { ...process.env, PATH: nodeOnlyPath(), npm_config_offline: 'true', npm_config_update_notifier: 'false', NO_COLOR: '1' },
    })
    const bound = setTimeout(() => sweep(proc.pid), 60_000)
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
    clearTimeout(bound)
    sweep(proc.pid)
    expect({ code, stderr: code === 0 ? '' : stderr, script: code === 0 ? '' : script }).toEqual({ code: 0, stderr: '', script: '' })
    outputs.push(stdout)
  }
  const all = outputs.join('\n')
  expect(all).toContain('{"code":1,"content":"Hello CyberDB!"}')
  expect(all).toMatch(/centre\s+dict\s+1/)
  expect(all).toMatch(/^1$/m) // cyberdb get file:data.cdb centre visits
  expect(all).toContain((await Bun.file(join(ROOT, 'package.json')).json()).version)
}, 120_000)
