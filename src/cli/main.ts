#!/usr/bin/env bun
// The cyberdb command: `serve` runs a server on a data file, `inspect` shows what a snapshot
// holds, `repair` cuts a damaged operation log. Argument parsing lives only here.

import { parseArgs } from 'node:util'
import { randomBytes } from 'node:crypto'
import { CyberError } from '../errors.ts'
import { DEFAULT_PORT } from '../connect.ts'
import { DURABILITIES, type Durability } from '../persistence/log-format.ts'
import { applyRepair, describePlan, planRepair } from '../persistence/repair.ts'
import { readSnapshot } from '../persistence/snapshot.ts'
import { Server } from '../server/server.ts'

const HELP = `cyberdb: dict and list tables for Bun, in process or over TCP

usage:
  cyberdb serve [options]     serve a data file over TCP
  cyberdb inspect FILE        show the tables of a snapshot file
  cyberdb repair FILE         cut an operation log at its last good record
  cyberdb COMMAND --help      the options of a command`

const SERVE_HELP = `usage: cyberdb serve [options]

  --host HOST             address to listen on (default 127.0.0.1)
  --port PORT             port to listen on, 0 for any free one (default ${DEFAULT_PORT})
  --data FILE             snapshot file to load and save (default ./data.cdb)
  --backup SECONDS        snapshot every SECONDS, and on SIGINT/SIGTERM (default 300)
  --durability MODE       when a write is on disk, in FILE.log: always (fsync before the reply),
                          everysec (within a second), no (when the OS flushes) (default everysec)
  --password PASSWORD     clients must prove it (default: $CYBERDB_PASSWORD, else one is
                          generated and printed once)
  --max-connections N     connections past N are refused (default 10000)
  --idle-timeout SECONDS  close connections silent this long, 0 for never (default 900)
  --max-memory BYTES      refuse writes that grow the data past about BYTES of keys and values
                          (MEMORY_LIMIT; deletes still work; default: no limit)
  --feed-history N        changes the change feed keeps for watchers that resume or lag
                          (default 10000, about 100 bytes each plus their values)
  --encrypt               seal every frame with AES-256-GCM (clients add ?encrypt=true)
  --allow LIST            comma-separated addresses and CIDR ranges that may connect
                          (e.g. 127.0.0.1,10.0.0.0/8,fd00::/8; default: any)
  --tls-cert FILE         serve TLS with this certificate (PEM; clients use cyberdbs://)
  --tls-key FILE          the certificate's private key (PEM)
  --log                   one line per connection event`

const REPAIR_HELP = `usage: cyberdb repair FILE [--dry-run]

  FILE is an operation log (data.cdb.log) or a data file (data.cdb: each of its logs). Prints
  what each log keeps and what it drops (byte offset, records), then cuts the log at its last
  good record. What follows a bad record is lost. The database must not be open.

  --dry-run   print what would be dropped, change nothing`

const INSPECT_HELP = `usage: cyberdb inspect FILE [--json] [--first N]

  --json      print JSON instead of a table
  --first N   show the first N entries of each table (default 3)`

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(HELP)
    return command === undefined ? 1 : 0
  }
  try {
    if (command === 'serve') return await serve(rest)
    if (command === 'inspect') return await inspect(rest)
    if (command === 'repair') return repair(rest)
    console.error(`cyberdb: unknown command "${command}"\n\n${HELP}`)
    return 1
  } catch (error) {
    console.error(`cyberdb: ${describeFailure(error)}`)
    return 1
  }
}

function describeFailure(error: unknown): string {
  if (error instanceof CyberError) return `${error.code}: ${error.message}`
  // parseArgs rejects unknown or malformed options with its own error codes.
  const code = (error as NodeJS.ErrnoException)?.code
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
    return `BAD_ARGUMENT: ${(error as Error).message} (see --help)`
  }
  return (error as Error)?.message ?? String(error)
}

async function serve(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: String(DEFAULT_PORT) },
      data: { type: 'string', default: './data.cdb' },
      backup: { type: 'string', default: '300' },
      password: { type: 'string' },
      'max-connections': { type: 'string', default: '10000' },
      'idle-timeout': { type: 'string', default: '900' },
      durability: { type: 'string', default: 'everysec' },
      encrypt: { type: 'boolean', default: false },
      allow: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      log: { type: 'boolean', default: false },
      'max-memory': { type: 'string' },
      'feed-history': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(SERVE_HELP)
    return 0
  }
  let password = values.password ?? process.env.CYBERDB_PASSWORD
  if (password === undefined || password === '') {
    password = randomBytes(18).toString('base64url')
    console.log(`cyberdb: no password given; generated one for this run: ${password}`)
  }
  const tls = await tlsFiles(values['tls-cert'], values['tls-key'])
  const maxMemory = values['max-memory'] === undefined ? undefined
    : number('--max-memory', values['max-memory'], { min: 1 << 20, integer: true })
  const feedHistory = values['feed-history'] === undefined ? undefined
    : number('--feed-history', values['feed-history'], { min: 1, integer: true })
  const server = new Server({
    ...(maxMemory === undefined ? {} : { maxMemory }),
    ...(feedHistory === undefined ? {} : { feedHistory }),
  })
  const started = performance.now()
  const loaded = await server.load(values.data)
  const loadMs = performance.now() - started
  server.setBackup(values.data, number('--backup', values.backup, { min: 0, exclusive: true }),
    { durability: durability(values.durability) })
  const { host, port } = await server.listen({
    host: values.host,
    port: number('--port', values.port, { min: 0, integer: true }),
    password,
    maxConnections: number('--max-connections', values['max-connections'], { min: 1, integer: true }),
    idleTimeout: number('--idle-timeout', values['idle-timeout'], { min: 0 }),
    encrypt: values.encrypt,
    ...(values.allow === undefined ? {} : { allow: values.allow.split(',').map((entry) => entry.trim()) }),
    ...(tls ? { tls } : {}),
    log: values.log,
  })
  stopOnSignals(server) // before the start line: a signal sent as soon as it is read finds them
  const modes = [tls && 'tls', values.encrypt && 'encrypted', values.allow && `allow ${values.allow}`].filter(Boolean)
  console.log(`cyberdb: serving ${values.data} on ${host}:${port}${modes.length ? ` (${modes.join(', ')})` : ''}: ` +
    `loaded ${loaded.tables} tables, ${loaded.entries} entries in ${loadMs.toFixed(0)} ms; backup every ${values.backup} s`)
  return new Promise<number>(() => {}) // runs until SIGINT/SIGTERM (the server saves, then exits 0)
}

// The library installs no signal handlers (it may live inside someone's app, which decides how
// its process stops); the command owns its process, so here SIGINT and SIGTERM take the final
// snapshot and exit: 0 once saved, 1 if the save failed. A second signal waits for the same close.
function stopOnSignals(server: Server): void {
  const stop = (signal: string) => {
    console.log(`cyberdb: ${signal}: saving to ${server.backupPath} and shutting down`)
    server.close().then((stats) => {
      console.log(`cyberdb: stopped; saved ${stats?.tables} tables, ${stats?.entries} entries`)
      process.exit(0)
    }, (error) => {
      console.error('cyberdb: shutdown failed:', error)
      process.exit(1)
    })
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}

function repair(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'dry-run': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(REPAIR_HELP)
    return 0
  }
  if (positionals.length !== 1) {
    console.error(REPAIR_HELP)
    return 1
  }
  const plans = planRepair(positionals[0]!)
  if (plans.length === 0) console.log(`cyberdb: ${positionals[0]} has no operation log`)
  for (const plan of plans) console.log(describePlan(plan))
  if (!values['dry-run']) {
    applyRepair(plans)
    const cut = plans.filter((plan) => plan.drop !== undefined).length
    console.log(cut === 0 ? 'cyberdb: nothing to repair' : `cyberdb: cut ${cut} log${cut === 1 ? '' : 's'}`)
  }
  return 0
}

async function inspect(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      first: { type: 'string', default: '3' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(INSPECT_HELP)
    return 0
  }
  const [file] = positionals
  if (file === undefined || positionals.length > 1) {
    console.error(INSPECT_HELP)
    return 1
  }
  const first = number('--first', values.first, { min: 0, integer: true })
  const tables = await readSnapshot(file)
  if (tables === undefined) throw new CyberError('BAD_ARGUMENT', `no such file: ${file}`)
  const rows = [...tables].map(([name, table]) => ({
    name,
    type: table.type,
    size: table.size,
    first: table.type === 'dict' ? [...table.entries().take(first)] : table.slice(0, first),
  }))
  if (values.json) {
    console.log(JSON.stringify(rows, jsonValue, 2))
    return 0
  }
  const preview = (row: (typeof rows)[number]) =>
    row.first.map((item) => Bun.inspect(item, { compact: true }).replace(/\s+/g, ' ')).join(', ') +
    (row.size > row.first.length ? ', …' : '')
  const lines = [['TABLE', 'TYPE', 'SIZE', 'FIRST ENTRIES'], ...rows.map((row) => [row.name, row.type, String(row.size), preview(row)])]
  const widths = [0, 1, 2].map((col) => Math.max(...lines.map((line) => line[col]!.length)))
  for (const line of lines) console.log(line.map((cell, col) => (col < 3 ? cell.padEnd(widths[col]!) : cell)).join('  '))
  return 0
}

async function tlsFiles(cert: string | undefined, key: string | undefined): Promise<{ cert: string; key: string } | undefined> {
  if (cert === undefined && key === undefined) return undefined
  if (cert === undefined || key === undefined) {
    throw new CyberError('BAD_ARGUMENT', '--tls-cert and --tls-key go together')
  }
  for (const file of [cert, key]) {
    if (!(await Bun.file(file).exists())) throw new CyberError('BAD_ARGUMENT', `no such file: ${file}`)
  }
  return { cert: await Bun.file(cert).text(), key: await Bun.file(key).text() }
}

/** JSON has no bigint, Map, Set or bytes: show them as what they hold. */
function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Map) return Object.fromEntries(value)
  if (value instanceof Set) return [...value]
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64')
  return value
}

function durability(text: string): Durability {
  if ((DURABILITIES as string[]).includes(text)) return text as Durability
  throw new CyberError('BAD_ARGUMENT', `--durability takes ${DURABILITIES.join(', ')}, not "${text}"`)
}

function number(flag: string, text: string, rule: { min: number; exclusive?: boolean; integer?: boolean }): number {
  const n = Number(text)
  const ok = text !== '' && Number.isFinite(n) && (rule.exclusive ? n > rule.min : n >= rule.min) &&
    (!rule.integer || Number.isInteger(n))
  if (!ok) throw new CyberError('BAD_ARGUMENT', `${flag} takes ${rule.integer ? 'a whole' : 'a'} number ` +
    `${rule.exclusive ? 'above' : 'of at least'} ${rule.min}, not "${text}"`)
  return n
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2))
