import {
  Alert,
  Anchor,
  Badge,
  Button,
  Card,
  Group,
  Loader,
  NativeSelect,
  Stack,
  Text,
  Textarea,
  Title,
} from '@mantine/core';
import { useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, ApiError } from '../api';
import { DataTable } from '../components/DataTable';
import { navigate } from '../router';
import { when, type Summary } from './Inbox';

interface Detail extends Summary {
  clinician?: string;
  statusReason?: string;
  patient?: { name?: string; phone?: string; email?: string; language?: string };
  history: Array<{ version?: string; status: string; at?: string; reason?: string }>;
  contactAttempts: Array<{
    id: string;
    channel: string;
    outcome: string;
    note?: string | null;
    at: string;
  }>;
  notes: Array<{ id: string; author: string; text: string; at: string }>;
  followupConnected: boolean;
}
const CHANNELS = ['phone', 'sms', 'email', 'in-person', 'video', 'mail', 'portal', 'other'];
const CONTACT_OUTCOMES = [
  'reached',
  'no-answer',
  'left-message',
  'busy',
  'wrong-number',
  'declined',
  'other',
];
type Action = 'accept' | 'reject' | 'start' | 'hold' | 'resume' | 'complete';
const NEXT: Record<string, Action[]> = {
  requested: ['accept', 'reject'],
  accepted: ['start', 'hold', 'complete'],
  'in-progress': ['hold', 'complete'],
  'on-hold': ['resume', 'complete'],
};
const REASONS = [
  'no-capacity',
  'not-eligible',
  'out-of-area',
  'unable-to-contact',
  'declined-by-patient',
  'other',
];

export function Referral({ id }: { id: string }) {
  const { t, i18n } = useTranslation();
  const [referral, setReferral] = useState<Detail>();
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const [pending, setPending] = useState<Action>();
  const [reason, setReason] = useState('no-capacity');
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [channel, setChannel] = useState('phone');
  const [contactOutcome, setContactOutcome] = useState('reached');
  const [contactNote, setContactNote] = useState('');
  const [note, setNote] = useState('');

  /** A contact attempt or a note: the answer is the referral as it now stands. */
  const record = async (path: 'contact-attempts' | 'notes', body: object, done: () => void) => {
    setBusy(true);
    setNotice(undefined);
    setError(undefined);
    try {
      setReferral(
        await api<Detail>(`/api/referrals/${encodeURIComponent(id)}/${path}`, {
          method: 'POST',
          body,
        }),
      );
      setNotice(t(path === 'notes' ? 'referral.noteAdded' : 'referral.contactRecorded'));
      done();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const load = useCallback(async () => {
    try {
      setReferral(await api<Detail>(`/api/referrals/${encodeURIComponent(id)}`));
    } catch (e) {
      setError(
        e instanceof ApiError && e.status === 404 ? t('referral.notFound') : (e as Error).message,
      );
    }
  }, [id, t]);
  useEffect(() => void load(), [load]);
  // What another case manager changes shows without reload.
  useEffect(() => {
    const source = new EventSource('/api/live');
    source.addEventListener('task', (event) => {
      if ((JSON.parse((event as MessageEvent).data) as { id: string }).id === id) void load();
    });
    return () => source.close();
  }, [id, load]);

  const run = async (action: Action) => {
    setBusy(true);
    setNotice(undefined);
    setError(undefined);
    try {
      const body: Record<string, string> = { action };
      if (action === 'reject') body.reason = reason;
      if ((action === 'reject' || action === 'hold') && text) body.text = text;
      if (action === 'complete') body.outcome = text;
      setReferral(
        await api<Detail>(`/api/referrals/${encodeURIComponent(id)}/actions`, {
          method: 'POST',
          body,
        }),
      );
      setNotice(t('referral.done'));
      setPending(undefined);
      setText('');
    } catch (e) {
      setError((e as Error).message);
      if (e instanceof ApiError && e.status === 409) void load();
    } finally {
      setBusy(false);
    }
  };
  const choose = (action: Action) => {
    if (action === 'reject' || action === 'hold' || action === 'complete') setPending(action);
    else void run(action);
  };

  const back = (
    <Anchor
      href="/inbox"
      c="blue.9"
      onClick={(e) => {
        e.preventDefault();
        navigate('/inbox');
      }}
    >
      ← {t('referral.back')}
    </Anchor>
  );
  if (!referral)
    return (
      <Stack>
        {back}
        {error ? (
          <Alert color="red" role="alert">
            {error}
          </Alert>
        ) : (
          <Loader aria-label={t('common.loading')} />
        )}
      </Stack>
    );

  return (
    <Stack>
      {back}
      <Title order={1}>{t('referral.title', { id: referral.id })}</Title>
      <Group>
        <Badge size="lg" color="gray.8" variant="outline" data-testid="referral-status">
          {t(`status.${referral.status}`, { defaultValue: referral.status })}
        </Badge>
        {referral.statusReason && (
          <Text size="sm">
            {t('referral.reason')}: {referral.statusReason}
          </Text>
        )}
      </Group>
      {notice && (
        <Alert color="green" role="status">
          {notice}
        </Alert>
      )}
      {error && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      <Card withBorder>
        <dl className="facts">
          <dt>{t('referral.need')}</dt>
          <dd>{referral.need || '—'}</dd>
          <dt>{t('referral.from')}</dt>
          <dd>{referral.requester ?? '—'}</dd>
          {referral.clinician && (
            <>
              <dt>{t('referral.clinician')}</dt>
              <dd>{referral.clinician}</dd>
            </>
          )}
          <dt>{t('referral.deadline')}</dt>
          <dd>
            {referral.deadline ? when(referral.deadline, i18n.language) : t('referral.noDeadline')}
            {referral.deadline && (
              <Text size="xs" component="span" ml="xs" data-testid="deadline-source">
                (
                {t(
                  referral.deadlineSource === 'followup'
                    ? 'referral.deadlinePolicy'
                    : 'referral.deadlineFallback',
                )}
                )
              </Text>
            )}
          </dd>
        </dl>
      </Card>
      <Card withBorder>
        <Title order={2} size="h3">
          {t('referral.patient')}
        </Title>
        {referral.awaitingConsent || !referral.patient ? (
          <Alert color="yellow" data-testid="awaiting-consent" mt="sm">
            {t('referral.awaitingConsent')}
          </Alert>
        ) : (
          <dl className="facts" data-testid="patient">
            <dt>{t('referral.name')}</dt>
            <dd>{referral.patient.name || '—'}</dd>
            <dt>{t('referral.phone')}</dt>
            <dd>{referral.patient.phone ?? '—'}</dd>
            <dt>{t('referral.email')}</dt>
            <dd>{referral.patient.email ?? '—'}</dd>
            <dt>{t('referral.language')}</dt>
            <dd>{referral.patient.language ?? '—'}</dd>
          </dl>
        )}
      </Card>
      {(NEXT[referral.status] ?? []).length > 0 && (
        <Card withBorder>
          <Title order={2} size="h3" mb="sm">
            {t('referral.actions')}
          </Title>
          <Group>
            {(NEXT[referral.status] ?? []).map((action) => (
              <Button
                key={action}
                variant={action === 'reject' ? 'outline' : 'filled'}
                color={action === 'reject' ? 'red.9' : undefined}
                disabled={busy}
                onClick={() => choose(action)}
              >
                {t(`referral.${action}`)}
              </Button>
            ))}
          </Group>
          {pending && (
            <Stack mt="md">
              {pending === 'reject' && (
                <NativeSelect
                  label={t('referral.rejectReason')}
                  value={reason}
                  onChange={(e) => setReason(e.currentTarget.value)}
                  data={REASONS.map((r) => ({ value: r, label: t(`reasons.${r}`) }))}
                />
              )}
              <Textarea
                label={t(
                  pending === 'complete'
                    ? 'referral.outcome'
                    : pending === 'hold'
                      ? 'referral.holdText'
                      : 'referral.rejectText',
                )}
                required={pending === 'complete'}
                value={text}
                onChange={(e) => setText(e.currentTarget.value)}
              />
              <Group>
                <Button
                  loading={busy}
                  disabled={pending === 'complete' && !text.trim()}
                  onClick={() => void run(pending)}
                >
                  {t('referral.confirm')}
                </Button>
                <Button variant="subtle" color="gray.9" onClick={() => setPending(undefined)}>
                  {t('referral.cancel')}
                </Button>
              </Group>
            </Stack>
          )}
        </Card>
      )}
      <Card withBorder>
        <Title order={2} size="h3" mb="sm">
          {t('referral.contacts')}
        </Title>
        {referral.contactAttempts.length === 0 ? (
          <Text size="sm">{t('referral.noContacts')}</Text>
        ) : (
          <DataTable
            testId="contact-attempts"
            striped={false}
            rows={referral.contactAttempts}
            rowKey={(c) => c.id}
            columns={[
              { header: t('referral.when'), cell: (c) => when(c.at, i18n.language) },
              {
                header: t('referral.channel'),
                cell: (c) => t(`channels.${c.channel}`, { defaultValue: c.channel }),
              },
              {
                header: t('referral.contactOutcome'),
                cell: (c) => t(`contactOutcomes.${c.outcome}`, { defaultValue: c.outcome }),
              },
              { header: t('referral.contactNote'), cell: (c) => c.note ?? '' },
            ]}
          />
        )}
        {referral.followupConnected ? (
          <Stack mt="md" gap="xs">
            <Group align="end" wrap="wrap">
              <NativeSelect
                label={t('referral.channel')}
                value={channel}
                onChange={(e) => setChannel(e.currentTarget.value)}
                data={CHANNELS.map((c) => ({ value: c, label: t(`channels.${c}`) }))}
              />
              <NativeSelect
                label={t('referral.contactOutcome')}
                value={contactOutcome}
                onChange={(e) => setContactOutcome(e.currentTarget.value)}
                data={CONTACT_OUTCOMES.map((o) => ({ value: o, label: t(`contactOutcomes.${o}`) }))}
              />
            </Group>
            <Textarea
              label={t('referral.contactNote')}
              value={contactNote}
              onChange={(e) => setContactNote(e.currentTarget.value)}
            />
            <Group>
              <Button
                disabled={busy}
                onClick={() =>
                  void record(
                    'contact-attempts',
                    {
                      channel,
                      outcome: contactOutcome,
                      ...(contactNote.trim() ? { note: contactNote } : {}),
                    },
                    () => setContactNote(''),
                  )
                }
              >
                {t('referral.recordContact')}
              </Button>
            </Group>
          </Stack>
        ) : (
          <Text size="sm" mt="sm">
            {t('referral.followupOff')}
          </Text>
        )}
      </Card>
      <Card withBorder>
        <Title order={2} size="h3" mb="sm">
          {t('referral.notes')}
        </Title>
        {referral.notes.length === 0 ? (
          <Text size="sm">{t('referral.noNotes')}</Text>
        ) : (
          <Stack gap="xs" data-testid="notes">
            {referral.notes.map((n) => (
              <div key={n.id} className="note">
                <Text size="sm" fw={700}>
                  {n.author} · {when(n.at, i18n.language)}
                </Text>
                <Text size="sm" style={{ whiteSpace: 'pre-wrap' }}>
                  {n.text}
                </Text>
              </div>
            ))}
          </Stack>
        )}
        <Stack mt="md" gap="xs">
          <Textarea
            label={t('referral.newNote')}
            value={note}
            onChange={(e) => setNote(e.currentTarget.value)}
          />
          <Group>
            <Button
              disabled={busy || !note.trim()}
              onClick={() => void record('notes', { text: note }, () => setNote(''))}
            >
              {t('referral.addNote')}
            </Button>
          </Group>
        </Stack>
      </Card>
      <Card withBorder>
        <Title order={2} size="h3">
          {t('referral.history')}
        </Title>
        <DataTable
          testId="history"
          striped={false}
          rows={referral.history}
          rowKey={(h) => h.version ?? h.at ?? ''}
          columns={[
            { header: t('referral.when'), cell: (h) => when(h.at, i18n.language) },
            {
              header: t('referral.statusCol'),
              cell: (h) => t(`status.${h.status}`, { defaultValue: h.status }),
            },
            { header: t('referral.reason'), cell: (h) => h.reason ?? '' },
          ]}
        />
      </Card>
    </Stack>
  );
}
