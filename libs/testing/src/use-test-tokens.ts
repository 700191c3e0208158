import { startTestTokenIssuer, type TestTokenIssuer } from './test-tokens';

/**
 * For a test file whose services start in this process or as children of it: an issuer started
 * before the file's other hooks, whose key set the services trust (process.env).
 */
export function useTestTokens(): { readonly issuer: TestTokenIssuer } {
  const holder = {} as { issuer: TestTokenIssuer };
  beforeAll(async () => {
    holder.issuer = await startTestTokenIssuer();
    Object.assign(process.env, holder.issuer.env);
  });
  afterAll(async () => {
    await holder.issuer?.close();
  });
  return holder;
}
