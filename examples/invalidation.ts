// Two worker processes, each with a Map in front of one shared store, kept coherent by watch():
// every change to "prices" drops the worker's cached copy of that key, so its next read is fresh.
// The parent serves an embedded database and writes; each worker prints what it reads after each
// change. (A watch is set up before the first read, so no change can slip in between.)
//
//   bun examples/invalidation.ts

import { connect } from '../src/index.ts'

const [role, url] = process.argv.slice(2)
if (role !== undefined) {
  const db = await connect(url!)
  const prices = db.dict<number | string>('prices')
  const cache = new Map<string, number | string | undefined>()
  const read = async (key: string) => {
    if (!cache.has(key)) cache.set(key, await prices.get(key))
    return cache.get(key)
  }
  const changes = db.watch({ tables: ['prices'] })
  console.log(`${role}: apple = ${await read('apple')} (ready)`)
  for await (const change of changes) {
    cache.delete(String(change.key)) // the next read of it goes to the store
    if (change.key === 'done') break
    console.log(`${role}: ${change.key} = ${await read(String(change.key))} after ${change.op}`)
  }
  await db.close()
} else {
  const db = await connect('memory://')
  await db.createDict('prices', { apple: 1 })
  const { port } = await db.serve({ host: '127.0.0.1', port: 0, password: 'demo' })
  const workers = ['worker-a', 'worker-b'].map((name) => Bun.spawn(
    [process.execPath, import.meta.path, name, `cyberdb://:demo@127.0.0.1:${port}`], { stdout: 'pipe' }))
  const outputs = workers.map((w) => w.stdout.pipeThrough(new TextDecoderStream()).getReader())
  const texts = ['', '']
  // Each write waits for both workers to print a line (the first: "ready", they watch).
  const lines = (n: number) => Promise.all(outputs.map(async (out, i) => {
    while (texts[i]!.split('\n').length <= n) {
      const chunk = await out.read()
      if (chunk.done) throw new Error(`worker ${i} stopped early:\n${texts[i]}`)
      texts[i] += chunk.value
    }
  }))
  const prices = db.dict('prices')
  await lines(1)
  await prices.set('apple', 2)
  await lines(2)
  await prices.set('pear', 5)
  await lines(3)
  await prices.delete('apple')
  await lines(4)
  await prices.set('done', 'yes')
  await Promise.all(workers.map((w) => w.exited))
  for (const [i, out] of outputs.entries()) {
    for (let chunk = await out.read(); !chunk.done; chunk = await out.read()) texts[i] += chunk.value
  }
  console.log(texts.join('').trimEnd())
  await db.close()
}
