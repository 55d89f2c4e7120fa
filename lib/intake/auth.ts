import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Intake authentication: `Authorization: Bearer <token>` or `X-Soar-Signature: sha256=<hex HMAC-SHA256 of the raw
 * body keyed with the token>`. Every comparison is constant-time.
 */

export type AuthScheme = { kind: 'bearer'; token: string } | { kind: 'signature'; hex: string } | { kind: 'none' };

const SIGNATURE_PREFIX = 'sha256=';

/** Reads which scheme a request uses, from its headers, without judging it yet. */
export function authScheme(authorization: string | undefined, signature: string | undefined): AuthScheme {
  if (authorization) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return match ? { kind: 'bearer', token: match[1] } : { kind: 'none' };
  }
  if (signature) {
    const value = signature.trim();
    return value.toLowerCase().startsWith(SIGNATURE_PREFIX)
      ? { kind: 'signature', hex: value.slice(SIGNATURE_PREFIX.length).toLowerCase() }
      : { kind: 'none' };
  }
  return { kind: 'none' };
}

/** Constant-time check of a presented bearer token (hashing first gives both sides the same length). */
export function verifyBearer(presented: string, token: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

/** Constant-time check of an `X-Soar-Signature` HMAC over the raw body. */
export function verifySignature(hex: string, body: Buffer, token: string): boolean {
  if (!/^[0-9a-f]{64}$/.test(hex)) return false;
  const expected = createHmac('sha256', token).update(body).digest();
  return timingSafeEqual(Buffer.from(hex, 'hex'), expected);
}
