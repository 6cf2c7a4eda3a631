// The commands that poke a running database: ping, tables, info, get, set. Each takes a URL
// (any connect() form; default $CYBERDB_URL, else cyberdb://127.0.0.1:9980) and closes it after.

import { connect, DEFAULT_PORT } from '../connect.ts'
import type { Database } from '../client/database.ts'
import { CyberError } from '../errors.ts'
import { jsonValue, printInfo, printRows } from './format.ts'

const DEFAULT_URL = `cyberdb://127.0.0.1:${DEFAULT_PORT}`

export const CLIENT_HELP = `  cyberdb ping [URL]          check that a database answers, and how fast
                              (--wait SECONDS: keep trying that long, for a script that just
                              started a server)
  cyberdb tables [URL]        list its tables with their types and sizes
  cyberdb info [URL]          what it holds and how it is doing (--json)
  cyberdb get URL TABLE KEY   print a dict value (a list takes an index) as JSON
  cyberdb set URL TABLE KEY VALUE
                              store VALUE (JSON, else the text itself; --string: always text)
  URL: cyberdb://[:PASSWORD@]HOST:PORT, file:PATH, ... (default $CYBERDB_URL, else
  ${DEFAULT_URL}); a URL without a password takes $CYBERDB_PASSWORD`

export const CLIENT_COMMANDS = new Set(['ping', 'tables', 'info', 'get', 'set'])

/** Runs one of CLIENT_COMMANDS; the exit code. */
export async function runClientCommand(command: string, argv: string[]): Promise<number> {
  // Not parseArgs: a list index like -1 is a positional here, not an unknown option.
  const args = [...argv]
  const waitAt = args.indexOf('--wait')
  const waitText = waitAt < 0 ? undefined : args.splice(waitAt, 2)[1]
  const flags = new Set(args.filter((arg) => /^--?[a-z]/i.test(arg)))
  const positionals = args.filter((arg) => !flags.has(arg))
  for (const flag of flags) {
    if (!['--json', '--string', '--help', '-h'].includes(flag)) {
      throw new CyberError('BAD_ARGUMENT', `cyberdb ${command} has no option ${flag} (see --help)`)
    }
  }
  const values = {
    json: flags.has('--json'),
    string: flags.has('--string'),
    help: flags.has('--help') || flags.has('-h'),
  }
  const waitSeconds = waitText === undefined ? 0 : Number(waitText)
  if (waitText !== undefined && (command !== 'ping' || !(waitSeconds > 0) || !Number.isFinite(waitSeconds))) {
    throw new CyberError('BAD_ARGUMENT',
      `--wait goes with ping and takes a number of seconds above 0, not "${waitText}"`)
  }
  if (values.help) {
    console.log(`usage:\n${CLIENT_HELP}`)
    return 0
  }
  const arity = { ping: 0, tables: 0, info: 0, get: 2, set: 3 }[command] ?? 0
  if (positionals.length !== arity && positionals.length !== arity + 1) {
    const form = `${arity === 0 ? '[URL]' : 'URL'}${['', '', ' TABLE KEY', ' TABLE KEY VALUE'][arity]}`
    throw new CyberError('BAD_ARGUMENT',
      `cyberdb ${command} takes ${form}, not ${positionals.length} arguments (see --help)`)
  }
  const url = positionals.length > arity ? positionals.shift()! : process.env['CYBERDB_URL'] || DEFAULT_URL
  const started = performance.now()
  const db = await open(url, waitSeconds * 1000)
  try {
    const connectedMs = performance.now() - started
    if (command === 'ping') return await ping(db, url, connectedMs)
    if (command === 'tables') return await tables(db, values.json)
    if (command === 'info') return await info(db, url, values.json)
    const [table, key, text] = positionals as [string, string, string?]
    if (command === 'get') return await get(db, table, key)
    return await set(db, table, key, values.string ? text! : parseValue(text!))
  } finally {
    await db.close()
  }
}

async function open(url: string, waitMs = 0): Promise<Database> {
  // ping --wait: a script starting a server waits here until it answers (nothing else retries).
  const deadline = performance.now() + waitMs
  for (;;) {
    try {
      return await connect(url)
    } catch (error) {
      const refused = error instanceof CyberError && error.code === 'CONNECTION_CLOSED'
      if (!refused || performance.now() + RETRY_MS > deadline) throw advice(error)
      await Bun.sleep(RETRY_MS)
    }
  }
}

const RETRY_MS = 100

function advice(error: unknown): unknown {
  if (error instanceof CyberError && error.code === 'CONNECTION_CLOSED') {
    return new CyberError('CONNECTION_CLOSED', `${error.message}: is cyberdb serve running there? ` +
      '(start one with: npm start, or npx cyberdb serve)', { cause: error })
  }
  if (error instanceof CyberError && error.code === 'AUTH_FAILED') {
    return new CyberError('AUTH_FAILED', `${error.message}: put the password in the URL ` +
      '(cyberdb://:PASSWORD@HOST:PORT) or in CYBERDB_PASSWORD', { cause: error })
  }
  return error
}

async function ping(db: Database, url: string, connectedMs: number): Promise<number> {
  const started = performance.now()
  await db.tables()
  const roundTripMs = performance.now() - started
  console.log(`PONG from ${masked(url)}: connected in ${connectedMs.toFixed(1)} ms, ` +
    `a round trip in ${roundTripMs.toFixed(2)} ms`)
  return 0
}

async function tables(db: Database, json: boolean): Promise<number> {
  const list = await db.tables()
  if (json) console.log(JSON.stringify(list, null, 2))
  else printRows(list.map((table) => ({ table: table.name, type: table.type, size: table.size })))
  return 0
}

/** What info prints: db.info(), with its times (ms since the epoch) as ISO dates for people. */
export async function gatherInfo(db: Database, url: string): Promise<Record<string, unknown>> {
  const info = await db.info()
  const iso = (ms: number) => new Date(ms).toISOString()
  const lastSave = info.persistence.lastSave
  return {
    url: masked(url), ...info, at: iso(info.at), since: iso(info.since),
    persistence: { ...info.persistence, lastSave: lastSave === null ? null : { ...lastSave, at: iso(lastSave.at) } },
  }
}

async function info(db: Database, url: string, json: boolean): Promise<number> {
  const data = await gatherInfo(db, url)
  if (json) console.log(JSON.stringify(data, jsonValue, 2))
  else printInfo(data)
  return 0
}

async function get(db: Database, table: string, key: string): Promise<number> {
  const type = await tableType(db, table)
  const dict = db.dict(table)
  const value = type === 'list' ? await db.list(table).at(index(key)) : await dict.get(key)
  if (type === 'dict' && value === undefined && !(await dict.has(key))) {
    throw new CyberError('KEY_NOT_FOUND', `no key "${key}" in dict "${table}"`)
  }
  console.log(JSON.stringify(value, jsonValue) ?? 'undefined')
  return 0
}

async function set(db: Database, table: string, key: string, value: unknown): Promise<number> {
  const type = await tableType(db, table)
  if (type === 'list') await db.list(table).set(index(key), value)
  else await db.dict(table).set(key, value)
  console.log('OK')
  return 0
}

async function tableType(db: Database, name: string): Promise<'dict' | 'list'> {
  const table = (await db.tables()).find((entry) => entry.name === name)
  if (table === undefined) {
    throw new CyberError('TABLE_NOT_FOUND', `no table "${name}" (cyberdb tables URL lists them)`)
  }
  return table.type
}

function index(text: string): number {
  const n = Number(text)
  if (text === '' || !Number.isSafeInteger(n)) {
    throw new CyberError('BAD_ARGUMENT',
      `a list takes a whole-number index (negative from the end), not "${text}"`)
  }
  return n
}

/** JSON when it parses (42, true, {"a":1}, "quoted"), else the text as typed. */
function parseValue(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** A URL fit to print: its password hidden. */
export function masked(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@').replace(/([?&]password=)[^&]*/, '$1***')
}
