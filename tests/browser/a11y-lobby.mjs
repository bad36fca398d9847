// Accessibility of the lobby pages (适老化): axe-core (no serious or critical findings) on the kiosk at
// each step and in English, the ticket page (waiting and called), the hall display (connected, with a
// call, and with its "connection lost" indicator), the guide desk and the window console; touch targets
// of at least 48 × 48 CSS px on the kiosk, the ticket page and the display; and the kiosk at 200 % zoom
// (a 1280 px screen zoomed to 200 % is a 640 × 400 CSS px viewport) without sideways scrolling, its
// take-ticket button reachable and working after choosing a queue.

import { withBrowser, check, expectText, expectVisible, axe, pathOf, squash, expectNoHorizontalScroll } from './lib.mjs';

const HALL = '330822';
const PASSWORD = 'changshan2018';

/** Fails if a visible control is smaller than 48 × 48 CSS px (WCAG 2.5.5 target size, enhanced). */
async function expectTouchTargets(page, label) {
  const small = await page.evaluate(() =>
    [...document.querySelectorAll('button, a[href], input:not([type=hidden]), select, [role=button]')]
      .filter((el) => {
        if (el.closest('[hidden]') || el.classList.contains('skip')) return false;
        // A link inside a sentence is exempt (WCAG 2.5.8 "inline").
        if (el.tagName === 'A' && el.closest('p') && el.id === 'ticket-link') return false;
        const r = el.getBoundingClientRect();
        const s = getComputedStyle(el);
        return r.width > 0 && r.height > 0 && s.visibility !== 'hidden';
      })
      .map((el) => {
        const r = el.getBoundingClientRect();
        return { what: `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} "${(el.textContent || el.value || '').trim().slice(0, 20)}"`, w: Math.round(r.width), h: Math.round(r.height) };
      })
      .filter((x) => x.w < 48 || x.h < 48),
  );
  check(small.length === 0, `${label}: every control is at least 48 × 48 px${small.length ? `; too small: ${small.map((x) => `${x.what} ${x.w}×${x.h}`).join(', ')}` : ''}`);
}

await withBrowser(
  async ({ page, base, go, allowConsoleErrors, newPhonePage }) => {
    const open = async (viewport) => {
      const { context, page: p } = await newPhonePage();
      if (viewport) await p.setViewportSize(viewport);
      return { context, page: p };
    };
    const signIn = async (p, user, path) => {
      await p.goto(base + path);
      await p.getByLabel('用户名').fill(user);
      await p.getByLabel('密码').fill(PASSWORD);
      await Promise.all([p.waitForURL((u) => u.pathname + u.search === path), p.getByRole('button', { name: '登录' }).click()]);
      check(pathOf(p) === path, `signed in as ${user} on ${path}`);
    };

    // --- kiosk, each step ---------------------------------------------------------------------------
    await page.setViewportSize({ width: 1280, height: 800 });
    await go('/kiosk');
    await expectText(page.getByRole('heading', { level: 1 }), '请选择要办理的业务', 'kiosk step 1');
    await axe(page, { label: 'kiosk: choose a queue /kiosk' });
    await expectTouchTargets(page, 'kiosk step 1');
    // Appointment check-in: the phone step; a number without a booking today gets the server's reason.
    await page.getByRole('button', { name: /已预约/ }).click();
    await expectText(page.locator('#chosen-queue'), '预约签到', 'check-in asks for the phone number');
    await page.getByRole('textbox', { name: '手机号码' }).fill('13800138999');
    await allowConsoleErrors(/status of 422/, async () => {
      await page.getByRole('button', { name: '取号', exact: true }).click();
      await expectText(page.locator('#phone-error'), '今天没有该手机号的预约', 'no booking today: said plainly');
    });
    await axe(page, { label: 'kiosk: check-in without a booking' });
    await page.getByRole('button', { name: '返回重选' }).click();

    // English and back.
    await Promise.all([page.waitForURL((u) => u.pathname === '/kiosk'), page.getByRole('link', { name: 'English' }).click()]);
    await expectText(page.getByRole('heading', { level: 1 }), 'Take a number', 'the kiosk in English');
    await expectVisible(page.locator('.queue-tile', { hasText: 'General service' }), 'the general queue is "General service" in English');
    check((await page.locator('html').getAttribute('lang')) === 'en', '<html lang="en">');
    await axe(page, { label: 'kiosk in English' });
    await Promise.all([page.waitForURL((u) => u.pathname === '/kiosk'), page.getByRole('link', { name: '中文' }).click()]);
    await expectText(page.getByRole('heading', { level: 1 }), '请选择要办理的业务', 'back in Chinese');

    await page.locator('.queue-tile', { hasText: '综合受理' }).click();
    await expectText(page.getByRole('heading', { level: 1 }), '手机号码', 'kiosk step 2');
    await page.getByRole('button', { name: '取号', exact: true }).click();
    await expectText(page.getByRole('alert').filter({ hasText: '11 位' }), '11 位手机号码', 'an empty number is refused with an alert');
    await axe(page, { label: 'kiosk: phone number with an error' });
    await expectTouchTargets(page, 'kiosk step 2');
    await page.getByRole('textbox', { name: '手机号码' }).fill('13800138000');
    await page.getByRole('button', { name: '取号', exact: true }).click();
    await expectText(page.getByRole('heading', { level: 1 }), '取号成功', 'kiosk step 3');
    await axe(page, { label: 'kiosk: the ticket' });
    await expectTouchTargets(page, 'kiosk step 3');
    const number = squash(await page.locator('#ticket-number').textContent());
    const href = await page.locator('#ticket-link').getAttribute('href');

    // --- 200 % zoom: 640 × 400 CSS px ------------------------------------------------------------------
    await page.setViewportSize({ width: 640, height: 400 });
    await page.getByRole('button', { name: '完成' }).click();
    await expectText(page.getByRole('heading', { level: 1 }), '请选择要办理的业务', '200%: kiosk step 1');
    await expectNoHorizontalScroll(page, '200%: kiosk step 1');
    await page.locator('.queue-tile', { hasText: '综合受理' }).click();
    await expectNoHorizontalScroll(page, '200%: kiosk step 2');
    const phone = page.getByRole('textbox', { name: '手机号码' });
    await phone.fill('13900139000');
    const take = page.getByRole('button', { name: '取号', exact: true });
    await take.scrollIntoViewIfNeeded();
    const box = await take.boundingBox();
    check(box && box.y >= 0 && box.y + box.height <= 400 && box.x >= 0 && box.x + box.width <= 640, `200%: the take-ticket button is on screen once scrolled to (${JSON.stringify(box)})`);
    check(box.width >= 48 && box.height >= 48, `200%: the take-ticket button is at least 48 × 48 (${Math.round(box.width)} × ${Math.round(box.height)})`);
    await take.click();
    await expectText(page.getByRole('heading', { level: 1 }), '取号成功', '200%: the take-ticket button works');
    await expectNoHorizontalScroll(page, '200%: the ticket');
    await expectVisible(page.locator('#ticket-number'), '200%: the number is visible');

    // --- the ticket page on a phone -------------------------------------------------------------------
    const ticket = await open();
    await ticket.page.goto(base + href);
    await expectText(ticket.page.locator('#tp-status'), '等候中', `ticket page ${number}: 等候中`);
    await axe(ticket.page, { label: 'ticket page (waiting)' });
    await expectNoHorizontalScroll(ticket.page, 'ticket page on a phone');
    await expectTouchTargets(ticket.page, 'ticket page');

    // --- guide desk and console -----------------------------------------------------------------------
    const guide = await open({ width: 1024, height: 768 });
    await signIn(guide.page, 'guide', '/guide');
    await axe(guide.page, { label: 'guide desk /guide' });
    await guide.page.getByRole('button', { name: '取号', exact: true }).click();
    await expectText(guide.page.locator('#ticket-number'), /^A\d{3}$/, 'the guide desk prints a ticket without a phone');
    await axe(guide.page, { label: 'guide desk: the ticket' });
    await guide.context.close();

    const cons = await open({ width: 1280, height: 900 });
    await signIn(cons.page, 'acceptor', '/console?window=A1');
    await expectText(cons.page.locator('#console-status'), '空闲', 'console A1 is free');
    await axe(cons.page, { label: 'window console /console?window=A1' });

    // --- the display: connection lost, a call meanwhile, back again ---------------------------------------
    const display = await open({ width: 1280, height: 720 });
    const dp = display.page;
    await allowConsoleErrors(/ERR_FAILED|events/, async () => {
      await dp.route('**/api/v1/display/*/events', (r) => r.abort());
      await dp.goto(`${base}/display/${HALL}`);
      await expectText(dp.locator('#conn'), '连接中断', 'the display shows 连接中断 while its stream is down');
      await axe(dp, { label: 'display, disconnected' });
      await dp.getByRole('button', { name: '点击开启语音播报' }).click();
      await cons.page.getByRole('button', { name: '叫下一位' }).click();
      await expectText(cons.page.locator('#console-number'), number, `A1 calls ${number} while the display is cut off`);
      await dp.unroute('**/api/v1/display/*/events');
    });
    await expectText(dp.locator('#conn'), '已连接', 'the display reconnects by itself');
    await expectText(dp.locator('#current-number'), number, `the call made meanwhile (${number}) is shown after reconnecting`);
    await expectText(dp.locator('#last-spoken'), `请 ${number} 号到 A1 窗口办理`, 'and announced');
    await axe(dp, { label: `display /display/${HALL} with a call` });
    await expectTouchTargets(dp, 'display');

    await expectText(ticket.page.locator('#tp-status'), '已叫号', 'the ticket page says 已叫号');
    await axe(ticket.page, { label: 'ticket page (called)' });

    for (const c of [ticket, cons, display]) await c.context.close();
  },
  { timeoutMs: 150_000, contextOptions: { deviceScaleFactor: 2 } },
);
