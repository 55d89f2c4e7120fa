import assert from 'node:assert/strict';
import { isSecretName, stripSecrets, type FlowNode } from '../../../../lib/playbooks/package';
import { flowsWithSecrets, SECRETS } from './flows-with-secrets';

describe('playbook packages: stripSecrets', () => {
  it('leaves none of the secrets anywhere in the JSON of the nodes', () => {
    const { nodes } = stripSecrets(flowsWithSecrets());
    const text = JSON.stringify(nodes);
    for (const secret of SECRETS) assert.ok(!text.includes(secret), `${secret} was left in`);
    assert.ok(!text.includes('"credentials"'));
  });

  it('does not change the nodes it is given', () => {
    const flows = flowsWithSecrets();
    const before = JSON.stringify(flows);
    stripSecrets(flows);
    assert.equal(JSON.stringify(flows), before);
  });

  it('keeps credential env entries by name (the importer fills them in) but without their value', () => {
    const { nodes } = stripSecrets(flowsWithSecrets());
    const tab = nodes.find((n) => n.id === 'tab1')!;
    const env = tab.env as { name: string; type: string; value?: string }[];
    assert.deepEqual(
      env.find((e) => e.name === 'ESCALATION_TOKEN'),
      { name: 'ESCALATION_TOKEN', type: 'cred' },
    );
    assert.equal(env.find((e) => e.name === 'VENDOR_API_KEY')?.value, '');
    assert.equal(env.find((e) => e.name === 'THRESHOLD')?.value, '5');
    assert.equal(env.find((e) => e.name === 'SOAR_PLAYBOOK_ID')?.value, 'brute-force-response');
  });

  it('strips the http request node: secret headers, the password in the URL, not the harmless header', () => {
    const { nodes, removed } = stripSecrets(flowsWithSecrets());
    const http = nodes.find((n) => n.id === 'http1')!;
    const headers = http.headers as { keyValue: string; valueValue?: string }[];
    assert.equal(headers.find((h) => h.keyValue === 'Authorization')?.valueValue, undefined);
    assert.equal(headers.find((h) => h.keyValue === 'X-Api-Key')?.valueValue, undefined);
    assert.equal(headers.find((h) => h.keyValue === 'Accept')?.valueValue, 'application/json');
    assert.equal(http.url, 'https://ticketing.example.com/api');
    assert.equal(http.authType, 'bearer', 'the kind of authentication is no secret');
    assert.ok(removed.some((r) => r.startsWith('node http1 (http request): url')));
  });

  it('strips secret fields inside a soar-device settings JSON and keeps the rest of it', () => {
    const { nodes, removed } = stripSecrets(flowsWithSecrets());
    const device = nodes.find((n) => n.id === 'device1')!;
    const settings = JSON.parse(device.settings as string);
    assert.equal(settings.apiToken, undefined);
    assert.equal(settings.actions['isolate-host'].headers.Authorization, undefined);
    assert.equal(settings.baseUrl, 'https://fw.example.com');
    assert.deepEqual(settings.capabilities, ['isolate-host']);
    assert.ok(removed.includes('node device1 (soar-device): credentials'));
    assert.ok(removed.includes('node device1 (soar-device): settings.apiToken'));
  });

  it('keeps properties that only look like secrets: the case type key expression, the join key, names of headers', () => {
    const nodes: FlowNode[] = [
      { id: 'ct', type: 'soar-case-type', keyExpression: 'host.name' },
      { id: 'j', type: 'join', z: 't', key: 'topic', mode: 'custom' },
      { id: 'f', type: 'soar-ioc-feed', z: 't', authHeader: 'Auth-Key', tokenUrl: 'https://idp/token' },
    ];
    const { nodes: out, removed } = stripSecrets(nodes);
    assert.deepEqual(out, nodes);
    assert.deepEqual(removed, []);
  });

  it('keeps names and descriptions as written, even when they read like an auth header', () => {
    const node = {
      id: 'n1',
      type: 'function',
      z: 't',
      name: 'Basic triage',
      info: 'Token bucket limits the lookups',
      func: 'return msg;',
      wires: [],
    } as unknown as FlowNode;
    const [out] = stripSecrets([node]).nodes as unknown as Record<string, unknown>[];
    assert.equal(out.name, 'Basic triage');
    assert.equal(out.info, 'Token bucket limits the lookups');
  });

  it('names secrets the way people spell them', () => {
    for (const name of [
      'password',
      'passwd',
      'apiKey',
      'api_key',
      'X-API-KEY',
      'privateKey',
      'clientSecret',
      'accessToken',
      'Authorization',
      'cookie',
      'bearer',
      'passphrase',
      'secretKey',
      'credentials',
    ]) {
      assert.ok(isSecretName(name), name);
    }
    for (const name of [
      'key',
      'keyExpression',
      'monkey',
      'topic',
      'authType',
      'tokenUrl',
      'settings',
      'headers',
      'passthrough',
      'caseType',
    ]) {
      assert.ok(!isSecretName(name), name);
    }
  });

  it('strips secret query parameters and webhook URLs wherever they are in a string, code included', () => {
    const slack = 'https://hooks.slack.com/services/T000/B000/slack-secret-path';
    const discord = 'https://discord.com/api/webhooks/123/discord-secret-path';
    const teams = 'https://contoso.webhook.office.com/webhookb2/teams-secret-path';
    const nodes: FlowNode[] = [
      { id: 'r', type: 'http request', url: 'https://api.example/v1/ip?apikey=qs-secret-1&ip=1.2.3.4' },
      { id: 's', type: 'http request', url: 'https://blob.example/f?sv=2022&sig=qs-secret-2&x=1' },
      { id: 'c', type: 'soar-respond', target: `${slack}` },
      {
        id: 'f',
        type: 'function',
        func: `msg.url = "${discord}"; msg.t = "${teams}"; msg.u = "https://x.example/?token=qs-secret-3&key=qs-secret-4";`,
      },
    ];
    const { nodes: out, removed } = stripSecrets(nodes);
    const text = JSON.stringify(out);
    for (const secret of [
      'qs-secret-1',
      'qs-secret-2',
      'qs-secret-3',
      'qs-secret-4',
      'slack-secret',
      'discord-secret',
      'teams-secret',
    ]) {
      assert.ok(!text.includes(secret), `${secret} was left in`);
    }
    assert.equal(out[0].url, 'https://api.example/v1/ip?apikey=&ip=1.2.3.4', 'harmless parameters stay');
    assert.equal(out[1].url, 'https://blob.example/f?sv=2022&sig=&x=1');
    assert.ok(removed.includes('node r (http request): url (query parameter apikey)'), removed.join('; '));
    assert.ok(removed.some((r) => /node c \(soar-respond\): target \(webhook URL\)/.test(r)));
    assert.equal(removed.filter((r) => r.startsWith('node f ')).length, 4);
  });
});
