/**
 * Node-RED's Flow Library scorecard (`node-red-dev validate`, the tool the Flow Library runs on every package) on this
 * package: it must complete without errors, and every check must pass except the two documented warnings below.
 *
 * Catalogue checks are not run: two checks look the package up in the live Flow Library catalogue
 * (catalogue.nodered.org): P08 (a package of a similar name exists) and N01 (another package uses one of our node type
 * names). Their result depends on a third party (anyone publishing a similar name would fail our build) and on the
 * network (where the host cannot be reached, or resolves but traffic is blocked, the tool stops at P08 before any node
 * check). So the test always answers the catalogue request offline with an empty catalogue, letting every other check
 * run, and does not count P08 and N01. The registry checks (P06, P07, D02, D03) use registry.npmjs.org, which is
 * reachable.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp';

const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'node_modules', 'node-red-dev', 'bin', 'run');

/**
 * Warnings accepted with a reason; any other failed check fails the test.
 * D01: more than 6 runtime dependencies (10): each is needed (SQLite store, JSONata, schema validation, HTTP intake).
 * D03: a dependency behind its newest major version: upgrading a major is a change of its own, with its own tests.
 */
const ACCEPTED = new Set(['D01', 'D03']);
/** Need the live Flow Library catalogue; never counted (see above). */
const CATALOGUE_CHECKS = ['P08', 'N01'];

/** A preload that answers the catalogue request of node-red-dev's axios with an empty catalogue. */
const OFFLINE_CATALOGUE = `
const axios = require(require.resolve('axios', { paths: [${JSON.stringify(join(ROOT, 'node_modules', 'node-red-dev', 'src'))}] }));
axios.interceptors.request.use((config) => {
  if (/^https:\\/\\/catalogue\\.nodered\\.org\\//.test(config.url)) {
    config.adapter = async () => ({ data: { modules: [] }, status: 200, statusText: 'OK', headers: {}, config });
  }
  return config;
});
`;

function validate(args: string[], preload: string): Promise<{ code: number; output: string }> {
  const node = ['--require', preload];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...node, CLI, 'validate', ...args],
      { cwd: ROOT, timeout: 120_000, env: { ...process.env, NO_COLOR: '1' } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, output: stdout + stderr });
      },
    );
  });
}

describe('Flow Library scorecard (node-red-dev validate)', function () {
  this.timeout(150_000);

  it('completes with no errors; every check passes but the documented warnings', async function () {
    const tmp = tempDir('soar-scorecard-');
    try {
      const preload = join(tmp.dir, 'offline-catalogue.js');
      writeFileSync(preload, OFFLINE_CATALOGUE);
      const scorecardFile = join(tmp.dir, 'scorecard.json');
      const { code, output } = await validate(['-p', ROOT, '-o', scorecardFile], preload);
      assert.equal(code, 0, output);
      assert.match(output, /^Complete$/m, output);
      assert.doesNotMatch(output, /Error:|Unable to parse/, output);
      // Known wart: the device plug-in example is a package (examples/device-plugin/), and its package.json is not a
      // flow. The only example the tool may fail to read.
      const unwrapped = output.replace(/\s*\n ›\s+/g, ' '); // the tool wraps its warnings at 80 columns
      const unreadable = [...unwrapped.matchAll(/Unable to read example : (\S+)/g)].map((m) => m[1]);
      const devicePluginPackage = join(ROOT, 'examples', 'device-plugin', 'package.json');
      assert.deepEqual(
        unreadable.filter((file) => file !== devicePluginPackage),
        [],
        output,
      );

      const scorecard = JSON.parse(readFileSync(scorecardFile, 'utf8')) as Record<string, { test?: boolean }>;
      const checks = Object.keys(scorecard).filter((k) => k !== 'package');
      const counted = checks.filter((k) => !CATALOGUE_CHECKS.includes(k));
      for (const id of ['P01', 'P03', 'P04', 'P05', 'P06', 'P07', 'N02', 'D01', 'D02', 'D03']) {
        assert.ok(counted.includes(id), `${id} ran: ${output}`);
      }
      const failed = counted.filter((k) => scorecard[k].test !== true && !ACCEPTED.has(k));
      assert.deepEqual(failed, [], `failed checks:\n${output}`);
    } finally {
      tmp.cleanup();
    }
  });

  it('ships the default flow among the examples as it is (Import > Examples), so the scorecard sees every node', () => {
    const example = readFileSync(join(ROOT, 'examples', 'default-flow', 'alerts-to-cases.json'), 'utf8');
    assert.deepEqual(JSON.parse(example), JSON.parse(readFileSync(join(ROOT, 'flows', 'default.json'), 'utf8')));
  });
});
