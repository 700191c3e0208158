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
  Table,
  Text,
  Title,
} from '@mantine/core';
import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../api';
import { csvHref } from '../csv';
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
    void rows('/api/analytics/timeseries?period=week', setSeries);
    void rows('/api/analytics/breakdown?by=cbo', setByCbo);
    void rows('/api/analytics/breakdown?by=category', setByCategory);
    api<{ rows: UnmetRow[] }>('/api/analytics/unmet-need').then(
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
    api<{ rows: EquityRow[] }>(`/api/analytics/equity?dimension=${dimension}`).then(
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

  const breakdownTable = (rows: BreakdownRow[], dim: string, testId: string) => (
    <Table.ScrollContainer minWidth={520}>
      <Table striped data-testid={testId}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th scope="col">{t(`dashboard.by.${dim}`)}</Table.Th>
            <Table.Th scope="col">{t('dashboard.referrals')}</Table.Th>
            <Table.Th scope="col">{t('dashboard.closed')}</Table.Th>
            <Table.Th scope="col">{t('dashboard.rate')}</Table.Th>
            <Table.Th scope="col">{t('dashboard.medianClose')}</Table.Th>
            <Table.Th scope="col">{t('dashboard.breaches')}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((r) => (
            <Table.Tr key={r.group}>
              <Table.Td>{label(dim, r.group)}</Table.Td>
              <Table.Td>{r.suppressed ? t('dashboard.small') : count(r.referrals)}</Table.Td>
              <Table.Td>{count(r.closed)}</Table.Td>
              <Table.Td>{pct(r.closureRate)}</Table.Td>
              <Table.Td>{days(r.medianHoursToClose)}</Table.Td>
              <Table.Td>{count(r.deadlineBreaches)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
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
        csv="/api/analytics/timeseries?period=week&format=csv"
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

      <Section title={t('dashboard.byCbo')} csv="/api/analytics/breakdown?by=cbo&format=csv">
        {!byCbo ? loading : byCbo.length === 0 ? empty : breakdownTable(byCbo, 'cbo', 'by-cbo')}
      </Section>
      <Section
        title={t('dashboard.byCategory')}
        csv="/api/analytics/breakdown?by=category&format=csv"
      >
        {!byCategory
          ? loading
          : byCategory.length === 0
            ? empty
            : breakdownTable(byCategory, 'category', 'by-category')}
      </Section>

      <Section
        title={t('dashboard.equity')}
        csv={`/api/analytics/equity?dimension=${dimension}&format=csv`}
      >
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
        {!equity && loading}
        {equity && equity.length === 0 && empty}
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
                      <span title={row.group}>{label(dimension, row.group)}</span>{' '}
                      {row.reference && (
                        <Badge variant="outline" color="gray.8">
                          {t('dashboard.reference')}
                        </Badge>
                      )}
                    </Table.Td>
                    <Table.Td>
                      {row.suppressed ? t('dashboard.small') : count(row.referrals)}
                    </Table.Td>
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
      </Section>

      <Section
        title={t('dashboard.unmet')}
        csv="/api/analytics/unmet-need?format=csv"
        help={t('dashboard.unmetHelp')}
      >
        {!unmet && loading}
        {unmet && unmet.length === 0 && empty}
        {unmet && unmet.length > 0 && (
          <Table.ScrollContainer minWidth={560}>
            <Table striped data-testid="unmet-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th scope="col">{t('dashboard.zip')}</Table.Th>
                  <Table.Th scope="col">{t('dashboard.by.category')}</Table.Th>
                  <Table.Th scope="col">{t('dashboard.referrals')}</Table.Th>
                  <Table.Th scope="col">{t('dashboard.turnedAway')}</Table.Th>
                  <Table.Th scope="col">{t('dashboard.servicesThere')}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {[...unmet]
                  .sort((a, b) => (b.unmet ?? -1) - (a.unmet ?? -1))
                  .map((r) => (
                    <Table.Tr key={`${r.category}|${r.zip}`}>
                      <Table.Td>{label('zip', r.zip)}</Table.Td>
                      <Table.Td>{label('category', r.category)}</Table.Td>
                      <Table.Td>
                        {r.suppressed ? t('dashboard.small') : count(r.referrals)}
                      </Table.Td>
                      <Table.Td>
                        {count(r.unmet)} {r.unmetRate !== null ? `(${pct(r.unmetRate)})` : ''}
                      </Table.Td>
                      <Table.Td>
                        {t('dashboard.withCapacity', {
                          total: r.directoryServices,
                          open: r.directoryServicesWithCapacity,
                        })}
                      </Table.Td>
                    </Table.Tr>
                  ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Section>

      <Section
        title={t('dashboard.parked')}
        help={t('dashboard.parkedHelp')}
        csv={
          Array.isArray(parked)
            ? csvHref(
                ['delivery', 'task', 'status', 'attempts', 'lastError', 'changedAt'],
                parked.map((p) => [p.id, p.taskId, p.status, p.attempts, p.lastError, p.changedAt]),
              )
            : undefined
        }
      >
        {parked === undefined && loading}
        {typeof parked === 'string' && <Text>{t('common.error', { message: parked })}</Text>}
        {Array.isArray(parked) && parked.length === 0 && (
          <Text data-testid="parked-none">{t('dashboard.parkedNone')}</Text>
        )}
        {Array.isArray(parked) && parked.length > 0 && (
          <Table.ScrollContainer minWidth={560}>
            <Table striped data-testid="parked-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th scope="col">{t('dashboard.task')}</Table.Th>
                  <Table.Th scope="col">{t('inbox.status')}</Table.Th>
                  <Table.Th scope="col">{t('dashboard.attempts')}</Table.Th>
                  <Table.Th scope="col">{t('dashboard.lastError')}</Table.Th>
                  <Table.Th scope="col">{t('dashboard.replay')}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {parked.map((p) => (
                  <Table.Tr key={p.id}>
                    <Table.Td>{p.taskId}</Table.Td>
                    <Table.Td>
                      {p.status ? t(`status.${p.status}`, { defaultValue: p.status }) : '—'}
                    </Table.Td>
                    <Table.Td>{p.attempts}</Table.Td>
                    <Table.Td>{p.lastError ?? ''}</Table.Td>
                    <Table.Td>
                      <Button size="xs" onClick={() => void replay(p.id)}>
                        {t('dashboard.replayTask', { id: p.taskId })}
                      </Button>
                      {p.lastReplay && (
                        <Text size="xs">
                          {t('dashboard.lastReplay', { name: p.lastReplay.username })}
                        </Text>
                      )}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Section>

      <Section
        title={t('dashboard.directory')}
        csv={
          Array.isArray(directory)
            ? csvHref(
                ['organization', 'service', 'categories', 'capacity', 'available', 'unit'],
                directory.map((d) => [
                  d.organization,
                  d.name,
                  d.categories.join(' '),
                  d.capacity?.status,
                  d.capacity?.available,
                  d.capacity?.unit,
                ]),
              )
            : undefined
        }
      >
        {directory === undefined && loading}
        {typeof directory === 'string' && <Text>{t('common.error', { message: directory })}</Text>}
        {Array.isArray(directory) && (
          <Table.ScrollContainer minWidth={560}>
            <Table striped data-testid="directory-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th scope="col">{t('dashboard.organization')}</Table.Th>
                  <Table.Th scope="col">{t('dashboard.service')}</Table.Th>
                  <Table.Th scope="col">{t('dashboard.by.category')}</Table.Th>
                  <Table.Th scope="col">{t('capacity.title')}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {directory.map((d) => (
                  <Table.Tr key={d.id}>
                    <Table.Td>{d.organization}</Table.Td>
                    <Table.Td>{d.name}</Table.Td>
                    <Table.Td>{d.categories.map((c) => label('category', c)).join(', ')}</Table.Td>
                    <Table.Td>
                      {d.capacity
                        ? `${t(`capacityStatus.${d.capacity.status}`)}${d.capacity.available !== undefined ? ` · ${d.capacity.available} ${d.capacity.unit ?? ''}` : ''}`
                        : t('capacityStatus.unknown')}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Section>
    </Stack>
  );
}
