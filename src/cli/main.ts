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
import type { Address } from '../listen-options.ts'
import { AllowList } from '../security/allow-list.ts'
import { CLIENT_COMMANDS, CLIENT_HELP, runClientCommand } from './client-commands.ts'
import { jsonValue } from './format.ts'
import { ProgressLine } from './load-progress.ts'
import { FilesCreated, listenFailure, serverUrl } from './serve-start.ts'
import pkg from '../../package.json' with { type: 'json' }

const HELP = `cyberdb: dict and list tables for Bun, in process or over TCP

usage:
  cyberdb serve [options]     serve a data file over TCP
  cyberdb inspect FILE        show the tables of a snapshot file
  cyberdb repair FILE         cut an operation log at its last good record
  cyberdb --version           the version of this package
  cyberdb COMMAND --help      the options of a command
${CLIENT_HELP}`

const SERVE_HELP = `usage: cyberdb serve [options]

  --host HOST             address to listen on (default 127.0.0.1)
  --port PORT             port to listen on, 0 for any free one (default ${DEFAULT_PORT}, or none
                          with --unix alone)
  --unix PATH             listen on this unix socket file too (owner-only, 0600; alone, with no
                          --port or --host, on it only; clients use cyberdb+unix:///PATH)
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
  --log                   one line per connection event
  --metrics PORT          serve /metrics (Prometheus), /health and a live dashboard at / over
                          HTTP on 127.0.0.1:PORT (the --allow list applies)`

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
  if (command === '--version' || command === '-v' || command === 'version') {
    console.log(pkg.version)
    return 0
  }
  try {
    if (command === 'serve') return await serve(rest)
    if (command === 'inspect') return await inspect(rest)
    if (command === 'repair') return repair(rest)
    if (CLIENT_COMMANDS.has(command)) return await runClientCommand(command, rest)
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
      host: { type: 'string' },
      port: { type: 'string' },
      unix: { type: 'string' },
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
      metrics: { type: 'string' },
      'feed-history': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(SERVE_HELP)
    return 0
  }
  const given = values.password ?? process.env['CYBERDB_PASSWORD']
  const generated = given === undefined || given === ''
  const password = generated ? randomBytes(18).toString('base64url') : given
  // Every argument is checked before the data file is touched.
  const port = values.port === undefined ? undefined : number('--port', values.port, { min: 0, max: 65535, integer: true })
  const backup = number('--backup', values.backup, { min: 0, exclusive: true })
  const metrics = values.metrics === undefined ? undefined
    : { port: number('--metrics', values.metrics, { min: 0, max: 65535, integer: true }) }
  const maxConnections = number('--max-connections', values['max-connections'], { min: 1, integer: true })
  const idleTimeout = number('--idle-timeout', values['idle-timeout'], { min: 0 })
  const mode = durability(values.durability)
  const allow = values.allow?.split(',').map((entry) => entry.trim())
  if (allow !== undefined) new AllowList(allow) // throws BAD_ARGUMENT naming a bad entry
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
  const progress = process.stdout.isTTY
    ? new ProgressLine(values.data, (text) => process.stdout.write(text))
    : undefined
  const loaded = await server.load(values.data, progress ? { progress: progress.report } : {})
  progress?.end()
  const loadMs = performance.now() - started
  const created = new FilesCreated([values.data, `${values.data}.log`])
  server.setBackup(values.data, backup, { durability: mode })
  let address: Address
  try {
    // With --unix alone, no TCP listener; otherwise the default host and port fill what is missing.
    address = await server.listen({
      ...(values.host === undefined ? {} : { host: values.host }),
      ...(port === undefined ? {} : { port }),
      ...(values.unix === undefined ? {} : { unix: values.unix }),
      password,
      maxConnections,
      idleTimeout,
      encrypt: values.encrypt,
      ...(allow === undefined ? {} : { allow }),
      ...(tls ? { tls } : {}),
      log: values.log ? (message) => console.log(`cyberdb: ${message} at ${new Date().toISOString()}`)
        : false,
      ...(metrics ? { metrics } : {}),
    })
  } catch (error) {
    // A serve that never served leaves nothing behind: the lock goes with close(), and a data file
    // or log that this run created (close() writes a final snapshot) is removed again.
    await server.close()
    created.remove()
    throw listenFailure(error, values.host ?? '127.0.0.1', port ?? 9980)
  }
  stopOnSignals(server) // before the start line: a signal sent as soon as it is read finds them
  // Only once it serves (a password printed by a run that failed would name nothing), before the
  // start line (that is what scripts wait for). Printed once (the URL leaves it out): connect() takes it from CYBERDB_PASSWORD or { password }.
  const url = serverUrl(address, tls !== undefined, values.encrypt)
  console.log(`cyberdb: connect with ${url}` + (generated
    ? `; no password given, so generated one for this run: ${password}`
    : ` (password ${values.password === undefined ? 'from CYBERDB_PASSWORD' : 'given with --password'})`))
  const modes = [tls && 'tls', values.encrypt && 'encrypted', values.allow && `allow ${values.allow}`].filter(Boolean)
  const where = [address.port > 0 && `${address.host}:${address.port}`, address.unix].filter(Boolean).join(' and ')
  console.log(`cyberdb: serving ${values.data} on ${where}${modes.length ? ` (${modes.join(', ')})` : ''}: ` +
    `loaded ${loaded.tables} tables, ${loaded.entries} entries in ${loadMs.toFixed(0)} ms; backup every ${values.backup} s`)
  if (address.metrics) console.log(`cyberdb: metrics and dashboard on http://${address.metrics.host}:${address.metrics.port}/`)
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

function durability(text: string): Durability {
  if ((DURABILITIES as string[]).includes(text)) return text as Durability
  throw new CyberError('BAD_ARGUMENT', `--durability takes ${DURABILITIES.join(', ')}, not "${text}"`)
}

function number(flag: string, text: string, rule: { min: number; max?: number; exclusive?: boolean; integer?: boolean }): number {
  const n = Number(text)
  const ok = text !== '' && Number.isFinite(n) && (rule.exclusive ? n > rule.min : n >= rule.min) &&
    (!rule.integer || Number.isInteger(n))
  const kind = rule.integer ? 'a whole number' : 'a number'
  if (!ok) throw new CyberError('BAD_ARGUMENT', `${flag} takes ${kind} ${rule.exclusive ? 'above' : 'of at least'} ${rule.min}, not "${text}"`)
  if (rule.max !== undefined && n > rule.max) {
    throw new CyberError('BAD_ARGUMENT', `${flag} takes ${kind} of at most ${rule.max}, not "${text}"`)
  }
  return n
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2))
