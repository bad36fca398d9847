// The leaders' dashboard: reachable from the workbench, readable, accessible (axe).

import { withBrowser, check, expectText, expectVisible, axe } from './lib.mjs';

await withBrowser(async ({ page, go, base }) => {
  await page.request.post(`${base}/api/v1/tickets`, { data: { queue: 'general' } });
  await go('/login');
  await page.getByLabel('用户名').fill('leader');
  await page.getByLabel('密码').fill('changshan2018');
  await Promise.all([page.waitForURL('**/admin'), page.getByRole('button', { name: '登录' }).click()]);
  await Promise.all([page.waitForURL('**/dashboard'), page.locator('#workbench-links').getByRole('link', { name: '指挥中心驾驶舱' }).click()]);
  await expectText(page.getByRole('heading', { level: 1 }), '指挥中心驾驶舱', 'the dashboard opens from the workbench');
  await expectText(page.locator('#today-figures'), '取号 1', 'today counts the ticket just taken');
  await expectVisible(page.locator('#queues'), 'the queues table is shown');
  check((await page.locator('svg.trend rect').count()) === 60, '30 days × 2 bars in the trend chart');
  await axe(page, { label: 'dashboard' });
});
