// One case from the ticket to the result, as the hall and the back office do it (前台综合受理、后台分类审批、
// 统一窗口出件): a ticket at the kiosk → the acceptor calls and starts it at window A1 → /cases/new?window=A1
// shows the ticket; a missing KEY material is refused with the server's message and the one-time notice
// (/refusals/{id}) → accepted with a non-key material missing (容缺受理) → the receipt (number, due date,
// material to supply, tracking link) → the approver finds it under 待认领, claims and approves it → the
// pick-up code from the SMS as it reached the phone (the stand-in provider's inbox, SMS_INBOX), shown
// masked at /admin/messages → the acceptor at /delivery supplies the material, a wrong
// code is refused, the right one closes the case → /cases/{id}: the timeline lists 受理, 认领, 审批通过,
// 补齐容缺材料, 窗口领取 in order and #trips is 1 → the public /track/{token} on a phone, masked.
// Then the 403 path: a village clerk accepts 最低生活保障 (three-level flow, no trip), the township checks
// it, and at 县级审批 the township has no approve button and a forced fetch gets 403; the county case is
// not even visible to the township (404). Trips by hand: the first needs no reason, the second does, and
// the trip report lists it. axe on every page; the case page and work queue on a phone.

import { withBrowser, check, expectText, expectVisible, axe, pathOf, squash, note, expectNoHorizontalScroll } from './lib.mjs';
import { mkdirSync } from 'node:fs';

const PASSWORD = 'changshan2018';
const PHONE = '13800138000';
const ITEM = 'MZJ-002'; // 特困人员救助供养: general flow, 民政局, key and non-key materials
const VILLAGE_ITEM = 'MZJ-001'; // 最低生活保障: three-level flow (village → township → county)
const RUN = Date.now().toString(36).slice(-4);
const SHOTS = process.env.SCREENSHOT_DIR || '';

/** An 18-character ID number with a valid GB 11643 check character. */
function idNumber(body17) {
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...body17].reduce((s, c, i) => s + Number(c) * w[i], 0);
  return body17 + '10X98765432'[sum % 11];
}

await withBrowser(
  async ({ page, context, base, go, allowConsoleErrors, newPhonePage }) => {
    const shot = async (p, name) => {
      if (!SHOTS) return;
      mkdirSync(SHOTS, { recursive: true });
      await p.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
      note(`screenshot ${SHOTS}/${name}.png`);
    };
    const login = async (user, next) => {
      await context.clearCookies();
      await go(`/login?next=${encodeURIComponent(next)}`);
      await page.getByLabel('用户名').fill(user);
      await page.getByLabel('密码').fill(PASSWORD);
      await Promise.all([page.waitForURL((u) => u.pathname + u.search === next), page.getByRole('button', { name: '登录' }).click()]);
      check(pathOf(page) === next, `signed in as ${user}, on ${next}`);
    };
    /** Logs out with the header's button (every case page has it). */
    const logout = async () => {
      // Let the page's own requests (e.g. the case's data-exchange history) finish first: logging out
      // while one is in flight answers it 401, which the browser reports as a console error.
      await page.waitForLoadState('networkidle');
      await Promise.all([page.waitForURL((u) => u.pathname === '/'), page.locator('header').getByRole('button', { name: /退出/ }).click()]);
      const r = await page.request.get(`${base}/api/v1/session`);
      check(r.status() === 401, `logged out (GET /api/v1/session is ${r.status()})`);
    };
    /** Clicks an action button and waits for the page to reload with the flash message. */
    const act = async (name, flash) => {
      await Promise.all([page.waitForEvent('load'), page.locator('#case-actions').getByRole('button', { name, exact: true }).click()]);
      await expectText(page.locator('#case-flash'), flash ?? `已完成：${name}`, `after ${name} the page says ${flash ?? `已完成：${name}`}`);
    };

    // --- the item: general flow, key and non-key materials -------------------------------------------
    const itemResp = await page.request.get(`${base}/api/v1/items/${ITEM}`);
    const item = (await itemResp.json()).item;
    const keyMaterials = item.materials.filter((m) => m.key).map((m) => m.name);
    const nonKey = item.materials.filter((m) => !m.key).map((m) => m.name);
    check(keyMaterials.length > 0 && nonKey.length > 0, `${ITEM} ${item.name} has key (${keyMaterials.length}) and non-key (${nonKey.length}) materials`);
    const MISSING = nonKey[0];

    // --- a ticket at the kiosk ------------------------------------------------------------------------
    let number;
    await go('/kiosk');
    if ((await page.locator('.queue-tile', { hasText: '综合受理' }).count()) > 0) {
      await page.locator('.queue-tile', { hasText: '综合受理' }).click();
      await page.getByRole('textbox', { name: '手机号码' }).fill(PHONE);
      await page.getByRole('button', { name: '取号', exact: true }).click();
      await expectText(page.getByRole('heading', { level: 1 }), '取号成功', 'the kiosk says 取号成功');
      number = squash(await page.locator('#ticket-number').textContent());
    } else {
      const r = await page.request.post(`${base}/api/v1/tickets`, { data: { queue: 'general', phone: PHONE } });
      check(r.status() === 201, `a ticket by the API (${r.status()})`);
      number = (await r.json()).number;
    }
    check(/^A\d{3}$/.test(number), `ticket ${number} taken for 综合受理`);

    // --- the acceptor calls and starts it at window A1 --------------------------------------------------
    await login('acceptor', '/console?window=A1');
    await expectText(page.locator('#console-status'), /空闲|已叫号|办理中/, 'the console shows window A1');
    // A ticket left at A1 by an earlier run against the same server is finished first.
    if (await page.locator('#act-start').isEnabled()) await page.locator('#act-start').click();
    if ((await page.locator('#console-status').textContent()).includes('办理中')) {
      await page.locator('#act-finish').click();
      await expectText(page.locator('#console-status'), '空闲', 'an earlier ticket at A1 is finished');
    }
    await page.getByRole('button', { name: '叫下一位' }).click();
    await expectText(page.locator('#console-number'), number, `A1 calls ${number}`);
    await page.getByRole('button', { name: '开始办理' }).click();
    await expectText(page.locator('#console-status'), '办理中', `A1 is serving ${number}`);

    // --- acceptance: the window's ticket, the item, a missing KEY material ------------------------------
    let resp = await go('/cases/new?window=A1');
    check(resp.status() === 200, `/cases/new?window=A1 opens (${resp.status()})`);
    await expectText(page.locator('#window-ticket'), number, `the form shows window A1 serving ${number}`);
    await page.getByPlaceholder(/事项名称/).fill('特困');
    await page.getByRole('button', { name: '查找', exact: true }).click();
    await page.locator(`#item-results button[data-code="${ITEM}"]`).click();
    await expectText(page.locator('#item-name'), item.name, `choosing ${ITEM} shows its checklist`);
    const rows = page.locator('#materials tbody tr');
    check((await rows.count()) === item.materials.length, `one checklist row per material (${item.materials.length})`);
    await expectText(page.locator(`#materials tr[data-material="${keyMaterials[0]}"]`), '关键', 'a key material is marked 关键');
    await axe(page, { label: '/cases/new with the checklist' });
    const mark = async (name, label) => page.locator(`#materials tr[data-material="${name}"]`).getByLabel(label, { exact: true }).check();

    // Nothing marked: the form asks for every material first (nothing is sent).
    await page.getByLabel('姓名').fill(`王小明${RUN}`);
    await page.getByRole('button', { name: '受理并打印回执' }).click();
    await expectText(page.locator('#accept-alert'), '请逐项核对材料', 'unmarked materials are named before anything is sent');

    await page.getByRole('button', { name: '全部已收取' }).click();
    await mark(keyMaterials[0], '缺');
    await page.getByLabel('身份证号').fill(idNumber('33082219800101123'));
    await page.getByLabel(/手机号码/).fill(PHONE);
    await allowConsoleErrors(/status of 422/, async () => {
      await page.getByRole('button', { name: '受理并打印回执' }).click();
      await expectText(page.locator('#accept-alert'), `缺少关键材料，不能受理：${keyMaterials[0]}`, "a missing key material: the server's 422 names it in the alert");
    });
    check((await page.locator('#accept-alert').getAttribute('role')) === 'alert', 'the message box is role=alert');
    await expectVisible(page.locator('#refusal'), '一次性告知 is offered');
    await expectText(page.locator('#refusal-missing'), keyMaterials[0], 'the notice will list the missing key material');
    await mark(nonKey[0], '缺'); // everything missing goes on the notice
    await Promise.all([page.waitForURL(/\/refusals\/\d+$/), page.getByRole('button', { name: '出具一次性告知书' }).click()]);
    await expectText(page.getByRole('heading', { level: 1 }), '一次性告知书', `the one-time notice opens (${pathOf(page)})`);
    await expectText(page.locator('#needed tbody'), keyMaterials[0], 'the notice lists the missing key material');
    await expectText(page.locator('#needed tbody'), nonKey[0], '…and the missing non-key one');
    check((await page.locator('#needed tbody tr').count()) === 2, 'the notice lists exactly the 2 missing materials');
    await expectText(page.locator('#notice-reason'), '缺少关键材料', "the reason is the server's message");
    await expectText(page.locator('#legal-basis'), item.legal_basis.slice(0, 8), 'the notice gives the legal basis');
    await axe(page, { label: 'the one-time notice' });

    // --- acceptance with a non-key material missing: tolerant -------------------------------------------
    await go('/cases/new?window=A1');
    await page.getByPlaceholder(/事项名称/).fill('特困');
    await page.getByRole('button', { name: '查找', exact: true }).click();
    await page.locator(`#item-results button[data-code="${ITEM}"]`).click();
    await expectText(page.locator('#item-name'), item.name, `${ITEM} chosen again`);
    for (const k of keyMaterials) await mark(k, '已收取');
    for (const n of nonKey) await mark(n, n === MISSING ? '缺' : '已收取');
    const APPLICANT = `王小明${RUN}`;
    await page.getByLabel('姓名').fill(APPLICANT);
    await page.getByLabel('身份证号').fill(idNumber('33082219800101123'));
    await page.getByLabel(/手机号码/).fill(PHONE);
    await allowConsoleErrors(/status of 422/, async () => {
      await page.getByRole('button', { name: '受理并打印回执' }).click();
      await expectText(page.locator('#accept-alert'), '容缺受理', 'without 容缺受理 ticked the server asks for it');
    });
    await page.getByLabel(/容缺受理/).check();
    await Promise.all([page.waitForURL(/\/cases\/\d+\/receipt$/), page.getByRole('button', { name: '受理并打印回执' }).click()]);
    const caseId = Number(new URL(page.url()).pathname.split('/')[2]);
    const caseNumber = squash(await page.locator('#case-number').textContent());
    check(/^330822-\d{8}-\d{5}$/.test(caseNumber), `the receipt shows the case number (${caseNumber})`);
    await expectText(page.locator('#due-on'), /^\d{4}-\d{2}-\d{2}$/, 'the receipt shows the promised date (承诺办结日期)');
    await expectText(page.locator('#supply-list'), MISSING, `the receipt lists ${MISSING} to supply`);
    await expectText(page.locator('#supplement-due'), /^\d{4}-\d{2}-\d{2}$/, 'with its deadline');
    const applicantShown = squash(await page.locator('#case-applicant').textContent());
    check(!applicantShown.includes(APPLICANT) && applicantShown.includes('*') && !applicantShown.includes(PHONE), `the applicant is masked on the receipt (${applicantShown})`);
    const trackHref = await page.locator('#track-link').getAttribute('href');
    check(/^\/track\/[0-9a-f]{16,}$/.test(trackHref ?? ''), `the receipt has the tracking link (${trackHref})`);
    await axe(page, { label: 'the receipt' });
    await page.emulateMedia({ media: 'print' });
    check(!(await page.locator('header.top').isVisible()) && !(await page.getByRole('button', { name: '打印回执' }).isVisible()), 'print: only the receipt is printed');
    check(await page.locator('#case-number').isVisible(), 'print: the case number is printed');
    await page.emulateMedia({ media: 'screen' });
    await shot(page, 'receipt-desktop');

    // The ticket is done at the window.
    await go('/console?window=A1');
    await expectText(page.locator('#console-status'), '办理中', `A1 is still serving ${number}`);
    await page.getByRole('button', { name: '办结', exact: true }).click();
    await expectText(page.locator('#console-status'), '空闲', 'the ticket is finished; A1 is free');

    await go(`/cases/${caseId}`);
    await expectText(page.locator('#trips'), '1', 'the window acceptance counts one trip');
    await expectText(page.locator('#case-state'), '部门审批中', 'the case is with the department (general flow)');
    check((await page.locator('#case-actions button').count()) >= 1 && (await page.locator('#act-approve').count()) === 0, 'the acceptor may supply, but not approve');

    // --- the approver: 待认领 → claim → approve ---------------------------------------------------------
    await logout();
    await login('approver', '/worklist');
    await Promise.all([page.waitForURL('**/worklist?view=new'), page.locator('#tab-new').click()]);
    check((await page.locator('#tab-new').getAttribute('aria-current')) === 'page', 'the 待认领 tab is current');
    const row = page.locator(`#case-list tr[data-number="${caseNumber}"]`);
    await expectVisible(row, `the case ${caseNumber} is in 待认领`);
    await expectText(row, APPLICANT.slice(0, 1), 'the row shows the applicant (masked)');
    check(!(await row.textContent()).includes(APPLICANT), 'the full name is not listed');
    await axe(page, { label: '/worklist?view=new' });
    await shot(page, 'worklist-desktop');
    await Promise.all([page.waitForURL(`**/cases/${caseId}`), row.getByRole('link', { name: caseNumber }).click()]);
    await expectText(page.locator('#due-badge'), /剩\d+个工作日|即将到期|今日到期/, 'the due date has its badge');
    await act('认领');
    await expectText(page.locator('#case-assignee'), '汪志强', 'claimed by 汪志强');
    await page.goto(`${base}/worklist?view=mine`);
    await expectVisible(page.locator(`#case-list tr[data-number="${caseNumber}"]`), 'the case is under 我的 now');
    await page.goto(`${base}/cases/${caseId}`);
    await axe(page, { label: `/cases/${caseId} for the approver` });
    await shot(page, 'case-desktop');
    await act('审批通过');
    await expectText(page.locator('#case-state'), '待出件', 'approved: the result waits at the delivery window');

    // --- the pick-up code from the SMS ---------------------------------------------------------------
    let code = null;
    let smsText = '';
    for (let i = 0; i < 100 && !code; i++) {
      const inbox = await (await fetch(process.env.SMS_INBOX)).json();
      const sms = inbox.filter((m) => m.to === PHONE && m.text.includes(caseNumber) && m.text.includes('取件码')).pop();
      smsText = sms ? sms.text : '';
      code = /取件码(\d{6})/.exec(smsText)?.[1];
      if (!code) await new Promise((r) => setTimeout(r, 100));
    }
    check(!!code, `the SMS on the applicant's phone carries the 6-digit pick-up code (${smsText.slice(0, 60)}…)`);
    // Staff never see the code: the outbox page masks it.
    await logout();
    await login('admin', '/admin/messages');
    const sms = page.locator('#messages-table tbody tr', { hasText: caseNumber }).filter({ hasText: '取件码' }).first();
    const listed = squash(await sms.textContent());
    check(listed.includes('取件码******') && !listed.includes(code), `the admin outbox shows the pick-up code masked (${listed.slice(0, 60)}…)`);

    // --- unified delivery: supply, a wrong code, the right code -----------------------------------------
    await context.clearCookies();
    await login('acceptor', '/delivery');
    await expectVisible(page.locator(`#case-list tr[data-number="${caseNumber}"]`), 'the case is listed under 待出件');
    await page.getByLabel(/办件号/).fill(caseNumber);
    await Promise.all([page.waitForURL(/\/delivery\?number=/), page.getByRole('button', { name: '查找', exact: true }).click()]);
    await expectText(page.locator('#case-state'), '待出件', 'the delivery window finds the case: 待出件');
    await expectText(page.locator(`#case-materials tr[data-material="${MISSING}"]`), '待补齐', `${MISSING} is still missing`);
    await axe(page, { label: '/delivery with a case' });
    await allowConsoleErrors(/status of 409/, async () => {
      await page.getByLabel(/取件码/).fill(code);
      await page.locator('#case-actions').getByRole('button', { name: '窗口领取', exact: true }).click();
      await expectText(page.locator('#case-alert'), '容缺材料尚未补齐', 'collecting before the material is supplied is refused (409, role=alert)');
    });
    await act('补齐容缺材料');
    await expectText(page.locator(`#case-materials tr[data-material="${MISSING}"]`), '已收取', `${MISSING} is received now`);
    const wrong = code === '000000' ? '111111' : '000000';
    await allowConsoleErrors(/status of 422/, async () => {
      await page.getByLabel(/取件码/).fill(wrong);
      await page.locator('#case-actions').getByRole('button', { name: '窗口领取', exact: true }).click();
      await expectText(page.locator('#case-alert'), '取件码不正确', 'a wrong pick-up code is refused');
    });
    check((await page.getByLabel(/取件码/).getAttribute('aria-invalid')) === 'true', 'the code field is marked invalid');
    await page.getByLabel(/取件码/).fill(code);
    await act('窗口领取');
    await expectText(page.locator('#case-state'), '已办结', 'collected: 已办结');
    await expectVisible(page.locator('#delivered'), 'the delivery window says the case is closed');

    // --- the case page: every step, in order; one trip ---------------------------------------------------
    await go(`/cases/${caseId}`);
    const steps = (await page.locator('#timeline li .tl-what').allTextContents()).map(squash);
    const want = ['受理', '认领', '审批通过', '补齐容缺材料', '窗口领取'];
    check(JSON.stringify(steps) === JSON.stringify(want), `the timeline is ${want.join(' → ')} (${steps.join(' → ')})`);
    const whoWhen = squash(await page.locator('#timeline li').first().locator('.tl-meta').textContent());
    check(/郑雅琴 · \d{4}-\d{2}-\d{2} \d{2}:\d{2}/.test(whoWhen), `each step says who and when (${whoWhen})`);
    await expectText(page.locator('#timeline li[data-action="supply"]'), MISSING, 'the supply step names the material');
    await expectText(page.locator('#trips'), /^1$/, '#trips is 1: the visit at acceptance; collecting on the same day adds none');
    await expectText(page.locator('#due-badge'), '已办结', 'the badge says 已办结');
    await axe(page, { label: `/cases/${caseId} closed` });

    // --- the citizen's tracking page on a phone ----------------------------------------------------------
    const phone = await newPhonePage();
    resp = await phone.page.goto(base + trackHref);
    check(resp.status() === 200, `${trackHref} opens without login (${resp.status()})`);
    await expectText(phone.page.locator('#case-state'), '已办结', 'tracking: 已办结');
    await expectText(phone.page.locator('#case-number'), caseNumber, 'tracking: the case number');
    const body = await phone.page.locator('main').textContent();
    check(!body.includes(APPLICANT) && !body.includes(PHONE) && !body.includes('郑雅琴') && !body.includes('汪志强'), 'tracking shows no full name, phone or staff name');
    check((await phone.page.locator('#timeline li').count()) === 5, 'tracking lists the 5 steps');
    await expectNoHorizontalScroll(phone.page, 'tracking on a phone');
    await axe(phone.page, { label: 'tracking page (phone)' });
    await shot(phone.page, 'track-phone');

    // --- the pages on a phone -----------------------------------------------------------------------------
    const staffPhone = await newPhonePage();
    const sp = staffPhone.page;
    await sp.goto(`${base}/login?next=${encodeURIComponent(`/cases/${caseId}`)}`);
    await sp.getByLabel('用户名').fill('approver');
    await sp.getByLabel('密码').fill(PASSWORD);
    await Promise.all([sp.waitForURL(`**/cases/${caseId}`), sp.getByRole('button', { name: '登录' }).click()]);
    await expectNoHorizontalScroll(sp, 'the case page on a phone');
    await shot(sp, 'case-phone');
    await sp.goto(`${base}/worklist`);
    await expectNoHorizontalScroll(sp, 'the work queue on a phone');
    await shot(sp, 'worklist-phone');
    await staffPhone.context.close();
    await phone.context.close();

    // --- a village clerk accepts 最低生活保障 (three-level): no window, no trip ---------------------------
    await logout();
    await login('clerk', '/cases/new');
    check((await page.locator('#window').count()) === 0, 'the village clerk has no window field');
    await page.getByPlaceholder(/事项名称/).fill('低保');
    await page.getByRole('button', { name: '查找', exact: true }).click();
    await page.locator(`#item-results button[data-code="${VILLAGE_ITEM}"]`).click();
    await page.getByRole('button', { name: '全部已收取' }).click();
    await page.getByLabel('姓名').fill(`李村民${RUN}`);
    await Promise.all([page.waitForURL(/\/cases\/\d+\/receipt$/), page.getByRole('button', { name: '受理并打印回执' }).click()]);
    const villageId = Number(new URL(page.url()).pathname.split('/')[2]);
    const villageNumber = squash(await page.locator('#case-number').textContent());
    await go(`/cases/${villageId}`);
    await expectText(page.locator('#trips'), /^0$/, 'a village-clerk acceptance counts no trip (不出村)');
    await act('报送乡镇');
    await expectText(page.locator('#case-state'), '乡镇审核', 'sent to the township');

    // Trips by hand: the first needs no reason, a further one does.
    await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: '记录到场' }).click()]);
    await expectText(page.locator('#case-flash'), '已记录到场', 'a first visit is recorded without a reason');
    await expectText(page.locator('#trips'), /^1$/, 'trips = 1');
    await page.getByRole('button', { name: '记录到场' }).click();
    await expectText(page.locator('#case-alert'), '必须说明原因', 'a second visit without a reason is refused');
    await page.getByLabel(/原因/).fill('补交低保收入证明原件');
    await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: '记录到场' }).click()]);
    await expectText(page.locator('#trips'), /^2$/, 'with a reason: trips = 2');
    await expectText(page.locator('#timeline'), '补交低保收入证明原件', 'the reason is on the timeline');

    // --- the township: checks it, but cannot approve at county level (403) --------------------------------
    await logout();
    await login('township', '/worklist');
    const vrow = page.locator(`#case-list tr[data-number="${villageNumber}"]`);
    await expectVisible(vrow, 'the village case is in the township work queue');
    await Promise.all([page.waitForURL(`**/cases/${villageId}`), vrow.getByRole('link').click()]);
    await act('乡镇审核通过');
    await expectText(page.locator('#case-state'), '县级审批', 'checked: now 县级审批');
    check((await page.locator('#case-actions').getByRole('button', { name: '县级审批通过' }).count()) === 0, 'the township has no 县级审批通过 button');
    const forced = await allowConsoleErrors(/status of 403/, () =>
      page.evaluate(async (id) => {
        const csrf = document.getElementById('case').dataset.csrf;
        const r = await fetch(`/api/v1/cases/${id}/actions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify({ action: 'approve' }) });
        return { status: r.status, body: await r.json() };
      }, villageId),
    );
    check(forced.status === 403 && forced.body.message.includes('县级'), `a forced approve by the township is 403 (${forced.status} ${forced.body.message})`);
    const notSeen = await allowConsoleErrors(/status of 404/, () => go(`/cases/${caseId}`));
    check(notSeen.status() === 404, `the county case is outside the township's jurisdiction (${notSeen.status()})`);
    await go(`/cases/${villageId}`);
    const csrf = await page.locator('#case').getAttribute('data-csrf');
    const forcedCounty = await allowConsoleErrors(/status of 40[34]/, () =>
      page.evaluate(async ({ id, csrf }) => {
        const r = await fetch(`/api/v1/cases/${id}/actions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify({ action: 'approve' }) });
        return r.status;
      }, { id: caseId, csrf }),
    );
    check(forcedCounty === 404 || forcedCounty === 403, `…and a forced action on it is refused (${forcedCounty})`);

    // --- leaders: overdue list and the trip report ----------------------------------------------------------
    await logout();
    await login('leader', '/stats/trips');
    await expectText(page.locator('#by-item'), item.name, `the trip report has a row for ${item.name}`);
    await expectText(page.locator('#more-than-one'), villageNumber, 'the case with 2 trips is listed');
    await expectText(page.locator('#more-than-one'), '补交低保收入证明原件', '…with its reason');
    await axe(page, { label: '/stats/trips' });
    resp = await go('/cases/overdue');
    check(resp.status() === 200, `/cases/overdue opens for the leader (${resp.status()})`);
    await axe(page, { label: '/cases/overdue' });
    const denied = await allowConsoleErrors(/status of 403/, () => go('/cases/new'));
    check(denied.status() === 403, `a leader cannot accept cases (/cases/new is ${denied.status()})`);
    note(`run ${RUN}: case ${caseNumber} (#${caseId}), village case ${villageNumber} (#${villageId}), ticket ${number}`);
  },
  { timeoutMs: 240_000 },
);
