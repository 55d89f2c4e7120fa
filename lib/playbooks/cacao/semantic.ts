/**
 * Checks the schema cannot express: references that name nothing, workflows that never end or loop forever,
 * agents of no known type, and values that would reach a shell or a mail client and do not look like what they
 * claim to be (values.ts: allow-lists per field).
 * Errors make a playbook unusable; warnings are shown to the analyst who completes the imported flow.
 */
import { IDENTIFIER, identifierType } from './ids';
import { isObject, type CacaoStep } from './types';
import {
  ADDRESS_CHECKS,
  VARIABLE_CHECKS,
  email,
  freeText,
  phone,
  port,
  refusal,
  token,
  user,
  type ValueCheck,
} from './values';

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

/** Strongly connected components (Tarjan, iterative: a long chain of steps must not overflow the stack). */
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
  const enter = (id: string) => {
    index.set(id, counter);
    low.set(id, counter++);
    stack.push(id);
    onStack.add(id);
    return { id, next: successors(id), at: 0 };
  };
  for (const root of Object.keys(workflow)) {
    if (index.has(root)) continue;
    const path = [enter(root)];
    while (path.length) {
      const frame = path[path.length - 1]!;
      if (frame.at < frame.next.length) {
        const next = frame.next[frame.at++]!;
        if (!index.has(next)) path.push(enter(next));
        else if (onStack.has(next)) low.set(frame.id, Math.min(low.get(frame.id)!, index.get(next)!));
        continue;
      }
      path.pop();
      const parent = path[path.length - 1];
      if (parent) low.set(parent.id, Math.min(low.get(parent.id)!, low.get(frame.id)!));
      if (low.get(frame.id) !== index.get(frame.id)) continue;
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== frame.id);
      if (component.length > 1 || frame.next.includes(frame.id)) found.push(component.reverse());
    }
  }
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
  for (let head = 0; head < queue.length; head++) {
    const id = queue[head]!;
    if (reached.has(id)) continue;
    reached.add(id);
    for (const { target } of nextSteps(workflow[id]!)) if (target in workflow) queue.push(target);
  }
  for (const id of ids) {
    if (!reached.has(id) && id !== start)
      out.warnings.push(`step ${label(id, workflow[id])} is never reached from workflow_start`);
  }
  if (ends.length === 0) return;
  // Backwards from the ends: the steps that lead to a finishing step finish too.
  const before = new Map<string, string[]>();
  for (const id of ids) {
    for (const { target } of nextSteps(workflow[id]!)) {
      const list = before.get(target);
      if (list) list.push(id);
      else before.set(target, [id]);
    }
  }
  const finishing = new Set<string>(ends);
  const pending = [...ends];
  while (pending.length) {
    for (const id of before.get(pending.pop()!) ?? []) {
      if (!finishing.has(id)) {
        finishing.add(id);
        pending.push(id);
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

/** A value outside its allow-list is refused, naming the field: an executor may hand it to a shell. */
function checkValue(path: string, value: unknown, check: ValueCheck, out: Findings): void {
  const reason = refusal(value, check);
  if (reason) {
    out.errors.push(`${path}: ${JSON.stringify(value)} ${reason}: refused as a possible command injection`);
  }
}

const CONTACT_CHECKS: Record<string, ValueCheck> = { email, phone };
/** Agent, target and authentication fields that name who or where to connect to. */
const FIELD_CHECKS: Record<string, ValueCheck> = { port, user_id: user, username: user };

function checkInjection(doc: Record<string, unknown>, out: Findings): void {
  for (const kind of ['agent_definitions', 'target_definitions'] as const) {
    const definitions = doc[kind];
    if (!isObject(definitions)) continue;
    for (const [id, definition] of Object.entries(definitions)) {
      if (!isObject(definition)) continue;
      const base = `${kind}.${id}`;
      const contact = definition.contact;
      if (isObject(contact)) {
        for (const [channel, check] of Object.entries(CONTACT_CHECKS)) {
          const entries = contact[channel];
          if (!isObject(entries)) continue;
          for (const [key, value] of Object.entries(entries)) {
            checkValue(`${base}.contact.${channel}.${key}`, value, check, out);
          }
        }
      }
      const address = definition.address;
      if (isObject(address)) {
        for (const [family, values] of Object.entries(address)) {
          if (!Array.isArray(values)) continue;
          const check = ADDRESS_CHECKS[family] ?? token;
          values.forEach((value, i) => checkValue(`${base}.address.${family}[${i}]`, value, check, out));
        }
      }
      for (const [field, check] of Object.entries(FIELD_CHECKS)) {
        checkValue(`${base}.${field}`, definition[field], check, out);
      }
    }
  }
  const auth = doc.authentication_info_definitions;
  if (isObject(auth)) {
    for (const [id, info] of Object.entries(auth)) {
      if (!isObject(info)) continue;
      for (const field of ['user_id', 'username']) {
        checkValue(`authentication_info_definitions.${id}.${field}`, info[field], user, out);
      }
    }
  }
}

/**
 * Variables: a typed value must look like its type; a `string` is free text (a script may be one), so only control
 * characters refuse it and shell syntax is reported for the analyst to review.
 */
function checkVariables(path: string, variables: unknown, out: Findings): void {
  if (!isObject(variables)) return;
  for (const [name, variable] of Object.entries(variables)) {
    if (!isObject(variable) || typeof variable.type !== 'string') continue;
    const where = `${path}.${name}.value`;
    const check = VARIABLE_CHECKS[variable.type];
    if (check) {
      checkValue(where, variable.value, check, out);
    } else if (typeof variable.value === 'string') {
      const { error, warning } = freeText(variable.value);
      if (error) out.errors.push(`${where} ${error}: refused`);
      if (warning) {
        out.warnings.push(`${where} ${warning}: it runs as shell code wherever a command uses it unquoted; review it`);
      }
    }
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
