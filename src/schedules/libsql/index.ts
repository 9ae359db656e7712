export { createLibsqlStore, type LibsqlStore } from './libsql-store.js';
export type { LibsqlStoreOptions } from './connection.js';
export { validateTargetRecord } from './targets-repository.js';
