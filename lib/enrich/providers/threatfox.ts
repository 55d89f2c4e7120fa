/**
 * abuse.ch ThreatFox API (https://threatfox.abuse.ch/api/): IOCs (C2 servers, payload URLs, hashes) shared by the
 * community, searched with POST /api/v1/ `{"query": "search_ioc", "search_term": …}` and an `Auth-Key` header.
 */
import type { EnrichProvider } from '../model';
import {
  clampScore,
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

const LABEL = 'ThreatFox';
export const THREATFOX_DEFAULT_BASE_URL = 'https://threatfox-api.abuse.ch';

const THREAT_TYPES: Record<string, string> = {
  botnet_cc: 'botnet C2',
  payload_delivery: 'payload delivery',
  payload: 'payload',
  cc_skimming: 'card skimming',
};

const TYPES = ['ipv4', 'domain', 'url', 'md5', 'sha256'] as const;

export const threatfox: EnrichProvider<ProviderConfig> = {
  id: 'threatfox',
  label: LABEL,
  types: TYPES,
  ttlSeconds: 3600,
  quota: 'no published request limit (free Auth-Key required; fair use under abuse.ch terms)',

  request(observable, config, apiKey) {
    if (!(TYPES as readonly string[]).includes(observable.type)) throw unsupported(LABEL, observable.type);
    return {
      method: 'POST',
      url: joinUrl(config.baseUrl, THREATFOX_DEFAULT_BASE_URL, '/api/v1/'),
      headers: {
        'Auth-Key': requireKey(LABEL, apiKey),
        'Content-Type': 'application/json',
        Accept: 'application/json',
      },
      // Not exact_match: ThreatFox stores IP IOCs as "ip:port", which a bare IP finds only by a substring search.
      body: JSON.stringify({ query: 'search_ioc', search_term: observable.value }),
    };
  },

  parse(observable, response) {
    if (!isSuccess(response)) throw unexpectedStatus(LABEL, response, errorDetail(response.body));
    const body = jsonObject(LABEL, response);
    const status = optionalString(body, 'query_status');
    if (!status) throw malformed(LABEL, 'a "query_status"');
    if (status === 'no_result') {
      return { observable, verdict: 'unknown', score: 0, reason: 'not listed on ThreatFox', raw: body };
    }
    if (status !== 'ok') {
      // illegal_search_term, unknown_auth_key, …: the query itself was refused; `data` says why.
      const why = typeof body.data === 'string' ? ` (${body.data})` : '';
      throw new Error(`ThreatFox refused the query: ${status}${why}`);
    }
    if (!Array.isArray(body.data)) throw malformed(LABEL, 'a "data" list');
    // search_ioc is not an exact match: keep the records about this observable (an IP also as "ip:port").
    const wanted = observable.value.toLowerCase();
    const iocs = body.data.filter(isRecord).filter((ioc) => {
      const value = typeof ioc.ioc === 'string' ? ioc.ioc.toLowerCase() : undefined;
      return value === undefined || value === wanted || value.startsWith(`${wanted}:`);
    });
    if (iocs.length === 0) {
      return {
        observable,
        verdict: 'unknown',
        score: 0,
        reason: 'not listed on ThreatFox (only partial matches)',
        raw: body,
      };
    }
    // The most confident record speaks for the observable; the others are mentioned by count.
    const ranked = iocs
      .map((ioc, i) => ({
        ioc,
        confidence: numberField(LABEL, ioc, 'confidence_level', `data[${i}].confidence_level`),
      }))
      .sort((a, b) => b.confidence - a.confidence);
    const { ioc: top, confidence } = ranked[0];
    const malware = optionalString(top, 'malware_printable') ?? optionalString(top, 'malware') ?? 'unknown malware';
    const threatType = optionalString(top, 'threat_type');
    const threat = threatType ? (THREAT_TYPES[threatType] ?? threatType.replace(/_/g, ' ')) : 'IOC';
    const firstSeen = optionalString(top, 'first_seen');
    const more = iocs.length > 1 ? `; ${plural(iocs.length, 'record')} in all` : '';
    const id = top.id !== undefined && top.id !== null ? String(top.id) : undefined;
    return {
      observable,
      verdict: 'malicious',
      score: clampScore(confidence),
      reason: `${malware} ${threat}, confidence ${confidence} %${firstSeen ? `, first seen ${firstSeen}` : ''}${more}`,
      link: id && /^\d+$/.test(id) ? `https://threatfox.abuse.ch/ioc/${id}/` : undefined,
      raw: body,
    };
  },
};
