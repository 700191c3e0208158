/** The web app's own API (the BFF): cookies travel by themselves, the CSRF token we add. */
let csrfToken = '';
export const setCsrfToken = (token: string) => (csrfToken = token);

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T>(
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<T> {
  const method = init.method ?? 'GET';
  const response = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: {
      accept: 'application/json',
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(method !== 'GET' && csrfToken ? { 'x-csrf-token': csrfToken } : {}),
    },
    body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
  });
  if (response.status === 204) return undefined as T;
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = (body as { detail?: string; message?: string | string[] }).detail;
    throw new ApiError(
      response.status,
      detail ?? String((body as { message?: unknown }).message ?? response.statusText),
    );
  }
  return body as T;
}

export type Role = 'case-manager' | 'cbo-admin' | 'coordinator';
export interface Me {
  user: {
    id: string;
    username: string;
    displayName: string;
    organizationId: string;
    role: Role;
    language: 'en' | 'es';
  };
  csrfToken: string;
}
