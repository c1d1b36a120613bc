import { expect, test, type APIRequestContext } from '@playwright/test';
import * as fs from 'node:fs';

import { capturedOrder, createStore, openStore, signIn, waitForHydration } from './support';

test('a merchant edits rates and nexus, sees the report, and downloads an export twice byte for byte', async ({ page, request }) => {
  await signIn(page);
  const name = `Tax ${Date.now()}`;
  const key = await createStore(page, name);

  await openStore(page, name);

  // The editors take the API's JSON; a bad rate is refused with the API's message.
  await page.getByRole('link', { name: 'Tax', exact: true }).click();
  await waitForHydration(page);
  const rates = page.locator('#tax-rates');
  await rates.getByLabel('Rates (JSON)').fill(JSON.stringify({ rules: [{ country: 'US', subdivision: 'CA', tax_code: '*', rate: '1.5' }] }));
  await rates.getByRole('button', { name: 'Save rates' }).click();
  await expect(page.getByTestId('tax-result')).toContainText('rules[0].rate');
  await rates.getByLabel('Rates (JSON)').fill(JSON.stringify({
    rules: [
      { country: 'US', subdivision: 'CA', tax_code: '*', rate: '0.0725' },
      { country: 'US', subdivision: 'CA', county: 'Los Angeles', postal_codes: ['900*'], tax_code: '*', rate: '0.0025' },
      { country: 'US', subdivision: 'CA', city: 'Los Angeles', tax_code: '*', rate: '0.0225' },
    ],
  }));
  await rates.getByRole('button', { name: 'Save rates' }).click();
  await expect(page.getByTestId('tax-result')).toContainText('Saved 3 rates');
  const nexus = page.locator('#tax-nexus');
  await nexus.getByLabel('Nexus (JSON)').fill(JSON.stringify({ nexus: [{ country: 'US', subdivision: 'CA', since: '2020-01-01' }] }));
  await nexus.getByRole('button', { name: 'Save nexus' }).click();
  await expect(page.getByTestId('tax-result').last()).toContainText('Saved 1 places');

  const { customerId, quote } = await capturedOrder(request, key);
  // 7.25 % + 0.25 % + 2.25 % of 100.00.
  expect(quote.totals.tax).toBe(975);
  await page.reload();
  await waitForHydration(page);
  const report = page.locator('#tax-report');
  await expect(report.locator('tr[data-jurisdiction="US-CA"] [data-testid="net"]')).toHaveText('$7.25 USD');
  await expect(report.locator('tr[data-jurisdiction="US-CA/city:LOS ANGELES"] [data-testid="net"]')).toHaveText('$2.25 USD');

  // The export downloads as a file and is recorded; downloading it again gives the same bytes.
  const first = page.waitForEvent('download');
  await page.locator('#export-jurisdiction').click();
  const file = fs.readFileSync((await (await first).path())!);
  const text = file.toString('utf8');
  expect(text.split('\r\n')[0]).toBe('period_from,period_to,jurisdiction,currency,taxable,exempt,tax_collected,tax_reversed,net,commits,reversals');
  expect(text).toContain(',US-CA,USD,10000,0,725,0,725,1,0');
  await page.reload();
  await waitForHydration(page);
  const row = page.locator('#tax-exports tbody tr').first();
  await expect(row).toHaveAttribute('data-status', 'completed');
  await expect(row.getByTestId('rows')).toHaveText('3');
  const again = page.waitForEvent('download');
  await row.getByTestId('download').click();
  expect(fs.readFileSync((await (await again).path())!).equals(file)).toBeTruthy();

  // A customer's exemption certificate: recorded, listed, revoked.
  await page.goto(`/tax?customer=${customerId}`);
  await waitForHydration(page);
  const exemptions = page.locator('#tax-exemptions');
  await exemptions.getByLabel('Certificate').fill('CA-RESALE-9');
  await exemptions.getByLabel('Jurisdictions').fill('us-ca');
  await exemptions.getByLabel('Expires').fill('2030-12-31');
  await exemptions.getByRole('button', { name: 'Add certificate' }).click();
  await expect(page.getByTestId('exemption-result')).toContainText('Recorded certificate CA-RESALE-9 for US-CA');
  const certificate = exemptions.locator('li[data-certificate="CA-RESALE-9"]');
  await expect(certificate).toContainText('until 2030-12-31');
  await certificate.getByRole('button', { name: 'Revoke' }).click();
  await expect(certificate).toHaveCount(0);
});

test('a merchant chooses the tax engine and what a quote does when it cannot answer', async ({ page }) => {
  await signIn(page);
  const name = `Engine ${Date.now()}`;
  await createStore(page, name);
  await openStore(page, name);
  await page.getByRole('link', { name: 'Tax', exact: true }).click();
  await waitForHydration(page);
  const engine = page.locator('#tax-engine');
  await expect(engine.getByLabel('Engine')).toHaveValue('rules');

  // A tax service without credentials in this environment is refused with the API's reason.
  await engine.getByLabel('Engine').selectOption('taxapi');
  await engine.getByRole('button', { name: 'Save engine' }).click();
  await expect(page.getByTestId('tax-result').last()).toContainText('credentials for this environment');

  await engine.getByLabel('Engine').selectOption('rules');
  await engine.getByLabel('When it cannot answer').selectOption('rules');
  await engine.getByRole('button', { name: 'Save engine' }).click();
  await expect(page.getByTestId('tax-result').last()).toContainText("taxed with the store's rates");
  await page.reload();
  await waitForHydration(page);
  await expect(page.locator('#tax-engine').getByLabel('When it cannot answer')).toHaveValue('rules');
});
