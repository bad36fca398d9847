// Shared helpers for the browser tests: Debian's headless Chromium driven by playwright-core, axe-core
// injected into the page for accessibility checks. Each script calls `withBrowser` once; any failed
// check, uncaught error, page console error, page JavaScript error or Content-Security-Policy
// violation makes the script print why and exit 1. See README.md.

import { chromium } from 'playwright-core';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const require = createRequire(import.meta.url);

/** Chromium flags: no sandbox (containers), no GPU, and no background traffic to Google. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A phone-sized viewport (iPhone 12-14 class): 390 x 844 CSS pixels, touch, mobile viewport meta honoured. */
export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true };

/** How long a single wait (text to appear, navigation) may take before the check fails. */
export const STEP_TIMEOUT_MS = 10_000;

class CheckFailed extends Error {
  constructor(message) {
    super(message);
    this.name = 'CheckFailed';
  }
}

let checks = 0;
// Console errors, page errors and CSP violations seen so far; they arrive asynchronously, so they fail
// the script at the next check (or at the end).
const problems = [];

function throwIfProblems() {
  if (problems.length) throw new CheckFailed(`the page reported problems:\n  ${problems.join('\n  ')}`);
}

/** Fails now if the page has reported console errors, page errors or CSP violations so far. */
export function expectNoPageProblems() {
  throwIfProblems();
}

/**
 * Asserts `cond`; prints `ok N - message` or throws, which fails the script with `message`. Also fails
 * if a page problem (console error, page error, CSP violation) has been recorded since the last check.
 */
export function check(cond, message) {
  throwIfProblems();
  if (!cond) throw new CheckFailed(message);
  checks += 1;
  console.log(`ok ${checks} - ${message}`);
}

/** Prints a note (not a check) to the script's output. */
export function note(message) {
  console.log(`# ${message}`);
}

/**
 * Waits (up to STEP_TIMEOUT_MS) until the locator's text contains `text` (a string or a RegExp); the
 * locator must match exactly one element. Returns the text.
 */
export async function expectText(locator, text, message) {
  const what = message ?? `${locator} contains ${text}`;
  const matches = (s) => (text instanceof RegExp ? text.test(s) : s.includes(text));
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  let actual = null;
  let lastError = null;
  for (;;) {
    const left = deadline - Date.now();
    try {
      actual = (await locator.textContent({ timeout: Math.max(100, left) })) ?? '';
      lastError = null;
      if (matches(actual)) break;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const why = actual === null ? `: ${firstLine(lastError?.message)}` : `; actual text: ${JSON.stringify(squash(actual))}`;
      throw new CheckFailed(`${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  check(true, what);
  return actual;
}

/** Waits (up to STEP_TIMEOUT_MS) for the locator to be visible. */
export async function expectVisible(locator, message) {
  const what = message ?? `${locator} is visible`;
  try {
    await locator.waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
  } catch (e) {
    throw new CheckFailed(`${what}: ${firstLine(e.message)}`);
  }
  check(true, what);
}

/** The path (and query) of the page's current URL, e.g. `/items?q=sb`. */
export function pathOf(page) {
  const u = new URL(page.url());
  return u.pathname + u.search;
}

/** Collapses whitespace in page text for comparisons and messages. */
export function squash(s) {
  return (s ?? '').replace(/\s+/g, ' ').trim();
}

function firstLine(s) {
  return String(s).split('\n')[0];
}

// --- axe-core -------------------------------------------------------------------------------------

// The pages send `script-src 'self'`, so `page.addScriptTag({ path })` (an inline <script> with the
// file's contents) is refused by the page's CSP. Instead the axe source is evaluated through the
// DevTools protocol (`page.evaluate(source)`), which the page's CSP does not govern. This keeps the CSP
// enforced during the run, so the tests still catch CSP violations by the pages' own code — unlike
// `bypassCSP: true`, which would switch the CSP off for the whole context.
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** Default rule set: WCAG 2.0/2.1/2.2 A and AA plus axe's best practices. */
export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'];

/**
 * Runs axe-core on the page and fails on any violation with impact "serious" or "critical", listing
 * each rule, its help text and the offending elements. Minor and moderate findings are printed as notes.
 */
export async function axe(page, { tags = AXE_TAGS, label, exclude } = {}) {
  const name = label ?? pathOf(page);
  const hasAxe = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!hasAxe) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(
    async ({ tags, exclude }) => {
      const context = exclude ? { exclude } : document;
      const r = await window.axe.run(context, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
      return {
        version: window.axe.version,
        passes: r.passes.length,
        violations: r.violations.map((v) => ({
          id: v.id,
          impact: v.impact,
          help: v.help,
          helpUrl: v.helpUrl,
          nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
        })),
      };
    },
    { tags, exclude },
  );
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of result.violations.filter((v) => !bad.includes(v))) {
    note(`axe ${name}: ${v.impact} ${v.id} (${v.help}) on ${v.nodes.map((n) => n.target).join(', ')}`);
  }
  const listing = bad
    .map((v) => {
      const nodes = v.nodes.map((n) => `      ${n.target}\n        ${(n.summary ?? '').replace(/\n/g, '\n        ')}`);
      return `  [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})\n${nodes.join('\n')}`;
    })
    .join('\n');
  check(bad.length === 0, `axe ${result.version} on ${name}: no serious or critical violations (${tags.join(',')})${bad.length ? `\n${listing}` : ''}`);
  return result;
}

// --- phone viewport -------------------------------------------------------------------------------

/** Opens a new page in a fresh phone-sized context (see PHONE), watched like the main page. */
export async function phonePage(browser, watch, options = {}) {
  const context = await browser.newContext({ ...PHONE, locale: 'zh-CN', ...options });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  const page = await context.newPage();
  await watch(page);
  return { context, page };
}

/** Checks that the page does not scroll sideways (nothing wider than the viewport). */
export async function expectNoHorizontalScroll(page, label) {
  const m = await page.evaluate(() => {
    const s = document.scrollingElement;
    const vw = s.clientWidth;
    const wide = [...document.querySelectorAll('body *')]
      .filter((el) => el.getBoundingClientRect().right > vw + 1)
      .slice(0, 5)
      .map((el) => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.className ? '.' + String(el.className).split(' ').join('.') : ''} (right ${Math.round(el.getBoundingClientRect().right)})`);
    return { scrollWidth: s.scrollWidth, clientWidth: s.clientWidth, wide };
  });
  check(
    m.scrollWidth <= m.clientWidth + 1,
    `${label ?? pathOf(page)}: no horizontal scroll at ${page.viewportSize()?.width}px (scrollWidth ${m.scrollWidth} <= clientWidth ${m.clientWidth} + 1)` +
      (m.scrollWidth > m.clientWidth + 1 ? `; too wide: ${m.wide.join(', ')}` : ''),
  );
}

// --- the run --------------------------------------------------------------------------------------

/**
 * Launches headless Chromium, opens one context and page, runs `fn({ page, context, browser, base,
 * go, allowConsoleErrors, newPhonePage })`, closes the browser and exits: 0 if every check passed, 1
 * (with the reason) on the first failed check, an uncaught error, a console error, a page error, a CSP
 * violation or when the whole script takes longer than `timeoutMs`.
 *
 * - `go(path)` navigates to base + path and returns the main document's response.
 * - `allowConsoleErrors(regex, fn)` runs `fn` tolerating console errors that match `regex` (e.g. the
 *   "Failed to load resource … 401" Chromium logs when a page is deliberately served with 401).
 * - `newPhonePage()` opens a page in a phone-sized context (390 x 844) that is watched the same way.
 */
export async function withBrowser(fn, { timeoutMs = 60_000, contextOptions = {} } = {}) {
  const base = (process.env.BASE_URL ?? '').replace(/\/+$/, '');
  if (!base) {
    console.error('FAIL: BASE_URL is not set (e.g. BASE_URL=http://127.0.0.1:8080 node catalogue.mjs)');
    process.exit(1);
  }
  const script = process.argv[1]?.split('/').pop() ?? 'script';
  let browser = null;
  let finished = false;
  const allowed = [];

  const fail = async (raw) => {
    if (finished) return;
    const message = String(raw).replace(/\u001b\[[0-9;]*m/g, ''); // Playwright's call logs carry colour codes
    finished = true;
    console.log(`not ok - ${message.split("\n")[0]}`);
    console.error(`FAIL ${script}: ${message}`);
    if (problems.length && !message.includes('reported problems')) console.error(`page problems seen:\n  ${problems.join('\n  ')}`);
    await Promise.race([browser?.close().catch(() => {}), new Promise((r) => setTimeout(r, 5_000))]);
    process.exit(1);
  };

  const timer = setTimeout(() => fail(`timed out after ${timeoutMs / 1000} s`), timeoutMs);
  process.on('unhandledRejection', (e) => fail(`unhandled rejection: ${e?.stack ?? e}`));
  process.on('uncaughtException', (e) => fail(`uncaught exception: ${e?.stack ?? e}`));

  const record = (what) => {
    if (allowed.some((re) => re.test(what))) {
      note(`tolerated: ${what}`);
      return;
    }
    problems.push(what);
    console.log(`# page problem: ${what}`);
  };

  const watch = async (page) => {
    const where = () => pathOf(page);
    page.on('console', (msg) => {
      if (msg.type() === 'error') record(`console error on ${where()}: ${msg.text()}${msg.location()?.url ? ` (${msg.location().url})` : ''}`);
    });
    page.on('pageerror', (err) => record(`page error on ${where()}: ${err.message}`));
    page.on('crash', () => record(`page crashed on ${where()}`));
    // CSP violations also come as console errors; the event makes the report exact and does not
    // depend on Chromium's wording. The binding and init script run outside the page's CSP.
    await page.exposeBinding('__reportCspViolation', (_source, v) =>
      record(`CSP violation on ${where()}: ${v.directive} blocked ${v.blocked || 'inline'} (${v.source}:${v.line})`),
    );
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__reportCspViolation?.({ directive: e.effectiveDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber });
      });
    });
  };

  try {
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
    });
    note(`${script}: ${browser.version()} against ${base}`);
    const context = await browser.newContext({ locale: 'zh-CN', ...contextOptions });
    context.setDefaultTimeout(STEP_TIMEOUT_MS);
    context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
    const page = await context.newPage();
    await watch(page);

    const go = async (path) => {
      const resp = await page.goto(base + path, { waitUntil: 'load' });
      if (!resp) throw new CheckFailed(`no response navigating to ${path}`);
      return resp;
    };
    const allowConsoleErrors = async (re, inner) => {
      allowed.push(re);
      try {
        return await inner();
      } finally {
        // let late console events for this step arrive before the allowance ends
        await new Promise((r) => setTimeout(r, 200));
        allowed.splice(allowed.indexOf(re), 1);
      }
    };
    const newPhonePage = async () => phonePage(browser, watch, contextOptions);

    await fn({ page, context, browser, base, go, allowConsoleErrors, newPhonePage });
    await new Promise((r) => setTimeout(r, 200));
    throwIfProblems();
    clearTimeout(timer);
    finished = true;
    await browser.close();
    console.log(`# ${script}: all ${checks} checks passed`);
    process.exit(0);
  } catch (e) {
    clearTimeout(timer);
    await fail(e instanceof CheckFailed ? e.message : `error: ${e?.stack ?? e}`);
  }
}
