// The public surface of CyberDB. Re-exports only.

export { connect } from './connect.ts'
export { CyberError, type ErrorCode } from './errors.ts'
export { Database, DatabaseProxy, TableClient, type CreateOptions, type CreateDictOptions,
  type CreateListOptions } from './client/database.ts'
export { DictHandle, type DictSource, type SetOptions } from './client/dict-handle.ts'
export { ListHandle } from './client/list-handle.ts'
export { Atomic, AtomicDict, AtomicList, type CommitResult } from './client/atomic.ts'
export type { ListOptions } from './engine/listing.ts'
export type { Transport } from './client/transport.ts'
export type { TableInfo } from './engine/store.ts'
export type { Key } from './engine/values.ts'
export type { SortOptions } from './engine/list-table.ts'
export type { SnapshotStats } from './persistence/snapshot.ts'
export { Server, type ServerOptions } from './server/server.ts'
export type { ListenOptions, Address } from './listen-options.ts'
export { manualClock, type Clock, type ManualClock } from './host/clock.ts'
export type { ConnectOptions } from './connect.ts'
