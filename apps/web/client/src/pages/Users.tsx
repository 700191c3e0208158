import { Alert, Badge, Button, Stack, Table, Title } from '@mantine/core';
import { useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../api';

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
      <Table.ScrollContainer minWidth={480}>
        <Table>
          <Table.Thead>
            <Table.Tr>
              <Table.Th scope="col">{t('users.username')}</Table.Th>
              <Table.Th scope="col">{t('users.name')}</Table.Th>
              <Table.Th scope="col">{t('users.role')}</Table.Th>
              <Table.Th scope="col">
                <span className="visually-hidden">{t('users.reset')}</span>
              </Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {people.map((p) => (
              <Table.Tr key={p.id}>
                <Table.Td>
                  {p.username}{' '}
                  {p.locked && (
                    <Badge color="red.9" variant="outline">
                      {t('users.locked')}
                    </Badge>
                  )}
                </Table.Td>
                <Table.Td>{p.displayName}</Table.Td>
                <Table.Td>{t(`roles.${p.role}`)}</Table.Td>
                <Table.Td>
                  <Button size="xs" variant="outline" onClick={() => void reset(p)}>
                    {t('users.reset')}
                  </Button>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </Stack>
  );
}
