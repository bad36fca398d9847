// The lobby as the hall uses it (一键取号, 叫号), every page in its own browser context:
// kiosk takes a number (综合受理, 13800138000) → the ticket page (the SMS link) waits → the hall display,
// voice switched on → an acceptor at /console?window=A1 calls next → the display shows and speaks it over
// SSE, the ticket page turns to "called to A1", the call SMS is in the outbox (/admin/messages) → recall
// speaks again → a double-clicked "start" acts once → finish; a 409 is shown; the guide desk issues a
// priority ticket (reason required) which the next call picks first; hold/resume, transfer, pause;
// "I'm running late" once (the second try shows the server's 409); two windows calling at once are
// both shown (each for at least ~4 s) and both spoken, in order, never cancelled.

import { withBrowser, check, expectText, expectVisible, pathOf, squash, note } from './lib.mjs';

const HALL = '330822';
const HALL_NAME = '常山县行政服务中心';
const PASSWORD = 'changshan2018';
const PHONE = '13800138000';

/** Records what the page hands to speechSynthesis (and any cancel) before passing it on. */
function recordSpeech() {
  window.__speech = { spoken: [], cancels: 0 };
  const s = window.speechSynthesis;
  if (!s) return;
  const speak = s.speak.bind(s);
  const cancel = s.cancel.bind(s);
  s.speak = (u) => {
    window.__speech.spoken.push({ text: u.text, lang: u.lang });
    speak(u);
  };
  s.cancel = () => {
    window.__speech.cancels += 1;
    cancel();
  };
}

/** Records every change of the display's current number with the time it happened. */
function recordCurrent() {
  window.__current = [];
  const el = document.getElementById('current-number');
  const win = document.getElementById('current-window');
  new MutationObserver(() => window.__current.push({ call: `${el.textContent.trim()}@${win.textContent.trim()}`, at: Date.now() })).observe(el, {
    childList: true,
    characterData: true,
    subtree: true,
  });
}

await withBrowser(
  async ({ page, base, go, allowConsoleErrors, newPhonePage }) => {
    /** A page in its own context (its own cookies), watched for errors like the main page. */
    const open = async (viewport) => {
      const { context, page: p } = await newPhonePage();
      if (viewport) await p.setViewportSize(viewport);
      return { context, page: p };
    };
    /** Signs in through the /login form the protected page redirects to, and lands back on it. */
    const signIn = async (p, user, path) => {
      await p.goto(base + path);
      check(new URL(p.url()).pathname === '/login', `${path} without a session redirects to /login (now ${pathOf(p)})`);
      check(new URL(p.url()).searchParams.get('next') === path, `…with next=${path} (${pathOf(p)})`);
      await p.getByLabel('用户名').fill(user);
      await p.getByLabel('密码').fill(PASSWORD);
      await Promise.all([p.waitForURL((u) => u.pathname + u.search === path), p.getByRole('button', { name: '登录' }).click()]);
      check(pathOf(p) === path, `signed in as ${user}: back on ${path}`);
    };
    const posts = (p, suffix) => {
      const seen = [];
      p.on('response', (r) => {
        if (r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith(suffix)) seen.push(r.status());
      });
      return seen;
    };

    // --- kiosk: choose 综合受理, a wrong number is refused on the spot, the right one gets a ticket -----
    const kioskResp = await go('/kiosk');
    check(kioskResp.status() === 200, `GET /kiosk is 200 (got ${kioskResp.status()})`);
    await expectText(page.getByRole('heading', { level: 1 }), '请选择要办理的业务', 'the kiosk asks 请选择要办理的业务');
    const tickets = posts(page, '/api/v1/tickets');

    // Finding an item picks its zone's queue.
    await page.getByLabel('事项名称或拼音').fill('社保卡');
    await page.getByRole('button', { name: '查找' }).click();
    const hit = page.locator('#item-results button', { hasText: '社保卡申领' });
    await expectVisible(hit, 'searching 社保卡 lists 社保卡申领');
    await hit.click();
    await expectText(page.locator('#chosen-queue'), '社保', 'choosing 社保卡申领 picks the 社保 queue');
    await expectText(page.locator('#chosen-item'), '社保卡申领', 'and names the item');
    await page.getByRole('button', { name: '返回重选' }).click();

    await page.locator('.queue-tile', { hasText: '综合受理' }).click();
    await expectText(page.getByRole('heading', { level: 1 }), '请输入您的手机号码', 'after 综合受理 the kiosk asks for a mobile number');
    await expectText(page.locator('#chosen-queue'), '综合受理', 'and shows the choice (综合受理)');
    const phone = page.getByRole('textbox', { name: '手机号码' });
    await phone.fill('12345678901');
    await page.getByRole('button', { name: '取号', exact: true }).click();
    await expectText(page.locator('#phone-error'), '13–19', 'a number starting 12 is refused on the kiosk (#phone-error)');
    check((await phone.getAttribute('aria-invalid')) === 'true', 'the phone field is marked aria-invalid');
    check(tickets.length === 0, 'nothing was sent to the server for the bad number');

    // Typed on the on-screen keypad.
    await page.getByRole('button', { name: '清空' }).click();
    for (const d of PHONE) await page.locator(`.keypad [data-key="${d}"]`).click();
    check((await phone.inputValue()) === PHONE, `the keypad typed ${PHONE}`);

    // The client checks what the server checks, so a refusal cannot be provoked from the form: answer
    // this one request with the server's own 422 body to see that its message is what the kiosk shows.
    await page.route('**/api/v1/tickets', (r) =>
      r.fulfill({
        status: 422,
        contentType: 'application/json',
        body: JSON.stringify({ code: 'invalid', message: '“12”不是中国大陆手机号，应以 13–19 开头', message_en: 'not a mainland mobile number', field: 'phone' }),
      }),
      { times: 1 },
    );
    await allowConsoleErrors(/status of 422/, async () => {
      await page.getByRole('button', { name: '取号', exact: true }).click();
      await expectText(page.locator('#phone-error'), '不是中国大陆手机号', "the server's 422 message is shown in #phone-error");
    });
    await page.unroute('**/api/v1/tickets');

    await page.getByRole('button', { name: '取号', exact: true }).click();
    await expectText(page.getByRole('heading', { level: 1 }), '取号成功', 'the kiosk says 取号成功');
    const number = squash(await page.locator('#ticket-number').textContent());
    check(/^A\d{3}$/.test(number), `the ticket number is like A001 (${number})`);
    check(tickets.filter((s) => s === 201).length === 1, `one ticket was issued (POST statuses ${tickets.join(',')})`);
    await expectText(page.locator('#ticket-queue'), '综合受理', 'the ticket names the queue 综合受理');
    await expectText(page.locator('#ticket-ahead'), /^\d+$/, 'the ticket shows the people ahead');
    await expectText(page.locator('#ticket-wait'), /分钟|马上轮到您/, 'the ticket shows the estimated wait');
    await expectText(page.locator('#ticket-card .tc-hall'), HALL_NAME, `the ticket names the hall (${HALL_NAME})`);
    const href = await page.locator('#ticket-link').getAttribute('href');
    const linkText = squash(await page.locator('#ticket-link').textContent());
    check(/^\/t\/[0-9a-f]{16,}$/.test(href ?? ''), `the ticket shows its status link (${href})`);
    check(linkText.endsWith(href), `the link is written out in full for typing into a phone (${linkText})`);
    check((await page.locator('#phone').inputValue()) === '', 'the kiosk forgets the phone number once the ticket is shown');

    // Printed on an 80 mm thermal printer: only the ticket, 72 mm wide.
    await page.emulateMedia({ media: 'print' });
    const box = await page.locator('#ticket-card').boundingBox();
    const mm72 = (72 * 96) / 25.4;
    check(box && Math.abs(box.width - mm72) < 2, `print: the ticket is 72 mm wide (${box?.width.toFixed(1)} px, want ${mm72.toFixed(1)})`);
    check(!(await page.locator('header').isVisible()), 'print: the page header is not printed');
    check(!(await page.getByRole('button', { name: '打印号票' }).isVisible()), 'print: the buttons are not printed');
    check(await page.locator('#ticket-number').isVisible(), 'print: the number is printed');
    await page.emulateMedia({ media: 'screen' });
    await expectVisible(page.getByRole('button', { name: '打印号票' }), 'the kiosk offers 打印号票');

    // --- the ticket page (the SMS link), open before the call ----------------------------------------
    const ticket = await open();
    await ticket.page.goto(base + href);
    await expectText(ticket.page.locator('#tp-number'), number, `the ticket page ${href} shows ${number}`);
    await expectText(ticket.page.locator('#tp-status'), '等候中', 'the ticket page says 等候中');
    await expectText(ticket.page.locator('#tp-ahead'), /^\d+$/, 'the ticket page shows the people ahead');

    // --- the hall display, voice on ------------------------------------------------------------------
    const display = await open({ width: 1280, height: 720 });
    const dp = display.page;
    await dp.addInitScript(recordSpeech);
    await dp.goto(`${base}/display/${HALL}`);
    await dp.evaluate(recordCurrent);
    await expectText(dp.locator('#conn'), '已连接', 'the display is connected to its event stream');
    await expectText(dp.locator('#display-queues [data-count-for="general"]'), /^[1-9]\d*$/, 'the display counts the waiting ticket');
    await dp.getByRole('button', { name: '点击开启语音播报' }).click();
    check((await dp.locator('#enable-voice').getAttribute('aria-pressed')) === 'true', 'the voice button is pressed');

    // --- the window console --------------------------------------------------------------------------
    const cons = await open({ width: 1280, height: 900 });
    const cp = cons.page;
    await signIn(cp, 'acceptor', '/console?window=A1');
    await expectText(cp.locator('#console-window'), 'A1', 'the console is for window A1');
    await expectText(cp.locator('#console-status'), '空闲', 'window A1 is free');
    await expectText(cp.locator('#live-state'), '实时更新中', 'the console follows the hall live');
    check((await cp.evaluate(() => localStorage.getItem('onewindow.console.window'))) === 'A1', 'the console remembers window A1');

    await cp.getByRole('button', { name: '叫下一位' }).click();
    await expectText(cp.locator('#console-number'), number, `叫下一位 calls ${number}`);
    await expectText(cp.locator('#console-status'), '已叫号', 'the console says 已叫号');

    const said = `请 ${number} 号到 A1 窗口办理`;
    await expectText(dp.locator('#current-number'), number, `the display shows ${number} over SSE`);
    await expectText(dp.locator('#current-window'), 'A1', 'the display shows window A1');
    await expectText(dp.locator('#last-spoken'), said, `the display spoke "${said}"`);
    check(squash(await dp.locator('#last-spoken').textContent()) === said, '#last-spoken is exactly the call text');
    await expectText(dp.locator('#announce-count'), '1', 'one announcement so far');
    let speech = await dp.evaluate(() => window.__speech);
    const calls = () => speech.spoken.filter((u) => u.text.startsWith('请 '));
    check(calls().length === 1 && calls()[0].lang === 'zh-CN', `speechSynthesis.speak got the call with lang zh-CN (${JSON.stringify(calls())})`);
    await expectText(dp.locator('#recent-calls tbody tr').first(), number, 'the call heads the recent-calls list');

    await expectText(ticket.page.locator('#tp-status'), '已叫号', 'the ticket page turns to 已叫号 by itself');
    await expectText(ticket.page.locator('#tp-window'), 'A1', 'the ticket page names window A1');

    // --- recall: announced again ---------------------------------------------------------------------
    await cp.getByRole('button', { name: '重呼' }).click();
    await expectText(cp.locator('#console-ok'), `已重呼 ${number}`, 'the console confirms the recall');
    await expectText(dp.locator('#announce-count'), '2', 'the recall is announced again (2 announcements)');
    check(squash(await dp.locator('#last-spoken').textContent()) === said, '#last-spoken is the call text again');
    speech = await dp.evaluate(() => window.__speech);
    check(calls().length === 2, `speechSynthesis.speak was called twice for the call (${calls().length})`);

    // --- a double-clicked start acts once --------------------------------------------------------------
    const starts = posts(cp, '/start');
    await allowConsoleErrors(/status of 409/, async () => {
      await cp.getByRole('button', { name: '开始办理' }).dblclick();
      await expectText(cp.locator('#console-status'), '办理中', 'after a double click on 开始办理 the ticket is 办理中');
      await cp.waitForTimeout(500);
    });
    check(starts.filter((s) => s === 200).length === 1, `exactly one start succeeded (statuses ${starts.join(',')})`);
    check(starts.every((s) => s === 200 || s === 409), `any second start was refused with 409 (statuses ${starts.join(',')})`);
    const err = squash(await cp.locator('#console-message').textContent());
    check(err === '' || err.includes('不能执行此操作'), `no error but a 409 message is shown ("${err}")`);
    await expectText(ticket.page.locator('#tp-status'), '办理中', 'the ticket page says 办理中');

    await cp.getByRole('button', { name: '办结' }).click();
    await expectText(cp.locator('#console-status'), '空闲', '办结 frees the window');
    await expectText(ticket.page.locator('#tp-status'), '已办结', 'the ticket page says 已办结');

    // A refusal from the server (409) is shown as it is.
    await allowConsoleErrors(/status of 409/, async () => {
      await cp.getByLabel('号码', { exact: true }).fill(number.toLowerCase());
      await cp.getByRole('button', { name: '叫此号' }).click();
      await expectText(cp.locator('#console-message'), '不在等候中', `calling ${number} again shows the server's 409 message`);
    });

    // --- the SMS of the call is in the outbox (log gateway) ----------------------------------------------
    const admin = await open({ width: 1280, height: 900 });
    await signIn(admin.page, 'admin', '/admin/messages');
    const sms = `请${number}号到A1窗口办理【${HALL_NAME}】`;
    const row = admin.page.locator('#messages-table tbody tr', { hasText: sms });
    await expectVisible(row, `/admin/messages lists the call SMS "${sms}"`);
    const rowText = squash(await row.first().textContent());
    check(!rowText.includes(PHONE), `the destination is masked in the list (${rowText})`);
    await expectVisible(admin.page.locator('#messages-table tbody tr', { hasText: href }), 'the ticket SMS carries the status link');
    await admin.context.close();

    // --- waiting counts live; the guide desk's priority ticket is called first ------------------------------
    await page.getByRole('button', { name: '完成' }).click();
    await page.locator('.queue-tile', { hasText: '综合受理' }).click();
    await phone.fill('13900139000');
    await page.getByRole('button', { name: '取号', exact: true }).click();
    await expectText(page.getByRole('heading', { level: 1 }), '取号成功', 'a second kiosk ticket');
    const normal = squash(await page.locator('#ticket-number').textContent());
    await expectText(cp.locator('#queue-counts [data-count-for="general"]'), '1', 'the console counts it live (综合受理 1)');

    const guide = await open({ width: 1024, height: 768 });
    const gp = guide.page;
    await signIn(gp, 'guide', '/guide');
    await gp.getByRole('radio', { name: /综合受理/ }).check();
    await gp.getByRole('radio', { name: '老年人' }).check();
    await gp.getByRole('button', { name: '取号', exact: true }).click();
    await expectText(gp.locator('#reason-error'), '优先取号请填写原因', 'a priority ticket without a reason is refused');
    await gp.getByLabel('优先原因').fill('82 岁，持老年证');
    await gp.getByRole('button', { name: '取号', exact: true }).click();
    await expectText(gp.locator('#ticket-number'), /^A\d{3}$/, 'the guide desk issues a ticket');
    const priority = squash(await gp.locator('#ticket-number').textContent());
    await expectText(gp.locator('#ticket-priority'), '老年人', 'the ticket is marked 优先：老年人');
    await expectVisible(gp.getByRole('button', { name: '打印号票' }), 'the guide desk can print it');
    await expectText(cp.locator('#queue-counts [data-count-for="general"]'), '2', 'the console counts 2 waiting');

    await cp.getByRole('button', { name: '叫下一位' }).click();
    await expectText(cp.locator('#console-number'), priority, `叫下一位 calls the priority ticket ${priority} before ${normal}`);
    await expectText(cp.locator('#console-detail'), '82 岁', 'the console shows the priority reason');

    // Hold and resume by number.
    await cp.getByRole('button', { name: '开始办理' }).click();
    await expectText(cp.locator('#console-status'), '办理中', `${priority} is being served`);
    await cp.getByRole('button', { name: '暂挂', exact: true }).click();
    await expectText(cp.locator('#console-status'), '空闲', `暂挂 frees the window`);
    const heldButton = cp.locator('#held-list button', { hasText: priority });
    await expectVisible(heldButton, `${priority} is listed on hold`);
    await heldButton.click();
    await expectText(cp.locator('#console-number'), priority, `恢复 brings ${priority} back`);
    await expectText(cp.locator('#console-status'), '办理中', `${priority} is served again`);
    check((await cp.locator('#held-list button').count()) === 0, 'nothing is on hold any more');
    await cp.getByRole('button', { name: '办结' }).click();
    await expectText(cp.locator('#console-status'), '空闲', 'done');

    // Transfer the next one to 不动产, placed first.
    await cp.getByRole('button', { name: '叫下一位' }).click();
    await expectText(cp.locator('#console-number'), normal, `叫下一位 calls ${normal}`);
    await cp.getByLabel('转到').selectOption('q:realestate');
    await cp.getByLabel('排在').selectOption('first');
    await cp.getByRole('button', { name: '转移', exact: true }).click();
    await expectText(cp.locator('#console-ok'), `${normal} 已转移`, `${normal} is transferred`);
    await expectText(cp.locator('#console-status'), '空闲', 'the window is free after the transfer');
    await expectText(cp.locator('#queue-counts [data-count-for="realestate"]'), '1', '不动产 now has 1 waiting');
    await expectText(dp.locator('#display-queues [data-count-for="realestate"]'), '1', 'the display counts it too');

    // Pause with a reason, then reopen.
    await cp.getByRole('button', { name: '暂停', exact: true }).click();
    await expectText(cp.locator('#console-message'), '请填写暂停原因', 'a pause needs a reason');
    await cp.getByLabel('暂停原因').fill('午休');
    await cp.getByRole('button', { name: '暂停', exact: true }).click();
    await expectText(cp.locator('#console-paused'), '午休', 'the console shows 已暂停：午休');
    check(await cp.getByRole('button', { name: '叫下一位' }).isDisabled(), 'a paused window cannot call');
    await cp.getByRole('button', { name: '恢复叫号' }).click();
    await expectText(cp.locator('#console-ok'), '恢复', 'the window is open again');
    check(await cp.locator('#console-paused').isHidden(), 'no pause shown any more');

    // --- "I'm running late": once; the second try shows the server's 409 ---------------------------------
    await page.getByRole('button', { name: '完成' }).click();
    await page.locator('.queue-tile', { hasText: '综合受理' }).click();
    await phone.fill('13700137000');
    await page.getByRole('button', { name: '取号', exact: true }).click();
    await expectText(page.getByRole('heading', { level: 1 }), '取号成功', 'a third kiosk ticket');
    const lateNumber = squash(await page.locator('#ticket-number').textContent());
    const lateHref = await page.locator('#ticket-link').getAttribute('href');
    const tabA = await open();
    const tabB = await open();
    await tabA.page.goto(base + lateHref);
    await tabB.page.goto(base + lateHref);
    await tabA.page.getByRole('button', { name: '我会晚到' }).click();
    await expectText(tabA.page.locator('#late-message'), '已为您往后延', 'running late is confirmed');
    check(await tabA.page.getByRole('button', { name: '我会晚到' }).isDisabled(), 'the button is off after use');
    await allowConsoleErrors(/status of 409/, async () => {
      await tabB.page.getByRole('button', { name: '我会晚到' }).click();
      await expectText(tabB.page.locator('#late-message'), '只能延后一次', "a second try shows the server's 409 message");
    });
    check(await tabB.page.getByRole('button', { name: '我会晚到' }).isDisabled(), 'and the button is off there too');
    await tabA.context.close();
    await tabB.context.close();

    // --- two windows call at once: both shown (each ≥ ~4 s) and both spoken, in order ---------------------
    const before = Number(await dp.locator('#announce-count').textContent());
    await dp.evaluate(() => {
      window.__current = [];
    });
    await cp.evaluate(async () => {
      const csrf = document.getElementById('console').dataset.csrf;
      await fetch('/api/v1/windows/B1/call-next', { method: 'POST', headers: { 'x-csrf-token': csrf } });
    });
    await cp.getByRole('button', { name: '叫下一位' }).click();
    await expectText(cp.locator('#console-number'), lateNumber, `A1 calls ${lateNumber}`);
    await expectText(dp.locator('#announce-count'), String(before + 2), 'both calls are announced');
    await expectText(dp.locator('#current-number'), lateNumber, `the display ends on ${lateNumber}`);
    const shown = await dp.evaluate(() => window.__current);
    const first = shown.find((c) => c.call === `${normal}@B1`);
    const second = shown.find((c) => c.call === `${lateNumber}@A1`);
    check(first && second && first.at < second.at, `the display showed ${normal} at B1, then ${lateNumber} at A1 (${shown.map((c) => c.call).join(' → ')})`);
    const gap = second.at - first.at;
    check(gap >= 3500, `the first call stayed on screen for ${gap} ms (≥ ~4 s) before the second replaced it`);
    speech = await dp.evaluate(() => window.__speech);
    const tail = calls().slice(-2).map((u) => u.text);
    check(tail[0] === `请 ${normal} 号到 B1 窗口办理` && tail[1] === `请 ${lateNumber} 号到 A1 窗口办理`, `both were spoken in order (${tail.join(' / ')})`);
    check(speech.cancels === 0, 'speechSynthesis.cancel() was never called');
    note(`display announcements: ${calls().length}; shown: ${shown.map((c) => c.call).join(' → ')}`);

    for (const c of [ticket, display, cons, guide]) await c.context.close();
  },
  { timeoutMs: 180_000, contextOptions: {} },
);
