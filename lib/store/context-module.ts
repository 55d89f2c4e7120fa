import { SqliteContextStore, type SqliteContextStoreConfig } from './context-store';

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
 */
export = function soarContextStore(config: SqliteContextStoreConfig): SqliteContextStore {
  return new SqliteContextStore(config ?? {});
};
