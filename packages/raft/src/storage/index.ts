export type { PersistBatch, RaftStorage, StorageIdentity } from './raft-storage.js';
export { StorageError } from './raft-storage.js';
export { KvRaftStorage } from './kv-storage.js';
export { FORMAT_VERSION } from './layout.js';
export type { LevelRaftStorageOptions } from './level-storage.js';
export { LevelRaftStorage } from './level-storage.js';
export type { MemoryRaftStorageOptions } from './memory-storage.js';
export { MemoryDisk, MemoryRaftStorage } from './memory-storage.js';
