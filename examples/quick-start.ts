// Quick start: an embedded database in this process (memory://), a dict table and a list table.
// The same calls work against a server: only the URL changes (cyberdb://:password@host:port).
//
//   bun examples/quick-start.ts

import { connect } from '../src/index.ts'

await using db = await connect('memory://')

// A dict table is used like a Map.
await db.createDict('centre', { content: 'Hello CyberDB!' })
const centre = db.dict<string | number>('centre')
console.log('centre.content =', await centre.get('content'))
await centre.set('visits', 0)
await centre.incr('visits')
console.log('visits after incr =', await centre.incr('visits', 2))
console.log('centre =', JSON.stringify(await centre.toObject()))

// A list table is used like an Array.
await db.createList('list1', [1, 2, 3])
const list1 = db.list<number>('list1')
console.log('length after push =', await list1.push(4, 5))
console.log('list1.at(-1) =', await list1.at(-1))
const seen: number[] = []
for await (const value of list1) seen.push(value)
console.log('for await over list1:', seen.join(', '))

console.log('tables:', JSON.stringify(await db.tables()))
