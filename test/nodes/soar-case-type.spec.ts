import assert from 'node:assert/strict';
import caseTypeNode from '../../nodes/soar-case-type/soar-case-type';
import { groupingKey, type CaseTypeProvider } from '../../lib/rules';
import { wazuhBruteForce } from '../lib/rules/alerts';
import { helper } from '../helpers/nodered';

type CaseTypeNode = CaseTypeProvider & { error: { lastCall?: { args: [string] } } };
type Flow = Parameters<typeof helper.load>[1];
/** The flow of one case type config node with these settings. */
const caseTypeFlow = (settings: object): Flow =>
  [{ id: 'ct1', type: 'soar-case-type', ...settings }] as object[] as Flow;
const caseTypeOf = (id: string) => helper.getNode(id) as unknown as CaseTypeNode;

describe('soar-case-type', () => {
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  it('offers its settings as a plain case type object, with the editor’s text numbers parsed', async () => {
    await helper.load(
      caseTypeNode,
      caseTypeFlow({
        name: 'ssh brute force',
        keyExpression: '',
        windowMinutes: '720',
        severity: 'high',
        slaMinutes: '30',
      }),
    );
    assert.deepEqual(caseTypeOf('ct1').caseType(), {
      id: 'ct1',
      name: 'ssh brute force',
      keyExpression: '',
      windowMinutes: 720,
      severity: 'high',
      slaMinutes: 30,
    });
  });

  it('defaults to a 24 hour window, medium severity and a 60 minute SLA', async () => {
    await helper.load(caseTypeNode, caseTypeFlow({ name: 'scan' }));
    const ct = caseTypeOf('ct1').caseType();
    assert.deepEqual(
      {
        windowMinutes: ct.windowMinutes,
        severity: ct.severity,
        slaMinutes: ct.slaMinutes,
        keyExpression: ct.keyExpression,
      },
      { windowMinutes: 1440, severity: 'medium', slaMinutes: 60, keyExpression: '' },
    );
  });

  it('hands out a fresh copy each time', async () => {
    await helper.load(caseTypeNode, caseTypeFlow({ name: 'scan' }));
    const node = caseTypeOf('ct1');
    node.caseType().windowMinutes = 5;
    assert.equal(node.caseType().windowMinutes, 1440);
  });

  it('groups a real alert by its key expression', async () => {
    await helper.load(
      caseTypeNode,
      caseTypeFlow({ name: 'by user', keyExpression: 'observables[role = "actor"].value' }),
    );
    assert.equal(await groupingKey(caseTypeOf('ct1').caseType(), wazuhBruteForce()), 'by user:paco');
  });

  it('reports a grouping key syntax error at start, and refuses to hand out the case type', async () => {
    await helper.load(caseTypeNode, caseTypeFlow({ name: 'broken', keyExpression: '{"a": ' }));
    const node = caseTypeOf('ct1');
    const expected =
      /case type "broken" is misconfigured: the grouping key expression has a JSONata syntax error S0203 at position 6: Expected "}" before end of expression$/;
    assert.match(node.error.lastCall!.args[0], expected);
    assert.throws(() => node.caseType(), expected);
  });

  it('reports a window that is not a positive number of minutes', async () => {
    await helper.load(caseTypeNode, caseTypeFlow({ name: 'w', windowMinutes: '-5' }));
    assert.throws(
      () => caseTypeOf('ct1').caseType(),
      /case type "w" is misconfigured: the window must be a number of minutes above 0/,
    );
  });
});
