/**
 * abuse.ch URLhaus API (https://urlhaus-api.abuse.ch/): malware distribution URLs. A URL is looked up with
 * POST /v1/url/ (form `url=`), a domain or IP with POST /v1/host/ (form `host=`). abuse.ch requires an `Auth-Key`.
 */
import type { EnrichProvider, EnrichVerdict, Enrichment } from '../model';
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
  stringArray,
  unexpectedStatus,
  unsupported,
  type Observable,
  type ProviderConfig,
} from './common';

type Parsed = Omit<Enrichment, 'provider' | 'at'>;

const LABEL = 'URLhaus';
export const URLHAUS_DEFAULT_BASE_URL = 'https://urlhaus-api.abuse.ch';

const THREATS: Record<string, string> = { malware_download: 'malware download' };

export const urlhaus: EnrichProvider<ProviderConfig> = {
  id: 'urlhaus',
  label: LABEL,
  types: ['url', 'domain', 'ipv4'],
  ttlSeconds: 3600,
  quota: 'no published request limit (free Auth-Key required; fair use under abuse.ch terms)',

  request(observable, config, apiKey) {
    const headers = {
      'Auth-Key': requireKey(LABEL, apiKey),
      'Content-Type': 'application/x-www-form-urlencoded',
      Accept: 'application/json',
    };
    if (observable.type === 'url') {
      return {
        method: 'POST',
        url: joinUrl(config.baseUrl, URLHAUS_DEFAULT_BASE_URL, '/v1/url/'),
        headers,
        body: new URLSearchParams({ url: observable.value }).toString(),
      };
    }
    if (observable.type === 'domain' || observable.type === 'ipv4') {
      return {
        method: 'POST',
        url: joinUrl(config.baseUrl, URLHAUS_DEFAULT_BASE_URL, '/v1/host/'),
        headers,
        body: new URLSearchParams({ host: observable.value }).toString(),
      };
    }
    throw unsupported(LABEL, observable.type);
  },

  parse(observable, response) {
    if (!isSuccess(response)) throw unexpectedStatus(LABEL, response, errorDetail(response.body));
    const body = jsonObject(LABEL, response);
    const status = optionalString(body, 'query_status');
    if (!status) throw malformed(LABEL, 'a "query_status"');
    const what = observable.type === 'url' ? 'URL' : 'host';
    if (status === 'no_results') {
      return { observable, verdict: 'unknown', score: 0, reason: `${what} not listed on URLhaus`, raw: body };
    }
    if (status !== 'ok') {
      // invalid_url, invalid_host, http_post_expected, unknown_auth_key…: the query itself was refused.
      throw new Error(`URLhaus refused the query: ${status}`);
    }
    return observable.type === 'url' ? parseUrl(observable, body) : parseHost(observable, body);
  },
};

function parseUrl(observable: Observable, body: Record<string, unknown>): Parsed {
  const urlStatus = optionalString(body, 'url_status');
  if (!urlStatus) throw malformed(LABEL, 'a "url_status"');
  const threat = optionalString(body, 'threat');
  const threatText = threat ? (THREATS[threat] ?? threat.replace(/_/g, ' ')) : 'malicious';
  const tags = stringArray(body, 'tags');
  const tagText = tags.length ? ` (${tags.join(', ')})` : '';
  const added = optionalString(body, 'date_added');
  const since = added ? `, listed since ${added}` : '';
  let verdict: EnrichVerdict;
  let score: number;
  if (urlStatus === 'online') {
    verdict = 'malicious';
    score = 100;
  } else {
    // offline or unknown: the URL served malware but no longer answers; the host may still be compromised.
    verdict = 'suspicious';
    score = 60;
  }
  return {
    observable,
    verdict,
    score,
    reason: `${threatText} URL, ${urlStatus}${tagText}${since}`,
    link: optionalString(body, 'urlhaus_reference'),
    raw: body,
  };
}

function parseHost(observable: Observable, body: Record<string, unknown>): Parsed {
  const urls = Array.isArray(body.urls) ? body.urls.filter(isRecord) : undefined;
  if (!urls) throw malformed(LABEL, 'a "urls" list');
  const count =
    body.url_count !== undefined ? numberField(LABEL, body, 'url_count', 'url_count', { min: 0 }) : urls.length;
  const online = urls.filter((u) => u.url_status === 'online').length;
  const threats = [...new Set(urls.map((u) => optionalString(u, 'threat')).filter((t): t is string => !!t))];
  const tags = [...new Set(urls.flatMap((u) => stringArray(u, 'tags')))].slice(0, 5);
  const threatText = threats.length ? threats.map((t) => THREATS[t] ?? t.replace(/_/g, ' ')).join(', ') : 'malware';
  const tagText = tags.length ? ` (${tags.join(', ')})` : '';
  let verdict: EnrichVerdict;
  let score: number;
  if (online > 0) {
    verdict = 'malicious';
    score = 90;
  } else {
    verdict = 'suspicious';
    score = count > 0 ? 50 : 25;
  }
  return {
    observable,
    verdict,
    score,
    reason: `hosts ${plural(count, `${threatText} URL`)}, ${online} online${tagText}`,
    link: optionalString(body, 'urlhaus_reference'),
    raw: body,
  };
}
