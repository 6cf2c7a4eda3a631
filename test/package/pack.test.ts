// The package as a user gets it: `npm pack`, installed offline into a fresh Bun project, imported,
// its CLI run the way a user runs it, and a consumer file type-checked under strict flags.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { dirname, join } from 'node:path'
import { tempDir } from '../contract/helpers.ts'
import pkg from '../../package.json' with { type: 'json' }

const ROOT = join(import.meta.dir, '..', '..')
const BIN = join(ROOT, 'node_modules', '.bin')
const dir = tempDir('cyberdb-pack-')
const project = join(dir.path, 'consumer')
// bun first on PATH, as on a machine where the user runs `bunx cyberdb`; npm comes from the PATH.
const env = {
  ...process.env,
  PATH: `${dirname(process.execPath)}:${BIN}:${process.env.PATH}`,
  npm_config_offline: 'true',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
  NO_COLOR: '1',
}
let tarball = ''
afterAll(() => dir[Symbol.dispose]())

async function run(cmd: string[], cwd: string) {
  const proc = Bun.spawn(cmd, { cwd, env, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()])
  const exitCode = await proc.exited
  if (exitCode !== 0) throw new Error(`${cmd.join(' ')} exited ${exitCode}:\n${stdout}\n${stderr}`)
  return stdout
}

beforeAll(async () => {
  // prepack writes the declaration files; msgpackr is packed from the repo's own node_modules so
  // the install needs neither the network nor a warm npm cache (a fresh `npm ci` is enough).
  const packed = JSON.parse(await run(['npm', 'pack', '--json', '--pack-destination', dir.path], ROOT))
  tarball = join(dir.path, packed[0].filename)
  const msgpackr = JSON.parse(await run(['npm', 'pack', '--json', '--ignore-scripts', '--pack-destination',
    dir.path, join(ROOT, 'node_modules', 'msgpackr')], ROOT))
  await Bun.write(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
  await run(['npm', 'install', '--offline', '--ignore-scripts', tarball, join(dir.path, msgpackr[0].filename)], project)
}, 60_000)

test('the tarball holds the sources, declarations and docs, and no test, bench or CI file', async () => {
  const files = (await run(['tar', 'tzf', tarball], dir.path)).trim().split('\n').map((f) => f.replace(/^package\//, ''))
  for (const file of ['package.json', 'README.md', 'LICENSE', 'SECURITY.md', 'src/index.ts', 'src/cli/main.ts',
    'dist/types/index.d.ts']) expect(files).toContain(file)
  expect(files.filter((file) => /^(test|bench|examples|\.ci)\/|tsconfig|bunfig/.test(file))).toEqual([])
  expect(files.every((file) => /^(src|dist\/types)\/|^[A-Z]+\.md$|^LICENSE$|^package\.json$/.test(file))).toBe(true)
})

test('the CLI is executable in git, starts with a bun shebang, and is the package bin', async () => {
  expect(await run(['git', 'ls-files', '-s', 'src/cli/main.ts'], ROOT)).toStartWith('100755 ')
  expect((await Bun.file(join(ROOT, 'src/cli/main.ts')).text()).split('\n')[0]).toBe('#!/usr/bin/env bun')
  expect(pkg.bin.cyberdb).toBe('./src/cli/main.ts')
  expect(pkg.engines.bun).toMatch(/^>=\d+\.\d+\.\d+$/)
})

test('npx cyberdb and bunx cyberdb in the installed project print the package version', async () => {
  expect((await run(['npx', 'cyberdb', '--version'], project)).trim()).toBe(pkg.version)
  expect((await run([process.execPath, 'x', 'cyberdb', '--version'], project)).trim()).toBe(pkg.version)
}, 30_000)

const CONSUMER = `import { connect, CyberError, Server, type Database, type ConnectOptions } from 'cyberdb'
const options: ConnectOptions = {}
const db: Database = await connect('memory://', options)
await db.createDict('centre', { content: 'Hello CyberDB!' })
const content: string | undefined = await db.dict<string>('centre').get('content')
const tables = await db.tables()
console.log(JSON.stringify({ content, tables, error: CyberError.name, server: typeof Server }))
await db.close()
`

test('a consumer imports it, runs it, and type-checks under strict flags against the declarations', async () => {
  await Bun.write(join(project, 'consumer.ts'), CONSUMER)
  expect(JSON.parse(await run([process.execPath, 'consumer.ts'], project))).toEqual({
    content: 'Hello CyberDB!',
    tables: [{ name: 'centre', type: 'dict', size: 1 }],
    error: 'CyberError',
    server: 'function',
  })
  await Bun.write(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ESNext', module: 'Preserve', moduleResolution: 'bundler', lib: ['ESNext'], noEmit: true,
      types: ['bun'], typeRoots: [join(ROOT, 'node_modules', '@types')],
      strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true,
      noPropertyAccessFromIndexSignature: true, noUnusedLocals: true, noImplicitReturns: true,
      skipLibCheck: false, // the package's declarations are checked too, under these flags
    },
    files: ['consumer.ts'],
  }))
  const listed = await run([join(BIN, 'tsc'), '-p', '.', '--listFiles'], project)
  const ours = listed.split('\n').filter((file) => file.includes('node_modules/cyberdb/'))
  // The consumer's tsc reads the generated declarations, never the package's .ts sources.
  expect(ours.length).toBeGreaterThan(0)
  expect(ours.filter((file) => !file.includes('/dist/types/') || !file.endsWith('.d.ts'))).toEqual([])
}, 30_000)
