import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import type { Alert } from '../../lib/alert/model';
import type { IntakeRef } from '../../lib/intake/intake';
import { markIntakeProcessed } from '../../lib/intake/processed';
import { journalLocation, type SoarSettings } from '../../lib/settings';
import type { CaseType, CaseTypeProvider } from '../../lib/rules/case-type';
import {
  applyOutcome,
  compileRules,
  type CompiledRules,
  type RuleDefinition,
  type RuleMode,
} from '../../lib/rules/rules';

interface RuleDef extends NodeDef {
  mode: RuleMode;
  rules: RuleDefinition[];
}

type RuleMessage = NodeMessageInFlow & { caseType?: CaseType; rules?: string[]; tags?: unknown; intake?: IntakeRef };

export = function (RED: NodeAPI) {
  /** The case type behind a config node id: looked up per alert, so a redeployed case type is picked up. */
  function caseTypeOf(id: string): CaseType {
    const provider = RED.nodes.getNode(id) as (Node & Partial<CaseTypeProvider>) | null;
    if (!provider || provider.type !== 'soar-case-type' || typeof provider.caseType !== 'function') {
      throw new Error(`the case type ${id} does not exist: it was deleted or not deployed; choose another in the rule`);
    }
    return provider.caseType();
  }

  function SoarRule(this: Node, config: RuleDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const definitions = Array.isArray(config.rules) ? config.rules : [];
    const outputs = definitions.length + 1;

    let rules: CompiledRules | undefined;
    let problem: string | undefined;
    try {
      rules = compileRules(definitions, { mode: config.mode || 'first' });
      const missing: string[] = [];
      for (const rule of rules.rules) {
        if (!rule.caseType) continue;
        try {
          caseTypeOf(rule.caseType);
        } catch (err) {
          missing.push(`rule "${rule.name}": ${(err as Error).message}`);
        }
      }
      if (missing.length > 0) problem = missing.join('; ');
    } catch (err) {
      problem = (err as Error).message;
    }
    if (problem) {
      node.status({ fill: 'red', shape: 'ring', text: rules ? 'missing case type' : 'invalid rules' });
      node.error(problem);
    }

    let matched = 0;
    let dropped = 0;
    let noMatch = 0;
    let statusTimer: NodeJS.Timeout | undefined;
    const showStatus = () => {
      statusTimer = undefined;
      node.status({
        fill: 'green',
        shape: 'dot',
        text: `${matched} matched, ${dropped} dropped, ${noMatch} no match`,
      });
    };

    node.on('input', (msg: RuleMessage, send, done) => {
      // A misconfigured node fails every alert, so nothing disappears without a trace (Catch nodes see it).
      if (!rules || problem) {
        done(new Error(`soar-rule is misconfigured: ${problem}`));
        return;
      }
      const alert = msg.payload as Alert;
      if (typeof alert !== 'object' || alert === null || Array.isArray(alert)) {
        done(new Error('msg.payload is not an alert: put a soar-normalize node before soar-rule'));
        return;
      }
      const existingTags = Array.isArray(msg.tags) ? msg.tags.filter((t): t is string => typeof t === 'string') : [];

      const compiled = rules;
      (async () => {
        const outcome = await compiled.evaluate(alert, { tags: existingTags });
        if (outcome.drop) {
          dropped += 1;
          // A dropped alert's journey ends here: the intake journal need not replay it.
          const settings = RED.settings as unknown as { soar?: SoarSettings; userDir?: string };
          markIntakeProcessed(journalLocation(settings.soar, settings.userDir), msg.intake);
          return;
        }
        if (outcome.caseType) msg.caseType = caseTypeOf(outcome.caseType);
        msg.payload = applyOutcome(alert, outcome);
        msg.rules = outcome.names;
        if (outcome.tags.length > 0) msg.tags = [...existingTags, ...outcome.tags];
        const ports: (RuleMessage | null)[] = new Array(outputs).fill(null);
        if (outcome.matched.length === 0) {
          noMatch += 1;
          ports[outputs - 1] = msg;
        } else {
          matched += 1;
          for (const index of outcome.matched) ports[index] = msg;
        }
        send(ports);
      })().then(
        () => {
          statusTimer ??= setTimeout(showStatus, 1000);
          done();
        },
        (err: Error) => done(err),
      );
    });

    node.on('close', () => {
      if (statusTimer) clearTimeout(statusTimer);
    });
  }

  RED.nodes.registerType('soar-rule', SoarRule);
};
