import { evaluate } from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';
import type { Parameters, ParametersParameter, Resource } from '@medplum/fhirtypes';
import { badRequest, unprocessable } from './operation-outcome';

type Json = Record<string, unknown>;
type OperationType = 'add' | 'insert' | 'delete' | 'replace' | 'move';

interface Operation {
  type: OperationType;
  path: string;
  name?: string;
  value?: unknown;
  /** The type of a value given as value[x] (`String` for valueString). */
  valueType?: string;
  index?: number;
  source?: number;
  destination?: number;
}

/** What fhirpath.js answers for an element of the resource (resolveInternalTypes: false). */
interface Node {
  parentResNode: Node | null;
  path: string | null;
  index?: number | null;
  propName?: string;
  data: unknown;
}

const TYPES = new Set<OperationType>(['add', 'insert', 'delete', 'replace', 'move']);
const REPEATING = r4.path2Repeating as unknown as Record<string, boolean>;
const CHOICES = r4.choiceTypePaths as unknown as Record<string, string[]>;
/** Names that would reach an object's prototype instead of a FHIR element. */
const PROTOTYPE_NAME = /^(__proto__|prototype|constructor)$/;

const refuse = (i: number, problem: string) =>
  badRequest(`FHIRPath Patch operation ${i}: ${problem}`, undefined, 'structure');

/** The value of a `value` part: a value[x], or (an anonymous type) parts named by element. */
function valueOf(part: ParametersParameter, i: number): unknown {
  const key = Object.keys(part).find((k) => k.startsWith('value'));
  if (key) return (part as unknown as Json)[key];
  if (!part.part?.length) throw refuse(i, 'the value part has no value');
  const value: Json = {};
  for (const sub of part.part) {
    if (PROTOTYPE_NAME.test(sub.name)) throw refuse(i, `${sub.name} is not an element`);
    const v = valueOf(sub, i);
    if (sub.name in value) value[sub.name] = [value[sub.name], v].flat();
    else value[sub.name] = v;
  }
  return value;
}

/** The operations of a FHIRPath Patch Parameters resource, or a 400 saying what is wrong. */
function operationsOf(document: unknown): Operation[] {
  const parameters = document as Parameters;
  if (parameters?.resourceType !== 'Parameters')
    throw badRequest('A FHIRPath Patch is a Parameters resource', undefined, 'structure');
  const operations = (parameters.parameter ?? []).map((parameter, i) => {
    if (parameter.name !== 'operation') throw refuse(i, 'each parameter is named "operation"');
    const parts = new Map<string, ParametersParameter>();
    for (const part of parameter.part ?? []) {
      if (parts.has(part.name)) throw refuse(i, `${part.name} is given twice`);
      parts.set(part.name, part);
    }
    const type = parts.get('type')?.valueCode as OperationType | undefined;
    if (!type || !TYPES.has(type)) throw refuse(i, `type must be one of ${[...TYPES].join(', ')}`);
    const path = parts.get('path')?.valueString;
    if (!path) throw refuse(i, 'path (a FHIRPath expression) is required');
    const operation: Operation = { type, path };
    if (type === 'add') {
      operation.name = parts.get('name')?.valueString;
      if (!operation.name || PROTOTYPE_NAME.test(operation.name))
        throw refuse(i, 'add needs the name of the element to add');
    }
    if (type === 'add' || type === 'insert' || type === 'replace') {
      const value = parts.get('value');
      if (!value) throw refuse(i, `${type} needs a value`);
      operation.value = valueOf(value, i);
      operation.valueType = Object.keys(value)
        .find((k) => k.startsWith('value'))
        ?.slice('value'.length);
    }
    const integer = (name: string) => {
      const n = parts.get(name)?.valueInteger;
      if (n === undefined || !Number.isInteger(n) || n < 0)
        throw refuse(i, `${type} needs ${name}, an integer of 0 or more`);
      return n;
    };
    if (type === 'insert') operation.index = integer('index');
    if (type === 'move') {
      operation.source = integer('source');
      operation.destination = integer('destination');
    }
    return operation;
  });
  if (operations.length === 0)
    throw badRequest('The FHIRPath Patch has no operation', undefined, 'structure');
  return operations;
}

function nodesOf(resource: Resource, path: string, i: number): Node[] {
  let result: unknown[];
  try {
    // trace() would write resource content to the console: it writes nowhere.
    result = evaluate(resource, path, undefined, r4, {
      resolveInternalTypes: false,
      traceFn: () => undefined,
    }) as unknown[];
  } catch (error) {
    throw refuse(
      i,
      `the path does not evaluate: ${String((error as Error).message).slice(0, 200)}`,
    );
  }
  return result.map((node) => {
    const n = node as Node;
    if (!n || typeof n !== 'object' || !('parentResNode' in n))
      throw unprocessable(
        `FHIRPath Patch operation ${i}: ${path} is not an element of the resource`,
      );
    return n;
  });
}

function single(nodes: Node[], i: number, path: string): Node {
  if (nodes.length !== 1)
    throw unprocessable(
      `FHIRPath Patch operation ${i}: ${path} matches ${nodes.length} elements, not one`,
      undefined,
      'value',
    );
  return nodes[0];
}

/** The element's container and property name (the root resource has none). */
function placeOf(node: Node, i: number): { parent: Json; prop: string } {
  const parent = node.parentResNode?.data;
  if (!node.propName || !parent || typeof parent !== 'object')
    throw unprocessable(`FHIRPath Patch operation ${i}: the resource itself cannot be changed`);
  return { parent: parent as Json, prop: node.propName };
}

/** The list an insert or move works on: every match is an item of one repeating element. */
function listOf(nodes: Node[], i: number, path: string): unknown[] {
  if (nodes.length === 0)
    throw unprocessable(
      `FHIRPath Patch operation ${i}: ${path} matches no list`,
      undefined,
      'value',
    );
  const { parent, prop } = placeOf(nodes[0], i);
  const list = parent[prop];
  if (!Array.isArray(list) || nodes.some((n) => n.parentResNode?.data !== parent))
    throw unprocessable(`FHIRPath Patch operation ${i}: ${path} is not one list`);
  return list;
}

function remove(node: Node, i: number): void {
  const { parent, prop } = placeOf(node, i);
  const current = parent[prop];
  if (Array.isArray(current) && typeof node.index === 'number') {
    current.splice(node.index, 1);
    if (current.length === 0) delete parent[prop];
  } else delete parent[prop];
}

function add(resource: Resource, op: Operation, i: number): void {
  const node = single(nodesOf(resource, op.path, i), i, op.path);
  if (!node.data || typeof node.data !== 'object' || Array.isArray(node.data))
    throw unprocessable(
      `FHIRPath Patch operation ${i}: ${op.path} is not an element with children`,
    );
  const target = node.data as Json;
  const elementPath = `${node.path}.${op.name}`;
  let prop = op.name!;
  const choices = CHOICES[elementPath];
  if (choices) {
    // A choice element is added under its typed name: deceased + Boolean = deceasedBoolean.
    if (!op.valueType || !choices.includes(op.valueType))
      throw refuse(i, `${op.name} is a choice element: its value must be one of its types`);
    if (choices.some((type) => target[`${op.name}${type}`] !== undefined))
      throw unprocessable(`FHIRPath Patch operation ${i}: ${elementPath} already has a value`);
    prop = `${op.name}${op.valueType}`;
  }
  if (Object.hasOwn(REPEATING, elementPath) && REPEATING[elementPath]) {
    const list = target[prop];
    target[prop] = [...(Array.isArray(list) ? list : []), op.value];
  } else if (target[prop] !== undefined) {
    throw unprocessable(`FHIRPath Patch operation ${i}: ${elementPath} already has a value`);
  } else target[prop] = op.value;
}

function apply(resource: Resource, op: Operation, i: number): void {
  switch (op.type) {
    case 'add':
      add(resource, op, i);
      return;
    case 'delete': {
      const nodes = nodesOf(resource, op.path, i);
      // Deleting what is not there changes nothing, as FHIRPath Patch says.
      if (nodes.length === 0) return;
      remove(single(nodes, i, op.path), i);
      return;
    }
    case 'replace': {
      const node = single(nodesOf(resource, op.path, i), i, op.path);
      const { parent, prop } = placeOf(node, i);
      const current = parent[prop];
      if (Array.isArray(current) && typeof node.index === 'number') current[node.index] = op.value;
      else parent[prop] = op.value;
      return;
    }
    case 'insert': {
      const list = listOf(nodesOf(resource, op.path, i), i, op.path);
      if (op.index! > list.length)
        throw unprocessable(`FHIRPath Patch operation ${i}: index ${op.index} is past the list`);
      list.splice(op.index!, 0, op.value);
      return;
    }
    case 'move': {
      const list = listOf(nodesOf(resource, op.path, i), i, op.path);
      if (op.source! >= list.length || op.destination! >= list.length)
        throw unprocessable(
          `FHIRPath Patch operation ${i}: source or destination is past the list`,
        );
      const [item] = list.splice(op.source!, 1);
      list.splice(op.destination!, 0, item);
      return;
    }
  }
}

/**
 * The resource after a FHIRPath Patch (R4 `fhirpatch`), applied to a copy: paths are evaluated
 * by fhirpath.js on the R4 model. A Parameters resource that is not a valid patch is a 400; an
 * operation that cannot apply to this resource (a path matching no or several elements where one
 * is needed, a value already present) is a 422, as for JSON Patch. The id and resource type are
 * the server's: a patch that changes them is refused.
 */
export function applyFhirPathPatch<T extends Resource>(resource: T, document: unknown): T {
  const operations = operationsOf(document);
  const copy = JSON.parse(JSON.stringify(resource)) as T;
  operations.forEach((op, i) => apply(copy, op, i));
  const patched = JSON.parse(JSON.stringify(copy)) as T;
  if (patched.resourceType !== resource.resourceType || patched.id !== resource.id)
    throw badRequest('A FHIRPath Patch cannot change the id or resource type', undefined, 'value');
  return patched;
}
