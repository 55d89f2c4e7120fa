/**
 * rest: a generic REST / webhook device. Each action the device is configured for is one HTTP request — a method, a
 * URL template relative to `baseUrl`, header templates, an optional JSON body template and a success condition — so a
 * firewall manager, an EDR console or a ticketing webhook can be driven without writing a plug-in.
 *
 * Templates take `{{target}}`, `{{kind}}`, `{{duration}}` (seconds, or empty), `{{reason}}`, `{{ref}}` (on revert: the
 * ref the action's response gave) and `{{action}}` (the capability whose request this is). Substitution cannot change
 * the shape of a request:
 * - in the path every value is `encodeURIComponent`-ed, and a path that would hold a `.`/`..` segment or leave the
 *   base URL's origin is refused;
 * - in the body (JSON text) a value inside a JSON string is inserted JSON-escaped; outside a string only a number
 *   may stand (an empty value becomes `null`); the result must parse as JSON;
 * - in a header a value holding CR, LF or NUL is refused.
 *
 * Credentials (Node-RED credentials, never the flow) become `Authorization: Bearer <token>`, `<headerName>: <token>`
 * or basic authentication. Requests never follow redirects and never go through an environment proxy; `timeoutMs`
 * bounds each request as a whole, the answer included. Errors name the method, the URL, the status and the start
 * of the answer (or what the connection did: no answer in time, reset, closed mid-answer), never a credential.
 */
import http from 'node:http';
import https from 'node:https';
import axios from 'axios';
import {
  CAPABILITIES,
  UNDO,
  type ActionOptions,
  type ActionResult,
  type ActionTarget,
  type Capability,
  type DeviceAdapter,
  type DeviceContext,
  type DeviceHealth,
  type DeviceType,
  type JsonSchema,
} from '../model';

export const REST_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type RestMethod = (typeof REST_METHODS)[number];

/** The placeholders templates may use. */
export const REST_VARIABLES = ['target', 'kind', 'duration', 'reason', 'ref', 'action'] as const;
export type RestVariable = (typeof REST_VARIABLES)[number];

/** When an answer counts as success. */
export interface RestSuccess {
  /** Accepted statuses. Default: any 2xx. */
  status?: number[];
  /** A dotted path into the JSON answer (`result.ok`, `items.0.id`) whose value must equal `equals`. */
  jsonPath?: string;
  equals?: string | number | boolean | null;
}

/** The request of one action. */
export interface RestRequest {
  method: RestMethod;
  /** URL template relative to `baseUrl` (`/rules/{{ref}}`, `/block?ip={{target}}`). */
  path: string;
  /** Header name → value template. */
  headers?: Record<string, string>;
  /** JSON text once substituted; absent: no body. */
  body?: string;
  success?: RestSuccess;
  /** A dotted path of the JSON answer whose value is kept as the result's `ref` (e.g. a rule id, for revert). */
  ref?: string;
}

export interface RestHealthCheck {
  method: RestMethod;
  path: string;
  /** Absent: 2xx/3xx/401/403 → ok, anything else → degraded. */
  success?: RestSuccess;
}

export interface RestSettings {
  /** `http://` or `https://` URL, without credentials, query or fragment. */
  baseUrl: string;
  /** The actions this device is offered for; each needs its request in `actions`. */
  capabilities: Capability[];
  /** The request of each action, and of the undo actions `revert` uses. */
  actions: Partial<Record<Capability, RestRequest>>;
  /** Default: GET `baseUrl`. */
  health?: RestHealthCheck;
  /** Milliseconds a request may take. Default 10 000. */
  timeoutMs?: number;
  /** Accept any TLS certificate (self-signed lab appliances). Default false. */
  allowInsecureTls?: boolean;
}

export interface RestCredentials {
  token?: string;
  username?: string;
  password?: string;
  /** With `token`: the header that carries the token as is, instead of `Authorization: Bearer`. */
  headerName?: string;
}

/** The settings or credentials cannot work; the message says which field. */
export class RestConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RestConfigError';
  }
}

/** An action, a target or an option this device cannot take. */
export class RestInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RestInputError';
  }
}

/** The device did not answer, or answered with a failure. */
export class RestRequestError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RestRequestError';
  }
}

/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME_PATTERN = "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$";
const BASE_URL_PATTERN = '^https?://[^\\s/?#@]+(/[^\\s?#]*)?$';
const PATH_PATTERN = '^[^\\s#]*$';
const DOTTED_PATH_PATTERN = '^[A-Za-z0-9_$@-]+(\\.[A-Za-z0-9_$@-]+)*$';
const NO_LINE_BREAKS_PATTERN = '^[^\\r\\n\\u0000]*$';
/** Largest answer read (a device API answer, not a download). */
const MAX_RESPONSE_BYTES = 1024 * 1024;
const SNIPPET_CHARS = 200;

const successSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: {
      type: 'array',
      items: { type: 'integer', minimum: 100, maximum: 599 },
      minItems: 1,
      uniqueItems: true,
      title: 'Success statuses',
      description: 'HTTP statuses that count as success (default: any 2xx).',
    },
    jsonPath: {
      type: 'string',
      pattern: DOTTED_PATH_PATTERN,
      maxLength: 256,
      title: 'JSON path',
      description: 'A dotted path into the JSON answer (result.ok, items.0.id) whose value must equal "equals".',
    },
    equals: {
      anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }, { type: 'null' }],
      title: 'Expected value',
    },
  },
  dependencies: { jsonPath: ['equals'], equals: ['jsonPath'] },
};

const methodSchema: JsonSchema = { type: 'string', enum: [...REST_METHODS], title: 'Method' };

const requestSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['method', 'path'],
  properties: {
    method: methodSchema,
    path: {
      type: 'string',
      pattern: PATH_PATTERN,
      maxLength: 2048,
      title: 'Path',
      description: 'URL template relative to the base URL, e.g. /rules/{{ref}} or /block?ip={{target}}.',
    },
    headers: {
      type: 'object',
      propertyNames: { type: 'string', pattern: HEADER_NAME_PATTERN },
      additionalProperties: { type: 'string', pattern: NO_LINE_BREAKS_PATTERN, maxLength: 4096 },
      maxProperties: 64,
      title: 'Headers',
      description: 'Header name → value template. Credentials belong in the credentials, not here.',
    },
    body: {
      type: 'string',
      maxLength: 65536,
      title: 'Body',
      description: 'JSON template, e.g. {"ip": "{{target}}", "ttl": {{duration}}}; absent: no body.',
    },
    success: successSchema,
    ref: {
      type: 'string',
      pattern: DOTTED_PATH_PATTERN,
      maxLength: 256,
      title: 'Reference',
      description: 'Dotted path of the JSON answer kept as the action reference (e.g. id), used by revert as {{ref}}.',
    },
  },
};

export const restSettingsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['baseUrl', 'capabilities', 'actions'],
  properties: {
    baseUrl: {
      type: 'string',
      pattern: BASE_URL_PATTERN,
      maxLength: 2048,
      title: 'Base URL',
      description: 'http:// or https:// URL of the API, without credentials (those go in the credentials).',
    },
    capabilities: {
      type: 'array',
      items: { type: 'string', enum: [...CAPABILITIES] },
      uniqueItems: true,
      minItems: 1,
      title: 'Capabilities',
      description: 'The actions this device is offered for; each needs a request below.',
    },
    actions: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(CAPABILITIES.map((c) => [c, requestSchema])),
      title: 'Requests',
      description: 'The request of each action (and of the undo actions revert uses).',
    },
    health: {
      type: 'object',
      additionalProperties: false,
      required: ['method', 'path'],
      properties: {
        method: methodSchema,
        path: { type: 'string', pattern: PATH_PATTERN, maxLength: 2048, title: 'Path' },
        success: successSchema,
      },
      title: 'Health check',
      description: 'Default: GET the base URL; 2xx, 3xx, 401 and 403 mean reachable.',
    },
    timeoutMs: { type: 'integer', minimum: 100, maximum: 120000, default: 10000, title: 'Request timeout (ms)' },
    allowInsecureTls: {
      type: 'boolean',
      default: false,
      title: 'Accept any TLS certificate',
      description: 'Only for lab appliances with self-signed certificates.',
    },
  },
};

export const restCredentialsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    token: { type: 'string', pattern: NO_LINE_BREAKS_PATTERN, maxLength: 8192, title: 'Token' },
    username: { type: 'string', pattern: '^[^\\r\\n\\u0000:]*$', maxLength: 256, title: 'User name' },
    password: { type: 'string', pattern: NO_LINE_BREAKS_PATTERN, maxLength: 1024, title: 'Password' },
    headerName: {
      type: 'string',
      // empty (unset, as Node-RED stores an untouched credential field) or a header name
      pattern: `^$|${HEADER_NAME_PATTERN}`,
      title: 'Token header',
      description: 'Send the token as is in this header instead of Authorization: Bearer.',
    },
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Templates

type Part = string | { name: RestVariable; inString: boolean };

const PLACEHOLDER = /\{\{\s*([A-Za-z_]+)\s*\}\}/g;
const KNOWN_VARIABLES: ReadonlySet<string> = new Set(REST_VARIABLES);

/**
 * Splits a template into literal text and placeholders. With `json`, records for each placeholder whether it stands
 * inside a JSON string literal of the template.
 */
export function parseTemplate(template: string, json = false): Part[] {
  let inString: Uint8Array | undefined;
  if (json) {
    inString = new Uint8Array(template.length + 1);
    let open = false;
    for (let i = 0; i < template.length; i++) {
      inString[i] = open ? 1 : 0;
      const ch = template[i];
      if (open && ch === '\\') {
        inString[i + 1] = 1;
        i++;
      } else if (ch === '"') open = !open;
    }
  }
  const parts: Part[] = [];
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    const name = m[1];
    if (!KNOWN_VARIABLES.has(name)) {
      throw new RestConfigError(`unknown placeholder {{${name}}} (known: ${REST_VARIABLES.join(', ')})`);
    }
    if (m.index > last) parts.push(template.slice(last, m.index));
    parts.push({ name: name as RestVariable, inString: inString ? inString[m.index] === 1 : false });
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  return parts;
}

const uses = (parts: Part[], name: RestVariable) => parts.some((p) => typeof p !== 'string' && p.name === name);

type Values = Record<RestVariable, string>;

const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

function fill(parts: Part[], encode: (name: RestVariable, part: { name: RestVariable; inString: boolean }) => string) {
  return parts.map((p) => (typeof p === 'string' ? p : encode(p.name, p))).join('');
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

/** The value at a dotted path (`a.b.0.c`) of parsed JSON; only own properties and array indexes. */
export function valueAtPath(doc: unknown, path: string): unknown {
  let current: unknown = doc;
  for (const segment of path.split('.')) {
    if (Array.isArray(current) && /^\d+$/.test(segment)) current = current[Number(segment)];
    else if (current !== null && typeof current === 'object' && Object.hasOwn(current, segment)) {
      current = (current as Record<string, unknown>)[segment];
    } else return undefined;
  }
  return current;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;

/** The URL as errors show it: no user info (the base URL has none anyway), no fragment. */
const shown = (url: URL) => `${url.origin}${url.pathname}${url.search}`;

interface Resolved {
  baseUrl: URL;
  capabilities: Capability[];
  timeoutMs: number;
  allowInsecureTls: boolean;
}

interface CompiledRequest {
  method: RestMethod;
  path: Part[];
  headers: [string, Part[]][];
  body?: Part[];
  success?: RestSuccess;
  ref?: string;
  /** A template of the request uses {{ref}}. */
  usesRef: boolean;
}

function compileRequest(what: string, request: RestRequest | RestHealthCheck): CompiledRequest {
  const at = (field: string, f: () => Part[]) => {
    try {
      return f();
    } catch (e) {
      throw new RestConfigError(`${what} ${field}: ${(e as Error).message}`);
    }
  };
  if (!REST_METHODS.includes(request.method)) {
    throw new RestConfigError(`${what}: method must be one of ${REST_METHODS.join(', ')}`);
  }
  if (typeof request.path !== 'string') throw new RestConfigError(`${what}: path must be a string`);
  const r = request as RestRequest;
  const compiled: CompiledRequest = {
    method: request.method,
    path: at('path', () => parseTemplate(request.path)),
    headers: Object.entries(r.headers ?? {}).map(([name, value]) => {
      if (!new RegExp(HEADER_NAME_PATTERN).test(name)) {
        throw new RestConfigError(`${what}: ${JSON.stringify(name)} is not a header name`);
      }
      if (typeof value !== 'string' || /[\r\n\0]/.test(value)) {
        throw new RestConfigError(`${what}: header ${name} must be one line of text`);
      }
      return [name, at(`header ${name}`, () => parseTemplate(value))];
    }),
    success: request.success,
    ref: r.ref,
    usesRef: false,
  };
  if (r.body !== undefined) {
    compiled.body = at('body', () => parseTemplate(r.body as string, true));
    // The template must be JSON with any values in: catches a missing comma or quote when the device is deployed.
    const sample = fill(compiled.body, (_name, p) => (p.inString ? 'x' : '1'));
    try {
      JSON.parse(sample);
    } catch (e) {
      throw new RestConfigError(`${what} body: not a JSON template (${(e as Error).message})`);
    }
  }
  compiled.usesRef = [
    compiled.path,
    ...compiled.headers.map(([, v]) => v),
    ...(compiled.body ? [compiled.body] : []),
  ].some((t) => uses(t, 'ref'));
  return compiled;
}

/** A short, single-line start of an answer, with any credential blanked out. */
function snippet(text: string, secrets: string[]): string {
  let s = text.replace(/\s+/g, ' ').trim();
  for (const secret of secrets) if (secret.length >= 3) s = s.split(secret).join('***');
  if (s.length > SNIPPET_CHARS) s = `${s.slice(0, SNIPPET_CHARS - 1)}…`;
  return s;
}

/** Why the answer is not a success (undefined when it is). */
function failure(success: RestSuccess | undefined, status: number, body: string): string | undefined {
  const statuses = success?.status;
  if (statuses ? !statuses.includes(status) : status < 200 || status > 299) {
    return `expected ${statuses ? statuses.join('/') : '2xx'}`;
  }
  if (success?.jsonPath !== undefined) {
    const doc = parseJson(body);
    if (!doc.ok) return `expected a JSON answer with ${success.jsonPath} = ${JSON.stringify(success.equals)}`;
    const value = valueAtPath(doc.value, success.jsonPath);
    if (value !== success.equals) {
      const got = value === undefined ? 'missing' : JSON.stringify(value);
      return `expected ${success.jsonPath} = ${JSON.stringify(success.equals)}, got ${got}`;
    }
  }
  return undefined;
}

function durationOf(what: string, options: ActionOptions): string {
  const d = options.durationSeconds;
  if (d === undefined || d === null) return '';
  if (typeof d !== 'number' || !Number.isFinite(d) || d <= 0) {
    throw new RestInputError(`${what}: durationSeconds must be a positive number of seconds (got ${String(d)})`);
  }
  return String(Math.ceil(d));
}

/** What a network error code means, for a person: `ECONNRESET (the device closed the connection …)`. */
const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused: nothing listens there, or a firewall rejects it',
  ECONNRESET: 'connection reset: the device closed the connection before it answered',
  EPIPE: 'connection closed by the device while the request was being sent',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host name not found (DNS)',
  EAI_AGAIN: 'host name lookup failed for now (DNS)',
};

function networkReason(code: string | undefined, message: string): string {
  if (code && NETWORK_ERRORS[code]) return `${code} (${NETWORK_ERRORS[code]})`;
  // axios' words for a body that stopped short: the device dropped the connection in the middle of its answer
  if (code === 'ERR_BAD_RESPONSE' && /aborted/i.test(message)) {
    return 'connection closed in the middle of the answer';
  }
  return code ? `${code} (${message})` : message;
}

interface Answer {
  status: number;
  statusText: string;
  body: string;
  /** `POST https://host/path` */
  where: string;
}

// ---------------------------------------------------------------------------------------------------------------
// The adapter

export class RestAdapter implements DeviceAdapter {
  /** The actions this device is offered for (a subset of the type's capabilities). */
  readonly capabilities: readonly Capability[];
  private readonly settings: Resolved;
  private readonly requests = new Map<Capability, CompiledRequest>();
  private readonly healthRequest: CompiledRequest;
  private readonly auth: Record<string, string> = {};
  private readonly secrets: string[] = [];
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(
    settings: RestSettings,
    credentials: RestCredentials,
    private readonly context: DeviceContext,
  ) {
    const name = `rest device ${context.name}`;
    const s = settings ?? ({} as RestSettings);
    let baseUrl: URL;
    try {
      baseUrl = new URL(s.baseUrl);
    } catch {
      throw new RestConfigError(`${name}: baseUrl ${JSON.stringify(s.baseUrl)} is not a URL`);
    }
    if (baseUrl.protocol !== 'http:' && baseUrl.protocol !== 'https:') {
      throw new RestConfigError(`${name}: baseUrl must be an http:// or https:// URL, not ${baseUrl.protocol}`);
    }
    if (baseUrl.username || baseUrl.password) {
      throw new RestConfigError(`${name}: put credentials in the device credentials, not in baseUrl`);
    }
    if (baseUrl.search || baseUrl.hash) {
      throw new RestConfigError(`${name}: baseUrl must not carry a query or a fragment; put them in the paths`);
    }
    const timeoutMs = s.timeoutMs ?? 10_000;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 120_000) {
      throw new RestConfigError(`${name}: timeoutMs must be an integer from 100 to 120000`);
    }
    const capabilities = s.capabilities ?? [];
    const actions = s.actions ?? {};
    for (const c of [...capabilities, ...Object.keys(actions)]) {
      if (!(CAPABILITIES as readonly string[]).includes(c)) {
        throw new RestConfigError(`${name}: unknown action ${JSON.stringify(c)}`);
      }
    }
    for (const c of capabilities) {
      if (!actions[c]) throw new RestConfigError(`${name}: capability ${c} has no request in actions`);
    }
    for (const [action, request] of Object.entries(actions) as [Capability, RestRequest][]) {
      const compiled = compileRequest(`${name}: ${action}`, request);
      this.requests.set(action, compiled);
      // only an undo request (sent by revert) has a ref to use
      if (compiled.usesRef && !Object.values(UNDO).includes(action)) {
        throw new RestConfigError(`${name}: ${action} uses {{ref}}, which only an undo request (revert) has`);
      }
    }
    this.healthRequest = compileRequest(`${name}: health`, s.health ?? { method: 'GET', path: '' });
    this.capabilities = Object.freeze([...capabilities]);
    this.settings = { baseUrl, capabilities, timeoutMs, allowInsecureTls: s.allowInsecureTls === true };

    // Credentials: Node-RED keeps an untouched credential field as '' — that is "not set".
    const c = credentials ?? {};
    const token = c.token || undefined;
    const headerName = c.headerName || undefined;
    const username = c.username || undefined;
    const password = c.password || undefined;
    for (const [field, value] of [
      ['token', token],
      ['username', username],
      ['password', password],
    ] as const) {
      if (value !== undefined && (typeof value !== 'string' || /[\r\n\0]/.test(value))) {
        throw new RestConfigError(`${name}: credential ${field} must be one line of text`);
      }
    }
    if (headerName !== undefined && !new RegExp(HEADER_NAME_PATTERN).test(headerName)) {
      throw new RestConfigError(`${name}: credential headerName is not a header name`);
    }
    if (headerName && !token) throw new RestConfigError(`${name}: credential headerName needs a token`);
    if (password && !username) throw new RestConfigError(`${name}: credential password needs a username`);
    if (username?.includes(':')) throw new RestConfigError(`${name}: a basic-auth username cannot contain ":"`);
    if (token && (!headerName || headerName.toLowerCase() === 'authorization') && username) {
      throw new RestConfigError(
        `${name}: a bearer token and a username both set Authorization; set one (or a headerName for the token)`,
      );
    }
    if (token && headerName) this.auth[headerName] = token;
    else if (token) this.auth.Authorization = `Bearer ${token}`;
    if (username) {
      const pair = `${username}:${password ?? ''}`;
      const basic = Buffer.from(pair).toString('base64');
      this.auth.Authorization = `Basic ${basic}`;
      this.secrets.push(basic, pair);
    }
    if (token) this.secrets.push(token);
    if (password) this.secrets.push(password);
    const authNames = Object.keys(this.auth).map((h) => h.toLowerCase());
    for (const [action, compiled] of this.requests) {
      for (const [header] of compiled.headers) {
        if (authNames.includes(header.toLowerCase())) {
          throw new RestConfigError(`${name}: ${action} sets header ${header}, which the credentials set`);
        }
      }
    }

    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      maxSockets: 8,
      rejectUnauthorized: !this.settings.allowInsecureTls,
    });
  }

  private get name() {
    return `rest device ${this.context.name}`;
  }

  /** The absolute URL of a path template with the values in, encoded; refuses a path that escapes the base URL. */
  private url(what: string, parts: Part[], values: Values): URL {
    const path = fill(parts, (n) => encodeURIComponent(values[n]));
    const base = this.settings.baseUrl.href.replace(/\/+$/, '');
    const joined = path === '' ? base : path.startsWith('?') ? `${base}${path}` : `${base}/${path.replace(/^\/+/, '')}`;
    const pathOnly = joined.slice(base.length).split('?')[0];
    // encodeURIComponent leaves dots alone: a value "." or ".." would be a dot segment, which URL parsing resolves
    if (pathOnly.split('/').some((segment) => DOT_SEGMENT.test(segment))) {
      throw new RestInputError(`${this.name}: ${what}: refused, the path would hold a "." or ".." segment`);
    }
    const url = new URL(joined);
    const basePath = this.settings.baseUrl.pathname.replace(/\/+$/, '');
    if (url.origin !== this.settings.baseUrl.origin || !url.pathname.startsWith(basePath)) {
      throw new RestConfigError(`${this.name}: ${what} path leaves the base URL`);
    }
    return url;
  }

  private headers(what: string, compiled: CompiledRequest, values: Values, hasBody: boolean): Record<string, string> {
    const headers: Record<string, string> = { Accept: 'application/json, */*;q=0.5' };
    if (hasBody) headers['Content-Type'] = 'application/json';
    for (const [header, parts] of compiled.headers) {
      const value = fill(parts, (n) => {
        if (/[\r\n\0]/.test(values[n])) {
          throw new RestInputError(`${this.name}: ${what}: {{${n}}} holds a line break, refused in header ${header}`);
        }
        return values[n];
      });
      for (const existing of Object.keys(headers)) {
        if (existing.toLowerCase() === header.toLowerCase()) delete headers[existing];
      }
      headers[header] = value;
    }
    return { ...headers, ...this.auth };
  }

  private body(what: string, parts: Part[], values: Values): string {
    const text = fill(parts, (n, p) => {
      const v = values[n];
      if (p.inString) return JSON.stringify(v).slice(1, -1);
      if (v === '') return 'null';
      if (JSON_NUMBER.test(v)) return v;
      throw new RestInputError(
        `${this.name}: ${what} body: {{${n}}} stands outside a JSON string, where only a number can go; ` +
          `quote it in the template ("{{${n}}}")`,
      );
    });
    try {
      JSON.parse(text);
    } catch (e) {
      throw new RestConfigError(`${this.name}: ${what} body is not JSON after substitution: ${(e as Error).message}`);
    }
    return text;
  }

  /** Sends one request; resolves with any answer (success is judged by the caller), rejects when there is none. */
  private async send(what: string, compiled: CompiledRequest, values: Values, signal?: AbortSignal): Promise<Answer> {
    const url = this.url(what, compiled.path, values);
    const body = compiled.body ? this.body(what, compiled.body, values) : undefined;
    const headers = this.headers(what, compiled, values, body !== undefined);
    const where = `${compiled.method} ${shown(url)}`;
    if (signal?.aborted) throw new RestRequestError(`${this.name}: ${what}: ${where}: aborted`);
    // axios' timeout only watches for a silent socket: a device that sends headers and then drips its body would
    // hold the action forever. The deadline bounds the whole exchange, answer included.
    const deadline = new AbortController();
    const onAbort = () => deadline.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      deadline.abort();
    }, this.settings.timeoutMs);
    try {
      const res = await axios.request<string>({
        method: compiled.method,
        url: url.href,
        headers,
        data: body,
        timeout: this.settings.timeoutMs,
        signal: deadline.signal,
        maxRedirects: 0,
        validateStatus: () => true,
        responseType: 'text',
        responseEncoding: 'utf8',
        transformRequest: [(data: unknown) => data],
        transformResponse: [(data: unknown) => data],
        maxContentLength: MAX_RESPONSE_BYTES,
        maxBodyLength: 1024 * 1024,
        proxy: false,
        httpAgent: this.httpAgent,
        httpsAgent: this.httpsAgent,
      });
      const text = typeof res.data === 'string' ? res.data : res.data == null ? '' : String(res.data);
      return { status: res.status, statusText: res.statusText ?? '', body: text, where };
    } catch (err) {
      // A fresh error: axios' own carries the request config, headers (and so the credentials) included.
      let reason: string;
      if (timedOut) reason = `no answer within ${this.settings.timeoutMs} ms`;
      else if (axios.isAxiosError(err)) {
        if (err.code === 'ECONNABORTED' || err.code === 'ETIMEDOUT') {
          reason = `no answer within ${this.settings.timeoutMs} ms`;
        } else if (err.code === 'ERR_CANCELED') reason = 'aborted';
        else if (/maxContentLength/i.test(err.message)) reason = `answer larger than ${MAX_RESPONSE_BYTES} bytes`;
        else reason = networkReason(err.code, err.message);
      } else reason = (err as Error).message;
      throw new RestRequestError(`${this.name}: ${what}: ${where}: ${snippet(reason, this.secrets)}`);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private describe(answer: Answer): string {
    return `${answer.where} answered ${answer.status}${answer.statusText ? ` ${answer.statusText}` : ''}`;
  }

  private async perform(
    call: 'execute' | 'revert',
    action: Capability,
    target: ActionTarget,
    options: ActionOptions,
    ref: string | undefined,
  ): Promise<ActionResult> {
    const compiled = this.requests.get(action) as CompiledRequest;
    if (!target || typeof target.value !== 'string' || target.value === '' || target.value.length > 2048) {
      throw new RestInputError(`${this.name}: ${action}: the target must be a non-empty string of at most 2048 chars`);
    }
    if (!ref && compiled.usesRef) {
      // e.g. DELETE /rules/{{ref}} with no ref would be DELETE /rules/: never send that
      throw new RestInputError(
        call === 'revert'
          ? `${this.name}: ${action} ${target.value} needs the ref of the action it undoes, and the result has none`
          : `${this.name}: ${action} needs {{ref}}, the device's reference of the action it undoes: use revert`,
      );
    }
    const values: Values = {
      target: target.value,
      kind: String(target.kind ?? ''),
      duration: durationOf(`${this.name}: ${action}`, options),
      reason: options.reason ?? '',
      ref: ref ?? '',
      action,
    };
    const answer = await this.send(action, compiled, values, options.signal);
    const why = failure(compiled.success, answer.status, answer.body);
    if (why) {
      const start = snippet(answer.body, this.secrets);
      throw new RestRequestError(
        `${this.name}: ${action} ${target.value}: ${this.describe(answer)} (${why})${start ? `: ${start}` : ''}`,
        answer.status,
      );
    }
    const result: ActionResult = { detail: `${action} ${target.value}: ${this.describe(answer)}` };
    const doc = parseJson(answer.body);
    if (compiled.ref) {
      const value = doc.ok ? valueAtPath(doc.value, compiled.ref) : undefined;
      if ((typeof value === 'string' && value !== '') || typeof value === 'number') {
        result.ref = String(value);
        result.detail += ` (ref ${result.ref})`;
      } else {
        const note = `no ${compiled.ref} in the answer to keep as ref`;
        this.context.log('warn', `${this.name}: ${action} ${target.value}: ${note}; it cannot be reverted by ref`);
        result.detail += ` (${note})`;
      }
    } else if (call === 'revert' && ref) result.ref = ref;
    if (action === 'collect-host-context') result.data = doc.ok ? doc.value : answer.body;
    this.context.log('info', `${this.name}: ${result.detail}`);
    return result;
  }

  async health(signal?: AbortSignal): Promise<DeviceHealth> {
    const checkedAt = () => new Date().toISOString();
    const values: Values = { target: '', kind: '', duration: '', reason: '', ref: '', action: '' };
    let answer: Answer;
    try {
      answer = await this.send('health', this.healthRequest, values, signal);
    } catch (e) {
      return { status: 'down', checkedAt: checkedAt(), reason: (e as Error).message };
    }
    const said = this.describe(answer);
    const success = this.healthRequest.success;
    if (success) {
      const why = failure(success, answer.status, answer.body);
      if (!why) return { status: 'ok', checkedAt: checkedAt(), reason: said };
      const start = snippet(answer.body, this.secrets);
      return { status: 'degraded', checkedAt: checkedAt(), reason: `${said} (${why})${start ? `: ${start}` : ''}` };
    }
    const s = answer.status;
    if ((s >= 200 && s < 400) || s === 401 || s === 403) {
      const note = s === 401 || s === 403 ? ' (reachable; check the credentials)' : '';
      return { status: 'ok', checkedAt: checkedAt(), reason: `${said}${note}` };
    }
    const start = snippet(answer.body, this.secrets);
    return { status: 'degraded', checkedAt: checkedAt(), reason: `${said}${start ? `: ${start}` : ''}` };
  }

  async execute(action: Capability, target: ActionTarget, options: ActionOptions = {}): Promise<ActionResult> {
    if (!this.capabilities.includes(action) || !this.requests.has(action)) {
      throw new RestInputError(
        `${this.name} is not configured for ${action} (configured: ${this.capabilities.join(', ') || 'nothing'})`,
      );
    }
    return this.perform('execute', action, target, options, undefined);
  }

  async revert(
    action: Capability,
    target: ActionTarget,
    result: ActionResult,
    options: ActionOptions = {},
  ): Promise<ActionResult> {
    const undo = UNDO[action];
    if (!undo) throw new RestInputError(`${this.name}: ${action} cannot be reverted (nothing undoes it)`);
    const compiled = this.requests.get(undo);
    if (!compiled) {
      throw new RestInputError(`${this.name} cannot revert ${action}: no request is configured for ${undo}`);
    }
    return this.perform('revert', undo, target, { signal: options.signal, reason: options.reason }, result?.ref);
  }

  async close(): Promise<void> {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

export const restDeviceType: DeviceType<RestSettings, RestCredentials> = {
  id: 'rest',
  label: 'REST / webhook device',
  capabilities: [...CAPABILITIES],
  settingsSchema: restSettingsSchema,
  credentialsSchema: restCredentialsSchema,
  create(settings: RestSettings, credentials: RestCredentials, context: DeviceContext): DeviceAdapter {
    return new RestAdapter(settings, credentials, context);
  },
};
