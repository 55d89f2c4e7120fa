'use strict';
// Compiles lib/, nodes/ and plugins/ to dist/ and copies each node's editor files (.html, locales/, icons/)
// beside its compiled .js, where Node-RED's loader looks for them.
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');

fs.rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
});

for (const top of ['nodes', 'plugins']) {
  const srcTop = path.join(root, top);
  if (!fs.existsSync(srcTop)) continue;
  fs.cpSync(srcTop, path.join(dist, top), {
    recursive: true,
    filter: (src) => fs.statSync(src).isDirectory() || !src.endsWith('.ts'),
  });
}
