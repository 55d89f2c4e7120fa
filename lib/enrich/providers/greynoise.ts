/**
 * GreyNoise Community API (https://docs.greynoise.io/reference/getcommunityip): is this IP internet background noise
 * (mass scanning), a known-good business service (RIOT), or classified malicious?
 */
import type { EnrichProvider, EnrichVerdict } from '../model';
import {
  errorDetail,
  isSuccess,
  joinUrl,
  jsonObject,
  malformed,
  optionalString,
  requireKey,
  unexpectedStatus,
  unsupported,
  type ProviderConfig,
} from './common';

const LABEL = 'GreyNoise';
export const GREYNOISE_DEFAULT_BASE_URL = 'https://api.greynoise.io';

export const greynoise: EnrichProvider<ProviderConfig> = {
  id: 'greynoise',
  label: LABEL,
  // The community endpoint documents IPv4 only.
  types: ['ipv4'],
  ttlSeconds: 24 * 3600,
  quota: 'about 50 searches a week (Community plan; rate-limited per key and source IP — check your account)',

  request(observable, config, apiKey) {
    if (observable.type !== 'ipv4') throw unsupported(LABEL, observable.type);
    return {
      method: 'GET',
      url: joinUrl(config.baseUrl, GREYNOISE_DEFAULT_BASE_URL, `/v3/community/${encodeURIComponent(observable.value)}`),
      headers: { key: requireKey(LABEL, apiKey), Accept: 'application/json' },
    };
  },

  parse(observable, response) {
    const link = `https://viz.greynoise.io/ip/${observable.value}`;
    if (response.status === 404) {
      // Documented: 404 with {"noise": false, "riot": false, "message": "IP not observed scanning the internet or
      // contained in RIOT data set."}. Not seen is not an error, and not a clean bill either.
      // Only the documented answer counts as "not observed"; any other 404 (a wrong base URL, a retired endpoint)
      // is an error, not an answer to cache for a day.
      let message: string | undefined;
      try {
        const body = jsonObject(LABEL, response);
        if (body.noise !== false || body.riot !== false) throw new Error('not the documented answer');
        message = optionalString(body, 'message');
      } catch {
        throw unexpectedStatus(LABEL, response, errorDetail(response.body));
      }
      return {
        observable,
        verdict: 'unknown',
        score: 0,
        reason: `not observed by GreyNoise${message ? ` (${message.replace(/\.$/, '')})` : ''}`,
        link,
        raw: response.body,
      };
    }
    if (!isSuccess(response)) throw unexpectedStatus(LABEL, response, errorDetail(response.body));
    const body = jsonObject(LABEL, response);
    if (typeof body.noise !== 'boolean') throw malformed(LABEL, 'a boolean "noise"');
    if (typeof body.riot !== 'boolean') throw malformed(LABEL, 'a boolean "riot"');
    const classification = optionalString(body, 'classification');
    const name = optionalString(body, 'name');
    const lastSeen = optionalString(body, 'last_seen');
    const who = name && name.toLowerCase() !== 'unknown' ? ` (${name})` : '';
    const seen = lastSeen ? `, last seen ${lastSeen}` : '';

    let verdict: EnrichVerdict;
    let score: number;
    let reason: string;
    if (classification === 'malicious') {
      verdict = 'malicious';
      score = 90;
      reason = `classified malicious${body.noise ? ', scanning the internet' : ''}${who}${seen}`;
    } else if (body.riot) {
      verdict = 'harmless';
      score = 0;
      reason = `a known business service (RIOT)${who}${seen}`;
    } else if (classification === 'benign') {
      verdict = 'harmless';
      score = 0;
      reason = `classified benign${body.noise ? ' internet scanner' : ''}${who}${seen}`;
    } else if (body.noise) {
      // Mass scanning of unknown intent: background noise, worth a look when it targets you.
      verdict = 'suspicious';
      score = 40;
      reason = `scanning the internet, intent unknown${who}${seen}`;
    } else if (classification === 'suspicious') {
      verdict = 'suspicious';
      score = 50;
      reason = `classified suspicious${who}${seen}`;
    } else {
      // "unknown", missing, or a classification added after this adapter was written: no judgement.
      verdict = 'unknown';
      score = 0;
      reason = `${classification && classification !== 'unknown' ? `classified ${classification}` : 'no classification'}${who}${seen}`;
    }
    return {
      observable,
      verdict,
      score,
      reason,
      link: providerLink(optionalString(body, 'link')) ?? link,
      raw: body,
    };
  },
};

/** The answer's own `link`, when it points at GreyNoise's visualizer (never an arbitrary URL from the body). */
function providerLink(candidate: string | undefined): string | undefined {
  if (!candidate) return undefined;
  try {
    const url = new URL(candidate);
    return url.protocol === 'https:' && url.hostname.endsWith('greynoise.io') ? candidate : undefined;
  } catch {
    return undefined;
  }
}
