import { safeErrorStack } from '@carerelay/persistence';
import { Controller, Get, Inject, Logger, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { JWKS_PATH } from '@carerelay/auth';
import { AccessTokens } from './access-token';
import { SMART_CONFIGURATION_PATH, TOKEN_PATH } from './auth.config';
import { Public } from './public.decorator';
import { scopesSupported } from './scopes';
import { ASSERTION_ALGORITHMS, OAuthError } from './token-request';
import { AuthSettings, TokenService } from './token.service';

const FORM = 'application/x-www-form-urlencoded';
const MAX_FORM_BYTES = 64 * 1024;

/** The SMART configuration document (SMART App Launch 2.x, Backend Services subset). */
export function smartConfiguration(baseUrl: string, tokenUrl: string): Record<string, unknown> {
  return {
    issuer: baseUrl,
    // The keys that verify this server's access tokens: the service APIs check tokens with them.
    jwks_uri: `${baseUrl}/${JWKS_PATH}`,
    token_endpoint: tokenUrl,
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGORITHMS],
    grant_types_supported: ['client_credentials'],
    scopes_supported: scopesSupported(),
    response_types_supported: ['token'],
    capabilities: ['client-confidential-asymmetric', 'permission-v1', 'permission-v2'],
    code_challenge_methods_supported: [],
  };
}

function readRaw(req: Request): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_FORM_BYTES) {
        reject(new OAuthError('invalid_request', 'the request body is too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () =>
      reject(new OAuthError('invalid_request', 'the request body could not be read')),
    );
  });
}

/** A form as name → value, or name → values when a parameter is repeated (which is refused). */
export function formFields(params: URLSearchParams): Record<string, string | string[]> {
  const form: Record<string, string | string[]> = {};
  for (const name of new Set(params.keys())) {
    const values = params.getAll(name);
    form[name] = values.length === 1 ? values[0] : values;
  }
  return form;
}

/** The token request's form, whether or not a body parser has already read it. */
async function tokenForm(req: Request): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== FORM) throw new OAuthError('invalid_request', `the token request must be ${FORM}`);
  const parsed = (req as { body?: unknown }).body;
  if (parsed instanceof URLSearchParams) return formFields(parsed);
  if (
    parsed &&
    typeof parsed === 'object' &&
    !Buffer.isBuffer(parsed) &&
    Object.keys(parsed).length > 0
  ) {
    return parsed as Record<string, unknown>;
  }
  if (typeof parsed === 'string') return formFields(new URLSearchParams(parsed));
  if (Buffer.isBuffer(parsed)) return formFields(new URLSearchParams(parsed.toString('utf8')));
  if (!req.readable || req.readableEnded) return {};
  return formFields(new URLSearchParams(await readRaw(req)));
}

@Controller('fhir')
export class SmartController {
  private readonly logger = new Logger('FhirAuth');

  constructor(
    @Inject(AuthSettings) private readonly settings: AuthSettings,
    @Inject(TokenService) private readonly tokens: TokenService,
    @Inject(AccessTokens) private readonly accessTokens: AccessTokens,
  ) {}

  /** The public key(s) of the access tokens (RFC 7517), for the service APIs' guards. */
  @Public()
  @Get(JWKS_PATH)
  async jwks(@Res() res: Response): Promise<void> {
    res.status(200);
    res.setHeader('Content-Type', 'application/jwk-set+json; charset=utf-8');
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.end(JSON.stringify(await this.accessTokens.publicJwks()));
  }

  @Public()
  @Get(SMART_CONFIGURATION_PATH)
  configuration(@Res() res: Response): void {
    res.status(200);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.end(JSON.stringify(smartConfiguration(this.settings.baseUrl, this.settings.tokenUrl)));
  }

  @Public()
  @Post(TOKEN_PATH)
  async token(@Req() req: Request, @Res() res: Response): Promise<void> {
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    try {
      const answer = await this.tokens.token(await tokenForm(req));
      res.status(200).end(JSON.stringify(answer));
    } catch (error) {
      if (error instanceof OAuthError) {
        if (error.logReason) this.logger.warn(`token request refused: ${error.logReason}`);
        res.status(error.status).end(JSON.stringify(error.toJSON()));
        return;
      }
      this.logger.error(safeErrorStack(error));
      res
        .status(500)
        .end(JSON.stringify({ error: 'server_error', error_description: 'internal error' }));
    }
  }
}
