/** The CACAO sample playbooks (copied from SOARCA, see test/fixtures/samples/cacao/PROVENANCE.md). */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const SAMPLES = join(__dirname, '..', '..', '..', 'fixtures', 'samples', 'cacao');
export const DEFAULT_FLOW = join(__dirname, '..', '..', '..', '..', 'flows', 'default.json');

/** The playbooks SOARCA's own tests reject, with what makes each one unusable. */
export const NEGATIVE: Record<string, RegExp> = {
  'soarca-test-invalid_playbook.json': /invalid agent type "invalid"/,
  'soarca-test-invalid_email_playbook.json':
    /contact\.email\.work: "banana@business\.com;`shh hack`" is not an e-mail address.*command injection/,
  'soarca-test-missing_step_playbook.json':
    /on_completion names step end--6b23c237-ade8-4d00-9aa1-75999738d558, which is not in the workflow \(dangling reference\)/,
  'soarca-test-infinite_playbook.json': /infinite loop/,
};

export function sampleNames(): string[] {
  return readdirSync(SAMPLES)
    .filter((f) => f.endsWith('.json'))
    .sort();
}

export function validSampleNames(): string[] {
  return sampleNames().filter((f) => !(f in NEGATIVE));
}

export function readJson<T = unknown>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

export function sample(name: string): Record<string, unknown> & { workflow: Record<string, Record<string, unknown>> } {
  return readJson(join(SAMPLES, name));
}
