// Developers → Webhooks: a store's outbound endpoints in the console, end to end.
//
// Where the deliveries go: a sandbox endpoint may reach the public internet or this server's
// own address (http://127.0.0.1:<its port>) and nothing else internal — not a receiver this
// test starts on another loopback port (the console refuses that URL, checked below). So the
// receiver is the one the server already has at its own address: the store's inbound sandbox
// webhook URL, which verifies Standard Webhooks signatures with the store's sandbox webhook
// secret. Saving the endpoint's revealed secret there makes every correctly signed delivery
// "valid" (200) and anything signed otherwise "invalid" (401).
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test, type Page } from '@playwright/test';

import { createStore, openStore, signIn, waitForHydration } from './support';

const PAGE = '/developers/webhooks';

/** A receiver of our own on another loopback port: the URL rule must refuse it. */
async function startReceiver(): Promise<{ url: string; hits: number[]; close: () => Promise<void> }> {
  const hits: number[] = [];
  const server = http.createServer((req, res) => {
    hits.push(Date.now());
    req.resume();
    res.writeHead(200).end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    hits,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Hydrated and quiet: the page's data requests after hydration have answered. A click while
 * one is in flight can land elsewhere: the panel shows "Loading…" meanwhile, the page gets
 * shorter, and the pointer hits what moved under it (CI once clicked the top bar's link home
 * instead of Disable).
 */
async function settle(page: Page) {
  await waitForHydration(page);
  await page.waitForLoadState('networkidle');
}

/** Submits a console form and waits for its server function's answer. */
async function submit(page: Page, fn: string, click: () => Promise<void>) {
  const answered = page.waitForResponse((r) => r.url().includes(`/console/fn/${fn}`) && r.request().method() === 'POST');
  await click();
  return answered;
}

/** Saves `secret` as the store's sandbox webhook signing secret (the inbound receiver's). */
async function trustInbound(page: Page, secret: string) {
  await page.goto('/credentials');
  await settle(page);
  const form = page.locator('#put-credentials');
  await form.getByLabel('Provider').selectOption('sandbox');
  await form.getByLabel('API key / secret key').fill(`sbx_e2e_outbound_${Date.now()}_0123456789`);
  await form.getByLabel('Webhook signing secret').fill(secret);
  await form.getByRole('button', { name: 'Save credentials' }).click();
  await expect(page.getByRole('status')).toContainText('Saved sandbox credentials');
}

/** Reloads the endpoint's page until `check` holds (deliveries are made in the background). */
async function eventually(page: Page, url: string, check: () => Promise<void>) {
  await expect(async () => {
    await page.goto(url);
    await check();
  }).toPass({ timeout: 20_000 });
  await settle(page);
}

function secretBytes(secret: string): number {
  expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
  return Buffer.from(secret.slice('whsec_'.length), 'base64').length;
}

test('a store manages its webhook endpoints: secret once, ping, log, resend, rotation, disable, delete', async ({ page, baseURL }) => {
  test.setTimeout(120_000);
  await signIn(page);
  const name = `Outbound ${Date.now()}`;
  await createStore(page, name);
  const storeId = await page.locator('#stores tr', { hasText: name }).getAttribute('data-store-id');
  expect(storeId).toBeTruthy();
  await openStore(page, name);

  await page.getByRole('link', { name: 'Developers' }).click();
  await expect(page).toHaveURL(/\/developers\/webhooks$/);
  await settle(page);
  await expect(page.locator('#no-endpoints')).toBeVisible();
  const create = page.locator('#create-endpoint');

  // Another port on loopback is internal: refused, and nothing reaches it.
  const receiver = await startReceiver();
  try {
    await create.getByLabel('URL').fill(receiver.url);
    await create.getByLabel('payment_intent.captured').check();
    const refused = await submit(page, 'create_webhook_endpoint', () => create.getByRole('button', { name: 'Add endpoint' }).click());
    expect(refused.status()).toBeGreaterThanOrEqual(400);
    await expect(page.locator('#created-secret [role="alert"]')).toContainText('internal address');
    expect(receiver.hits).toHaveLength(0);
  } finally {
    await receiver.close();
  }

  // The server's own address: the store's inbound sandbox receiver. (The refusal re-rendered
  // the form: fill it again.)
  const inbound = `${baseURL}/api/v1/webhooks/sandbox/${storeId}`;
  await create.getByLabel('URL').fill(inbound);
  await create.getByLabel('payment_intent.captured').check();
  await create.getByLabel('Description').fill('Inbound loop <b>not bold</b>');
  await create.getByLabel('refund.succeeded').check();
  await submit(page, 'create_webhook_endpoint', () => create.getByRole('button', { name: 'Add endpoint' }).click());
  const secret = (await page.locator('#created-secret [data-testid="secret"]').textContent())!.trim();
  expect(secretBytes(secret)).toBe(32);
  const row = page.locator('#webhook-endpoints tbody tr');
  await expect(row).toHaveCount(1);
  await expect(row).toContainText('Inbound loop <b>not bold</b>');
  await expect(row).toContainText('payment_intent.captured, refund.succeeded');
  await expect(row.getByTestId('endpoint-status')).toHaveText('enabled');
  await expect(row.getByTestId('success-rate')).toContainText('no attempts');
  const endpointId = (await row.getAttribute('data-endpoint-id'))!;

  // Shown once: neither the reloaded page nor the server's HTML has it.
  await page.reload();
  await settle(page);
  await expect(page.locator('[data-testid="secret"]')).toHaveCount(0);
  expect(await page.content()).not.toContain(secret);
  const html = await (await page.request.get(`${PAGE}?endpoint=${endpointId}`)).text();
  expect(html).toContain(endpointId);
  expect(html).not.toContain(secret);

  // Another store's (or no) endpoint id is not found.
  await page.goto(`${PAGE}?endpoint=${randomUUID()}`);
  await expect(page.locator('#endpoint-error')).toBeVisible();

  await trustInbound(page, secret);
  const detailUrl = `${PAGE}?endpoint=${endpointId}`;
  await page.goto(PAGE);
  await settle(page);
  await page.locator('#webhook-endpoints').getByRole('link', { name: inbound }).click();
  await expect(page.locator('#endpoint-detail')).toHaveAttribute('data-endpoint-id', endpointId);
  await expect(page.locator('#no-deliveries')).toBeVisible();

  // A test ping reaches the receiver, signed with the revealed secret.
  await submit(page, 'ping_webhook_endpoint', () => page.locator('#ping-endpoint').getByRole('button', { name: 'Send test event' }).click());
  const pinged = page.getByTestId('webhook-endpoint-result').filter({ hasText: 'Test event' });
  await expect(pinged).toContainText(/Test event evt_[0-9a-f]+ sent/);
  const pingText = await pinged.textContent();
  const eventId = pingText!.match(/evt_[0-9a-f]+/)![0];
  const delivery = page.locator('#deliveries tbody tr').first();
  // The page reads the success rate before the log: an attempt recorded between the two reads
  // is in the log but not yet in the rate, so wait for both on one page.
  const rate = page.locator('#webhook-endpoints, #endpoint-detail').getByTestId('success-rate').first();
  await eventually(page, detailUrl, async () => {
    await expect(delivery).toHaveAttribute('data-status', 'succeeded', { timeout: 1_000 });
    await expect(rate).toContainText('100 % of 1', { timeout: 1_000 });
  });
  await expect(delivery).toContainText(eventId);
  await expect(delivery).toContainText('test.ping');
  await delivery.locator('details.attempts summary').click();
  const attempts = delivery.locator('li.attempt');
  await expect(attempts).toHaveCount(1);
  await expect(attempts.first()).toHaveAttribute('data-status-code', '200');
  await expect(attempts.first()).toContainText(/HTTP 200 · \d+ ms/);
  await expect(rate).toContainText('100 % of 1');
  // The receiver recorded it as genuine.
  await page.goto('/webhooks');
  await settle(page);
  const received = page.locator('#webhook-events tbody tr', { hasText: eventId });
  await expect(received).toHaveCount(1);
  await expect(received.locator('.badge')).toHaveText('valid');

  // Resend: the same event goes out again.
  await page.goto(detailUrl);
  await settle(page);
  await submit(page, 'resend_webhook_delivery', () => delivery.getByRole('button', { name: 'Resend' }).click());
  await expect(page.getByTestId('webhook-endpoint-result').filter({ hasText: 'queued again' })).toContainText(`Event ${eventId} queued again`);
  await eventually(page, detailUrl, async () => {
    await expect(delivery.locator('li.attempt')).toHaveCount(2, { timeout: 1_000 });
    await expect(delivery).toHaveAttribute('data-status', 'succeeded', { timeout: 1_000 });
  });

  // Rotation with no overlap: a new secret, shown once; the old one stops signing, so the
  // receiver (still trusting the old one) refuses the next ping.
  const rotate = page.locator('#rotate-secret');
  await rotate.getByLabel('Previous secret keeps signing').selectOption('0');
  await submit(page, 'rotate_webhook_secret', () => rotate.getByRole('button', { name: 'Rotate secret' }).click());
  const rotated = (await page.locator('#rotated-secret [data-testid="secret"]').textContent())!.trim();
  expect(secretBytes(rotated)).toBe(32);
  expect(rotated).not.toBe(secret);
  await expect(page.locator('#endpoint-secrets li')).toHaveCount(1);
  await submit(page, 'ping_webhook_endpoint', () => page.locator('#ping-endpoint').getByRole('button', { name: 'Send test event' }).click());
  const refusedPing = page.locator('#deliveries tbody tr').first();
  await eventually(page, detailUrl, async () => {
    await expect(refusedPing.locator('li.attempt').first()).toHaveAttribute('data-status-code', '401', { timeout: 1_000 });
  });
  // The log filters by status.
  const filter = page.locator('#delivery-filter');
  await filter.getByLabel('Status').selectOption('succeeded');
  await filter.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/status=succeeded/);
  await expect(page.locator('#deliveries tbody tr')).toHaveCount(1);
  await expect(page.locator('#deliveries tbody tr[data-status="succeeded"]')).toHaveCount(1);
  // Trusting the new secret, a resend of the refused ping succeeds.
  await trustInbound(page, rotated);
  await page.goto(detailUrl);
  await settle(page);
  const retried = page.locator('#deliveries tbody tr').first();
  await submit(page, 'resend_webhook_delivery', () => retried.getByRole('button', { name: 'Resend' }).click());
  await eventually(page, detailUrl, async () => {
    await expect(retried).toHaveAttribute('data-status', 'succeeded', { timeout: 1_000 });
  });

  // Disable: a person did it; no ping, no resend until it is enabled again.
  // From the keyboard: a key press goes to the button itself, whatever moved on the page.
  const disabled = await submit(page, 'set_webhook_endpoint_enabled', () => page.locator('#toggle-endpoint').getByRole('button', { name: 'Disable' }).press('Enter'));
  expect(disabled.ok()).toBeTruthy();
  // Read back from a fresh page: twice in CI the page was the Overview right after this answer
  // (cause not found; see the closing note), which says nothing about the endpoint.
  await page.goto(detailUrl);
  await settle(page);
  await expect(page.locator('#endpoint-detail').getByTestId('endpoint-status')).toHaveText('disabled by a person');
  await expect(page.locator('#ping-endpoint')).toHaveCount(0);
  await expect(page.locator('#deliveries').getByRole('button', { name: 'Resend' })).toHaveCount(0);
  await expect(page.getByTestId('disabled-notice')).toHaveCount(0);

  // Delete asks for confirmation first.
  const remove = page.locator('#delete-endpoint');
  await submit(page, 'delete_webhook_endpoint', () => remove.getByRole('button', { name: 'Delete endpoint' }).click());
  await expect(page.getByTestId('webhook-endpoint-result').filter({ hasText: 'Tick the confirmation box first' })).toBeVisible();
  await remove.getByLabel('delete it with its secrets and delivery log').check();
  await submit(page, 'delete_webhook_endpoint', () => remove.getByRole('button', { name: 'Delete endpoint' }).click());
  await expect(page).toHaveURL(/\/developers\/webhooks$/);
  await expect(page.locator('#no-endpoints')).toBeVisible();
});
