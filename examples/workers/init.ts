// Step 1 of the workers tutorial: create the data file the server will serve.
//   npx bun examples/workers/init.ts [data.cdb]
import { connect } from '../../src/index.ts'

const file = process.argv[2] ?? './data.cdb'
const db = await connect(`file:${file}`)
await db.createDict('centre', { content: 'Hello CyberDB!' }, { ifNotExists: true })
await db.save()
console.log(`init: ${file} holds`, await db.tables())
await db.close()
