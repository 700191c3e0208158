import {
  Alert,
  Button,
  Card,
  Group,
  Loader,
  NativeSelect,
  NumberInput,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../api';

interface OwnService {
  id: string;
  name: string;
  status: string;
  categories: string[];
  capacity?: {
    status: string;
    available?: number;
    unit?: string;
    updatedAt?: string;
    notes?: string;
  };
}
const STATUSES = ['available', 'waitlist', 'no-capacity'];

/** One service: its capacity now and a form to change it. */
function ServiceCapacity({ service, onSaved }: { service: OwnService; onSaved: () => void }) {
  const { t, i18n } = useTranslation();
  const [status, setStatus] = useState(service.capacity?.status ?? 'available');
  const [available, setAvailable] = useState<number | string>(service.capacity?.available ?? '');
  const [notes, setNotes] = useState(service.capacity?.notes ?? '');
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string }>();

  const save = async () => {
    setBusy(true);
    setMessage(undefined);
    try {
      await api(`/api/services/${encodeURIComponent(service.id)}/capacity`, {
        method: 'PATCH',
        body: {
          status,
          ...(typeof available === 'number' ? { available } : {}),
          ...(notes.trim() ? { notes } : {}),
        },
      });
      setMessage({ ok: true, text: t('capacity.saved') });
      onSaved();
    } catch (e) {
      setMessage({ ok: false, text: (e as Error).message });
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card withBorder component="section" aria-label={service.name} data-service-id={service.id}>
      <Title order={2} size="h4">
        {service.name}
      </Title>
      <Text size="sm" data-testid="capacity-now">
        {t('capacity.now', {
          status: t(`capacityStatus.${service.capacity?.status ?? 'unknown'}`),
        })}
        {service.capacity?.updatedAt
          ? ` · ${new Date(service.capacity.updatedAt).toLocaleString(i18n.language, { dateStyle: 'medium', timeStyle: 'short' })}`
          : ''}
      </Text>
      <Group align="end" wrap="wrap" mt="sm">
        <NativeSelect
          label={t('capacity.status')}
          value={status}
          onChange={(e) => setStatus(e.currentTarget.value)}
          data={STATUSES.map((s) => ({ value: s, label: t(`capacityStatus.${s}`) }))}
        />
        <NumberInput
          label={t('capacity.places', { unit: service.capacity?.unit ?? '' })}
          min={0}
          max={100000}
          allowDecimal={false}
          value={available}
          onChange={setAvailable}
          maw={200}
        />
        <TextInput
          label={t('capacity.notes')}
          value={notes}
          onChange={(e) => setNotes(e.currentTarget.value)}
        />
        <Button loading={busy} onClick={() => void save()}>
          {t('capacity.save')}
        </Button>
      </Group>
      {message && (
        <Alert mt="sm" color={message.ok ? 'green' : 'red'} role={message.ok ? 'status' : 'alert'}>
          {message.text}
        </Alert>
      )}
    </Card>
  );
}

/** A CBO admin's services and their capacity (open / waitlist / full), kept in the directory. */
export function Capacity() {
  const { t } = useTranslation();
  const [services, setServices] = useState<OwnService[]>();
  const [error, setError] = useState<string>();
  const load = useCallback(
    () => api<OwnService[]>('/api/services').then(setServices, (e: Error) => setError(e.message)),
    [],
  );
  useEffect(() => void load(), [load]);
  return (
    <Stack>
      <Title order={1}>{t('capacity.pageTitle')}</Title>
      <Text size="sm">{t('capacity.help')}</Text>
      {error && (
        <Alert color="red" role="alert">
          {t('common.error', { message: error })}
        </Alert>
      )}
      {!services && !error && <Loader aria-label={t('common.loading')} />}
      {services && services.length === 0 && <Text>{t('capacity.none')}</Text>}
      {services?.map((s) => (
        <ServiceCapacity key={s.id} service={s} onSaved={() => void load()} />
      ))}
    </Stack>
  );
}
