// The staffing simulation page: a leader runs the default hall, then their own day; bad input is named;
// charts are drawn by the server; accessible (axe), and usable on a phone.

import { withBrowser, check, expectText, expectVisible, axe, expectNoHorizontalScroll } from './lib.mjs';

await withBrowser(async ({ page, context, go, allowConsoleErrors, newPhonePage }) => {
  await go('/login?next=/simulate');
  await page.getByLabel('用户名').fill('leader');
  await page.getByLabel('密码').fill('changshan2018');
  await Promise.all([page.waitForURL('**/simulate'), page.getByRole('button', { name: '登录' }).click()]);
  await expectText(page.getByRole('heading', { level: 1 }), '窗口配置模拟', 'the simulation page opens after login');
  await expectVisible(page.locator('#sim-results'), 'the default hall is simulated at once');
  check((await page.locator('#sim-results tbody tr').count()) === 2, 'pooled and department layouts side by side');
  check((await page.locator('svg.sim-wait rect').count()) === 16, '8 hours × 2 layouts in the wait chart');
  check((await page.locator('svg.sim-windows rect').count()) === 24, '8 hours × 3 bars in the windows chart');
  const pooledWait = Number(await page.locator('#sim-results tbody tr').nth(0).locator('td').nth(0).textContent());
  const splitWait = Number(await page.locator('#sim-results tbody tr').nth(1).locator('td').nth(0).textContent());
  check(pooledWait < splitWait, `pooled windows wait less (${pooledWait} < ${splitWait} min)`);
  await axe(page, { label: 'simulate (results)' });

  // Their own day: three hours, fixed windows, pooled only.
  await page.getByLabel('每小时到达人数（逗号分隔，自9:00起）').fill('30,60,30');
  await page.getByLabel('每小时窗口数（留空则按爱尔朗C建议）').fill('6,11,6');
  await page.getByLabel('窗口布局').selectOption('pooled');
  await Promise.all([page.waitForURL('**/simulate?*'), page.getByRole('button', { name: '模拟' }).click()]);
  check((await page.locator('#sim-results tbody tr').count()) === 1, 'pooled only, as chosen');
  check((await page.locator('#sim-erlang tbody tr').count()) === 3, 'Erlang C per hour for the three hours');
  await expectText(page.locator('#sim-erlang tbody tr').nth(1).locator('td').nth(3), '11', 'the simulated windows are the ones given');

  // Bad input: each field named, nothing simulated.
  await allowConsoleErrors(/422/, async () => {
    await page.getByLabel('每小时到达人数（逗号分隔，自9:00起）').fill('30,abc');
    await page.getByLabel('平均办理时间（分钟）').fill('0');
    await Promise.all([page.waitForURL('**/simulate?*'), page.getByRole('button', { name: '模拟' }).click()]);
  });
  await expectText(page.locator('#sim-errors'), '每小时到达人数', 'the arrivals field is named');
  await expectText(page.locator('#sim-errors'), '平均办理时间', 'the service time field is named');
  check((await page.locator('#sim-results').count()) === 0, 'no results for bad input');
  await axe(page, { label: 'simulate (errors)' });

  // On a phone.
  const { page: phone } = await newPhonePage();
  await phone.context().addCookies(await context.cookies());
  await phone.goto(page.url().split('/simulate')[0] + '/simulate');
  await expectVisible(phone.locator('#sim-results'), 'the phone shows the results');
  await expectNoHorizontalScroll(phone, 'simulate on a phone');
});
