// Screenshots of the console's main pages for the README, on the seeded demo store.
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';

import { openStore, signIn, waitForHydration } from '../tests/support';

const OUT = path.resolve(__dirname, '..', '..', 'docs', 'screenshots');

async function shoot(page: Page, url: string, name: string) {
  await page.goto(url);
  await waitForHydration(page);
  await page.waitForLoadState('networkidle');
  await page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: false });
}

test('screenshots of the main pages', async ({ page }) => {
  await signIn(page);
  await openStore(page, 'Demo Shop');
  await shoot(page, '/', 'overview');
  await shoot(page, '/orders', 'orders');
  const first = page.locator('#orders tbody tr').first();
  const orderId = await first.getAttribute('data-order-id');
  expect(orderId).toBeTruthy();
  await shoot(page, `/orders/${orderId}`, 'order');
  await shoot(page, '/payments', 'payments');
  await shoot(page, '/catalogue', 'catalogue');
  await shoot(page, '/customers', 'customers');
  await shoot(page, '/settings/shipping', 'shipping-rates');
  await shoot(page, '/settings/team', 'team');
});
