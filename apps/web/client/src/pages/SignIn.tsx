import {
  Alert,
  Button,
  Container,
  NativeSelect,
  Paper,
  PasswordInput,
  Stack,
  TextInput,
  Title,
} from '@mantine/core';
import { useEffect, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { api, setCsrfToken, type Me } from '../api';
import { setLanguage, type Language } from '../i18n';

export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const { t, i18n } = useTranslation();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(false);
  const [busy, setBusy] = useState(false);
  const [options, setOptions] = useState({ password: true, oidc: false });
  useEffect(() => {
    api<{ password: boolean; oidc: boolean }>('/api/config').then(setOptions, () => undefined);
  }, []);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(false);
    try {
      const session = await api<Me>('/api/session', {
        method: 'POST',
        body: { username, password },
      });
      setCsrfToken(session.csrfToken);
      onSignedIn();
    } catch {
      setError(true);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Container size={420} py="xl" component="main">
      <Stack>
        <NativeSelect
          aria-label={t('app.language')}
          value={i18n.language}
          data={[
            { value: 'en', label: 'English' },
            { value: 'es', label: 'Español' },
          ]}
          onChange={(e) => setLanguage(e.currentTarget.value as Language)}
        />
        <Title order={1}>{t('signIn.title')}</Title>
        <Paper withBorder p="lg" radius="md">
          {options.password && (
            <form onSubmit={(e) => void submit(e)}>
              <Stack>
                <TextInput
                  label={t('signIn.username')}
                  name="username"
                  autoComplete="username"
                  required
                  value={username}
                  onChange={(e) => setUsername(e.currentTarget.value)}
                />
                <PasswordInput
                  label={t('signIn.password')}
                  name="password"
                  autoComplete="current-password"
                  required
                  value={password}
                  onChange={(e) => setPassword(e.currentTarget.value)}
                />
                {error && (
                  <Alert color="red" role="alert">
                    {t('signIn.failed')}
                  </Alert>
                )}
                <Button type="submit" loading={busy}>
                  {t('signIn.submit')}
                </Button>
              </Stack>
            </form>
          )}
          {options.oidc && (
            <Button component="a" href="/api/oidc/login" variant="outline" mt="md" fullWidth>
              {t('signIn.oidc')}
            </Button>
          )}
        </Paper>
      </Stack>
    </Container>
  );
}
