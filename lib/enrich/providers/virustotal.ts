/**
 * VirusTotal API v3 (https://docs.virustotal.com/reference/overview): IP address, domain, URL and file reports, each
 * an object whose `data.attributes.last_analysis_stats` counts the engines' verdicts.
 */
import type { EnrichProvider, EnrichVerdict } from '../model';
import {
  errorDetail,
  isRecord,
  isSuccess,
  joinUrl,
  jsonObject,
  malformed,
  numberField,
  plural,
  requireKey,
  unexpectedStatus,
  unsupported,
  type Observable,
  type ProviderConfig,
} from './common';

const LABEL = 'VirusTotal';
export const VIRUSTOTAL_DEFAULT_BASE_URL = 'https://www.virustotal.com';
const GUI = 'https://www.virustotal.com/gui';

/** The v3 URL identifier: the URL in URL-safe base64 without "=" padding (RFC 4648 §5, as the docs ask). */
export function virusTotalUrlId(url: string): string {
  return Buffer.from(url, 'utf8').toString('base64url');
}

function objectPath(observable: Observable): string {
  const v = observable.value;
  switch (observable.type) {
    case 'ipv4':
    case 'ipv6':
      return `/api/v3/ip_addresses/${encodeURIComponent(v)}`;
    case 'domain':
      return `/api/v3/domains/${encodeURIComponent(v)}`;
    case 'url':
      return `/api/v3/urls/${virusTotalUrlId(v)}`;
    case 'md5':
    case 'sha1':
    case 'sha256':
      return `/api/v3/files/${encodeURIComponent(v)}`;
    default:
      throw unsupported(LABEL, observable.type);
  }
}

function guiLink(observable: Observable, id: string | undefined): string {
  switch (observable.type) {
    case 'ipv4':
    case 'ipv6':
      return `${GUI}/ip-address/${observable.value}`;
    case 'domain':
      return `${GUI}/domain/${observable.value}`;
    case 'url':
      // The GUI addresses a URL by the SHA-256 the API returns as `data.id`.
      return `${GUI}/url/${id ?? virusTotalUrlId(observable.value)}`;
    default:
      return `${GUI}/file/${observable.value}`;
  }
}

const WHAT: Record<string, string> = {
  ipv4: 'IP address',
  ipv6: 'IP address',
  domain: 'domain',
  url: 'URL',
  md5: 'file',
  sha1: 'file',
  sha256: 'file',
};

export const virustotal: EnrichProvider<ProviderConfig> = {
  id: 'virustotal',
  label: LABEL,
  types: ['ipv4', 'ipv6', 'domain', 'url', 'md5', 'sha1', 'sha256'],
  ttlSeconds: 24 * 3600,
  quota: '4 requests a minute, 500 a day (public API; not for commercial use)',

  request(observable, config, apiKey) {
    return {
      method: 'GET',
      url: joinUrl(config.baseUrl, VIRUSTOTAL_DEFAULT_BASE_URL, objectPath(observable)),
      headers: { 'x-apikey': requireKey(LABEL, apiKey), Accept: 'application/json' },
    };
  },

  parse(observable, response) {
    if (response.status === 404) {
      // Documented NotFoundError: VirusTotal has never seen this object (common for fresh hashes and URLs).
      const body = typeof response.body === 'string' ? safeJson(response.body) : response.body;
      const code = isRecord(body) && isRecord(body.error) ? body.error.code : undefined;
      if (code === 'NotFoundError') {
        return {
          observable,
          verdict: 'unknown',
          score: 0,
          reason: `${WHAT[observable.type] ?? 'object'} not found on VirusTotal`,
          link: guiLink(observable, undefined),
          raw: body,
        };
      }
    }
    if (!isSuccess(response)) throw unexpectedStatus(LABEL, response, errorDetail(response.body));
    const body = jsonObject(LABEL, response);
    const data = body.data;
    if (!isRecord(data) || !isRecord(data.attributes)) throw malformed(LABEL, 'a "data.attributes" object');
    const stats = data.attributes.last_analysis_stats;
    if (!isRecord(stats)) throw malformed(LABEL, '"data.attributes.last_analysis_stats"');
    const path = 'data.attributes.last_analysis_stats';
    const malicious = numberField(LABEL, stats, 'malicious', `${path}.malicious`, { min: 0 });
    const suspicious = numberField(LABEL, stats, 'suspicious', `${path}.suspicious`, { min: 0 });
    const harmless = numberField(LABEL, stats, 'harmless', `${path}.harmless`, { min: 0 });
    const undetected = numberField(LABEL, stats, 'undetected', `${path}.undetected`, { min: 0 });
    const engines = malicious + suspicious + harmless + undetected;
    const id = typeof data.id === 'string' ? data.id : undefined;

    let verdict: EnrichVerdict;
    let reason: string;
    // Score: the share of engines that flagged it (a suspicious flag counts half).
    const score = engines > 0 ? Math.round((100 * (malicious + suspicious / 2)) / engines) : 0;
    if (engines === 0) {
      verdict = 'unknown';
      reason = 'no engine has analysed it yet';
    } else if (malicious >= 3 || (malicious > 0 && malicious / engines >= 0.1)) {
      verdict = 'malicious';
      reason = `${malicious}/${engines} engines flag it malicious`;
    } else if (malicious > 0 || suspicious > 0) {
      verdict = 'suspicious';
      reason = `${malicious}/${engines} engines flag it malicious, ${suspicious} suspicious`;
    } else if (harmless > 0) {
      verdict = 'harmless';
      reason = `no engine flags it (${plural(harmless, 'harmless verdict')}, ${undetected} undetected)`;
    } else {
      // Antivirus engines say "undetected" for files: not detected is not a clean bill (a new sample is 0/70 too).
      verdict = 'unknown';
      reason = `no engine flags it (${undetected} undetected, none calls it harmless)`;
    }
    if (verdict === 'malicious' && suspicious > 0) reason += `, ${suspicious} suspicious`;
    return { observable, verdict, score, reason, link: guiLink(observable, id), raw: body };
  },
};

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
