import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import {
  compileGenericMapping,
  DEFAULT_GENERIC_MAPPING,
  normalize,
  type GenericMapping,
  type NormalizeResult,
} from '../../lib/alert';
import type { AlertSource } from '../../lib/alert/model';

interface NormalizeDef extends NodeDef {
  format: AlertSource | 'auto';
  expression: string;
}

type IntakeMessage = NodeMessageInFlow & { intake?: { received?: string }; reason?: string };

export = function (RED: NodeAPI) {
  function SoarNormalize(this: Node, config: NormalizeDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const format = config.format || 'auto';
    let mapping: GenericMapping | undefined;
    if (config.expression?.trim() && (format === 'auto' || format === 'generic')) {
      try {
        mapping = compileGenericMapping(config.expression);
      } catch (err) {
        node.status({ fill: 'red', shape: 'ring', text: 'invalid JSONata' });
        node.error(`generic mapping: ${(err as Error).message}`);
        return;
      }
    }
    if (format === 'generic' && !mapping) {
      node.status({ fill: 'red', shape: 'ring', text: 'no mapping' });
      node.error('format "generic" needs a JSONata mapping expression');
      return;
    }

    let normalised = 0;
    let unrecognised = 0;
    let statusTimer: NodeJS.Timeout | undefined;
    const showStatus = () => {
      statusTimer = undefined;
      node.status({
        fill: unrecognised > 0 ? 'yellow' : 'green',
        shape: 'dot',
        text: `${normalised} normalised, ${unrecognised} unrecognised`,
      });
    };

    /** Vendor formats are synchronous; only a JSONata mapping needs a promise. */
    const run = (record: unknown, received: string | undefined): NormalizeResult | Promise<NormalizeResult> => {
      if (format === 'generic') return mapping!.map(record, received);
      const result = normalize(record, { format, received });
      return !result.ok && mapping && format === 'auto' ? mapping.map(record, received) : result;
    };

    node.on('input', (msg: IntakeMessage, send, done) => {
      const deliver = (result: NormalizeResult) => {
        if (result.ok) {
          normalised += 1;
          msg.payload = result.alert;
          send([msg, null]);
        } else {
          unrecognised += 1;
          msg.reason = result.reason;
          send([null, msg]);
        }
        statusTimer ??= setTimeout(showStatus, 1000);
        done();
      };
      const outcome = run(msg.payload, msg.intake?.received);
      if (outcome instanceof Promise) outcome.then(deliver).catch((err: Error) => done(err));
      else deliver(outcome);
    });

    node.on('close', () => {
      if (statusTimer) clearTimeout(statusTimer);
    });
  }

  RED.nodes.registerType('soar-normalize', SoarNormalize, {
    // The editor offers this as the starting point of a generic mapping.
    settings: { soarNormalizeDefaultMapping: { value: DEFAULT_GENERIC_MAPPING, exportable: true } },
  });
};
