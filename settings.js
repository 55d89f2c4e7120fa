'use strict';
/**
 * Node-RED settings for running node-red-contrib-soar as an application (`npm start`).
 *
 * Secure by default with nothing to configure: the editor and admin API always need a login, credentials are
 * encrypted with a generated secret, and the alert intake needs a token. Generated secrets live in the data dir
 * (mode 0600); the admin password is kept there only as a bcrypt hash. See README.md for the environment variables.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const bcrypt = require('bcryptjs');

// Several instances share one PostgreSQL store (cases, context, journal, approvals, actions, IOC library, runs);
// unset, everything lives in SQLite files in the data dir.
const STORE_URL = process.env.SOAR_STORE_URL || undefined;
if (STORE_URL && !/^postgres(ql)?:\/\//i.test(STORE_URL)) {
  throw new Error(
    'SOAR_STORE_URL must be a postgres:// or postgresql:// URL (unset it to use the embedded SQLite store)',
  );
}

const dataDir = path.resolve(process.env.SOAR_DATA_DIR || '.soar');
fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
// Sessions, credentials and the stores live here: only this user may read them, even in a pre-made directory.
fs.chmodSync(dataDir, 0o700);

const secretsFile = path.join(dataDir, 'soar-secrets.json');
function readSecrets() {
  if (!fs.existsSync(secretsFile)) return {};
  try {
    return JSON.parse(fs.readFileSync(secretsFile, 'utf8'));
  } catch (err) {
    throw new Error(
      `cannot read ${secretsFile} (${err.message}): restore it from a backup; without its credentialSecret the stored credentials cannot be decrypted`,
      { cause: err },
    );
  }
}
const secrets = readSecrets();
const announcements = [];
let secretsChanged = false;

const randomSecret = (bytes) => crypto.randomBytes(bytes).toString('base64url');

if (!process.env.SOAR_CREDENTIAL_SECRET && !secrets.credentialSecret) {
  secrets.credentialSecret = randomSecret(32);
  secretsChanged = true;
}
if (!process.env.SOAR_INTAKE_TOKEN && !secrets.intakeToken) {
  secrets.intakeToken = randomSecret(32);
  secretsChanged = true;
  announcements.push(`Alert intake token:  ${secrets.intakeToken}`);
}
if (!process.env.SOAR_ADMIN_PASSWORD && !secrets.adminPasswordHash) {
  const password = randomSecret(15);
  secrets.adminPasswordHash = bcrypt.hashSync(password, 10);
  secretsChanged = true;
  announcements.push(`Editor login:        ${process.env.SOAR_ADMIN_USER || 'admin'} / ${password}`);
}
if (secretsChanged) {
  fs.writeFileSync(secretsFile, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
}
fs.chmodSync(secretsFile, 0o600);

// The first start installs the default flow; later starts keep the user's flows.
const flowFile = path.join(dataDir, 'flows.json');
if (!fs.existsSync(flowFile)) {
  fs.copyFileSync(path.join(__dirname, 'flows', 'default.json'), flowFile);
}

if (announcements.length > 0) {
  const line = '-'.repeat(72);
  console.log(
    [
      line,
      'node-red-contrib-soar: generated on first start, shown only this once:',
      ...announcements.map((a) => '  ' + a),
      `Stored in ${dataDir} (the password only as a bcrypt hash).`,
      line,
    ].join('\n'),
  );
}

const HTTP_NODE_ROOT = '/api';
// `full` fsyncs every commit of the intake journal and the store: survives power loss, not only crashes.
const SYNC = process.env.SOAR_SYNC === 'full' ? 'full' : 'normal';

const adminPasswordHash = process.env.SOAR_ADMIN_PASSWORD
  ? bcrypt.hashSync(process.env.SOAR_ADMIN_PASSWORD, 10)
  : secrets.adminPasswordHash;

module.exports = {
  userDir: dataDir,
  flowFile: 'flows.json',
  flowFilePretty: true,
  // Load this package straight from its folder: no npm link or install into the data dir needed.
  nodesDir: [__dirname],

  uiHost: process.env.SOAR_HOST || '127.0.0.1',
  uiPort: Number.parseInt(process.env.PORT || '1880', 10),
  httpAdminRoot: '/',
  httpNodeRoot: HTTP_NODE_ROOT,
  // The admin app is mounted at / before the node routes and would parse (and consume) every JSON body, including
  // alerts posted to /api: send those straight on to the node routes, untouched, so the intake sees the raw body.
  // Express matches paths case-insensitively, so compare them that way too.
  httpAdminMiddleware: (req, _res, next) => {
    const p = req.path.toLowerCase();
    return p === HTTP_NODE_ROOT || p.startsWith(HTTP_NODE_ROOT + '/') ? next('router') : next();
  },

  credentialSecret: process.env.SOAR_CREDENTIAL_SECRET || secrets.credentialSecret,
  adminAuth: {
    type: 'credentials',
    users: [{ username: process.env.SOAR_ADMIN_USER || 'admin', password: adminPasswordHash, permissions: '*' }],
  },

  // Durable context (store `soar`, the default): flow and global context survive restarts and crashes. The case
  // store lives in the same database. In PostgreSQL (SOAR_STORE_URL) every instance sees the same context, read
  // with a callback only (`flow.get(key, (err, value) => …)`); the `memory` store stays per instance.
  contextStorage: {
    default: 'soar',
    soar: {
      module: require('./dist/lib/store/context-module'),
      config: STORE_URL ? { url: STORE_URL } : { file: path.join(dataDir, 'soar-store.db'), synchronous: SYNC },
    },
    memory: { module: 'memory' },
  },

  // Shared with our nodes as RED.settings.soar.
  soar: {
    dataDir,
    storeUrl: STORE_URL,
    intakeToken: process.env.SOAR_INTAKE_TOKEN || secrets.intakeToken,
    sync: SYNC,
    // SOAR_RUN_TRACKING=false: no playbook runs recorded (a sixth to a quarter less CPU per alert in the default flow).
    ...(process.env.SOAR_RUN_TRACKING === 'false' && { runTracking: false }),
    // The IOC library's default allowlists (values on them never match), each switchable, e.g.
    // { private: true, 'public-resolvers': false }. On by default: loopback, link-local, reserved,
    // documentation, example-domains, public-resolvers; off: private (RFC 1918 addresses can be real indicators).
    allowlists: {},
    // Assets no response action may block or isolate, besides this host, its gateways and DNS resolvers.
    protectedAssets: { cidrs: [], hosts: [] },
    // Most device actions a minute over all devices (each device has its own limit too).
    actionsPerMinute: 60,
    // Seconds a playbook run may stay open before it is recorded as a timeout (a tab's env SOAR_RUN_TIMEOUT_SECONDS wins).
    runTimeoutSeconds: 300,
    // Days finished playbook runs are kept (the run counters are kept for good).
    runRetentionDays: 30,
    // Days the case store remembers an alert id after grouping it, so that the same alert delivered again (replayed
    // after a crash, sent twice by its source) counts once (0: for good).
    alertIdRetentionDays: 7,
    // Most playbook runs followed at once; past it new runs are counted as untracked.
    maxOpenRuns: 100000,
    // Seconds /soar/metrics and the Prometheus scrape reuse figures computed before (0: never).
    metricsCacheSeconds: 10,
  },

  // Offline by default: a SOC network is often closed, so nothing calls out.
  telemetry: { enabled: false, updateNotification: false },
  diagnostics: { enabled: false, ui: false },
  runtimeState: { enabled: false, ui: false },
  externalModules: { autoInstall: false },
  functionExternalModules: false,
  exportGlobalContextKeys: false,
  editorTheme: {
    page: { title: 'SOAR · Node-RED' },
    header: { title: 'SOAR' },
    projects: { enabled: false },
    tours: false,
    // SOAR nodes first in the palette; no online catalogue.
    palette: {
      catalogues: [],
      categories: ['SOAR', 'subflows', 'common', 'function', 'network', 'sequence', 'parser', 'storage'],
    },
    // SOAR_LIBRARY_DIR: a shared folder of playbooks (e.g. a git checkout) offered in the Import dialog beside the
    // local library (plugins/soar-playbooks). Read-only unless SOAR_LIBRARY_WRITABLE=true: changes go through git.
    ...(process.env.SOAR_LIBRARY_DIR && {
      library: {
        sources: [
          {
            id: 'soar-library',
            type: 'soar-playbook-library',
            path: path.resolve(process.env.SOAR_LIBRARY_DIR),
            label: 'SOAR playbooks',
            icon: 'font-awesome/fa-shield',
            types: ['flows'],
            readOnly: process.env.SOAR_LIBRARY_WRITABLE !== 'true',
            trusted: process.env.SOAR_LIBRARY_TRUSTED === 'true', // flows served with their code (else placeholders)
          },
        ],
      },
    }),
  },

  logging: { console: { level: process.env.SOAR_LOG_LEVEL || 'info', metrics: false, audit: false } },
};
