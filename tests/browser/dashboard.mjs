// The leaders' dashboard: reachable from the workbench, readable, accessible (axe); live over SSE (a
// ticket taken elsewhere shows without a reload); every figure downloads; phone and big-screen layouts.

import { withBrowser, check, expectText, expectVisible, axe, expectNoHorizontalScroll } from './lib.mjs';

const takeTicket = (base) =>
  fetch(`${base}/api/v1/tickets`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ queue: 'general' }) });

await withBrowser(async ({ page, context, go, base, newPhonePage }) => {
  check((await takeTicket(base)).ok, 'a citizen takes a ticket');
  await go('/login');
  await page.getByLabel('用户名').fill('leader');
  await page.getByLabel('密码').fill('changshan2018');
  await Promise.all([page.waitForURL('**/admin'), page.getByRole('button', { name: '登录' }).click()]);
  await Promise.all([page.waitForURL('**/dashboard'), page.locator('#workbench-links').getByRole('link', { name: '指挥中心驾驶舱' }).click()]);
  await expectText(page.getByRole('heading', { level: 1 }), '指挥中心驾驶舱', 'the dashboard opens from the workbench');
  await expectText(page.locator('#today-figures'), '取号 1', 'today counts the ticket just taken');
  await expectVisible(page.locator('#queues'), 'the queues table is shown');
  await expectVisible(page.locator('#department-load'), 'the department load table is shown');
  check((await page.locator('svg.trend rect').count()) === 60, '30 days × 2 bars in the trend chart');

  // Live: the page follows the county without reloading.
  await expectText(page.locator('#live-status'), '实时更新中', 'the page is connected to the live stream');
  await page.evaluate(() => {
    window.__sameDocument = true;
  });
  check((await takeTicket(base)).ok, 'another citizen takes a ticket');
  await expectText(page.locator('#today-figures'), '取号 2', 'the new ticket shows on the page without a reload');
  check(await page.evaluate(() => window.__sameDocument === true), 'the page was not reloaded');

  // Every figure downloads, as CSV and XLSX.
  const links = await page.locator('#dashboard-live a[download]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  check(links.length === 22, `11 figures × 2 formats linked (${links.length})`);
  for (const href of links) {
    const r = await page.request.get(base + href);
    check(r.ok() && /attachment/.test(r.headers()['content-disposition'] ?? ''), `${href} downloads`);
  }
  const csv = await (await page.request.get(base + links.find((h) => h.includes('today.csv')))).text();
  check(csv.split('\n')[1].split(',')[1] === '2', 'the CSV of today holds the two tickets');
  await axe(page, { label: 'dashboard' });

  // A big screen: three columns, larger cards.
  await page.setViewportSize({ width: 1920, height: 1080 });
  const columns = await page.locator('#dashboard-live').evaluate((el) => getComputedStyle(el).gridTemplateColumns.split(' ').length);
  check(columns === 3, `three columns on a 1920px screen (${columns})`);
  await expectNoHorizontalScroll(page, 'dashboard on a big screen');

  // A phone: one column, nothing wider than the screen.
  const { page: phone } = await newPhonePage();
  await phone.context().addCookies(await context.cookies());
  await phone.goto(`${base}/dashboard`);
  await expectText(phone.locator('#today-figures'), '取号 2', 'the phone shows the same figures');
  const phoneColumns = await phone.locator('#dashboard-live').evaluate((el) => getComputedStyle(el).gridTemplateColumns.split(' ').length);
  check(phoneColumns === 1, `one column on a phone (${phoneColumns})`);
  await expectNoHorizontalScroll(phone, 'dashboard on a phone');
  await axe(phone, { label: 'dashboard on a phone' });
});
