// Results with many options stay legible on a hall's screen: option text at
// least 22 px at 1280×720 and 28 px at 1920×1080; a list too long for that
// is shown in pages with a visible "1/3", turning by itself at a calm pace
// (and with a clicker's PageDown), the verdict and the leading option on
// every page, nothing outside the window. Checked at 2, 5, 12 and 30
// sentence-length options, in Korean and English.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, createForum, wsActor, newPage, online, noModerateViolations, screenshot, offscreen, PROJECTOR_SIZES } from "./harness.js";

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
});

const SENTENCES = [
  "강변 산책로를 따라 가로등을 더 설치해 밤에도 안전하게 걸을 수 있도록 합니다",
  "어린이 놀이터의 낡은 놀이기구를 모두 교체하고 바닥에 충격 흡수재를 깝니다",
  "공원 입구 세 곳에 자전거 보관대를 만들고 공공 자전거 대여소를 연결합니다",
  "노인정 앞 쉼터에 그늘막과 벤치를 늘려 여름에도 쉴 수 있게 합니다",
  "반려견 놀이터를 따로 만들어 산책로와 분리하고 배변 봉투함을 둡니다",
  "주말마다 열리는 벼룩시장을 위해 광장에 전기와 수도 시설을 설치합니다",
];
const MIN_PX = { "1280x720": 22, "1920x1080": 28 };

/** What a hall sees now: the smallest option text, the page indicator, whether the verdict and the leader are in view, what is off screen. */
function seen(display) {
  return display.evaluate(() => {
    const visible = (el) => el && el.getClientRects().length > 0;
    const labels = [...document.querySelectorAll(".pj-row .pj-label")].filter(visible);
    return {
      smallest: Math.min(...labels.map((l) => parseFloat(getComputedStyle(l).fontSize))),
      shownIds: [...document.querySelectorAll(".pj-row")].filter(visible).map((r) => Number(r.dataset.option)),
      page: document.querySelector(".pj-page")?.textContent || null,
      verdict: visible(document.querySelector(".pj-verdict")),
      leader: visible(document.querySelector(".pj-row.leader")),
    };
  });
}

test("2, 5, 12 and 30 options: legible type, pages with an indicator when needed, the verdict always in view, nothing off screen", { timeout: 240000 }, async () => {
  const f = await createForum(server, { title: "을지로 공원 포럼", language: "ko", agenda: [{ title: "공원 시설" }] });
  const moderator = await wsActor(server, browser, { token: f.moderator_token });
  const command = moderator.command;
  await command({ type: "start_forum" });
  await command({ type: "activate_item", item: 1 });
  const display = await newPage(browser, { viewport: PROJECTOR_SIZES[0][1] }, "display");
  await display.goto(`${server.url}/display#token=${encodeURIComponent(f.display_token)}`);
  await online(display);

  for (const n of [2, 5, 12, 30]) {
    const labels = Array.from({ length: n }, (_, i) => `${i + 1}번: ${SENTENCES[i % SENTENCES.length]}`);
    const poll = (await command({ type: "create_poll", title: `${n}가지 제안 중 고르기`, method: { kind: "approval", max_choices: 2 }, options: { from: "fixed", labels } })).poll;
    await command({ type: "open_poll", poll });
    // Hand counts of 10 people: option 1 leads alone, the others get fewer.
    const counts = [{ option: 1, count: 8 }, { option: 2, count: 3 }];
    if (n > 2) counts.push({ option: n, count: 2 }, { option: 3, count: 2 });
    await command({ type: "enter_hall_count", poll, counts: { kind: "approval", people: 10, counts } });
    await command({ type: "close_poll", poll });
    await command({ type: "show_on_display", screen: { kind: "result", poll } });
    await display.locator(`.pj-result[data-poll="${poll}"][data-final="true"] .pj-verdict`).waitFor();

    for (const lang of ["ko", "en"]) {
      if ((await display.evaluate(() => document.documentElement.lang)) !== lang) await display.keyboard.press("l");
      await display.waitForFunction((l) => document.documentElement.lang === l, lang);
      for (const [size, viewport] of PROJECTOR_SIZES) {
        await display.setViewportSize(viewport);
        await display.waitForFunction((v) => innerWidth === v.width, viewport);
        await display.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
        const first = await seen(display);
        const where = `${n} options at ${size} in ${lang}`;
        assert.ok(first.smallest >= MIN_PX[size], `${where}: option text ${first.smallest} px, at least ${MIN_PX[size]} px`);
        assert.ok(first.verdict && first.leader, `${where}: verdict and leader in view`);
        assert.deepEqual(await offscreen(display), [], `${where}: nothing off screen`);
        if (n <= 5) assert.equal(first.page, null, `${where}: no pages for a short list`);
        // Every page: legible, in view, verdict and leader on it; together they show every option once.
        const pages = first.page ? Number(first.page.split("/")[1]) : 1;
        const shown = new Set(first.shownIds);
        for (let k = 2; k <= pages; k++) {
          await display.keyboard.press("PageDown");
          await display.locator(".pj-page").filter({ hasText: `${k}/${pages}` }).waitFor({ timeout: 3000 }).catch(async (err) => {
            await screenshot(display, "failure-many");
            throw new Error(`${where}: page ${k} of ${pages} not shown; now ${JSON.stringify(await seen(display))}: ${err.message}`);
          });
          const now = await seen(display);
          assert.ok(now.smallest >= MIN_PX[size] && now.verdict && now.leader, `${where}, page ${k}: ${JSON.stringify(now)}`);
          assert.deepEqual(await offscreen(display), [], `${where}, page ${k}: nothing off screen`);
          now.shownIds.forEach((id) => shown.add(id));
          if (k === 2) await screenshot(display, `projector-many-${n}-${size}-${lang}-page2`);
        }
        assert.equal(shown.size, n, `${where}: all ${n} options over ${pages} page(s)`);
        if (pages > 1) {
          await display.keyboard.press("PageDown");
          await display.locator(".pj-page").filter({ hasText: `1/${pages}` }).waitFor();
        }
        await display.waitForTimeout(900);
        await screenshot(display, `projector-many-${n}-${size}-${lang}`);
      }
      await noModerateViolations(display, `the projector with ${n} options in ${lang}`);
    }
    if ((await display.evaluate(() => document.documentElement.lang)) !== "ko") await display.keyboard.press("l");
    await display.setViewportSize(PROJECTOR_SIZES[1][1]);
  }

  // Left alone (a fresh projector, nobody at its keyboard), a paged list turns by itself at a calm pace: 5 to 12 s a page.
  const alone = await newPage(browser, { viewport: PROJECTOR_SIZES[1][1] }, "display left alone");
  await alone.goto(`${server.url}/display#token=${encodeURIComponent(f.display_token)}`);
  await alone.locator(".pj-page").filter({ hasText: /^1\// }).waitFor();
  const start = Date.now();
  await alone.locator(".pj-page").filter({ hasText: /^2\// }).waitFor({ timeout: 15000 });
  const waited = Date.now() - start;
  assert.ok(waited >= 5000 && waited <= 12000, `turned after ${waited} ms`);
  const turned = Date.now();
  await alone.locator(".pj-page").filter({ hasNotText: /^2\// }).waitFor({ timeout: 15000 });
  assert.ok(Date.now() - turned >= 5000, `${Date.now() - turned} ms on a page: at least 5 s`);
  assert.deepEqual([...display.errors, ...alone.errors].filter((e) => !/WebSocket connection|net::ERR_|Failed to load resource/.test(e)), []);
  await moderator.close();
});
