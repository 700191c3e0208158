import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { IS_PUBLIC } from './public.decorator';
import { ROLES, type Caller } from './roles.decorator';

export interface RoutePolicy {
  controller: string;
  handler: string;
  method: string;
  /** The controller's path and the handler's, joined (Nest syntax: `:param`). */
  path: string;
  public: boolean;
  callers?: Caller[];
}

type Constructor = abstract new (...args: never[]) => unknown;

const join = (...parts: (string | undefined)[]): string =>
  `/${parts
    .filter((p): p is string => p !== undefined && p !== '' && p !== '/')
    .map((p) => p.replace(/^\/+|\/+$/g, ''))
    .join('/')}`;

const firstPath = (value: unknown): string | undefined =>
  Array.isArray(value) ? (value[0] as string | undefined) : (value as string | undefined);

/**
 * The HTTP routes a controller class declares, each with its access decision (@Public or
 * @Roles on the handler, else on the class). Kafka handlers (@EventPattern) have no HTTP
 * method and are left out.
 */
export function routePoliciesOf(controller: Constructor): RoutePolicy[] {
  const base = firstPath(Reflect.getMetadata(PATH_METADATA, controller));
  const proto = controller.prototype as Record<string, unknown>;
  const routes: RoutePolicy[] = [];
  for (const name of Object.getOwnPropertyNames(proto)) {
    if (name === 'constructor') continue;
    const handler = Object.getOwnPropertyDescriptor(proto, name)?.value as unknown;
    if (typeof handler !== 'function') continue;
    const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
    const path = Reflect.getMetadata(PATH_METADATA, handler) as unknown;
    if (method === undefined || path === undefined) continue;
    const isPublic =
      (Reflect.getMetadata(IS_PUBLIC, handler) as boolean | undefined) ??
      (Reflect.getMetadata(IS_PUBLIC, controller) as boolean | undefined) ??
      false;
    const callers =
      (Reflect.getMetadata(ROLES, handler) as Caller[] | undefined) ??
      (Reflect.getMetadata(ROLES, controller) as Caller[] | undefined);
    routes.push({
      controller: controller.name,
      handler: name,
      method: RequestMethod[method],
      path: join(base, firstPath(path)),
      public: isPublic,
      callers,
    });
  }
  return routes;
}

/** Routes that decide nothing: neither @Public nor @Roles. */
export const undecidedRoutes = (controllers: Constructor[]): RoutePolicy[] =>
  controllers.flatMap(routePoliciesOf).filter((r) => !r.public && !r.callers?.length);
