import { randomBytes, randomUUID } from 'node:crypto';
import {
  ForbiddenException,
  Inject,
  Injectable,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import * as argon2 from 'argon2';
import { WEB_CONFIG, WebConfig } from '../web.config';
import type { Language, SessionUser, StoredUser, WebUser } from './account.model';
import { afterFailure, afterSuccess, isLocked } from './lockout.rules';
import { SessionsRepository } from './sessions.repository';
import { UsersRepository, publicUser } from './users.repository';

/** OWASP's argon2id baseline (19 MiB, 2 passes): about 30 ms here. */
const ARGON2 = {
  type: argon2.argon2id,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

/** One message for every refusal, so that a sign-in form does not tell who has an account. */
export const SIGN_IN_FAILED =
  'Sign-in failed: wrong username or password, or the account is locked';

@Injectable()
export class AccountsService {
  /** Verified against for unknown usernames, so they take as long as known ones. */
  private readonly dummyHash: Promise<string>;

  constructor(
    private readonly users: UsersRepository,
    private readonly sessions: SessionsRepository,
    @Inject(WEB_CONFIG) private readonly config: WebConfig,
  ) {
    this.dummyHash = argon2.hash(randomBytes(16).toString('hex'), ARGON2);
  }

  hashPassword(password: string): Promise<string> {
    return argon2.hash(password, ARGON2);
  }

  async signIn(
    username: string,
    password: string,
  ): Promise<{ user: WebUser; sessionId: string; csrfToken: string; expiresAt: Date }> {
    const user = await this.users.byUsername(username.trim().toLowerCase());
    const now = new Date();
    if (!user || !user.passwordHash) {
      await argon2.verify(await this.dummyHash, password).catch(() => false);
      throw new UnauthorizedException(SIGN_IN_FAILED);
    }
    if (isLocked(user, now)) throw new UnauthorizedException(SIGN_IN_FAILED);
    const ok = await argon2.verify(user.passwordHash, password).catch(() => false);
    if (!ok) {
      const next = afterFailure(
        user,
        {
          threshold: this.config.WEB_LOCKOUT_THRESHOLD,
          lockMinutes: this.config.WEB_LOCKOUT_MINUTES,
        },
        now,
      );
      await this.users.saveLockState(user.id, next.failedAttempts, next.lockedUntil);
      throw new UnauthorizedException(SIGN_IN_FAILED);
    }
    const reset = afterSuccess();
    await this.users.saveLockState(user.id, reset.failedAttempts, reset.lockedUntil);
    return this.startSession(user);
  }

  async startSession(user: StoredUser) {
    const session = await this.sessions.create(user.id);
    return {
      user: publicUser(user),
      sessionId: session.id,
      csrfToken: session.csrfToken,
      expiresAt: session.expiresAt,
    };
  }

  signOut(user: SessionUser): Promise<void> {
    return this.sessions.delete(user.sessionHash);
  }

  async usersOf(admin: SessionUser): Promise<WebUser[]> {
    return (await this.users.ofOrganization(admin.organizationId)).map((u) => ({
      ...publicUser(u),
      locked: isLocked(u, new Date()),
    }));
  }

  /**
   * A CBO admin sets a new one-time password for a person of their own organization: the lock
   * goes, every session of that person ends. The password is shown to the admin once.
   */
  async resetPassword(admin: SessionUser, userId: string): Promise<{ temporaryPassword: string }> {
    const target = await this.users.byId(userId);
    // Another organization's person is "not found": an admin learns nothing about them.
    if (!target || target.organizationId !== admin.organizationId) {
      throw new NotFoundException('No such person in your organization');
    }
    if (target.role === 'coordinator') throw new ForbiddenException('Not a CBO account');
    const temporaryPassword = `${randomBytes(9).toString('base64url')}-${randomBytes(3).toString('hex')}`;
    await this.users.setPassword(target.id, await this.hashPassword(temporaryPassword));
    await this.sessions.deleteOfUser(target.id);
    return { temporaryPassword };
  }

  setLanguage(user: SessionUser, language: Language): Promise<void> {
    return this.users.setLanguage(user.id, language);
  }

  /** Creates a person unless the username exists (the demo seed, OIDC first sign-in). */
  async ensureUser(
    user: Omit<WebUser, 'id'> & { password?: string },
  ): Promise<{ created: boolean }> {
    const created = await this.users.insertIfMissing({
      ...user,
      id: randomUUID(),
      passwordHash: user.password ? await this.hashPassword(user.password) : null,
    });
    return { created };
  }
}
