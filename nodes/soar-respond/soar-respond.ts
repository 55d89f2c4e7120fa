import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { acquireCaseStore, releaseCaseStore, type Case, type CaseStore } from '../../lib/cases';
import { fleet } from '../../lib/devices/fleet';
import { CAPABILITIES, type ActionTarget, type Capability } from '../../lib/devices/model';
import type { SelectMode } from '../../lib/devices/selection';
import { outcomeChangesCase, recordOutcome } from '../../lib/response/case-record';
import type { ResponseOutcome, ResponseRequest } from '../../lib/response/engine';
import { acquireResponseRuntime, releaseResponseRuntime, type ResponseRuntime } from '../../lib/response/runtime';
import { targetFromMessage, targetsFromArtifacts } from '../../lib/response/targets';
import { caseStoreOptions, auditFile, storeLocation, type SoarSettings } from '../../lib/settings';

interface RespondNodeDef extends NodeDef {
  /** A capability, or '' for `msg.action`. */
  action: string;
  /** `msg` (msg.target), `case` (the case's IOC artifacts), `fixed` (the target below). */
  targetSource: 'msg' | 'case' | 'fixed';
  targetKind: ActionTarget['kind'];
  target: string;
  /** For `case`: the lowest artifact verdict acted on. */
  minVerdict: 'malicious' | 'suspicious';
  mode: SelectMode;
  dryRun: boolean;
  /** Seconds until the action is reverted; '' or 0: no expiry. */
  duration: string | number;
}

type RespondMessage = NodeMessageInFlow & {
  action?: string;
  target?: unknown;
  case?: Case;
  caseId?: string;
  dryRun?: boolean;
  duration?: number;
  response?: { request: ResponseRequest; outcome?: ResponseOutcome };
  approval?: { id?: string; decision?: string; by?: string; at?: string; comment?: string };
};

/** The host of the alert behind the message, for file targets. */
function hostOf(msg: RespondMessage): string | undefined {
  const host = (msg.payload as { host?: { name?: unknown } } | undefined)?.host?.name;
  return typeof host === 'string' && host !== '' ? host : undefined;
}

const KNOWN: ReadonlySet<string> = new Set(CAPABILITIES);

export = function (RED: NodeAPI) {
  function SoarRespond(this: Node, config: RespondNodeDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const settings = RED.settings as unknown as { soar?: SoarSettings; userDir?: string };
    const soar = settings.soar;
    const storeAt = storeLocation(soar, settings.userDir);
    let runtime: ResponseRuntime;
    try {
      runtime = acquireResponseRuntime({
        location: storeAt,
        auditFile: auditFile(soar, settings.userDir),
        ...caseStoreOptions(soar),
        protectedAssets: soar?.protectedAssets,
        actionsPerMinute: soar?.actionsPerMinute,
        log: (level, message) =>
          level === 'error' ? RED.log.error(`soar: ${message}`) : RED.log.warn(`soar: ${message}`),
      });
    } catch (err) {
      const reason = `response engine unavailable: ${(err as Error).message}`;
      node.status({ fill: 'red', shape: 'ring', text: reason.slice(0, 60) });
      node.error(reason);
      node.on('input', (_msg, _send, done) => done(new Error(reason)));
      return;
    }
    let cases: CaseStore;
    try {
      cases = acquireCaseStore(storeAt, caseStoreOptions(soar));
    } catch (err) {
      releaseResponseRuntime(storeAt);
      const reason = `case store unavailable: ${(err as Error).message}`;
      node.status({ fill: 'red', shape: 'ring', text: reason.slice(0, 60) });
      node.error(reason);
      node.on('input', (_msg, _send, done) => done(new Error(reason)));
      return;
    }
    const aborter = new AbortController();
    let last = '';

    const showStatus = () => {
      const devices = fleet.list();
      const down = devices.filter((d) => d.health?.status === 'down').length;
      const count = `${devices.length} device${devices.length === 1 ? '' : 's'}`;
      const health = devices.length === 0 ? 'no devices' : `${count}${down ? `, ${down} down` : ''}`;
      node.status({
        fill: down > 0 || devices.length === 0 ? 'yellow' : 'green',
        shape: config.dryRun ? 'ring' : 'dot',
        text: `${config.dryRun ? 'dry run · ' : ''}${last ? `${last} · ` : ''}${health}`,
      });
    };
    const stopHealth = fleet.onHealth(showStatus);
    setImmediate(showStatus);

    /** The requests this message asks for (throws with a reason for a bad message). */
    const requestsOf = async (msg: RespondMessage): Promise<ResponseRequest[]> => {
      // Back from soar-approval: the held request, approved. Only a recorded approval counts, and only once, so a
      // message that merely claims approval (or an approved one replayed) cannot skip the device's policy.
      if (msg.response?.request && msg.approval?.decision === 'approve') {
        const id = msg.approval.id;
        if (typeof id !== 'string' || !(await runtime.store.consumeApproval(id))) {
          throw new Error(`approval ${JSON.stringify(id)} is not an approval granted in soar-approval, or was used`);
        }
        const approval = { by: msg.approval.by ?? 'anonymous', at: msg.approval.at ?? new Date().toISOString() };
        return [{ ...msg.response.request, approval: { ...approval, comment: msg.approval.comment } }];
      }
      // The node's action wins; msg.action is used only when the node leaves it to the message.
      const action = (config.action || msg.action) as Capability;
      if (!KNOWN.has(action)) {
        throw new Error(
          `action must be one of ${CAPABILITIES.join(', ')} (node setting or msg.action), not ${JSON.stringify(action)}`,
        );
      }
      const caseId = msg.caseId ?? msg.case?.id;
      let targets: ActionTarget[];
      if (config.targetSource === 'case') {
        if (!msg.case || !Array.isArray(msg.case.artifacts))
          throw new Error('msg.case is missing: put soar-case before this node');
        targets = targetsFromArtifacts(msg.case.artifacts, action, config.minVerdict || 'malicious', hostOf(msg));
      } else if (config.targetSource === 'fixed') {
        targets = [{ kind: config.targetKind || 'ip', value: config.target }];
      } else {
        if (msg.target === undefined) throw new Error('msg.target is missing ({kind, value} or an address)');
        targets = [targetFromMessage(msg.target)];
      }
      const durationInput = msg.duration ?? config.duration;
      const duration = durationInput === '' || durationInput === undefined ? 0 : Number(durationInput);
      if (!(Number.isInteger(duration) && duration >= 0)) {
        throw new Error(`duration must be a whole number of seconds, not ${JSON.stringify(durationInput)}`);
      }
      return targets.map((target) => ({
        action,
        target,
        mode: config.mode || 'most-specific',
        dryRun: msg.dryRun === true || config.dryRun === true,
        ...(duration > 0 && { durationSeconds: duration }),
        ...(caseId && { caseId }),
        requestedBy: `flow:${node.z ?? ''}/${config.name || node.id}`,
      }));
    };

    node.on('input', (msg: RespondMessage, send, done) => {
      (async () => {
        let requests: ResponseRequest[];
        try {
          requests = await requestsOf(msg);
        } catch (err) {
          node.status({ fill: 'red', shape: 'ring', text: (err as Error).message.slice(0, 60) });
          throw err;
        }
        if (requests.length === 0) {
          last = 'no IOC target in the case';
          showStatus();
          return;
        }
        for (const request of requests) {
          const outcome = await runtime.engine.respond(request, aborter.signal);
          // An action already in force adds nothing to the case: no rewrite of it for each alert that asks again.
          if (request.caseId && outcomeChangesCase(outcome)) {
            await cases
              .update(request.caseId, (c, now) => recordOutcome(c, outcome, now, request.approval?.by))
              .catch((err: Error) => node.warn(`case ${request.caseId}: ${err.message}`));
          }
          const out = { ...RED.util.cloneMessage(msg), payload: outcome, response: { request, outcome } };
          delete (out as RespondMessage).approval;
          last = `${outcome.action} ${outcome.target?.value ?? ''}: ${outcome.status}`;
          if (outcome.status === 'done' || outcome.status === 'dry-run') send([out, null, null]);
          else if (outcome.status === 'needs-approval') send([null, null, out]);
          else send([null, out, null]);
        }
        showStatus();
      })().then(
        () => done(),
        (err: Error) => done(err),
      );
    });

    node.on('close', (done: () => void) => {
      aborter.abort();
      stopHealth();
      releaseCaseStore(storeAt);
      releaseResponseRuntime(storeAt);
      done();
    });
  }

  RED.nodes.registerType('soar-respond', SoarRespond);
};
