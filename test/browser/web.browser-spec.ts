import fs from 'node:fs';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { Kafka, logLevel } from 'kafkajs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { deriveReferralNeed, rankServices } from '@carerelay/directory';
import type { Resource } from '@carerelay/fhir-client';
import { FhirApiClient } from '@carerelay/fhir-client';
import { CARERELAY_VERSION_EXTENSION } from '../../apps/ehr-connector/src/fhir/ehr-identity';
import { startEhrServer } from '../../tools/ehr-server/src/ehr-server';
import { fhirClientFor } from '../../tools/simulator/src/credentials';
import { demoDirectory } from '../../tools/simulator/src/demo-network';
import { ReferralGenerator } from '../../tools/simulator/src/referral-generator';
import { DEMO_PASSWORD } from '../../apps/web/src/accounts/demo-people';
import {
  loadNetworkModule,
  waitFor,
  type Network,
  idFromLocation,
} from '../support/started-network';

/**
 * The web app in Debian's Chromium (playwright-core, no browser download) on the network as npm
 * start runs it: sign-in per role, the live inbox, the whole loop through the UI, isolation of
 * organizations, CSRF, lockout, axe, screenshots.
 */

const ROOT = path.join(__dirname, '..', '..');
const PORT_BASE = Number(process.env.CARERELAY_E2E_PORT_BASE ?? 18180);
const SHOTS = path.join(ROOT, '.carerelay-screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const KENWOOD = 'org-0003';
const STREETERVILLE = 'org-0021';

let network: Network;
let web: string;
let browser: Browser;
let ehr: FhirApiClient;
let coordinatorFhir: FhirApiClient;
const generator = new ReferralGenerator(demoDirectory(), {
  hospitalIds: ['hosp-northside'],
  platformOrganizationId: 'carerelay-platform',
  seed: Date.now() % 1_000_000,
});

beforeAll(async () => {
  network = await loadNetworkModule().startNetwork({
    skipBacklog: true,
    owner: `browser:${process.pid}`,
    portBase: PORT_BASE,
    stateDir: path.join(ROOT, '.carerelay', 'browser'),
    // An update the EHR refuses is parked after two attempts (a second or so), not ten.
    appEnv: { 'ehr-connector': { PUSH_MAX_ATTEMPTS: '2' } },
    quiet: true,
    // A busy shared machine can take minutes to start every app.
    readyTimeoutMs: 300_000,
    log: (line: string) => process.stderr.write(`[browser network] ${line}\n`),
  });
  const proc = network.processes.find((p) => p.app === 'web');
  if (!proc || proc.status !== 'ready')
    throw new Error(`web app not ready: ${network.problems.join('; ')}`);
  web = proc.url;
  // The live inbox's consumer joins its group after the app is ready, and on a fresh broker that
  // can take seconds; a change published before it joins is never shown (it starts at the end).
  const admin = new Kafka({
    brokers: network.infraEnv.KAFKA_BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    await waitFor(
      "the web app's live feed joining its consumer group",
      async () => {
        const { groups } = await admin.describeGroups([`web-live-${new URL(web).port}`]);
        return groups[0]?.state === 'Stable' && groups[0].members.length > 0 ? true : undefined;
      },
      120_000,
    );
  } finally {
    await admin.disconnect();
  }
  ehr = fhirClientFor(
    network.clients.find((c) => c.organizationId === 'hosp-northside')! as never,
    network.fhirBaseUrl,
  );
  coordinatorFhir = fhirClientFor(
    network.clients.find((c) => c.role === 'coordinator')! as never,
    network.fhirBaseUrl,
  );
  if (!fs.existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: npm test installs Debian's chromium package`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  fs.mkdirSync(SHOTS, { recursive: true });
}, 900_000);

afterAll(async () => {
  await browser?.close();
  await network?.stop({ stopInfrastructure: false });
}, 60_000);

async function signIn(
  username: string,
  password = DEMO_PASSWORD,
  viewport = { width: 1280, height: 900 },
) {
  const context = await browser.newContext({ viewport, baseURL: web });
  const page = await context.newPage();
  await page.goto('/');
  await page.getByLabel('Username').fill(username);
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('signed-in-as').waitFor({ timeout: 15_000 });
  return { context, page };
}

async function shoot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}-desktop.png`), fullPage: true });
  const size = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: path.join(SHOTS, `${name}-phone.png`), fullPage: true });
  if (size) await page.setViewportSize(size);
}

async function axe(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** A generated food or housing referral whose first choice in the directory is `organizationId`. */
function referralFor(organizationId: string) {
  const directory = demoDirectory();
  for (let i = 0; i < 5000; i++) {
    const referral = generator.next();
    const entries = (referral.bundle.entry as Array<{ resource: Resource }>).map((e) => e.resource);
    const serviceRequest = entries.find((r) => r.resourceType === 'ServiceRequest');
    const patient = entries.find((r) => r.resourceType === 'Patient');
    const need = deriveReferralNeed({ serviceRequest, patient } as never).need;
    const top = rankServices(need, directory.services, {
      organizations: directory.organizations,
      locations: directory.locations,
      limit: 1,
    })[0];
    if (top?.organizationId === organizationId) return referral;
  }
  throw new Error(`no generated referral goes to ${organizationId}`);
}

/** The EHR sends a referral; returns the source Task id and the CBO Task once routed. */
async function sendReferral(organizationId: string) {
  const response = await ehr.transaction(structuredClone(referralFor(organizationId).bundle));
  const sourceTaskId = idFromLocation(response, 'Task');
  return { sourceTaskId };
}

/** How long and how often the browser tests ask the FHIR API: a minute, every 300 ms. */
const BROWSER_WAIT = [60_000, 300] as const;

async function cboTaskOf(sourceTaskId: string): Promise<Resource> {
  return waitFor(
    `the CBO Task of Task/${sourceTaskId}`,
    async () => {
      const found = await coordinatorFhir.search('Task', { 'part-of': `Task/${sourceTaskId}` });
      return (found.entry ?? []).map((e) => e.resource!).find((t) => t.status === 'requested');
    },
    ...BROWSER_WAIT,
  );
}

describe('the web app in Chromium', () => {
  let kenwood: { context: BrowserContext; page: Page };
  let sourceTaskId: string;
  let cboTaskId: string;
  let closedBefore = 0;

  it('signs in as a case manager, a CBO admin and the coordinator: each sees their own home', async () => {
    const signInPage = await (await browser.newContext({ baseURL: web })).newPage();
    await signInPage.goto('/');
    await signInPage.getByLabel('Username').waitFor();
    expect(await axe(signInPage)).toEqual([]);
    await shoot(signInPage, 'sign-in');
    await signInPage.context().close();

    kenwood = await signIn('cm.kenwood');
    await kenwood.page.getByRole('heading', { name: 'Referrals for your organization' }).waitFor();
    const admin = await signIn('admin.kenwood');
    await admin.page.getByRole('link', { name: 'People' }).click();
    await admin.page.getByText('cm2.kenwood').waitFor();
    await admin.context.close();
    const coordinator = await signIn('coordinator');
    await coordinator.page.getByRole('heading', { name: 'Network dashboard' }).waitFor();
    expect(coordinator.page.url()).toMatch(/\/dashboard$/);
    // Loops closed so far (earlier runs on the same database), before this run closes one.
    const summary = await (await coordinator.page.request.get('/api/analytics/summary')).json();
    closedBefore = summary.suppressed ? 0 : Number(summary.closed ?? 0);
    await coordinator.context.close();
  }, 120_000);

  it('a referral sent by the EHR over FHIR appears in the right inbox without reload', async () => {
    const { page } = kenwood;
    await page.getByTestId('inbox-table').or(page.getByText('No referrals match.')).waitFor();
    await page.waitForTimeout(1000); // the live stream is open
    const marker = await page.evaluate(
      () => ((globalThis as unknown as { marker: number }).marker = Math.random()),
    );
    const sent = await sendReferral(KENWOOD);
    sourceTaskId = sent.sourceTaskId;
    const cboTask = await cboTaskOf(sourceTaskId);
    expect(cboTask.owner.reference).toBe(`Organization/${KENWOOD}`);
    cboTaskId = cboTask.id!;
    const row = page.locator(`[data-referral-id="${cboTaskId}"]`);
    const started = Date.now();
    await row.waitFor({ timeout: 10_000 });
    // "From" names the hospital that sent it (by name when the FHIR API has its Organization),
    // not the platform that routed it.
    await row
      .getByText(/^(Northside Community Hospital|hosp-northside)$/)
      .waitFor({ timeout: 10_000 });
    expect(await row.textContent()).not.toMatch(
      /carerelay-platform|CareRelay Coordination Platform/,
    );
    process.stderr.write(
      `[browser] the referral showed in the inbox ${Date.now() - started} ms after routing was seen\n`,
    );
    // The same page: no reload happened.
    expect(await page.evaluate(() => (globalThis as unknown as { marker: number }).marker)).toBe(
      marker,
    );
    expect(await axe(page)).toEqual([]);
    await shoot(page, 'inbox');
  }, 90_000);

  it('the case manager accepts and completes it in the UI; the EHR Task reads completed', async () => {
    const { page } = kenwood;
    await page.getByRole('link', { name: `Open referral ${cboTaskId}` }).click();
    await page.getByRole('heading', { name: `Referral ${cboTaskId}` }).waitFor();
    await page.getByTestId('patient').or(page.getByTestId('awaiting-consent')).waitFor();
    expect(await axe(page)).toEqual([]);
    await shoot(page, 'referral');
    await page.getByRole('button', { name: 'Accept' }).click();
    await page.getByTestId('referral-status').getByText('Accepted').waitFor();
    await page.getByRole('button', { name: 'Start work' }).click();
    await page.getByTestId('referral-status').getByText('In progress').waitFor();

    // A contact attempt goes to the follow-up service; it is read back from there.
    await page.getByLabel('How').selectOption('phone');
    await page.getByLabel('Result').selectOption('left-message');
    await page.getByLabel('Note about the attempt (optional)').fill('Voicemail, will call Friday');
    await page.getByRole('button', { name: 'Record contact attempt' }).click();
    const attempts = page.getByTestId('contact-attempts');
    await attempts.getByText('Left a message').waitFor();
    await attempts.getByText('Voicemail, will call Friday').waitFor();
    const sourceAttempts = await (
      await network.platformTokens.fetch(
        `${network.processes.find((p) => p.app === 'followup-service')!.url}/referrals/${sourceTaskId}/contact-attempts`,
      )
    ).json();
    expect(sourceAttempts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          organizationId: KENWOOD,
          channel: 'phone',
          outcome: 'left-message',
        }),
      ]),
    );
    // A note, seen by the organization's people (and nobody else, below).
    await page.getByLabel('New note (seen by your organization only)').fill('Prefers mornings');
    await page.getByRole('button', { name: 'Add note' }).click();
    await page.getByTestId('notes').getByText('Prefers mornings').waitFor();
    // The deadline is the follow-up service's (its network policy), once it has seen the referral.
    const detail = await waitFor(
      "the follow-up service's closure deadline",
      async () => {
        const d = await (await page.request.get(`/api/referrals/${cboTaskId}`)).json();
        return d.deadlineSource === 'followup' ? d : undefined;
      },
      ...BROWSER_WAIT,
    );
    const timers = (await (
      await network.platformTokens.fetch(
        `${network.processes.find((p) => p.app === 'followup-service')!.url}/referrals/${sourceTaskId}/timers`,
      )
    ).json()) as Array<{ kind: string; stage: string; status: string; deadlineAt: string }>;
    const closure = timers.find(
      (t) => t.kind === 'closure' && t.stage === 'deadline' && t.status !== 'cancelled',
    );
    expect(new Date(detail.deadline).toISOString()).toBe(
      new Date(closure!.deadlineAt).toISOString(),
    );
    expect(await axe(page)).toEqual([]);
    await shoot(page, 'referral-worked');

    await page.getByRole('button', { name: 'Complete' }).click();
    await page.getByLabel(/Outcome/).fill('Enrolled in the weekly food pantry program');
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByTestId('referral-status').getByText('Completed').waitFor();
    await page.getByTestId('history').getByText('Completed').waitFor();
    // Every status change, once each, in order.
    const statuses = await page
      .getByTestId('history')
      .locator('tbody tr td:nth-child(2)')
      .allTextContents();
    expect(statuses).toEqual(['New', 'Accepted', 'In progress', 'Completed']);

    const source = await waitFor(
      'the source Task completed',
      async () => {
        const task = await ehr.read('Task', sourceTaskId);
        return task.status === 'completed' ? task : undefined;
      },
      ...BROWSER_WAIT,
    );
    expect(source.status).toBe('completed');
    // The audit trail names the person, not just the organization's client.
    const audit = await coordinatorFhir.search('AuditEvent', {
      entity: `Task/${cboTaskId}`,
      _count: 50,
    });
    const people = (audit.entry ?? []).flatMap((e) =>
      (e.resource!.agent as Array<{ who?: { identifier?: { system?: string; value?: string } } }>)
        .map((a) => a.who?.identifier)
        .filter((i) => i?.system === 'urn:carerelay:web-user')
        .map((i) => i!.value),
    );
    expect(people).toContain('cm.kenwood');
  }, 240_000);

  it('the coordinator dashboard counts it', async () => {
    const { page, context } = await signIn('coordinator');
    await page.getByRole('heading', { name: 'Network dashboard' }).waitFor();
    // Fewer than 11 referrals hide the whole summary (privacy): send enough for it to show.
    for (let i = 0; i < 11; i++) await ehr.transaction(structuredClone(generator.next().bundle));
    const closed = await waitFor(
      'the dashboard counting a closed loop',
      async () => {
        await page.reload();
        const text = await page.getByTestId('card-closed').textContent({ timeout: 15_000 });
        return text && /^\d+$/.test(text) && Number(text) > closedBefore ? Number(text) : undefined;
      },
      ...BROWSER_WAIT,
    );
    expect(closed).toBeGreaterThan(closedBefore);
    await page.getByTestId('equity-table').or(page.getByText('No groups to show yet.')).waitFor();
    // Groups by name, not code: no race cell reads like an OMB code (2054-5).
    if (await page.getByTestId('equity-table').count()) {
      const groups = await page
        .getByTestId('equity-table')
        .locator('tbody tr td:first-child span')
        .allTextContents();
      expect(groups.filter((g) => /^\d{4}-\d$/.test(g.trim()))).toEqual([]);
    }
    await page.getByTestId('equity-explained').waitFor();
    await page
      .getByTestId('chart-closure')
      .or(page.getByRole('region', { name: /week by week/ }).getByText('No groups to show yet.'))
      .waitFor();
    await page.getByTestId('by-cbo').waitFor();
    await page.getByTestId('by-category').waitFor();
    await page
      .getByTestId('unmet-table')
      .or(
        page.getByRole('region', { name: 'Unmet need by ZIP' }).getByText('No groups to show yet.'),
      )
      .waitFor();
    await page.getByTestId('parked-table').or(page.getByTestId('parked-none')).waitFor();
    // The directory with capacity, each organization by name.
    await page
      .getByTestId('directory-table')
      .getByText('Kenwood', { exact: false })
      .first()
      .waitFor();
    expect(await axe(page)).toEqual([]);
    await shoot(page, 'dashboard');
    const parked = await page.request.get('/api/operations/parked');
    expect(parked.status()).toBe(200);
    // A replay of a delivery that is not parked is "not found", not a 500.
    const csrf = (await (await page.request.get('/api/session')).json()).csrfToken;
    const replay = await page.request.post('/api/operations/parked/999999999/replay', {
      headers: { 'x-csrf-token': csrf },
    });
    expect(replay.status()).toBe(404);
    const csv = await page.request.get('/api/analytics/equity?dimension=race&format=csv');
    expect(csv.status()).toBe(200);
    expect(csv.headers()['content-type']).toMatch(/text\/csv/);
    await context.close();
  }, 180_000);

  it('the coordinator replays an EHR update the EHR refused: the EHR Task gets it, the dashboard says who', async () => {
    const connector = network.processes.find((p) => p.app === 'ehr-connector')!.url;
    const platform = (path: string, init?: RequestInit) =>
      network.platformTokens.fetch(`${connector}/${path}`, init);
    // Northside's own EHR, here, so that it can refuse updates: a second push endpoint of the
    // hospital, chosen by the EHR Task identity the referral carries.
    const ehrServer = await startEhrServer({ port: 0 });
    const endpoint = (enabled: boolean) =>
      platform('ehr-endpoints/browser-refusing-ehr', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          id: 'browser-refusing-ehr',
          organizationId: 'hosp-northside',
          baseUrl: ehrServer.baseUrl,
          auth: 'none',
          modes: ['push'],
          enabled,
        }),
      });
    const { page, context } = await signIn('coordinator');
    try {
      expect((await endpoint(true)).status).toBe(200);
      const ehrOwn = new FhirApiClient(ehrServer.baseUrl);
      const ehrTask: Resource = await ehrOwn.create({
        resourceType: 'Task',
        status: 'requested',
        intent: 'order',
        requester: { reference: 'Organization/hosp-northside' },
      });
      const bundle = structuredClone(referralFor(KENWOOD).bundle);
      const task = (bundle.entry as Array<{ resource: Resource }>)
        .map((e) => e.resource)
        .find((r) => r.resourceType === 'Task')!;
      task.identifier = [
        ...((task.identifier as unknown[]) ?? []),
        { system: `${ehrServer.baseUrl}/Task`, value: ehrTask.id },
      ];
      ehrServer.refuseWrites(422);
      const sourceTaskId = idFromLocation(await ehr.transaction(bundle), 'Task');

      type Delivery = { id: string; version: number; state: string };
      const deliveries = async () =>
        (await (await platform(`push/deliveries?task=${sourceTaskId}`)).json()) as Delivery[];
      // The source Task updated (routed), that version parked, nothing left to try.
      const settled = (what: string) =>
        waitFor(
          what,
          async () => {
            const version = Number((await ehr.read('Task', sourceTaskId)).meta?.versionId);
            if (!(version > 1)) return undefined;
            const all = await deliveries();
            const latest = all.find((d) => d.version === version);
            return latest && !all.some((d) => d.state === 'pending') ? all : undefined;
          },
          ...BROWSER_WAIT,
        );
      expect((await settled('the routed version parked')).map((d) => d.state)).toContain('parked');

      const rows = page.getByTestId('parked-table').locator('tbody tr', { hasText: sourceTaskId });
      const showParked = async () => {
        await page.goto('/dashboard');
        await page.getByTestId('parked-table').or(page.getByTestId('parked-none')).waitFor();
      };
      await showParked();
      expect(await rows.count()).toBeGreaterThan(0);
      await expect(rows.first().textContent()).resolves.toMatch(/HTTP 422/);

      // Replayed while the EHR still refuses: parked again, and the row says who replayed it.
      await rows
        .first()
        .getByRole('button', { name: `Replay ${sourceTaskId}` })
        .click();
      await page.getByText(/queued again/).waitFor();
      await settled('the replayed version parked again');
      await showParked();
      await rows.filter({ hasText: 'last replayed by coordinator' }).first().waitFor();
      await shoot(page, 'dashboard-parked');

      // The EHR accepts again: each parked version replayed goes (delivered, or superseded by a
      // newer one delivered), and the EHR Task holds the source Task's latest version.
      ehrServer.refuseWrites();
      for (let i = 0; i < 5 && (await rows.count()) > 0; i++) {
        await rows
          .first()
          .getByRole('button', { name: `Replay ${sourceTaskId}` })
          .click();
        await page.getByText(/queued again/).waitFor();
        await waitFor(
          'the replayed version tried',
          async () => ((await deliveries()).some((d) => d.state === 'pending') ? undefined : true),
          ...BROWSER_WAIT,
        );
        await showParked();
      }
      expect(await rows.count()).toBe(0);
      const states = (await deliveries()).map((d) => d.state);
      expect(states).not.toContain('parked');
      expect(states).toContain('delivered');
      const source = await ehr.read('Task', sourceTaskId);
      const onEhr = await ehrOwn.read('Task', ehrTask.id!);
      expect(onEhr.status).toBe(source.status);
      expect(
        (onEhr.extension as Array<{ url: string; valueInteger?: number }> | undefined)?.find(
          (e) => e.url === CARERELAY_VERSION_EXTENSION,
        )?.valueInteger,
      ).toBe(Number(source.meta?.versionId));
      // The replays are on record, by person.
      const parkedApi = await page.request.get('/api/operations/parked');
      expect(parkedApi.status()).toBe(200);
    } finally {
      await endpoint(false).catch(() => undefined);
      await context.close();
      await ehrServer.close();
    }
  }, 240_000);

  it("a CBO user never sees another CBO's referral: not by URL, not by the API", async () => {
    const other = await signIn('cm.streeterville');
    await other.page.goto(`/referrals/${cboTaskId}`);
    await other.page
      .getByText('This referral does not exist or is not addressed to your organization.')
      .waitFor();
    await expect(other.page.locator('[data-testid="patient"]').count()).resolves.toBe(0);
    const byApi = await other.page.request.get(`/api/referrals/${cboTaskId}`);
    expect(byApi.status()).toBe(404);
    const list = await (await other.page.request.get('/api/referrals')).json();
    expect(list.referrals.map((r: { id: string }) => r.id)).not.toContain(cboTaskId);
    // Acting on it with Streeterville's own session and CSRF token is refused too.
    const session = await (await other.page.request.get('/api/session')).json();
    const act = await other.page.request.post(`/api/referrals/${cboTaskId}/actions`, {
      headers: { 'x-csrf-token': session.csrfToken },
      data: { action: 'reject', reason: 'other' },
    });
    expect(act.status()).toBe(404);
    const note = await other.page.request.post(`/api/referrals/${cboTaskId}/notes`, {
      headers: { 'x-csrf-token': session.csrfToken },
      data: { text: 'not mine' },
    });
    expect(note.status()).toBe(404);
    const contact = await other.page.request.post(`/api/referrals/${cboTaskId}/contact-attempts`, {
      headers: { 'x-csrf-token': session.csrfToken },
      data: { channel: 'phone', outcome: 'reached' },
    });
    expect(contact.status()).toBe(404);
    // Replays are the coordinator's.
    expect((await other.page.request.get('/api/operations/parked')).status()).toBe(403);
    // The coordinator's session cannot use the case managers' API at all.
    const coordinator = await signIn('coordinator');
    expect((await coordinator.page.request.get(`/api/referrals/${cboTaskId}`)).status()).toBe(403);
    await coordinator.context.close();
    await other.context.close();
    expect(STREETERVILLE).not.toBe(KENWOOD);
  }, 90_000);

  it("refuses a state change without the CSRF token, or with another session's", async () => {
    const { page } = kenwood;
    const none = await page.request.put('/api/session/language', { data: { language: 'es' } });
    expect(none.status()).toBe(403);
    // Another session of the same person: its token is not this session's.
    const other = await signIn('cm.kenwood');
    const foreignToken = (await (await other.page.request.get('/api/session')).json()).csrfToken;
    const wrong = await page.request.put('/api/session/language', {
      headers: { 'x-csrf-token': foreignToken },
      data: { language: 'es' },
    });
    expect(wrong.status()).toBe(403);
    const own = (await (await page.request.get('/api/session')).json()).csrfToken;
    const right = await page.request.put('/api/session/language', {
      headers: { 'x-csrf-token': own },
      data: { language: 'en' },
    });
    expect(right.status()).toBe(204);
    await other.context.close();
  }, 60_000);

  it('locks an account after repeated failures; a CBO admin resets it', async () => {
    const admin = await signIn('admin.kenwood');
    const csrf = (await (await admin.page.request.get('/api/session')).json()).csrfToken;
    const people = await (await admin.page.request.get('/api/users')).json();
    const target = people.find((p: { username: string }) => p.username === 'cm2.kenwood');
    const reset = async () =>
      (
        await (
          await admin.page.request.post(`/api/users/${target.id}/password-reset`, {
            headers: { 'x-csrf-token': csrf },
          })
        ).json()
      ).temporaryPassword as string;
    const password = await reset();
    const attempt = (p: string) =>
      admin.page.request.post('/api/session', { data: { username: 'cm2.kenwood', password: p } });
    // (Each attempt from the admin's page signs in nobody else: a failed one sets no cookie.)
    for (let i = 0; i < 5; i++) expect((await attempt(`wrong-${i}`)).status()).toBe(401);
    expect((await attempt(password)).status()).toBe(401); // locked: even the right password fails
    const fresh = await reset();
    const context = await browser.newContext({ baseURL: web });
    const ok = await context.request.post('/api/session', {
      data: { username: 'cm2.kenwood', password: fresh },
    });
    expect(ok.status()).toBe(200);
    expect(ok.headers()['set-cookie']).toMatch(/HttpOnly/i);
    expect(ok.headers()['set-cookie']).toMatch(/SameSite=Strict/i);
    await context.close();
    // Another organization's admin cannot reset Kenwood's people.
    const otherAdmin = await signIn('admin.streeterville');
    const otherCsrf = (await (await otherAdmin.page.request.get('/api/session')).json()).csrfToken;
    const refused = await otherAdmin.page.request.post(`/api/users/${target.id}/password-reset`, {
      headers: { 'x-csrf-token': otherCsrf },
    });
    expect(refused.status()).toBe(404);
    await otherAdmin.context.close();
    await admin.context.close();
  }, 60_000);

  it("a CBO admin changes a service's capacity; the directory (and so routing) has it", async () => {
    const { page, context } = await signIn('admin.kenwood');
    await page.getByRole('link', { name: 'Capacity' }).click();
    await page.getByRole('heading', { name: "Your organization's services" }).waitFor();
    const section = page.locator('section[data-service-id]').first();
    const serviceId = (await section.getAttribute('data-service-id'))!;
    expect(await axe(page)).toEqual([]);
    await shoot(page, 'capacity');
    const directory = network.processes.find((p) => p.app === 'directory-service')!.url;
    const read = async (): Promise<{ status: string; available?: number } | undefined> =>
      (
        (await (
          await network.platformTokens.fetch(`${directory}/services/${serviceId}`)
        ).json()) as {
          capacity?: { status: string; available?: number };
        }
      ).capacity;
    const before = await read();
    await section.getByLabel('Capacity').selectOption('waitlist');
    await section.getByRole('button', { name: 'Save' }).click();
    await section.getByText('Saved. Routing uses the new capacity.').waitFor();
    expect((await read())?.status).toBe('waitlist');
    await section.getByTestId('capacity-now').getByText('Now: Waitlist').waitFor();
    // Put it back as it was, so that routing in later runs is unchanged.
    const csrf = (await (await page.request.get('/api/session')).json()).csrfToken;
    const restored = await page.request.patch(`/api/services/${serviceId}/capacity`, {
      headers: { 'x-csrf-token': csrf },
      data: {
        status: before?.status ?? 'available',
        ...(before?.available !== undefined ? { available: before.available } : {}),
      },
    });
    expect(restored.status()).toBe(200);
    // Another organization's admin cannot change Kenwood's service.
    const other = await signIn('admin.streeterville');
    const otherCsrf = (await (await other.page.request.get('/api/session')).json()).csrfToken;
    const refused = await other.page.request.patch(`/api/services/${serviceId}/capacity`, {
      headers: { 'x-csrf-token': otherCsrf },
      data: { status: 'no-capacity' },
    });
    expect(refused.status()).toBe(404);
    expect((await read())?.status).toBe(before?.status ?? 'available');
    await other.context.close();
    await context.close();
  }, 150_000);
});
