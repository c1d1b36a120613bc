import { expect, test, type Page } from '@playwright/test';

import { ADMIN_EMAIL, ADMIN_PASSWORD, signIn, waitForHydration } from './support';

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** Today (UTC) as the ECB's daily file writes it, `03 December 2026`: today's rates are fresh. */
function ecbToday(): string {
  const now = new Date();
  return `${String(now.getUTCDate()).padStart(2, '0')} ${MONTHS[now.getUTCMonth()]} ${now.getUTCFullYear()}`;
}

/** Today (UTC) as JSON feeds write it. */
function isoToday(): string {
  return new Date().toISOString().slice(0, 10);
}

async function importFile(page: Page, format: 'ecb_csv' | 'json', source: string, data: string) {
  const form = page.locator('#fx-import-form');
  await form.getByLabel('Format').selectOption(format);
  await form.getByLabel('Source').fill(source);
  await form.getByLabel('File text').fill(data);
  await form.getByRole('button', { name: 'Import' }).click();
}

test('a platform admin imports exchange rates and reads the newest, the stale and the history', async ({ page }) => {
  await signIn(page);
  await page.getByRole('link', { name: 'FX rates' }).click();
  await expect(page).toHaveURL(/\/platform\/fx-rates$/);
  await waitForHydration(page);
  await expect(page.locator('#no-rates')).toContainText("No rates yet: import the ECB's eurofxref.csv");

  // The ECB's daily file: three currencies per EUR, a trailing comma on every line.
  const daily = `Date, USD, JPY, KWD, \n${ecbToday()}, 1.0512, 158.42, 0.32311, \n`;
  await importFile(page, 'ecb_csv', '', daily);
  await expect(page.getByTestId('import-result')).toContainText('3 imported, 0 already known');
  const jpy = page.locator('#fx-latest tr[data-source="ecb"][data-pair="EUR/JPY"]');
  await expect(jpy.getByTestId('pair')).toHaveText('EUR → JPY');
  await expect(jpy.getByTestId('rate')).toHaveText('158.42');
  await expect(jpy).toHaveAttribute('data-stale', 'false');
  await expect(jpy.getByTestId('stale')).toHaveCount(0);
  await expect(page.locator('#fx-latest tbody tr')).toHaveCount(3);

  // The same file again stores nothing new.
  await importFile(page, 'ecb_csv', '', daily);
  await expect(page.getByTestId('import-result')).toContainText('0 imported, 3 already known');

  // A JSON feed must be named: the refusal stands beside the field.
  const old = '{"base":"USD","date":"2020-01-02","rates":{"GBP":0.76}}';
  await importFile(page, 'json', '', old);
  await expect(page.getByTestId('error-source')).toContainText('name the feed');
  await expect(page.getByTestId('import-result')).toHaveCount(0);

  // A rate from 2020 is long past any store's maximum age: marked stale.
  await importFile(page, 'json', 'old-feed', old);
  await expect(page.getByTestId('import-result')).toContainText('1 imported, 0 already known');
  await expect(page.getByTestId('error-source')).toHaveCount(0);
  const gbp = page.locator('#fx-latest tr[data-source="old-feed"][data-pair="USD/GBP"]');
  await expect(gbp.getByTestId('stale')).toBeVisible();
  await expect(gbp.getByTestId('stale')).toHaveText('stale');
  await expect(gbp.getByTestId('age')).toHaveText(/^\d+ d \d+ h$/);

  // A file that is not a rates file: the reason stands beside the text.
  await importFile(page, 'ecb_csv', '', 'Currency, Rate\n');
  await expect(page.getByTestId('error-data')).toContainText('Date');

  // History, newest first, filtered by quote currency.
  await expect(page.locator('#fx-history tbody tr')).toHaveCount(4);
  const filter = page.locator('#fx-history-filter');
  await filter.getByLabel('Quote').fill('jpy');
  await filter.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/quote=jpy/);
  await waitForHydration(page);
  await expect(filter.getByLabel('Quote')).toHaveValue('JPY');
  const rows = page.locator('#fx-history tbody tr');
  await expect(rows).toHaveCount(1);
  await expect(rows.first().getByTestId('pair')).toHaveText('EUR → JPY');
  await expect(rows.first().getByTestId('rate')).toHaveText('158.42');
  await expect(page.locator('#fx-older')).toHaveCount(0);
  await filter.getByRole('link', { name: 'Clear' }).click();
  await expect(page).toHaveURL(/\/platform\/fx-rates$/);
  await expect(page.locator('#fx-history tbody tr')).toHaveCount(4);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the page renders on the server and imports as a plain form post', async ({ page }) => {
    await page.goto('/sign-in');
    await page.getByLabel('Email').fill(ADMIN_EMAIL);
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByTestId('viewer-email')).toHaveText(ADMIN_EMAIL);

    await page.goto('/platform/fx-rates');
    await expect(page.getByRole('heading', { name: 'FX rates' })).toBeVisible();
    await importFile(page, 'json', 'plain-form', `{"base":"CHF","date":"${isoToday()}","rates":{"SEK":11.5}}`);
    // The console sends no Referer, so the post lands on the overview; the page lists the rate.
    await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();
    await page.goto('/platform/fx-rates');
    const sek = page.locator('#fx-latest tr[data-source="plain-form"][data-pair="CHF/SEK"]');
    await expect(sek.getByTestId('rate')).toHaveText('11.5');

    await page.goto('/platform/fx-rates?base=CHF');
    await expect(page.locator('#fx-history-filter input[name="base"]')).toHaveValue('CHF');
    await expect(page.locator('#fx-history tbody tr')).toHaveCount(1);
    await expect(page.locator('#fx-history tbody tr').getByTestId('pair')).toHaveText('CHF → SEK');
  });
});
