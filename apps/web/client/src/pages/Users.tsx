import { Alert, Badge, Button, Stack, Title } from '@mantine/core';
import { useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../api';
import { DataTable } from '../components/DataTable';

interface Person {
  id: string;
  username: string;
  displayName: string;
  role: string;
  locked?: boolean;
}

export function Users() {
  const { t } = useTranslation();
  const [people, setPeople] = useState<Person[]>([]);
  const [message, setMessage] = useState<string>();
  const load = useCallback(
    () => api<Person[]>('/api/users').then(setPeople, (e: Error) => setMessage(e.message)),
    [],
  );
  useEffect(() => void load(), [load]);
  const reset = async (person: Person) => {
    const { temporaryPassword } = await api<{ temporaryPassword: string }>(
      `/api/users/${person.id}/password-reset`,
      { method: 'POST' },
    );
    setMessage(t('users.temporary', { username: person.username, password: temporaryPassword }));
    void load();
  };
  return (
    <Stack>
      <Title order={1}>{t('users.title')}</Title>
      {message && <Alert role="status">{message}</Alert>}
      <DataTable
        minWidth={480}
        striped={false}
        rows={people}
        rowKey={(p) => p.id}
        columns={[
          {
            header: t('users.username'),
            cell: (p) => (
              <>
                {p.username}{' '}
                {p.locked && (
                  <Badge color="red.9" variant="outline">
                    {t('users.locked')}
                  </Badge>
                )}
              </>
            ),
          },
          { header: t('users.name'), cell: (p) => p.displayName },
          { header: t('users.role'), cell: (p) => t(`roles.${p.role}`) },
          {
            header: <span className="visually-hidden">{t('users.reset')}</span>,
            cell: (p) => (
              <Button size="xs" variant="outline" onClick={() => void reset(p)}>
                {t('users.reset')}
              </Button>
            ),
          },
        ]}
      />
    </Stack>
  );
}
