import {
  Alert,
  Anchor,
  Badge,
  Group,
  Loader,
  NativeSelect,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useCallback, useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../api';
import { DataTable } from '../components/DataTable';
import { navigate } from '../router';

export interface Summary {
  id: string;
  status: string;
  need: string;
  requester?: string;
  authoredOn?: string;
  deadline?: string;
  deadlineSource?: 'followup' | 'fallback';
  overdue: boolean;
  dueSoon: boolean;
  awaitingConsent: boolean;
}
const FILTERS = [
  'all',
  'new',
  'accepted',
  'in-progress',
  'on-hold',
  'due-soon',
  'overdue',
  'closed',
];

export const when = (iso: string | undefined, language: string) =>
  iso ? new Date(iso).toLocaleString(language, { dateStyle: 'medium', timeStyle: 'short' }) : '—';

export function Inbox() {
  const { t, i18n } = useTranslation();
  const [filter, setFilter] = useState('all');
  const [query, setQuery] = useState('');
  const [data, setData] = useState<{ referrals: Summary[]; counts: Record<string, number> }>();
  const [error, setError] = useState<string>();
  const [announce, setAnnounce] = useState('');
  const latest = useRef({ filter, query });
  latest.current = { filter, query };

  const load = useCallback(async () => {
    const { filter: f, query: q } = latest.current;
    try {
      setData(
        await api(`/api/referrals?filter=${encodeURIComponent(f)}&q=${encodeURIComponent(q)}`),
      );
      setError(undefined);
    } catch (e) {
      setError((e as Error).message);
    }
  }, []);
  useEffect(() => {
    const timer = setTimeout(() => void load(), query ? 250 : 0);
    return () => clearTimeout(timer);
  }, [filter, query, load]);

  // Live: the server says which of our Tasks changed; we reload the list.
  useEffect(() => {
    const source = new EventSource('/api/live');
    source.addEventListener('task', () => {
      void load();
      setAnnounce(t('inbox.newArrived'));
    });
    return () => source.close();
  }, [load, t]);

  return (
    <Stack>
      <Title order={1}>{t('inbox.title')}</Title>
      <Text size="sm" c="dimmed">
        {t('inbox.live')}
      </Text>
      <div aria-live="polite" className="visually-hidden">
        {announce}
      </div>
      <Group align="end" wrap="wrap">
        <TextInput
          label={t('inbox.search')}
          description={t('inbox.searchHint')}
          type="search"
          value={query}
          onChange={(e) => setQuery(e.currentTarget.value)}
        />
        <NativeSelect
          label={t('inbox.filter')}
          value={filter}
          onChange={(e) => setFilter(e.currentTarget.value)}
          data={FILTERS.map((f) => ({
            value: f,
            label: `${t(`filters.${f}`)}${data?.counts[f] !== undefined ? ` (${data.counts[f]})` : ''}`,
          }))}
        />
      </Group>
      {error && (
        <Alert color="red" role="alert">
          {t('common.error', { message: error })}
        </Alert>
      )}
      {!data && !error && <Loader aria-label={t('common.loading')} />}
      {data && data.referrals.length === 0 && <Text>{t('inbox.empty')}</Text>}
      {data && data.referrals.length > 0 && (
        <DataTable
          testId="inbox-table"
          minWidth={560}
          highlightOnHover
          rows={data.referrals}
          rowKey={(r) => r.id}
          rowProps={(r) => ({ 'data-referral-id': r.id })}
          columns={[
            {
              header: t('inbox.need'),
              cell: (r) => (
                <Anchor
                  href={`/referrals/${r.id}`}
                  c="blue.9"
                  aria-label={t('inbox.open', { id: r.id })}
                  onClick={(e) => {
                    e.preventDefault();
                    navigate(`/referrals/${r.id}`);
                  }}
                >
                  {r.need || r.id}
                </Anchor>
              ),
            },
            {
              header: t('inbox.status'),
              cell: (r) => (
                <Group gap={4}>
                  <Badge color="gray.8" variant="outline">
                    {t(`status.${r.status}`, { defaultValue: r.status })}
                  </Badge>
                  {r.awaitingConsent && (
                    <Badge color="yellow.9" variant="outline">
                      {t('inbox.awaitingConsent')}
                    </Badge>
                  )}
                </Group>
              ),
            },
            { header: t('inbox.from'), cell: (r) => r.requester ?? '—' },
            { header: t('inbox.received'), cell: (r) => when(r.authoredOn, i18n.language) },
            {
              header: t('inbox.deadline'),
              cell: (r) => (
                <>
                  {when(r.deadline, i18n.language)}{' '}
                  {r.overdue && (
                    <Badge color="red.9" variant="outline">
                      {t('inbox.overdue')}
                    </Badge>
                  )}
                  {r.dueSoon && (
                    <Badge color="orange.9" variant="outline">
                      {t('inbox.dueSoon')}
                    </Badge>
                  )}
                </>
              ),
            },
          ]}
        />
      )}
    </Stack>
  );
}
