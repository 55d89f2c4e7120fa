/**
 * Every node as an analyst meets it in the editor: the SOAR palette category, an icon that exists, a label for every
 * setting, validation where a value can be wrong, help with the sections core nodes have, a status, and an example
 * flow that uses it. The node's editor script is run as the editor runs it (in a VM with `RED.nodes.registerType`,
 * Node-RED's own `RED.validators` and the real `jsonata`), so the checks see the real definition, functions included,
 * and can ask a validator whether it rejects a bad value.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { runInNewContext } from 'node:vm';
import jsonata from 'jsonata';

const ROOT = join(__dirname, '..', '..');
const NODES = join(ROOT, 'nodes');

type Validate = (this: Record<string, unknown>, v: unknown, opt?: unknown) => unknown;
interface Property {
  value?: unknown;
  type?: string;
  required?: boolean;
  validate?: Validate;
}
interface Definition {
  category?: string;
  icon?: string;
  inputs?: number;
  outputs?: number;
  defaults?: Record<string, Property>;
  credentials?: Record<string, Property>;
}

/**
 * Node-RED's editor validators (RED.validators: number, regex, typedInput), taken from the editor this project runs
 * (@node-red/editor-client), so a `validate: RED.validators.number()` is checked as the editor checks it.
 */
const VALIDATORS = (() => {
  const red = readFileSync(require.resolve('@node-red/editor-client/public/red/red.js'), 'utf8');
  const start = red.indexOf('RED.validators = {');
  const end = red.indexOf('};', red.indexOf('typedInput: function', start));
  assert.ok(start >= 0 && end > start, 'RED.validators found in the editor source');
  return red.slice(start, end + 2);
})();

/** The part of a .html between `<script type="text/html" data-<kind>-name="type">` and its `</script>`. */
function block(html: string, kind: 'template' | 'help', type: string): string {
  const m = new RegExp(`<script type="text/html" data-${kind}-name="${type}">([\\s\\S]*?)</script>`).exec(html);
  assert.ok(m, `a data-${kind}-name="${type}" block`);
  return m[1];
}

/** Runs the editor script of a node's .html and returns what it registers. */
function definitionsOf(html: string): Map<string, Definition> {
  const registered = new Map<string, Definition>();
  const scripts = [...html.matchAll(/<script type="text\/javascript">([\s\S]*?)<\/script>/g)].map((m) => m[1]);
  const RED = {
    nodes: { registerType: (type: string, def: Definition) => registered.set(type, def) },
    _: (key: string) => key,
    utils: {
      // typedInput validators: the type's own rules are Node-RED's business; a value of the type is accepted.
      validateTypedProperty: () => true,
    },
  };
  // Outside a dialog: no input is found, so validators read the node's own properties (as the editor does on load).
  const $ = () => ({ length: 0, val: () => undefined });
  const context = { RED, $, jsonata };
  runInNewContext(VALIDATORS, context);
  for (const script of scripts) runInNewContext(script, context);
  return registered;
}

/**
 * Settings the dialog fills in through a widget of its own, labelled as a whole: the rule list (and the output count
 * computed from it), checkbox groups built in oneditprepare.
 */
const MANAGED: Record<string, string[]> = {
  'soar-rule': ['rules', 'outputs'],
  'soar-device': ['approval'],
  'soar-enrich': ['types'],
};

/** Config-node references a node works without (an optional second provider, an optional case type). */
const OPTIONAL_REFS: Record<string, string[]> = {
  'soar-enrich': ['provider2', 'provider3', 'provider4'],
  'soar-case': ['caseType'],
};

/** Settings checked only when another setting uses them: the node that does, to validate against. */
const USED_WHEN: Record<string, Record<string, Record<string, unknown>>> = {
  'soar-decide': { assetExpression: { assetSource: 'jsonata' } },
};

/** Settings holding text with a syntax the editor can check before deploy: JSONata, JSON, networks. */
const STRUCTURED = /expression$|^condition$|^settings$|^cidrs$/i;

const types = readdirSync(NODES).filter((d) => existsSync(join(NODES, d, `${d}.html`)));

function exampleFlows(): { file: string; types: Set<string> }[] {
  const files: string[] = [join(ROOT, 'flows', 'default.json')];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory() && e.name !== 'node_modules') walk(join(dir, e.name));
      else if (e.name.endsWith('.json')) files.push(join(dir, e.name));
    }
  };
  walk(join(ROOT, 'examples'));
  return files.flatMap((file) => {
    const flow = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (!Array.isArray(flow)) return []; // package.json of the device plug-in example
    return [{ file: relative(ROOT, file), types: new Set(flow.map((n: { type?: string }) => n.type ?? '')) }];
  });
}

describe('editor conventions of every node', () => {
  const flows = exampleFlows();

  it('finds all fourteen node types', () => {
    assert.equal(types.length, 14, types.join());
  });

  for (const type of types) {
    describe(type, () => {
      const html = readFileSync(join(NODES, type, `${type}.html`), 'utf8');
      const def = definitionsOf(html).get(type);
      const template = html.includes('data-template-name') ? block(html, 'template', type) : '';
      const isConfig = def?.category === 'config';
      const prefix = isConfig ? 'node-config-input-' : 'node-input-';

      it('registers itself in the SOAR category with an icon it ships (config nodes: category config)', () => {
        assert.ok(def, `${type}.html registers ${type}`);
        if (isConfig) return; // config nodes are not in the palette and show no icon
        assert.equal(def.category, 'SOAR');
        assert.ok(def.icon, 'an icon');
        assert.ok(existsSync(join(NODES, type, 'icons', def.icon)), `icons/${def.icon} exists`);
      });

      it('labels every setting in its edit dialog', () => {
        const fields = [...Object.keys(def!.defaults ?? {}), ...Object.keys(def!.credentials ?? {})];
        const unlabelled = fields.filter((f) => {
          if (MANAGED[type]?.includes(f)) return false;
          // A label for the input, or for the editor widget standing in for it (a JSONata editor), or an aria-label
          // on a control that shares a labelled row (the kind of a target next to its value).
          const labelled = new RegExp(`<label for="${prefix}${f}(-editor)?"`).test(template);
          const ariaLabelled = new RegExp(`id="${prefix}${f}"[^>]*aria-label="[^"]+"`).test(template);
          return !labelled && !ariaLabelled;
        });
        assert.deepEqual(unlabelled, [], `settings without a <label for="${prefix}…">`);
      });

      it('validates what can be wrong: numbers, JSONata, JSON, networks, required config nodes', () => {
        const problems: string[] = [];
        const defaults = def!.defaults ?? {};
        // The node as dropped from the palette: what a validator reads in `this`.
        const node = Object.fromEntries(Object.entries(defaults).map(([k, p]) => [k, p.value]));
        const rejects = (name: string, p: Property, bad: string) =>
          p.validate!.call({ ...node, ...USED_WHEN[type]?.[name] }, bad) !== true;
        const accepts = (p: Property, good: unknown) => p.validate!.call(node, good) === true;
        for (const [name, p] of Object.entries(defaults)) {
          if (MANAGED[type]?.includes(name) && name === 'outputs') continue; // computed, never typed in
          // A number: by its default (a number, or digits in a text field) or by its input's numeric placeholder.
          const placeholder = new RegExp(`id="${prefix}${name}"[^>]*placeholder="(\\d+(\\.\\d+)?)"`).exec(template);
          const isNumber =
            typeof p.value === 'number' || (typeof p.value === 'string' && /^\d+$/.test(p.value)) || !!placeholder;
          if (isNumber) {
            if (typeof p.validate !== 'function') problems.push(`${name}: number, no validate`);
            else {
              if (!rejects(name, p, 'an hour')) problems.push(`${name}: accepts "an hour" as a number`);
              if (!accepts(p, p.value)) problems.push(`${name}: refuses its default ${JSON.stringify(p.value)}`);
            }
          }
          if (STRUCTURED.test(name)) {
            if (typeof p.validate !== 'function') problems.push(`${name}: syntax, no validate`);
            // Neither JSONata, nor JSON, nor a network.
            else if (!rejects(name, p, '{( not [valid')) problems.push(`${name}: accepts "{( not [valid"`);
          }
          if (p.type && !OPTIONAL_REFS[type]?.includes(name) && p.required !== true) {
            problems.push(`${name}: required ${p.type}`);
          }
        }
        assert.deepEqual(problems, [], 'settings without (working) validation');
      });

      it('has help with the sections core nodes have and an example', () => {
        const help = readFileSync(join(NODES, type, 'locales', 'en-US', `${type}.html`), 'utf8');
        assert.match(help, new RegExp(`<script type="text/html" data-help-name="${type}">`));
        const headings = [...block(help, 'help', type).matchAll(/<h3>([^<]+)<\/h3>/g)].map((m) => m[1]);
        if ((def!.inputs ?? 0) > 0) assert.ok(headings.includes('Inputs'), `Inputs in ${headings.join(', ')}`);
        if ((def!.outputs ?? 0) > 0) assert.ok(headings.includes('Outputs'), `Outputs in ${headings.join(', ')}`);
        assert.ok(headings.includes('Details'), `Details in ${headings.join(', ')}`);
        assert.ok(
          headings.some((h) => /^Example/.test(h)),
          `an Example section in ${headings.join(', ')}`,
        );
        // The dialog's own labels come from the locale's messages, which must exist.
        const messages = JSON.parse(readFileSync(join(NODES, type, 'locales', 'en-US', `${type}.json`), 'utf8'));
        assert.ok(messages[type], `${type}.json has a "${type}" section`);
      });

      if (!isConfig) {
        it('shows a status and appears in an example flow', () => {
          const runtime = readFileSync(join(NODES, type, `${type}.ts`), 'utf8');
          assert.match(runtime, /\.status\(\{/, 'the node sets a status');
          const using = flows.filter((f) => f.types.has(type)).map((f) => f.file);
          assert.ok(using.length > 0, `${type} in examples/**.json or flows/default.json`);
        });
      }
    });
  }
});
