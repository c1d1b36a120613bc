// axe-core on every page of the console, with data on it (a store with a captured order), and
// on the sign-in page signed out: no serious or critical WCAG 2.1 A/AA violation anywhere.
import { randomUUID } from 'node:crypto';
import { test } from '@playwright/test';

import {
  capturedOrder, createStore, expectNoSeriousA11yViolations, openStore, signIn, waitForHydration,
} from './support';

test('every console page passes axe-core', async ({ page, request, browser }) => {
  test.setTimeout(180_000);
  const context = await browser.newContext();
  const signedOut = await context.newPage();
  await signedOut.goto('/sign-in');
  await waitForHydration(signedOut);
  await expectNoSeriousA11yViolations(signedOut);
  await context.close();

  await signIn(page);
  const name = `A11y ${randomUUID().slice(0, 8)}`;
  const key = await createStore(page, name);
  const { customerId, orderId } = await capturedOrder(request, key);
  await openStore(page, name);
  const pages = [
    '/', '/orders', `/orders/${orderId}`, '/customers', `/customers/${customerId}`, '/payments',
    '/catalogue', '/disputes', '/shipments', '/tax', '/reconciliation', '/webhooks', '/api-keys',
    '/developers/webhooks', '/credentials', '/settings', '/settings/team', '/settings/shipping',
    '/settings/tax-rates', '/platform/stores', '/platform/keys', '/platform/fx-rates', '/password',
  ];
  for (const path of pages) {
    await test.step(path, async () => {
      await page.goto(path);
      await waitForHydration(page);
      await page.waitForLoadState('networkidle');
      await expectNoSeriousA11yViolations(page);
    });
  }
});
