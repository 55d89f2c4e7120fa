/**
 * AbuseIPDB APIv2 CHECK endpoint (https://docs.abuseipdb.com/#check-endpoint): what other users reported about an IP.
 */
import type { EnrichProvider } from '../model';
import {
  errorDetail,
  isRecord,
  isSuccess,
  joinUrl,
  jsonObject,
  malformed,
  numberField,
  optionalString,
  plural,
  requireKey,
  unexpectedStatus,
  unsupported,
  type ProviderConfig,
} from './common';

export type AbuseIpdbConfig = ProviderConfig & {
  /** How far back reports count (1–365, documented default 30; we ask for 90). */
  maxAgeInDays?: number;
};

const LABEL = 'AbuseIPDB';
export const ABUSEIPDB_DEFAULT_BASE_URL = 'https://api.abuseipdb.com';

export const abuseipdb: EnrichProvider<AbuseIpdbConfig> = {
  id: 'abuseipdb',
  label: LABEL,
  types: ['ipv4', 'ipv6'],
  ttlSeconds: 6 * 3600,
  quota: '1,000 checks a day (free account; 3,000 for verified webmasters)',

  request(observable, config, apiKey) {
    if (observable.type !== 'ipv4' && observable.type !== 'ipv6') throw unsupported(LABEL, observable.type);
    const days = Number(config.maxAgeInDays ?? 90);
    const maxAge = Number.isInteger(days) && days >= 1 && days <= 365 ? days : 90;
    // IPv6 addresses carry colons: URL-encode as the docs ask. `verbose` is a bare flag.
    const query = `ipAddress=${encodeURIComponent(observable.value)}&maxAgeInDays=${maxAge}&verbose`;
    return {
      method: 'GET',
      url: joinUrl(config.baseUrl, ABUSEIPDB_DEFAULT_BASE_URL, `/api/v2/check?${query}`),
      headers: { Key: requireKey(LABEL, apiKey), Accept: 'application/json' },
    };
  },

  parse(observable, response) {
    if (!isSuccess(response)) throw unexpectedStatus(LABEL, response, errorDetail(response.body));
    const body = jsonObject(LABEL, response);
    const data = body.data;
    if (!isRecord(data)) throw malformed(LABEL, 'a "data" object');
    const score = numberField(LABEL, data, 'abuseConfidenceScore', 'data.abuseConfidenceScore', { min: 0, max: 100 });
    const reports = typeof data.totalReports === 'number' ? data.totalReports : 0;
    const users = typeof data.numDistinctUsers === 'number' ? data.numDistinctUsers : 0;
    const whitelisted = data.isWhitelisted === true;
    const isp = optionalString(data, 'isp');
    const country = optionalString(data, 'countryCode');
    const where = [isp, country].filter(Boolean).join(', ');
    const context = where ? ` (${where})` : '';

    let verdict: 'malicious' | 'suspicious' | 'harmless' | 'unknown';
    let reason: string;
    if (score >= 75) {
      verdict = 'malicious';
      reason = `reported ${plural(reports, 'time')} by ${plural(users, 'user')}, confidence ${score} %${context}`;
    } else if (score >= 25) {
      verdict = 'suspicious';
      reason = `reported ${plural(reports, 'time')} by ${plural(users, 'user')}, confidence ${score} %${context}`;
    } else if (whitelisted && score === 0) {
      verdict = 'harmless';
      reason = `on AbuseIPDB's whitelist, confidence 0 %${context}`;
    } else if (reports === 0) {
      // No reports is absence of evidence, not a clean bill: AbuseIPDB only knows what users report.
      verdict = 'unknown';
      reason = `no reports in the checked period${context}`;
    } else {
      verdict = 'unknown';
      reason = `reported ${plural(reports, 'time')} by ${plural(users, 'user')}, low confidence ${score} %${context}`;
    }
    return {
      observable,
      verdict,
      score,
      reason,
      link: `https://www.abuseipdb.com/check/${observable.value}`,
      raw: body,
    };
  },
};
