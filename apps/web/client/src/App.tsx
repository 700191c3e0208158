import { Anchor, AppShell, Button, Group, Loader, NativeSelect, Text, Title } from '@mantine/core';
import { lazy, Suspense, useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, setCsrfToken, type Me } from './api';
import { setLanguage, type Language } from './i18n';
import { navigate, usePath } from './router';
import { SignIn } from './pages/SignIn';
import { Inbox } from './pages/Inbox';
import { Referral } from './pages/Referral';
import { Users } from './pages/Users';
import { Capacity } from './pages/Capacity';

// The dashboard's charts are the biggest part of the client: loaded when a coordinator opens it.
const Dashboard = lazy(() => import('./pages/Dashboard').then((m) => ({ default: m.Dashboard })));

export function App() {
  const { t, i18n } = useTranslation();
  const path = usePath();
  const [me, setMe] = useState<Me | null | undefined>(undefined);

  const load = useCallback(async () => {
    try {
      const session = await api<Me>('/api/session');
      setCsrfToken(session.csrfToken);
      setLanguage(session.user.language);
      setMe(session);
    } catch {
      setMe(null);
    }
  }, []);
  useEffect(() => void load(), [load]);

  if (me === undefined) return <Loader m="xl" aria-label={t('common.loading')} />;
  if (me === null) return <SignIn onSignedIn={load} />;

  const home = me.user.role === 'coordinator' ? '/dashboard' : '/inbox';
  const referralId = /^\/referrals\/([A-Za-z0-9\-.]{1,64})$/.exec(path)?.[1];
  let page;
  if (referralId && me.user.role !== 'coordinator') page = <Referral id={referralId} />;
  else if (path === '/dashboard' && me.user.role === 'coordinator')
    page = (
      <Suspense fallback={<Loader aria-label={t('common.loading')} />}>
        <Dashboard />
      </Suspense>
    );
  else if (path === '/capacity' && me.user.role === 'cbo-admin') page = <Capacity />;
  else if (path === '/users' && me.user.role === 'cbo-admin') page = <Users />;
  else if (path === '/inbox' && me.user.role !== 'coordinator') page = <Inbox />;
  else {
    if (path !== home) setTimeout(() => navigate(home));
    page = <Loader aria-label={t('common.loading')} />;
  }

  const changeLanguage = async (language: Language) => {
    setLanguage(language);
    await api('/api/session/language', { method: 'PUT', body: { language } }).catch(
      () => undefined,
    );
  };
  const signOut = async () => {
    await api('/api/session', { method: 'DELETE' }).catch(() => undefined);
    setMe(null);
    navigate('/');
  };
  const link = (to: string, label: string) => (
    <Anchor
      href={to}
      c="blue.9"
      fw={path === to ? 700 : 400}
      aria-current={path === to ? 'page' : undefined}
      onClick={(e) => {
        e.preventDefault();
        navigate(to);
      }}
    >
      {label}
    </Anchor>
  );

  return (
    <AppShell header={{ height: { base: 110, sm: 64 } }} padding="md">
      <a className="skip-link" href="#main">
        {t('app.skip')}
      </a>
      <AppShell.Header p="sm">
        <Group justify="space-between" wrap="wrap" gap="xs">
          <Group gap="md" wrap="wrap">
            <Title order={2} size="h4">
              {t('app.name')}
            </Title>
            <nav aria-label="main">
              <Group gap="md">
                {me.user.role !== 'coordinator' && link('/inbox', t('nav.inbox'))}
                {me.user.role === 'coordinator' && link('/dashboard', t('nav.dashboard'))}
                {me.user.role === 'cbo-admin' && link('/users', t('nav.users'))}
                {me.user.role === 'cbo-admin' && link('/capacity', t('nav.capacity'))}
              </Group>
            </nav>
          </Group>
          <Group gap="xs" wrap="wrap">
            <Text size="sm" data-testid="signed-in-as">
              {t('app.signedInAs', { name: me.user.displayName })}
            </Text>
            <NativeSelect
              aria-label={t('app.language')}
              size="xs"
              value={i18n.language}
              data={[
                { value: 'en', label: 'English' },
                { value: 'es', label: 'Español' },
              ]}
              onChange={(e) => void changeLanguage(e.currentTarget.value as Language)}
            />
            <Button size="xs" variant="outline" onClick={() => void signOut()}>
              {t('app.signOut')}
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Main id="main" tabIndex={-1}>
        {page}
      </AppShell.Main>
    </AppShell>
  );
}
