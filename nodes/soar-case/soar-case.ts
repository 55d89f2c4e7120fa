import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import type { Request, Response } from 'express';
import type { Alert } from '../../lib/alert/model';
import { validateAlert } from '../../lib/alert';
import {
  acquireCaseStore,
  applyOperation,
  applyPatch,
  CASE_OPERATIONS,
  CaseChangeError,
  CaseNotFoundError,
  isCaseOperation,
  parseCaseQuery,
  parsePage,
  describeStoreLocation,
  releaseCaseStore,
  validatePatch,
  type Case,
  type CaseChangeOperation,
  type CaseOperation,
  type CaseStore,
} from '../../lib/cases';
import { markIntakeProcessed } from '../../lib/intake/processed';
import type { IntakeRef } from '../../lib/intake/intake';
import { groupingKey, type CaseType } from '../../lib/rules/case-type';
import { caseStoreOptions, journalLocation, storeLocation, type SoarSettings } from '../../lib/settings';

interface CaseNodeDef extends NodeDef {
  operation: CaseOperation;
  caseType: string;
}

type CaseMessage = NodeMessageInFlow & {
  operation?: string;
  caseType?: CaseType;
  caseId?: string;
  case?: Case;
  grouping?: { created: boolean; duplicate: boolean; key: string };
  intake?: IntakeRef;
};

/** Alerts that no rule gave a case type are grouped under this one. */
const UNCATEGORISED: CaseType = {
  id: '',
  name: 'uncategorised',
  keyExpression: '',
  windowMinutes: 1440,
  severity: 'low',
  slaMinutes: 0,
};

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export = function (RED: NodeAPI) {
  const settings = () => RED.settings as unknown as { soar?: SoarSettings; userDir?: string };
  const location = () => storeLocation(settings().soar, settings().userDir);

  // The admin API uses the store of the current settings, opened on first use and kept for the process.
  let apiStore: { location: string; store: CaseStore } | undefined;
  const store = (): CaseStore => {
    if (!apiStore || apiStore.location !== location()) {
      const where = location();
      apiStore = { location: where, store: acquireCaseStore(where, caseStoreOptions(settings().soar)) };
    }
    return apiStore.store;
  };
  const fail = (res: Response, err: unknown) => {
    if (err instanceof CaseNotFoundError) res.status(404).json({ error: err.message });
    else if (err instanceof CaseChangeError) res.status(400).json({ error: err.message });
    else res.status(500).json({ error: `case store: ${(err as Error).message}` });
  };
  const user = (req: Request) => (req as Request & { user?: { username?: string } }).user?.username;

  RED.httpAdmin.get('/soar/cases', RED.auth.needsPermission('soar.read'), (req: Request, res: Response) => {
    let query;
    try {
      query = parseCaseQuery(req.query as Record<string, unknown>);
    } catch (err) {
      return fail(res, err);
    }
    store()
      .query(query)
      .then(
        (page) => res.json(page),
        (err) => fail(res, err),
      );
  });
  RED.httpAdmin.get('/soar/cases/:id', RED.auth.needsPermission('soar.read'), (req: Request, res: Response) => {
    store()
      .get(req.params.id as string)
      .then(
        (c) => (c ? res.json(c) : fail(res, new CaseNotFoundError(req.params.id as string))),
        (err) => fail(res, err),
      );
  });
  // A case lists only its newest alert ids; the store knows the rest for the retention period.
  RED.httpAdmin.get('/soar/cases/:id/alerts', RED.auth.needsPermission('soar.read'), (req: Request, res: Response) => {
    let page;
    try {
      page = parsePage(req.query as Record<string, unknown>);
    } catch (err) {
      return fail(res, err);
    }
    store()
      .alertsOf(req.params.id as string, page)
      .then(
        (alerts) => res.json(alerts),
        (err) => fail(res, err),
      );
  });
  RED.httpAdmin.patch('/soar/cases/:id', RED.auth.needsPermission('soar.write'), (req: Request, res: Response) => {
    let patch;
    try {
      patch = validatePatch(req.body);
    } catch (err) {
      return fail(res, err);
    }
    store()
      .update(req.params.id as string, (c, now) => applyPatch(c, patch, user(req), now))
      .then(
        (c) => res.json(c),
        (err) => fail(res, err),
      );
  });
  RED.httpAdmin.get('/soar/metrics/cases', RED.auth.needsPermission('soar.read'), (_req: Request, res: Response) => {
    store()
      .metrics()
      .then(
        (metrics) => res.json({ caseTypes: metrics }),
        (err) => fail(res, err),
      );
  });

  function SoarCase(this: Node, config: CaseNodeDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const storePath = location();
    let cases: CaseStore;
    try {
      cases = acquireCaseStore(storePath, caseStoreOptions(settings().soar));
    } catch (err) {
      const reason = `cannot open the case store ${describeStoreLocation(storePath)}: ${(err as Error).message}`;
      node.status({ fill: 'red', shape: 'ring', text: 'case store unavailable' });
      node.error(reason);
      node.on('input', (_msg, _send, done) => done(new Error(reason)));
      return;
    }
    node.status({ fill: 'green', shape: 'ring', text: 'case store ready' });
    // The store's rounds of forgetting old alert ids fail unseen otherwise (the soar-runs plugin logs the store
    // file's failed WAL checkpoints, once for the process).
    const stopReports = cases.onBackgroundError((err, what) => node.warn(`case store: ${what}: ${err.message}`));
    const configured = config.caseType
      ? (RED.nodes.getNode(config.caseType) as unknown as { caseType?: () => CaseType } | null)
      : null;
    if (config.caseType && !configured?.caseType) {
      node.status({ fill: 'red', shape: 'ring', text: 'case type missing' });
      node.error(`the configured case type (${config.caseType}) does not exist`);
    }
    let grouped = 0;
    let storeFailed = false;
    let opened = 0;
    let statusTimer: NodeJS.Timeout | undefined;
    const showStatus = () => {
      statusTimer = undefined;
      node.status(
        storeFailed
          ? { fill: 'red', shape: 'ring', text: 'case store error (see log)' }
          : { fill: 'green', shape: 'dot', text: `${grouped} alerts → ${opened} new cases` },
      );
    };

    const caseIdOf = (msg: CaseMessage): string => {
      const id = text(msg.caseId) ?? text(msg.case?.id);
      if (!id) throw new CaseChangeError('no case id: set msg.caseId (or msg.case.id)');
      return id;
    };

    async function group(msg: CaseMessage): Promise<void> {
      const alert = msg.payload as Alert;
      const valid = validateAlert(alert);
      if (!valid.valid)
        throw new CaseChangeError(`msg.payload is not an alert (use soar-normalize first): ${valid.errors}`);
      const caseType = msg.caseType ?? configured?.caseType?.() ?? UNCATEGORISED;
      const key = await groupingKey(caseType, alert);
      const result = await cases.group(alert, {
        type: caseType.name,
        key,
        windowMs: caseType.windowMinutes * 60_000,
        severity: caseType.severity,
        slaMinutes: caseType.slaMinutes,
      });
      msg.case = result.case;
      msg.grouping = { created: result.created, duplicate: result.duplicate, key };
      grouped += 1;
      if (result.created) opened += 1;
      // The alert is in a case now: the intake journal need not replay it.
      markIntakeProcessed(journalLocation(settings().soar, settings().userDir), msg.intake);
    }

    async function change(msg: CaseMessage, operation: CaseChangeOperation): Promise<void> {
      msg.case = await cases.update(caseIdOf(msg), (c, now) => applyOperation(c, operation, msg.payload, now));
    }

    node.on('input', (msg: CaseMessage, send, done) => {
      const operation = (text(msg.operation) ?? config.operation ?? 'group') as CaseOperation;
      const work = async () => {
        if (!isCaseOperation(operation)) {
          throw new CaseChangeError(`unknown operation "${operation}": use one of ${CASE_OPERATIONS.join(', ')}`);
        }
        if (operation === 'group') await group(msg);
        else if (operation === 'get') {
          const id = caseIdOf(msg);
          const c = await cases.get(id);
          if (!c) throw new CaseNotFoundError(id);
          msg.case = c;
        } else await change(msg, operation);
      };
      work()
        .then(
          () => {
            storeFailed = false;
            send(msg);
            done();
          },
          (err: Error) => {
            // A bad request is the message's problem; anything else is the store's, and shows on the node.
            if (!(err instanceof CaseChangeError || err instanceof CaseNotFoundError)) storeFailed = true;
            done(err);
          },
        )
        .catch((err: Error) => done(err))
        .finally(() => {
          statusTimer ??= setTimeout(showStatus, 1000);
        });
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      if (statusTimer) clearTimeout(statusTimer);
      stopReports();
      releaseCaseStore(storePath);
      done();
    });
  }

  RED.nodes.registerType('soar-case', SoarCase);
};
