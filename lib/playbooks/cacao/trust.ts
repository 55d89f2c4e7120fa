/**
 * What an import restores of a node the document describes (the node-red-contrib-soar step extension). A playbook
 * comes from a shared library anyone with write access can change, and the extension can name any node type with
 * any configuration: a `function` whose `initialize` runs on Deploy, a `file` node that overwrites settings.js, an
 * `inject` that fires on its own. So by default only node types that run nothing taken from the document are
 * restored, and never with a property that holds code, a command, a path or an address to reach; every other node
 * becomes a placeholder that shows its configuration in its Description. Restoring everything is an explicit
 * opt-in (`{ trusted: true }`), for documents you exported yourself.
 */

/** Node types restored from an untrusted document: ours, and core nodes that only route, set or show messages. */
export const INERT_NODE_TYPES: ReadonlySet<string> = new Set([
  'soar-alert-in',
  'soar-approval',
  'soar-case',
  'soar-decide',
  'soar-enrich',
  'soar-hunt',
  'soar-ioc-feed',
  'soar-ioc-match',
  'soar-normalize',
  'soar-respond',
  'soar-rule',
  'switch',
  'change',
  // Holds or drops messages (the default flow limits what reaches the debug sidebar with one).
  'delay',
  'debug',
  'link in',
  'link out',
  'link call',
  'junction',
  'comment',
  // They only listen to the nodes of their own tab (errors, status, completion).
  'catch',
  'status',
  'complete',
]);

/**
 * Properties never restored from an untrusted document, whatever the node type: code (`func`, `initialize`,
 * `finalize`, `libs`), commands, files and addresses to reach (`filename`, `url`, a feed's `location`), what
 * starts a node on its own (`once`), and credentials, which no document should carry.
 */
export const NEVER_RESTORED: ReadonlySet<string> = new Set([
  'func',
  'initialize',
  'finalize',
  'libs',
  'command',
  'filename',
  'url',
  'location',
  'once',
  'credentials',
]);

export interface ImportOptions {
  /**
   * Restore every node the document describes with its full configuration (code, commands, files, URLs). Only for
   * documents you exported yourself: a trusted document runs its code on the SOAR host when the flow is deployed.
   */
  trusted?: boolean;
}

/** Whether a node of this type is restored (otherwise it becomes a placeholder). */
export function restores(nodeType: string, options: ImportOptions): boolean {
  return options.trusted === true || INERT_NODE_TYPES.has(nodeType);
}

/** An unset value (`''`, `false`, `[]`, `{}`, null): restoring it runs nothing. */
function isEmpty(value: unknown): boolean {
  if (value === '' || value === false || value === null || value === undefined) return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && Object.keys(value).length === 0;
}

/** Whether this configuration property is restored with this value (credentials never are). */
export function restoresProperty(key: string, value: unknown, options: ImportOptions): boolean {
  if (key === 'credentials') return false;
  return options.trusted === true || !NEVER_RESTORED.has(key) || isEmpty(value);
}

/**
 * The node an untrusted import puts where it does not restore one: a function node that runs nothing (no code, no
 * `initialize`, no libraries), with the same outputs and wires, and `info` (the Description) showing what it was.
 * Shared by the CACAO import and playbook packages (lib/playbooks/package/trust.ts).
 */
export function placeholderNode(fields: {
  id: string;
  type: string;
  name: string;
  info: string;
  outputs: number;
  wires: string[][];
}): Record<string, unknown> {
  const line = (text: string) => `// ${text.replace(/[\r\n\u2028\u2029]+/g, ' ')}`;
  return {
    id: fields.id,
    type: 'function',
    name: fields.name,
    info: fields.info,
    func: [
      line(`node-red-contrib-soar: this was a "${fields.type}" node, not restored (the playbook is not trusted).`),
      line('Its configuration is in the Description: review it, then replace this node.'),
      fields.outputs ? 'return msg;' : 'return null;',
    ].join('\n'),
    outputs: fields.outputs,
    timeout: 0,
    noerr: 0,
    initialize: '',
    finalize: '',
    libs: [],
    wires: fields.wires,
  };
}
