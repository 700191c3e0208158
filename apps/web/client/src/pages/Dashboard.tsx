import '@mantine/charts/styles.css';
import { LineChart } from '@mantine/charts';
import {
  Alert,
  Anchor,
  Badge,
  Button,
  Card,
  Group,
  List,
  Loader,
  NativeSelect,
  SimpleGrid,
  Stack,
  Text,
  Title,
} from '@mantine/core';
import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../api';
import { DataTable, type Column } from '../components/DataTable';
import { csvOfList } from '../csv';
import { groupLabel } from '../groups';

interface SummaryData {
  suppressed: boolean;
  referrals: number | null;
  closed?: number;
  closureRate?: number | null;
  awaitingConsent?: number;
  deadlineBreaches?: number;
  referralsBreached?: number;
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
interface BreakdownRow {
  group: string;
  suppressed: boolean;
  referrals: number | null;
  closed: number | null;
  closureRate: number | null;
  medianHoursToClose: number | null;
  deadlineBreaches: number | null;
}
interface UnmetRow {
  category: string;
  zip: string;
  suppressed: boolean;
  referrals: number | null;
  unmet: number | null;
  unmetRate: number | null;
  noCapacity: number | null;
  noCbo: number | null;
  directoryServices: number;
  directoryServicesWithCapacity: number;
}
interface Parked {
  id: string;
  taskId: string;
  status?: string;
  changedAt: string;
  attempts: number;
  lastError?: string;
  lastReplay: { username: string; at: string } | null;
}
interface DirectoryEntry {
  id: string;
  name: string;
  organization: string;
  organizationId: string;
  status: string;
  categories: string[];
  capacity?: { status: string; available?: number; unit?: string };
}
const DIMENSIONS = ['race', 'ethnicity', 'language', 'zip', 'payer', 'ageBand', 'sex'];
// Each analytics table is read from its path, and downloaded as CSV from the same path.
const SERIES = '/api/analytics/timeseries?period=week';
const BY_CBO = '/api/analytics/breakdown?by=cbo';
const BY_CATEGORY = '/api/analytics/breakdown?by=category';
const UNMET = '/api/analytics/unmet-need';
const equityPath = (dimension: string) => `/api/analytics/equity?dimension=${dimension}`;
const asCsv = (path: string) => `${path}${path.includes('?') ? '&' : '?'}format=csv`;
const pct = (v: number | null | undefined) =>
  v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)}%`;
const days = (hours: number | null | undefined) =>
  hours === null || hours === undefined ? '—' : (hours / 24).toFixed(1);
const count = (v: number | null | undefined) => (v === null || v === undefined ? '—' : String(v));

/** A titled section with its CSV download. */
function Section(props: { title: string; csv?: string; children: ReactNode; help?: string }) {
  const { t } = useTranslation();
  return (
    <Card withBorder component="section" aria-label={props.title}>
      <Group justify="space-between" mb="xs" wrap="wrap">
        <Title order={2} size="h3">
          {props.title}
        </Title>
        {props.csv && (
          <Anchor c="blue.9" href={props.csv} download>
            {t('dashboard.csvOf', { table: props.title })}
          </Anchor>
        )}
      </Group>
      {props.help && (
        <Text size="sm" mb="xs">
          {props.help}
        </Text>
      )}
      {props.children}
    </Card>
  );
}

export function Dashboard() {
  const { t, i18n } = useTranslation();
  const [summary, setSummary] = useState<SummaryData>();
  const [dimension, setDimension] = useState('race');
  const [equity, setEquity] = useState<EquityRow[]>();
  const [series, setSeries] = useState<BreakdownRow[]>();
  const [byCbo, setByCbo] = useState<BreakdownRow[]>();
  const [byCategory, setByCategory] = useState<BreakdownRow[]>();
  const [unmet, setUnmet] = useState<UnmetRow[]>();
  const [parked, setParked] = useState<Parked[] | string>();
  const [directory, setDirectory] = useState<DirectoryEntry[] | string>();
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();

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
    const rows = (path: string, set: (rows: BreakdownRow[]) => void) =>
      api<{ rows: BreakdownRow[] }>(path).then(
        (r) => set(r.rows),
        () => set([]),
      );
    void rows(SERIES, setSeries);
    void rows(BY_CBO, setByCbo);
    void rows(BY_CATEGORY, setByCategory);
    api<{ rows: UnmetRow[] }>(UNMET).then(
      (r) => setUnmet(r.rows),
      () => setUnmet([]),
    );
    api<DirectoryEntry[]>('/api/operations/directory').then(setDirectory, (e: Error) =>
      setDirectory(e.message),
    );
  }, []);
  const loadParked = useCallback(
    () =>
      api<Parked[]>('/api/operations/parked').then(setParked, (e: Error) => setParked(e.message)),
    [],
  );
  useEffect(() => void loadParked(), [loadParked]);
  useEffect(() => {
    setEquity(undefined);
    // Too few referrals for any group (or for the reference group) is an answer, not a failure.
    api<{ rows: EquityRow[] }>(equityPath(dimension)).then(
      (r) => setEquity(r.rows),
      () => setEquity([]),
    );
  }, [dimension]);

  const organizations = useMemo(
    () =>
      new Map(
        (Array.isArray(directory) ? directory : []).map((d) => [d.organizationId, d.organization]),
      ),
    [directory],
  );
  const label = (dim: string, code: string) =>
    groupLabel(t, i18n.language, dim, code, organizations);

  const replay = async (id: string) => {
    setNotice(undefined);
    try {
      await api(`/api/operations/parked/${id}/replay`, { method: 'POST' });
      setNotice(t('dashboard.replayed', { id }));
    } catch (e) {
      setError((e as Error).message);
    }
    await loadParked();
  };

  const card = (text: string, value: string, testId: string) => (
    <Card withBorder>
      <Text size="sm">{text}</Text>
      <Text size="xl" fw={700} data-testid={testId}>
        {value}
      </Text>
    </Card>
  );
  const loading = <Loader aria-label={t('common.loading')} />;
  const empty = <Text>{t('dashboard.empty')}</Text>;

  /** Rows once loaded; while loading a spinner, and none a sentence. */
  const loaded = <Row,>(rows: Row[] | undefined, table: (rows: Row[]) => ReactNode) =>
    !rows ? loading : rows.length === 0 ? empty : table(rows);
  // Too few referrals in a group to show its count without identifying people.
  const referralsColumn: Column<{ suppressed: boolean; referrals: number | null }> = {
    header: t('dashboard.referrals'),
    cell: (r) => (r.suppressed ? t('dashboard.small') : count(r.referrals)),
  };
  const rateColumn: Column<{ closureRate: number | null }> = {
    header: t('dashboard.rate'),
    cell: (r) => pct(r.closureRate),
  };

  const breakdownTable = (rows: BreakdownRow[], dim: string, testId: string) => (
    <DataTable
      testId={testId}
      minWidth={520}
      rows={rows}
      rowKey={(r) => r.group}
      columns={[
        { header: t(`dashboard.by.${dim}`), cell: (r) => label(dim, r.group) },
        referralsColumn,
        { header: t('dashboard.closed'), cell: (r) => count(r.closed) },
        rateColumn,
        { header: t('dashboard.medianClose'), cell: (r) => days(r.medianHoursToClose) },
        { header: t('dashboard.breaches'), cell: (r) => count(r.deadlineBreaches) },
      ]}
    />
  );

  const chartData = (series ?? [])
    .filter((r) => !r.suppressed)
    .map((r) => ({
      week: r.group,
      rate: r.closureRate === null ? null : Math.round(r.closureRate * 1000) / 10,
      days: r.medianHoursToClose === null ? null : Math.round(r.medianHoursToClose / 2.4) / 10,
    }));

  return (
    <Stack>
      <Title order={1}>{t('dashboard.title')}</Title>
      {error && (
        <Alert color="red" role="alert">
          {t('common.error', { message: error })}
        </Alert>
      )}
      {notice && (
        <Alert color="green" role="status">
          {notice}
        </Alert>
      )}
      {!summary && !error && loading}
      {summary?.suppressed && <Alert color="gray">{t('dashboard.hidden')}</Alert>}
      {summary && (
        <SimpleGrid cols={{ base: 2, sm: 3, lg: 6 }}>
          {card(t('dashboard.made'), String(summary.referrals ?? '—'), 'card-referrals')}
          {card(t('dashboard.closed'), String(summary.closed ?? '—'), 'card-closed')}
          {card(t('dashboard.closureRate'), pct(summary.closureRate), 'card-rate')}
          {card(
            t('dashboard.awaitingConsent'),
            String(summary.awaitingConsent ?? '—'),
            'card-consent',
          )}
          {card(t('dashboard.medianClose'), days(summary.timeToClose?.medianHours), 'card-median')}
          {card(t('dashboard.breaches'), count(summary.deadlineBreaches), 'card-breaches')}
        </SimpleGrid>
      )}

      <Section
        title={t('dashboard.overTime')}
        csv={asCsv(SERIES)}
        help={t('dashboard.overTimeHelp')}
      >
        {!series && loading}
        {series && chartData.length === 0 && empty}
        {chartData.length > 0 && (
          <SimpleGrid cols={{ base: 1, md: 2 }}>
            <div data-testid="chart-closure" role="img" aria-label={t('dashboard.chartRate')}>
              <Text size="sm" fw={700}>
                {t('dashboard.chartRate')}
              </Text>
              <LineChart
                h={220}
                data={chartData}
                dataKey="week"
                unit="%"
                series={[{ name: 'rate', label: t('dashboard.closureRate'), color: 'blue.8' }]}
                connectNulls
              />
            </div>
            <div data-testid="chart-time" role="img" aria-label={t('dashboard.chartDays')}>
              <Text size="sm" fw={700}>
                {t('dashboard.chartDays')}
              </Text>
              <LineChart
                h={220}
                data={chartData}
                dataKey="week"
                series={[{ name: 'days', label: t('dashboard.medianClose'), color: 'teal.9' }]}
                connectNulls
              />
            </div>
          </SimpleGrid>
        )}
      </Section>

      <Section title={t('dashboard.byCbo')} csv={asCsv(BY_CBO)}>
        {loaded(byCbo, (rows) => breakdownTable(rows, 'cbo', 'by-cbo'))}
      </Section>
      <Section title={t('dashboard.byCategory')} csv={asCsv(BY_CATEGORY)}>
        {loaded(byCategory, (rows) => breakdownTable(rows, 'category', 'by-category'))}
      </Section>

      <Section title={t('dashboard.equity')} csv={asCsv(equityPath(dimension))}>
        <Text size="sm">{t('dashboard.equityHelp')}</Text>
        <List size="sm" my="xs" data-testid="equity-explained">
          <List.Item>{t('dashboard.explainRate')}</List.Item>
          <List.Item>{t('dashboard.explainDifference')}</List.Item>
          <List.Item>{t('dashboard.explainInterval')}</List.Item>
          <List.Item>{t('dashboard.explainFlag')}</List.Item>
          <List.Item>{t('dashboard.explainSmall')}</List.Item>
        </List>
        <NativeSelect
          label={t('dashboard.dimension')}
          value={dimension}
          onChange={(e) => setDimension(e.currentTarget.value)}
          data={DIMENSIONS.map((d) => ({ value: d, label: t(`dimensions.${d}`) }))}
          maw={280}
          mb="sm"
        />
        {loaded(equity, (rows) => (
          <DataTable
            testId="equity-table"
            minWidth={560}
            rows={rows}
            rowKey={(row) => row.group}
            columns={[
              {
                header: t('dashboard.group'),
                cell: (row) => (
                  <>
                    <span title={row.group}>{label(dimension, row.group)}</span>{' '}
                    {row.reference && (
                      <Badge variant="outline" color="gray.8">
                        {t('dashboard.reference')}
                      </Badge>
                    )}
                  </>
                ),
              },
              referralsColumn,
              rateColumn,
              { header: t('dashboard.difference'), cell: (row) => pct(row.difference) },
              {
                header: t('dashboard.interval'),
                cell: (row) => (row.ci95 ? `${pct(row.ci95.lower)} … ${pct(row.ci95.upper)}` : '—'),
              },
              {
                header: t('dashboard.flag'),
                cell: (row) =>
                  row.flagged ? (
                    <Badge color="red.9" variant="outline">
                      {t('dashboard.flagged')}
                    </Badge>
                  ) : (
                    ''
                  ),
              },
            ]}
          />
        ))}
      </Section>

      <Section title={t('dashboard.unmet')} csv={asCsv(UNMET)} help={t('dashboard.unmetHelp')}>
        {loaded(unmet, (rows) => (
          <DataTable
            testId="unmet-table"
            minWidth={560}
            rows={[...rows].sort((a, b) => (b.unmet ?? -1) - (a.unmet ?? -1))}
            rowKey={(r) => `${r.category}|${r.zip}`}
            columns={[
              { header: t('dashboard.zip'), cell: (r) => label('zip', r.zip) },
              { header: t('dashboard.by.category'), cell: (r) => label('category', r.category) },
              referralsColumn,
              {
                header: t('dashboard.turnedAway'),
                cell: (r) => (
                  <>
                    {count(r.unmet)} {r.unmetRate !== null ? `(${pct(r.unmetRate)})` : ''}
                  </>
                ),
              },
              {
                header: t('dashboard.servicesThere'),
                cell: (r) =>
                  t('dashboard.withCapacity', {
                    total: r.directoryServices,
                    open: r.directoryServicesWithCapacity,
                  }),
              },
            ]}
          />
        ))}
      </Section>

      <Section
        title={t('dashboard.parked')}
        help={t('dashboard.parkedHelp')}
        csv={csvOfList(
          parked,
          ['delivery', 'task', 'status', 'attempts', 'lastError', 'changedAt'],
          (p) => [p.id, p.taskId, p.status, p.attempts, p.lastError, p.changedAt],
        )}
      >
        {parked === undefined && loading}
        {typeof parked === 'string' && <Text>{t('common.error', { message: parked })}</Text>}
        {Array.isArray(parked) && parked.length === 0 && (
          <Text data-testid="parked-none">{t('dashboard.parkedNone')}</Text>
        )}
        {Array.isArray(parked) && parked.length > 0 && (
          <DataTable
            testId="parked-table"
            minWidth={560}
            rows={parked}
            rowKey={(p) => p.id}
            columns={[
              { header: t('dashboard.task'), cell: (p) => p.taskId },
              {
                header: t('inbox.status'),
                cell: (p) => (p.status ? t(`status.${p.status}`, { defaultValue: p.status }) : '—'),
              },
              { header: t('dashboard.attempts'), cell: (p) => p.attempts },
              { header: t('dashboard.lastError'), cell: (p) => p.lastError ?? '' },
              {
                header: t('dashboard.replay'),
                cell: (p) => (
                  <>
                    <Button size="xs" onClick={() => void replay(p.id)}>
                      {t('dashboard.replayTask', { id: p.taskId })}
                    </Button>
                    {p.lastReplay && (
                      <Text size="xs">
                        {t('dashboard.lastReplay', { name: p.lastReplay.username })}
                      </Text>
                    )}
                  </>
                ),
              },
            ]}
          />
        )}
      </Section>

      <Section
        title={t('dashboard.directory')}
        csv={csvOfList(
          directory,
          ['organization', 'service', 'categories', 'capacity', 'available', 'unit'],
          (d) => [
            d.organization,
            d.name,
            d.categories.join(' '),
            d.capacity?.status,
            d.capacity?.available,
            d.capacity?.unit,
          ],
        )}
      >
        {directory === undefined && loading}
        {typeof directory === 'string' && <Text>{t('common.error', { message: directory })}</Text>}
        {Array.isArray(directory) && (
          <DataTable
            testId="directory-table"
            minWidth={560}
            rows={directory}
            rowKey={(d) => d.id}
            columns={[
              { header: t('dashboard.organization'), cell: (d) => d.organization },
              { header: t('dashboard.service'), cell: (d) => d.name },
              {
                header: t('dashboard.by.category'),
                cell: (d) => d.categories.map((c) => label('category', c)).join(', '),
              },
              {
                header: t('capacity.title'),
                cell: (d) =>
                  d.capacity
                    ? `${t(`capacityStatus.${d.capacity.status}`)}${d.capacity.available !== undefined ? ` · ${d.capacity.available} ${d.capacity.unit ?? ''}` : ''}`
                    : t('capacityStatus.unknown'),
              },
            ]}
          />
        )}
      </Section>
    </Stack>
  );
}
