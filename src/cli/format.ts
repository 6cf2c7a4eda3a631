// How the CLI prints data: JSON that survives bigints, Maps, Sets and bytes, aligned tables, and
// nested info as headed sections (so a richer db.info() prints without changes here).

/** JSON has no bigint, Map, Set or bytes: show them as what they hold. */
export function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Map) return Object.fromEntries(value)
  if (value instanceof Set) return [...value]
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64')
  return value
}

/** Rows of plain values as aligned columns, headed by their keys in upper case. */
export function printRows(rows: Record<string, unknown>[], indent = ''): void {
  if (rows.length === 0) {
    console.log(`${indent}(none)`)
    return
  }
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))]
  const lines = [
    columns.map((column) => column.toUpperCase()),
    ...rows.map((row) => columns.map((column) => cell(row[column]))),
  ]
  const widths = columns.map((_, col) => Math.max(...lines.map((line) => line[col]!.length)))
  for (const line of lines) {
    const cells = line.map((text, col) => (col < columns.length - 1 ? text.padEnd(widths[col]!) : text))
    console.log(indent + cells.join('  '))
  }
}

/** Top-level scalars as `name: value`, objects as indented sections, arrays of objects as tables. */
export function printInfo(info: Record<string, unknown>, indent = ''): void {
  for (const [name, value] of Object.entries(info)) {
    if (Array.isArray(value) && value.every(isRecord)) {
      console.log(`${indent}${name}:`)
      printRows(value, `${indent}  `)
    } else if (isRecord(value)) {
      console.log(`${indent}${name}:`)
      printInfo(value, `${indent}  `)
    } else {
      console.log(`${indent}${name}: ${cell(value)}`)
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)
}

function cell(value: unknown): string {
  if (typeof value === 'string') return value
  if (value instanceof Date) return value.toISOString()
  return JSON.stringify(value, jsonValue) ?? String(value)
}
