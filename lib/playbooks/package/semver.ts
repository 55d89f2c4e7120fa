/** Semantic versions (semver.org 2.0), just enough to order playbook versions: no ranges, no dependency. */

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

export function isSemver(version: string): boolean {
  return SEMVER.test(version);
}

function identifiers(pre: string | undefined): (string | number)[] {
  return pre === undefined ? [] : pre.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}

/** -1, 0 or 1 as `a` is older than, the same as or newer than `b`; throws on a version that is not semver. */
export function compareVersions(a: string, b: string): number {
  const ma = SEMVER.exec(a);
  const mb = SEMVER.exec(b);
  if (!ma || !mb) throw new Error(`not a semantic version: ${JSON.stringify(ma ? b : a)} (expected e.g. 1.2.0)`);
  for (let i = 1; i <= 3; i++) {
    const d = Number(ma[i]) - Number(mb[i]);
    if (d !== 0) return Math.sign(d);
  }
  // A pre-release is older than its release: 1.0.0-rc.1 < 1.0.0.
  if (ma[4] === undefined || mb[4] === undefined) {
    return ma[4] === mb[4] ? 0 : ma[4] === undefined ? 1 : -1;
  }
  const pa = identifiers(ma[4]);
  const pb = identifiers(mb[4]);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    if (pa[i] === undefined) return -1;
    if (pb[i] === undefined) return 1;
    if (pa[i] === pb[i]) continue;
    if (typeof pa[i] === 'number' && typeof pb[i] === 'number') return Math.sign((pa[i] as number) - (pb[i] as number));
    if (typeof pa[i] === 'number') return -1;
    if (typeof pb[i] === 'number') return 1;
    return (pa[i] as string) < (pb[i] as string) ? -1 : 1;
  }
  return 0;
}
