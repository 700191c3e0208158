import { badRequest } from './operation-outcome';
import type { SearchParamComponent, SearchParamInfo } from './search-parameters';
import type { SearchFilter } from './search-request';

/**
 * Composite search parameters (R4 search "Composite Search Parameters"): `code$value` tuples,
 * `$`-separated in the order of the definition's components, matched on one element the
 * composite's expression selects (`Group?characteristic-value=gender$female` finds a Group with a
 * characteristic whose code is `gender` and whose value is `female`, not one with a `gender`
 * characteristic and another whose value is `female`). Comma-separated tuples are ORed.
 */

/** The filter of one component: one value of the component's type. */
export type ComponentFilter = Extract<
  SearchFilter,
  { kind: 'token' | 'string' | 'reference' | 'date' | 'number' | 'quantity' | 'uri' }
>;

export interface CompositeFilter {
  param: string;
  kind: 'composite';
  /** Each value: one filter per component, in the definition's order (ANDed on one element). */
  values: ComponentFilter[][];
}

/**
 * The filter of a composite's comma-separated tuples. `parseComponent` parses one component's
 * text (still escaped) by its own type's rules; `\$` keeps a `$` inside a component.
 */
export function parseCompositeFilter(
  info: SearchParamInfo,
  rawValues: readonly string[],
  split: (value: string, separator: string) => string[],
  parseComponent: (component: SearchParamComponent, raw: string) => ComponentFilter | undefined,
): CompositeFilter {
  const components = info.components ?? [];
  const values = rawValues.map((raw) => {
    const parts = split(raw, '$');
    if (parts.length !== components.length || parts.some((part) => part === '')) {
      throw badRequest(
        `Invalid value "${raw}" for composite parameter "${info.code}": expected ${components
          .map((c) => c.code)
          .join('$')}`,
        undefined,
        'value',
      );
    }
    return components.map((component, i) => {
      const filter = parseComponent(component, parts[i]);
      if (!filter) {
        throw badRequest(
          `Invalid value "${raw}" for composite parameter "${info.code}"`,
          undefined,
          'value',
        );
      }
      return filter;
    });
  });
  return { param: info.code, kind: 'composite', values };
}
