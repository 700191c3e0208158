import {
  Alert,
  Anchor,
  Badge,
  Card,
  Group,
  Loader,
  NativeSelect,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../api';

interface SummaryData {
  suppressed: boolean;
  referrals: number | null;
  closed?: number;
  closureRate?: number | null;
  awaitingConsent?: number;
  timeToClose?: { medianHours?: number | null };
}
interface EquityRow {
  group: string;
  reference: boolean;
  suppressed: boolean;
  referrals: number | null;
  closureRate: number | null;
  difference: number | null;
  ci95: { lower: number; upper: number } | null;
  flagged: boolean;
}
const DIMENSIONS = ['race', 'ethnicity', 'language', 'zip', 'payer', 'ageBand', 'sex'];
const pct = (v: number | null | undefined) =>
  v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)}%`;

export function Dashboard() {
  const { t } = useTranslation();
  const [summary, setSummary] = useState<SummaryData>();
  const [dimension, setDimension] = useState('race');
  const [equity, setEquity] = useState<EquityRow[]>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    const load = () =>
      api<SummaryData>('/api/analytics/summary').then(setSummary, (e: Error) =>
        setError(e.message),
      );
    void load();
    const timer = setInterval(load, 5000);
    return () => clearInterval(timer);
  }, []);
  useEffect(() => {
    setEquity(undefined);
    // Too few referrals for any group (or for the reference group) is an answer, not a failure.
    api<{ rows: EquityRow[] }>(`/api/analytics/equity?dimension=${dimension}`).then(
      (r) => setEquity(r.rows),
      () => setEquity([]),
    );
  }, [dimension]);

  const card = (label: string, value: string, testId: string) => (
    <Card withBorder>
      <Text size="sm">{label}</Text>
      <Text size="xl" fw={700} data-testid={testId}>
        {value}
      </Text>
    </Card>
  );
  return (
    <Stack>
      <Title order={1}>{t('dashboard.title')}</Title>
      {error && (
        <Alert color="red" role="alert">
          {t('common.error', { message: error })}
        </Alert>
      )}
      {!summary && !error && <Loader aria-label={t('common.loading')} />}
      {summary?.suppressed && <Alert color="gray">{t('dashboard.hidden')}</Alert>}
      {summary && (
        <SimpleGrid cols={{ base: 2, sm: 5 }}>
          {card(t('dashboard.made'), String(summary.referrals ?? '—'), 'card-referrals')}
          {card(t('dashboard.closed'), String(summary.closed ?? '—'), 'card-closed')}
          {card(t('dashboard.closureRate'), pct(summary.closureRate), 'card-rate')}
          {card(
            t('dashboard.awaitingConsent'),
            String(summary.awaitingConsent ?? '—'),
            'card-consent',
          )}
          {card(
            t('dashboard.medianClose'),
            summary.timeToClose?.medianHours != null
              ? (summary.timeToClose.medianHours / 24).toFixed(1)
              : '—',
            'card-median',
          )}
        </SimpleGrid>
      )}
      <Title order={2} size="h3">
        {t('dashboard.equity')}
      </Title>
      <Text size="sm">{t('dashboard.equityHelp')}</Text>
      <Group align="end" wrap="wrap">
        <NativeSelect
          label={t('dashboard.dimension')}
          value={dimension}
          onChange={(e) => setDimension(e.currentTarget.value)}
          data={DIMENSIONS.map((d) => ({ value: d, label: t(`dimensions.${d}`) }))}
        />
        <Anchor
          c="blue.9"
          href={`/api/analytics/equity?dimension=${dimension}&format=csv`}
          download
        >
          {t('dashboard.csv')}
        </Anchor>
        <Anchor c="blue.9" href="/api/analytics/breakdown?by=cbo&format=csv" download>
          {t('dashboard.csvBreakdown')}
        </Anchor>
      </Group>
      {!equity && <Loader aria-label={t('common.loading')} />}
      {equity && equity.length === 0 && <Text>{t('dashboard.empty')}</Text>}
      {equity && equity.length > 0 && (
        <Table.ScrollContainer minWidth={560}>
          <Table striped data-testid="equity-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th scope="col">{t('dashboard.group')}</Table.Th>
                <Table.Th scope="col">{t('dashboard.referrals')}</Table.Th>
                <Table.Th scope="col">{t('dashboard.rate')}</Table.Th>
                <Table.Th scope="col">{t('dashboard.difference')}</Table.Th>
                <Table.Th scope="col">{t('dashboard.interval')}</Table.Th>
                <Table.Th scope="col">{t('dashboard.flag')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {equity.map((row) => (
                <Table.Tr key={row.group}>
                  <Table.Td>
                    {row.group}{' '}
                    {row.reference && (
                      <Badge variant="outline" color="gray.8">
                        {t('dashboard.reference')}
                      </Badge>
                    )}
                  </Table.Td>
                  <Table.Td>{row.referrals ?? '—'}</Table.Td>
                  <Table.Td>{pct(row.closureRate)}</Table.Td>
                  <Table.Td>{pct(row.difference)}</Table.Td>
                  <Table.Td>
                    {row.ci95 ? `${pct(row.ci95.lower)} … ${pct(row.ci95.upper)}` : '—'}
                  </Table.Td>
                  <Table.Td>
                    {row.flagged ? (
                      <Badge color="red.9" variant="outline">
                        {t('dashboard.flagged')}
                      </Badge>
                    ) : (
                      ''
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Stack>
  );
}
