/**
 * Elastic Common Schema fields shared by the ECS-shaped formats (Elastic Security alerts, Wazuh 5.x findings).
 * Fields are read with `getPath`, so nested, flattened and mixed documents all work.
 */
import type { AttackCollector } from '../attack';
import type { ObservableCollector } from '../observables';
import { getPath, list } from '../record';

/** Network, user, URL, DNS, file, process and e-mail observables; the reporting host is left to the parser. */
export function addEcsObservables(doc: unknown, observables: ObservableCollector): void {
  observables.addIp(getPath(doc, 'source.ip'), 'source');
  observables.add('domain', getPath(doc, 'source.domain'), 'source');
  observables.addIp(getPath(doc, 'destination.ip'), 'destination');
  observables.add('domain', getPath(doc, 'destination.domain'), 'destination');

  observables.add('user', getPath(doc, 'user.name'), 'actor');
  observables.add('email', getPath(doc, 'user.email'), 'actor');
  observables.add('user', getPath(doc, 'user.effective.name'), 'actor');
  observables.add('user', getPath(doc, 'user.target.name'), 'target');
  observables.add('email', getPath(doc, 'user.target.email'), 'target');

  observables.add('url', getPath(doc, 'url.full') ?? getPath(doc, 'url.original'), 'related');
  observables.add('domain', getPath(doc, 'dns.question.name'), 'related');
  observables.add('email', getPath(doc, 'email.from.address'), 'related');
  observables.add('email', getPath(doc, 'email.to.address'), 'related');

  for (const prefix of ['file', 'process', 'process.parent'] as const) {
    observables.add('md5', getPath(doc, `${prefix}.hash.md5`), 'related');
    observables.add('sha1', getPath(doc, `${prefix}.hash.sha1`), 'related');
    observables.add('sha256', getPath(doc, `${prefix}.hash.sha256`), 'related');
  }
  observables.add('file', getPath(doc, 'file.path') ?? getPath(doc, 'file.name'), 'related');
  observables.add('process', getPath(doc, 'process.name'), 'related');
  observables.add('process', getPath(doc, 'process.parent.name'), 'related');
}

/**
 * ATT&CK ids from the ECS threat field at `path` (`threat`, `kibana.alert.rule.threat`...): one object or an array
 * of them (Elastic alerts), each with `technique` as an object or array whose `id` is a string or array, and
 * `subtechnique` likewise; or, in a flattened document, the `<path>.technique.id` keys themselves.
 */
export function addEcsThreat(doc: unknown, path: string, attack: AttackCollector): void {
  const threat = getPath(doc, path);
  if (threat === undefined) {
    attack.add(getPath(doc, `${path}.technique.id`));
    attack.add(getPath(doc, `${path}.technique.subtechnique.id`));
    return;
  }
  for (const t of list(threat)) {
    for (const technique of list(getPath(t, 'technique'))) {
      attack.add(getPath(technique, 'id'));
      for (const sub of list(getPath(technique, 'subtechnique'))) attack.add(getPath(sub, 'id'));
    }
  }
}
