import { SqliteContextStore, type ContextStore, type SqliteContextStoreConfig } from './context-store';
import { PgContextStore, type PgContextStoreConfig } from './pg-context-store';
import { isPostgresUrl } from './pg/pool';

/**
 * The context store module Node-RED loads from settings.js:
 *
 *     contextStorage: {
 *       default: 'soar',
 *       soar: { module: require('node-red-contrib-soar/dist/lib/store/context-module'),
 *               config: { file: '<dataDir>/soar-store.db', synchronous: 'normal' } },
 *     }
 *
 * Node-RED calls it once per configured store with `config`, after copying `settings.userDir` into
 * `config.settings`; without `file` or `dir` the database is `<userDir>/soar-store.db`.
 *
 * With `config: { url: 'postgres://…' }` the context lives in PostgreSQL instead (PgContextStore), shared by
 * several Node-RED instances; that store answers `get` and `keys` only with a callback (see pg-context-store.ts).
 */
type SoarContextStoreConfig = SqliteContextStoreConfig & PgContextStoreConfig;

function soarContextStore(config: SoarContextStoreConfig & { url: string }): PgContextStore;
function soarContextStore(config: SqliteContextStoreConfig): SqliteContextStore;
function soarContextStore(config: SoarContextStoreConfig): ContextStore;
function soarContextStore(config: SoarContextStoreConfig): ContextStore {
  const c = config ?? {};
  if (c.url !== undefined) {
    if (!isPostgresUrl(c.url)) {
      throw new Error(
        'soar context store: config.url must be a postgres:// or postgresql:// URL (or leave it out for SQLite)',
      );
    }
    return new PgContextStore(c);
  }
  return new SqliteContextStore(c);
}

export = soarContextStore;
