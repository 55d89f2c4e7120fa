/**
 * Takes every secret out of flow nodes before they leave the installation. Node-RED keeps most secrets in
 * credentials (never in the flows), but not all: env entries of type `cred` carry values in a flow export, nodes
 * keep tokens in ordinary properties (an http request header, a soar-device's settings JSON, a URL with a
 * password), and third-party nodes do what they like. So the rule is by name and shape, not by node type:
 * - `credentials` goes, whole;
 * - env entries (tabs, subflows, subflow instances, global-config) of type `cred` lose their value (the name stays,
 *   so the importer sees what to fill in), and so do env entries whose name says secret;
 * - any property, at any depth, whose name says secret goes (see SECRET_NAME);
 * - header lists (`[{keyValue: 'Authorization', valueValue: '…'}]`, the http request node) lose secret values;
 * - strings that are a credential by shape go: `Bearer …` / `Basic …`, the user:password of a URL, the values of
 *   query parameters named like a secret (`?apikey=`, `&token=`, `&sig=`), and webhook URLs whose path is the secret
 *   (Slack, Discord, Microsoft Teams / Office 365), wherever they are in the string (code included);
 * - JSON held in a string property (soar-device `settings`) is stripped by the same rules.
 */
import { isObject, type FlowNode } from './model';

/**
 * Property names that hold a secret. Deliberately broad: a stripped harmless property costs the importer a field to
 * fill in; a leaked token costs a rotation. `key` alone is not on it (the join node's `key` is a property name) but
 * anything ending in key is (`apiKey`, `privateKey`, `accessKey`, `secretKey`); `keyExpression` does not end in key.
 */
export const SECRET_NAME =
  /(^pass$|passw(or)?d|passphrase|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|[-_]key$|^authorization$|bearer|cookie|session[-_]?id|credential|signature|^pin$|^otp$|^hmac)/i;
/** camelCase `…Key` (`apiKey`, `licenseKey`), but not `monkey`. */
const CAMEL_KEY = /[a-z0-9]Key$/;
/** Names that only point at a secret (`tokenUrl`, `passwordField`, `secretType`): kept. */
const NOT_A_SECRET = /(url|uri|type|expiry|expires|field|prop|property|location|length|ttl|header[-_]?name)$/i;

/** Values that are a credential by their shape, whatever the property is called. */
const AUTH_VALUE = /^\s*(bearer|basic|digest|token)\s+\S+/i;
const URL_USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/i;

/** Query parameters that hold a secret: named like one, or the short names signed URLs use (`key`, `sig`). */
const QUERY_PARAM = /([?&])([A-Za-z0-9_.-]+)=([^&#\s"'`<>]*)/g;
const SHORT_SECRET_PARAMS = /^(key|sig|sv?sig|auth|code|k)$/i;
/** Webhook URLs whose path is the credential: anyone holding one can post. */
const WEBHOOK_URL =
  /https?:\/\/(hooks\.slack\.com\/(services|workflows|triggers)\/|(?:[a-z0-9-]+\.)?discord(?:app)?\.com\/api\/webhooks\/|[a-z0-9-]+\.webhook\.office\.com\/|outlook\.office(?:365)?\.com\/webhook\/)[^\s"'`<>]*/gi;
export const REMOVED_WEBHOOK = '<webhook URL removed>';

/** A string with secret query values and webhook URLs taken out, and whether anything was. */
function stripSecretsInText(value: string): { text: string; what: string[] } {
  const what: string[] = [];
  let text = value.replace(WEBHOOK_URL, () => {
    what.push('webhook URL');
    return REMOVED_WEBHOOK;
  });
  text = text.replace(QUERY_PARAM, (match, sep: string, name: string, val: string) => {
    if (val === '' || !(isSecretName(name) || SHORT_SECRET_PARAMS.test(name))) return match;
    what.push(`query parameter ${name}`);
    return `${sep}${name}=`;
  });
  return { text, what };
}

/** Node properties that are prose written for people: the value-shape rule does not apply to them. */
const DESCRIPTIVE: ReadonlySet<string> = new Set(['name', 'label', 'info']);

/** Node properties that hold JSON text that may name secrets, by node type. */
const JSON_TEXT_PROPERTIES: Record<string, readonly string[]> = {
  'soar-device': ['settings'],
};

/** What was taken out, for the person exporting: `node 1a2b (http request): headers[0].valueValue`. */
export interface StripResult {
  nodes: FlowNode[];
  removed: string[];
}

export function isSecretName(name: string): boolean {
  return (SECRET_NAME.test(name) || CAMEL_KEY.test(name)) && !NOT_A_SECRET.test(name);
}

function stripValue(value: unknown, path: string, removed: string[]): unknown {
  if (typeof value === 'string') {
    if (AUTH_VALUE.test(value)) {
      removed.push(path);
      return '';
    }
    let text = value;
    if (URL_USERINFO.test(text)) {
      removed.push(path + ' (user:password in the URL)');
      text = text.replace(URL_USERINFO, '$1');
    }
    const inText = stripSecretsInText(text);
    for (const w of inText.what) removed.push(`${path} (${w})`);
    return inText.text;
  }
  if (Array.isArray(value)) return value.map((v, i) => stripValue(v, `${path}[${i}]`, removed));
  if (!isObject(value)) return value;

  const out: Record<string, unknown> = {};
  // A header or key/value list entry: `{keyValue: 'Authorization', valueValue: '…'}` (http request) or
  // `{name: 'X-Api-Key', value: '…'}`: the secret is in the value, the name is in a sibling.
  const entryName = [value.keyValue, value.name, value.key, value.header].find((v) => typeof v === 'string') as
    string | undefined;
  const secretEntry =
    (entryName !== undefined && isSecretName(entryName)) || (entryName !== undefined && value.type === 'cred');
  for (const [k, v] of Object.entries(value)) {
    const here = path ? `${path}.${k}` : k;
    if (isSecretName(k)) {
      removed.push(here);
      continue;
    }
    if (secretEntry && (k === 'value' || k === 'valueValue')) {
      removed.push(here);
      continue;
    }
    out[k] = stripValue(v, here, removed);
  }
  return out;
}

function stripJsonText(text: unknown, path: string, removed: string[]): unknown {
  if (typeof text !== 'string' || text.trim() === '') return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text; // not JSON: the property rules above still applied to the string itself
  }
  const before = removed.length;
  const stripped = stripValue(parsed, path, removed);
  return removed.length === before ? text : JSON.stringify(stripped, null, 2);
}

/** A copy of the nodes with every secret taken out; the input is not changed. */
export function stripSecrets(nodes: readonly FlowNode[]): StripResult {
  const removed: string[] = [];
  const out = nodes.map((node) => {
    const where = `node ${node.id} (${node.type})`;
    const copy: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === 'credentials') {
        removed.push(`${where}: credentials`);
        continue;
      }
      if (k === 'env' && Array.isArray(v)) {
        copy.env = v.map((entry, i) => stripEnvEntry(entry, `${where}: env[${i}]`, removed));
        continue;
      }
      if (isSecretName(k)) {
        removed.push(`${where}: ${k}`);
        continue;
      }
      if (DESCRIPTIVE.has(k) && typeof v === 'string') {
        // A name or description such as "Basic triage" is prose, not a credential by its shape.
        copy[k] = v;
        continue;
      }
      const local: string[] = [];
      let value = stripValue(v, k, local);
      if (JSON_TEXT_PROPERTIES[node.type]?.includes(k)) value = stripJsonText(value, k, local);
      for (const r of local) removed.push(`${where}: ${r}`);
      copy[k] = value;
    }
    return copy as FlowNode;
  });
  return { nodes: out, removed };
}

/** Env entries keep their name and type (the importer must fill a credential in) but lose a secret value. */
function stripEnvEntry(entry: unknown, where: string, removed: string[]): unknown {
  if (!isObject(entry)) return entry;
  const name = typeof entry.name === 'string' ? entry.name : '';
  if (entry.type === 'cred' || isSecretName(name)) {
    const { value: _value, ...rest } = entry;
    if (_value !== undefined && _value !== '') removed.push(`${where} ${name}`);
    return entry.type === 'cred' ? rest : { ...rest, value: '' };
  }
  return stripValue(entry, where, removed);
}
