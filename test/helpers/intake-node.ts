/**
 * The soar-alert-in node of a test flow (id `in`, tab `tab`, POST /alerts): no rate limit, 5 MB bodies, a 60-minute
 * duplicate window, sending to `wires`; `props` override any of it.
 */
export function intakeNode(
  wires: string[],
  props: Record<string, unknown> = {},
): { id: string; type: string; wires: string[][] } & Record<string, unknown> {
  return {
    id: 'in',
    z: 'tab',
    type: 'soar-alert-in',
    path: '/alerts',
    maxSizeMb: 5,
    rateLimit: 0,
    burst: 0,
    duplicateWindowMin: 60,
    wires: [wires],
    ...props,
  };
}
