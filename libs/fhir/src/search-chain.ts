import { isR4ResourceType } from './fhir-definitions';
import { badRequest } from './operation-outcome';
import { isSupportedResourceType } from './resource-validation';
import { searchParametersFor } from './search-parameters';
import type { SearchFilter } from './search-request';

/**
 * Chained parameters (`focus:ServiceRequest.patient.identifier=…`) and reverse chaining
 * (`_has:Task:patient:status=requested`), parsed into filters the store turns into SQL. Each hop
 * (a chain's `.`, a `_has:`) is one level; at most MAX_CHAIN_DEPTH levels in one parameter.
 */

/** Levels of chaining (`.` or `_has:`) one parameter may have. */
export const MAX_CHAIN_DEPTH = 3;

/**
 * A chained parameter: `param` is the reference parameter of the searched type; a resource
 * matches when it references a resource of one of `targetTypes` that matches `chained` (a filter
 * of the target's own parameters, itself a chain or a `_has` for deeper levels).
 */
export interface ChainFilter {
  param: string;
  kind: 'chain';
  targetTypes: string[];
  chained: SearchFilter;
}

/**
 * `_has:<sourceType>:<referenceParam>:<filter>`: a resource matches when a `sourceType` resource
 * whose `referenceParam` references it matches `filter` (a parameter of `sourceType`, or a chain
 * or `_has` from it).
 */
export interface HasFilter {
  param: '_has';
  kind: 'has';
  sourceType: string;
  referenceParam: string;
  filter: SearchFilter;
}

/** What the parser of one query lends the chain parser. */
export interface LinkedParseContext {
  /** Strict handling throws `error`; lenient lists `name` as ignored. */
  skip(name: string, error: Error): void;
  /** The filter of a plain parameter `code[:modifier]` of `resourceType`, or undefined once skipped. */
  parameter(
    resourceType: string,
    name: string,
    code: string,
    modifier: string | undefined,
    rawValue: string,
  ): SearchFilter | undefined;
}

/**
 * The filter of `key` (what is left of the parameter name `name` at this level) on
 * `resourceType`: a `_has:`, a chain, or a plain parameter. `depth` levels have been used.
 */
export function parseLinkedParameter(
  ctx: LinkedParseContext,
  resourceType: string,
  name: string,
  key: string,
  rawValue: string,
  depth = 0,
): SearchFilter | undefined {
  if (key.startsWith('_has:')) return parseHas(ctx, resourceType, name, key, rawValue, depth);
  if (key.includes('.')) return parseChain(ctx, resourceType, name, key, rawValue, depth);
  const colon = key.indexOf(':');
  return ctx.parameter(
    resourceType,
    name,
    colon === -1 ? key : key.slice(0, colon),
    colon === -1 ? undefined : key.slice(colon + 1),
    rawValue,
  );
}

function unsupported(ctx: LinkedParseContext, name: string, message: string): undefined {
  ctx.skip(name, badRequest(message, undefined, 'not-supported'));
  return undefined;
}

function tooDeep(ctx: LinkedParseContext, name: string, depth: number): boolean {
  if (depth < MAX_CHAIN_DEPTH) return false;
  unsupported(
    ctx,
    name,
    `Chained search "${name}": at most ${MAX_CHAIN_DEPTH} levels of chaining are supported`,
  );
  return true;
}

/** The code a key starts with: `requester` of `requester:Organization.name`, `_has` of `_has:…`. */
function firstCode(key: string): string {
  return key.split(/[.:]/)[0];
}

/** Does `type` have `key`'s first parameter, as the key needs it (a reference when it goes on)? */
function typeHas(type: string, key: string): boolean {
  if (key.startsWith('_has:')) return true;
  const info = searchParametersFor(type).get(firstCode(key));
  return !!info?.supported && (!key.includes('.') || info.type === 'reference');
}

/**
 * `ref[:Type].rest`: the target types are the one named, else those of the reference
 * parameter's targets that this server stores and that have rest's first parameter (all of one
 * parameter type); none is a 400 naming the chain (lenient: skipped).
 */
function parseChain(
  ctx: LinkedParseContext,
  resourceType: string,
  name: string,
  key: string,
  rawValue: string,
  depth: number,
): ChainFilter | undefined {
  if (tooDeep(ctx, name, depth)) return undefined;
  const dot = key.indexOf('.');
  const head = key.slice(0, dot);
  const tail = key.slice(dot + 1);
  const [refCode, typeModifier, ...extra] = head.split(':');
  const info = searchParametersFor(resourceType).get(refCode);
  if (!info || !info.supported || info.type !== 'reference' || extra.length > 0) {
    return unsupported(
      ctx,
      name,
      `Chained search "${name}": "${head}" is not a reference search parameter of ${resourceType}`,
    );
  }
  if (typeModifier !== undefined) {
    if (!isR4ResourceType(typeModifier)) {
      return unsupported(
        ctx,
        name,
        `Chained search "${name}": unknown resource type "${typeModifier}"`,
      );
    }
    if (info.targets.length > 0 && !info.targets.includes(typeModifier)) {
      throw badRequest(
        `Parameter "${refCode}" cannot reference a ${typeModifier}`,
        undefined,
        'value',
      );
    }
  } else if (info.targets.length === 0) {
    return unsupported(
      ctx,
      name,
      `Chained search "${name}": name the target type (${refCode}:Type.…)`,
    );
  }
  const chainedCode = firstCode(tail);
  // Untyped: only the types this server stores can be referenced resources that match.
  const candidates = (
    typeModifier !== undefined
      ? [typeModifier]
      : info.targets.filter((type) => isSupportedResourceType(type))
  ).filter((type) => typeHas(type, tail));
  if (candidates.length === 0) {
    return unsupported(
      ctx,
      name,
      `Chained search "${name}": unknown search parameter "${chainedCode}" for ${typeModifier ?? info.targets.join(', ')}`,
    );
  }
  const types = new Set(candidates.map((t) => searchParametersFor(t).get(chainedCode)?.type));
  if (types.size > 1) {
    return unsupported(
      ctx,
      name,
      `Chained search "${name}": "${chainedCode}" differs between ${candidates.join(', ')}; name the type (${refCode}:Type.${chainedCode})`,
    );
  }
  if (rawValue === '') return undefined;
  const chained = parseLinkedParameter(ctx, candidates[0], name, tail, rawValue, depth + 1);
  return chained && { param: refCode, kind: 'chain', targetTypes: candidates, chained };
}

/** `_has:Type:ref:rest`: `Type.ref` must be a reference parameter that may point at `resourceType`. */
function parseHas(
  ctx: LinkedParseContext,
  resourceType: string,
  name: string,
  key: string,
  rawValue: string,
  depth: number,
): HasFilter | undefined {
  if (tooDeep(ctx, name, depth)) return undefined;
  const [, sourceType, referenceParam, ...restParts] = key.split(':');
  const rest = restParts.join(':');
  if (!sourceType || !referenceParam || !rest) {
    throw badRequest(`${name}: expected _has:Type:reference:parameter`, undefined, 'value');
  }
  if (!isR4ResourceType(sourceType)) {
    return unsupported(ctx, name, `Reverse chain "${name}": unknown resource type "${sourceType}"`);
  }
  const info = searchParametersFor(sourceType).get(referenceParam);
  if (!info?.supported || info.type !== 'reference') {
    return unsupported(
      ctx,
      name,
      `Reverse chain "${name}": "${referenceParam}" is not a reference search parameter of ${sourceType}`,
    );
  }
  if (info.targets.length > 0 && !info.targets.includes(resourceType)) {
    throw badRequest(
      `Reverse chain "${name}": ${sourceType}.${referenceParam} cannot reference a ${resourceType}`,
      undefined,
      'value',
    );
  }
  if (rawValue === '') return undefined;
  const filter = parseLinkedParameter(ctx, sourceType, name, rest, rawValue, depth + 1);
  return filter && { param: '_has', kind: 'has', sourceType, referenceParam, filter };
}

/** Every filter a chain or `_has` goes through, itself first, then each level below it. */
export function* linkedLevels(filter: SearchFilter): Generator<SearchFilter> {
  yield filter;
  if (filter.kind === 'chain') yield* linkedLevels(filter.chained);
  if (filter.kind === 'has') yield* linkedLevels(filter.filter);
}
