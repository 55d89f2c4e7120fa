import type { IncomingMessage } from 'node:http';
import getRawBody from 'raw-body';
import { alertId, contentRef } from '../alert/id';
import { identify } from '../alert/normalize';
import { authScheme, verifyBearer, verifySignature } from './auth';
import type { PressureDecision } from './backpressure';
import { bodyKind, parseBody, type BodyError } from './body';
import type { IntakeJournalStore, JournalRecord } from './journal-store';
import { RateLimiter } from './rate-limit';

/**
 * One authenticated alert intake endpoint, independent of Node-RED: it judges a request (rate limit,
 * authentication, content type, size, records one by one, duplicates), journals the accepted alerts and says what
 * to answer. The caller writes the answer and then emits `accepted`.
 */

export interface IntakeOptions {
  /** Journal owner: the intake node's id (pending alerts are replayed by the node that accepted them). */
  node: string;
  journal: Pick<IntakeJournalStore, 'commit'>;
  /** The shared secret for bearer and HMAC authentication; empty means nobody can authenticate. */
  token: () => string;
  /** Largest accepted body in bytes. */
  maxBytes: number;
  /** Requests per second per client (0: no limit) and the burst allowance. */
  ratePerSecond: number;
  burst: number;
  /** A second delivery of the same alert id within this many ms is a duplicate. */
  duplicateWindowMs: number;
  /**
   * Whether the flow is too far behind to take more now (./backpressure); absent: never. With `waitForRoom`, a
   * request that finds the flow full is held up to HOLD_MS for room before it is refused.
   */
  pressure?: { check(): PressureDecision; waitForRoom?(timeoutMs: number): Promise<boolean> };
}

export interface IntakeAnswer {
  accepted: number;
  duplicates: number;
  rejected: number;
  ids: string[];
  errors: BodyError[];
}

export interface AcceptedAlert {
  seq: number;
  alertId: string;
  received: number;
  record: Record<string, unknown>;
}

/** What an intake message carries besides the record (`msg.intake`), so that later nodes can mark it processed. */
export interface IntakeRef {
  /** Journal sequence number. */
  seq: number;
  /** The id used to recognise duplicate deliveries. */
  alertId: string;
  /** ISO 8601 time of receipt. */
  received: string;
}

export interface IntakeResult {
  status: number;
  headers: Record<string, string>;
  body: IntakeAnswer | { error: string };
  accepted: AcceptedAlert[];
}

function refuse(status: number, error: string, headers: Record<string, string> = {}): IntakeResult {
  return { status, headers, body: { error }, accepted: [] };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

type ParsedRequest = IncomingMessage & { _body?: boolean; body?: unknown; _soarReparsed?: boolean };

/**
 * The raw body. Where an earlier body parser already consumed the stream (Node-RED's admin app parses JSON when it
 * shares the root path with the node routes), its result is serialised again; HMAC cannot be checked then.
 */
async function readBody(req: ParsedRequest, limit: number): Promise<Buffer> {
  if (req._body === true) {
    req._soarReparsed = !Buffer.isBuffer(req.body);
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.from(JSON.stringify(req.body ?? null));
    if (raw.length > limit) throw Object.assign(new Error('too large'), { type: 'entity.too.large' });
    return raw;
  }
  return getRawBody(req, { limit, length: header(req, 'content-length') });
}

/**
 * The id that recognises a second delivery: the alert's own identity, else a digest of its content that ignores
 * key order and formatting.
 */
export function deliveryId(record: Record<string, unknown>): string {
  const known = identify(record);
  return known ? known.id : alertId('generic', contentRef(record));
}

/** Counters since the endpoint started: alerts, and requests refused before their records were judged. */
export interface IntakeStats {
  accepted: number;
  duplicates: number;
  rejected: number;
  /** Every refused request, `busy` ones included. */
  refused: number;
  /** Requests refused with 503 because too many alerts were in flight (backpressure). */
  busy: number;
}

/**
 * Failed authentications draw on a bucket of their own (10 at once, then one a second per client), so that a
 * client guessing tokens is slowed down without using up the rate that authenticated senders at the same address
 * (say, behind one proxy) rely on.
 */
const FAILURES = { ratePerSecond: 1, burst: 10 };

/** Errors listed in one answer; `rejected` still counts them all. */
export const MAX_LISTED_ERRORS = 100;

/**
 * How long a request that finds the flow full waits for room before it is refused with 503, and how many wait at
 * once (past that, 503 at once). A refusal costs the sender at least the 1 s of its Retry-After, while a busy flow
 * makes room within milliseconds; held, the request's body waits unread in the connection, and the alerts held
 * requests bring in past the limit are bounded by their number.
 */
export const HOLD_MS = 2_000;
export const MAX_HELD = 16;

export class IntakeEndpoint {
  private readonly limiter: RateLimiter;
  private readonly failures = new RateLimiter(FAILURES);
  readonly stats: IntakeStats = { accepted: 0, duplicates: 0, rejected: 0, refused: 0, busy: 0 };
  /** Requests waiting for room in the flow now. */
  private held = 0;

  constructor(private readonly options: IntakeOptions) {
    this.limiter = new RateLimiter({ ratePerSecond: options.ratePerSecond, burst: options.burst });
  }

  private tooMany(client: string, retryAfterSeconds: number): IntakeResult {
    return refuse(429, `too many requests from ${client}: retry after ${retryAfterSeconds} s`, {
      'Retry-After': String(retryAfterSeconds),
    });
  }

  /** A refused authentication: 401, or 429 once the client has failed too often. */
  private unauthorized(req: IncomingMessage, client: string, error: string): IntakeResult {
    req.resume();
    const rate = this.failures.take(client);
    return rate.allowed ? refuse(401, error) : this.tooMany(client, rate.retryAfterSeconds);
  }

  /** Whether the flow has room for a request, after holding it up to HOLD_MS for room. */
  private async roomInFlow(): Promise<PressureDecision | undefined> {
    const { pressure } = this.options;
    const first = pressure?.check();
    if (!first?.busy || !pressure?.waitForRoom || this.held >= MAX_HELD) return first;
    this.held += 1;
    try {
      await pressure.waitForRoom(HOLD_MS);
    } finally {
      this.held -= 1;
    }
    return pressure.check();
  }

  async handle(req: IncomingMessage, client: string): Promise<IntakeResult> {
    const result = await this.judge(req, client);
    if ('accepted' in result.body) {
      this.stats.accepted += result.body.accepted;
      this.stats.duplicates += result.body.duplicates;
      this.stats.rejected += result.body.rejected;
    } else {
      this.stats.refused += 1;
    }
    return result;
  }

  private async judge(req: IncomingMessage, client: string): Promise<IntakeResult> {
    const { options } = this;
    const token = options.token();
    const scheme = authScheme(header(req, 'authorization'), header(req, 'x-soar-signature'));
    if (!token) {
      return this.unauthorized(
        req,
        client,
        'intake token is not configured on the server: set the node credential or SOAR_INTAKE_TOKEN',
      );
    }
    if (scheme.kind === 'none') {
      return this.unauthorized(
        req,
        client,
        'authentication required: Authorization: Bearer <token> or X-Soar-Signature: sha256=<hmac>',
      );
    }
    if (scheme.kind === 'bearer' && !verifyBearer(scheme.token, token)) {
      return this.unauthorized(req, client, 'invalid bearer token');
    }
    // A signed request is only known to be genuine once its body is read; it is charged to the rate below then.
    // A client that keeps failing is refused before its body is buffered.
    if (scheme.kind === 'signature') {
      const wait = this.failures.waitSeconds(client);
      if (wait > 0) {
        req.resume();
        return this.tooMany(client, wait);
      }
    }
    if (scheme.kind === 'bearer') {
      const rate = this.limiter.take(client);
      if (!rate.allowed) {
        req.resume();
        return this.tooMany(client, rate.retryAfterSeconds);
      }
    }

    const kind = bodyKind(header(req, 'content-type'));
    if (!kind.ok) {
      req.resume();
      return refuse(415, kind.error);
    }
    const encoding = header(req, 'content-encoding');
    if (encoding && encoding.toLowerCase() !== 'identity') {
      req.resume();
      return refuse(415, `unsupported Content-Encoding "${encoding}": send the body uncompressed`);
    }
    // Refused before the body is read or anything journaled: the sender keeps the alerts and retries.
    const pressure = await this.roomInFlow();
    if (pressure?.busy) {
      req.resume();
      this.stats.busy += 1;
      return refuse(
        503,
        `busy: ${pressure.inFlight} alerts are in the flow and not yet processed; nothing was accepted, retry after ${pressure.retryAfterSeconds} s`,
        { 'Retry-After': String(pressure.retryAfterSeconds) },
      );
    }

    let raw: Buffer;
    try {
      raw = await readBody(req, options.maxBytes);
    } catch (err) {
      const e = err as { status?: number; type?: string; message?: string };
      if (e.type === 'entity.too.large') return refuse(413, `body larger than the limit of ${options.maxBytes} bytes`);
      return refuse(
        e.status && e.status < 500 ? e.status : 400,
        `could not read the body: ${e.message ?? String(err)}`,
      );
    }
    if (scheme.kind === 'signature' && (req as ParsedRequest)._soarReparsed) {
      return refuse(
        401,
        'cannot verify X-Soar-Signature: another body parser consumed the raw body (httpAdminRoot and httpNodeRoot overlap); use the bearer token or a separate httpNodeRoot',
      );
    }
    if (scheme.kind === 'signature') {
      if (!verifySignature(scheme.hex, raw, token)) {
        return this.unauthorized(
          req,
          client,
          'invalid X-Soar-Signature: expected sha256=<hex HMAC-SHA256 of the raw body keyed with the token>',
        );
      }
      const rate = this.limiter.take(client);
      if (!rate.allowed) return this.tooMany(client, rate.retryAfterSeconds);
    }

    const parsed = parseBody(raw, kind.kind);
    if (parsed.tooMany) return refuse(413, parsed.tooMany);
    const answer: IntakeAnswer = {
      accepted: 0,
      duplicates: 0,
      rejected: parsed.errors.length,
      ids: [],
      errors: parsed.errors.slice(0, MAX_LISTED_ERRORS),
    };
    if (parsed.records.length === 0) return { status: 400, headers: {}, body: answer, accepted: [] };

    const received = Date.now();
    const journaled: JournalRecord[] = parsed.records.map((r) => ({
      alertId: deliveryId(r.record),
      body: r.text,
    }));
    const outcomes = await options.journal.commit(
      options.node,
      journaled,
      received,
      received - options.duplicateWindowMs,
    );

    const accepted: AcceptedAlert[] = [];
    outcomes.forEach((seq, i) => {
      if (seq === null) {
        answer.duplicates += 1;
        return;
      }
      const alertId = journaled[i].alertId;
      answer.ids.push(alertId);
      accepted.push({ seq, alertId, received, record: parsed.records[i].record });
    });
    answer.accepted = accepted.length;
    return { status: 202, headers: {}, body: answer, accepted };
  }
}
