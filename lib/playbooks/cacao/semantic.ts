/**
 * Checks the schema cannot express: references that name nothing, workflows that never end or loop forever,
 * agents of no known type, and values that would reach a shell or a mail client carrying shell metacharacters.
 * Errors make a playbook unusable; warnings are shown to the analyst who completes the imported flow.
 */
import { IDENTIFIER, identifierType } from './ids';
import { isObject, type CacaoStep } from './types';

export interface Findings {
  errors: string[];
  warnings: string[];
}

/** CACAO 2.0 agent/target type vocabulary. */
export const AGENT_TYPES = [
  'group',
  'individual',
  'location',
  'organization',
  'sector',
  'http-api',
  'linux',
  'net-address',
  'security-category',
  'ssh',
] as const;

/** The step fields that name another step, with where they point. */
export function nextSteps(step: CacaoStep): { field: string; target: string }[] {
  const links: { field: string; target: string }[] = [];
  for (const field of ['on_completion', 'on_success', 'on_failure', 'on_true', 'on_false'] as const) {
    const target = step[field];
    if (typeof target === 'string') links.push({ field, target });
  }
  if (Array.isArray(step.next_steps)) {
    step.next_steps.forEach((target, i) => {
      if (typeof target === 'string') links.push({ field: `next_steps[${i}]`, target });
    });
  }
  if (isObject(step.cases)) {
    for (const [key, target] of Object.entries(step.cases)) {
      if (typeof target === 'string') links.push({ field: `cases.${key}`, target });
    }
  }
  return links;
}

function label(id: string, step: CacaoStep | undefined): string {
  return step?.name ? `"${step.name}" (${id})` : id;
}

function checkReferences(workflow: Record<string, CacaoStep>, start: unknown, out: Findings): void {
  if (typeof start === 'string' && !(start in workflow)) {
    out.errors.push(`workflow_start names step ${start}, which is not in the workflow (dangling reference)`);
  }
  for (const [id, step] of Object.entries(workflow)) {
    for (const { field, target } of nextSteps(step)) {
      if (!(target in workflow)) {
        out.errors.push(
          `workflow.${id}.${field} names step ${target}, which is not in the workflow (dangling reference)`,
        );
      }
    }
  }
}

/** Strongly connected components (Tarjan), to find loops. */
function cycles(workflow: Record<string, CacaoStep>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let counter = 0;
  const successors = (id: string) =>
    nextSteps(workflow[id]!)
      .map((l) => l.target)
      .filter((t) => t in workflow);
  const visit = (id: string): void => {
    index.set(id, counter);
    low.set(id, counter++);
    stack.push(id);
    onStack.add(id);
    for (const next of successors(id)) {
      if (!index.has(next)) {
        visit(next);
        low.set(id, Math.min(low.get(id)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(id, Math.min(low.get(id)!, index.get(next)!));
      }
    }
    if (low.get(id) === index.get(id)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== id);
      if (component.length > 1 || successors(id).includes(id)) found.push(component.reverse());
    }
  };
  for (const id of Object.keys(workflow)) if (!index.has(id)) visit(id);
  return found;
}

function checkFlow(workflow: Record<string, CacaoStep>, start: unknown, out: Findings): void {
  const ids = Object.keys(workflow);
  const ends = ids.filter((id) => workflow[id]!.type === 'end');
  if (ends.length === 0) out.errors.push('the workflow has no end step: the playbook never finishes');
  for (const component of cycles(workflow)) {
    if (component.some((id) => workflow[id]!.type === 'while-condition')) continue;
    const names = component.map((id) => label(id, workflow[id])).join(' → ');
    out.errors.push(`infinite loop: ${names} → back to the first, without a while-condition to end it`);
  }
  // What the start reaches, and which steps can still reach an end.
  const reached = new Set<string>();
  const queue = typeof start === 'string' && start in workflow ? [start] : [];
  while (queue.length) {
    const id = queue.shift()!;
    if (reached.has(id)) continue;
    reached.add(id);
    for (const { target } of nextSteps(workflow[id]!)) if (target in workflow) queue.push(target);
  }
  for (const id of ids) {
    if (!reached.has(id) && id !== start)
      out.warnings.push(`step ${label(id, workflow[id])} is never reached from workflow_start`);
  }
  if (ends.length === 0) return;
  const finishing = new Set<string>(ends);
  for (let changed = true; changed;) {
    changed = false;
    for (const id of ids) {
      if (finishing.has(id)) continue;
      if (nextSteps(workflow[id]!).some((l) => finishing.has(l.target))) {
        finishing.add(id);
        changed = true;
      }
    }
  }
  for (const id of ids) {
    if (finishing.has(id)) continue;
    const step = workflow[id]!;
    if (nextSteps(step).length === 0) {
      out.warnings.push(`step ${label(id, step)} has no next step and is not an end step: the playbook stops there`);
    } else {
      out.warnings.push(`no end step can be reached from step ${label(id, step)}`);
    }
  }
}

function checkAgents(doc: Record<string, unknown>, workflow: Record<string, CacaoStep>, out: Findings): void {
  for (const kind of ['agent_definitions', 'target_definitions'] as const) {
    const definitions = doc[kind];
    if (!isObject(definitions)) continue;
    for (const [id, definition] of Object.entries(definitions)) {
      if (!isObject(definition)) continue;
      const type = definition.type;
      const prefix = identifierType(id);
      if (typeof type !== 'string' || type === '') {
        out.errors.push(`${kind}.${id} has no type`);
      } else if ((AGENT_TYPES as readonly string[]).includes(type)) {
        if (prefix && prefix !== type && (AGENT_TYPES as readonly string[]).includes(prefix)) {
          out.warnings.push(`${kind}.${id} has type "${type}" but its id says "${prefix}"`);
        }
      } else if (prefix && (AGENT_TYPES as readonly string[]).includes(prefix)) {
        // The id claims a CACAO type the object does not have, and its own type is no CACAO type at all.
        out.errors.push(
          `${kind}.${id}: invalid agent type "${type}" (its id says "${prefix}"; CACAO 2.0 agent/target types: ${AGENT_TYPES.join(', ')})`,
        );
      } else {
        out.warnings.push(`${kind}.${id}: vendor type "${type}" (not in the CACAO 2.0 vocabulary), kept as is`);
      }
      if (!IDENTIFIER.test(id)) out.warnings.push(`${kind}.${id}: id is not of the form <type>--<uuid>`);
    }
  }
  const agents = isObject(doc.agent_definitions) ? doc.agent_definitions : {};
  const targets = isObject(doc.target_definitions) ? doc.target_definitions : {};
  for (const [id, step] of Object.entries(workflow)) {
    if (typeof step.agent === 'string' && !(step.agent in agents) && !(step.agent in targets)) {
      out.errors.push(`workflow.${id}.agent names ${step.agent}, which is not in agent_definitions`);
    }
    if (Array.isArray(step.targets)) {
      for (const target of step.targets) {
        if (typeof target === 'string' && !(target in targets) && !(target in agents)) {
          out.errors.push(`workflow.${id}.targets names ${target}, which is not in target_definitions`);
        }
      }
    }
  }
}

/** Characters a shell (or a mail/SMS gateway handing the value to one) would interpret. */
const SHELL_METACHARACTERS = /[;|&`$<>\\\n\r]|\$\(/;
/** URLs legitimately carry `&` and `$`; command separators, substitutions and line breaks never. */
const URL_METACHARACTERS = /[;|`<>\\\n\r]|\$\(/;

function checkValue(path: string, value: unknown, pattern: RegExp, out: Findings): void {
  if (typeof value !== 'string') return;
  const hit = pattern.exec(value);
  if (hit) {
    out.errors.push(
      `${path} contains the shell metacharacter ${JSON.stringify(hit[0])} (${JSON.stringify(value)}): refused as a possible command injection`,
    );
  }
}

function checkInjection(doc: Record<string, unknown>, out: Findings): void {
  for (const kind of ['agent_definitions', 'target_definitions'] as const) {
    const definitions = doc[kind];
    if (!isObject(definitions)) continue;
    for (const [id, definition] of Object.entries(definitions)) {
      if (!isObject(definition)) continue;
      const base = `${kind}.${id}`;
      const contact = definition.contact;
      if (isObject(contact)) {
        for (const channel of ['email', 'phone'] as const) {
          const entries = contact[channel];
          if (!isObject(entries)) continue;
          for (const [key, value] of Object.entries(entries)) {
            checkValue(`${base}.contact.${channel}.${key}`, value, SHELL_METACHARACTERS, out);
          }
        }
      }
      const address = definition.address;
      if (isObject(address)) {
        for (const [family, values] of Object.entries(address)) {
          if (!Array.isArray(values)) continue;
          values.forEach((value, i) =>
            checkValue(
              `${base}.address.${family}[${i}]`,
              value,
              family === 'url' ? URL_METACHARACTERS : SHELL_METACHARACTERS,
              out,
            ),
          );
        }
      }
      for (const field of ['port', 'user_id', 'username'] as const) {
        checkValue(`${base}.${field}`, definition[field], SHELL_METACHARACTERS, out);
      }
    }
  }
  const auth = doc.authentication_info_definitions;
  if (isObject(auth)) {
    for (const [id, info] of Object.entries(auth)) {
      if (!isObject(info)) continue;
      for (const field of ['user_id', 'username']) {
        checkValue(`authentication_info_definitions.${id}.${field}`, info[field], SHELL_METACHARACTERS, out);
      }
    }
  }
}

/** Variable types whose values are substituted into commands and never legitimately hold shell syntax. */
const TYPED_VARIABLES = new Set([
  'bool',
  'float',
  'hexstring',
  'integer',
  'ipv4-addr',
  'ipv6-addr',
  'long',
  'mac-addr',
  'hash',
  'md5-hash',
  'sha256-hash',
  'uri',
  'uuid',
]);

function checkVariables(path: string, variables: unknown, out: Findings): void {
  if (!isObject(variables)) return;
  for (const [name, variable] of Object.entries(variables)) {
    if (!isObject(variable) || typeof variable.type !== 'string' || !TYPED_VARIABLES.has(variable.type)) continue;
    const pattern = variable.type === 'uri' ? URL_METACHARACTERS : SHELL_METACHARACTERS;
    checkValue(`${path}.${name}.value`, variable.value, pattern, out);
  }
}

export function semanticFindings(doc: unknown): Findings {
  const out: Findings = { errors: [], warnings: [] };
  if (!isObject(doc)) return out;
  const workflow = doc.workflow;
  if (!isObject(workflow)) return out;
  const steps: Record<string, CacaoStep> = {};
  for (const [id, step] of Object.entries(workflow)) if (isObject(step)) steps[id] = step as CacaoStep;
  checkReferences(steps, doc.workflow_start, out);
  checkFlow(steps, doc.workflow_start, out);
  checkAgents(doc, steps, out);
  checkInjection(doc, out);
  checkVariables('playbook_variables', doc.playbook_variables, out);
  for (const [id, step] of Object.entries(steps))
    checkVariables(`workflow.${id}.step_variables`, step.step_variables, out);
  return out;
}
