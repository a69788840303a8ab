// One whole Korean forum, as a hall and its residents at home live it: the
// moderator's console, one projector, six residents on phones (three in the
// hall, three at home). Three agenda items; a poll of every method; paper
// hand counts; a speaker who runs over time; a phone that loses its network
// and comes back with its ballot; the server killed mid-forum and started
// again on the same data with nothing lost; the moderator driving the
// projector through each kind of screen; the forum's end. Checks are on what
// a person sees: text, nothing outside the projector's window, axe-core
// clean (no moderate or worse) on each page at 100% and 200% text.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startServer, launchBrowser, createForum, wsActor, newPage, online, noModerateViolations, textSize, screenshot, offscreen,
  PHONE, CONSOLE, PROJECTOR_SIZES,
} from "./harness.js";

let server;
let browser;
const pages = [];

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
});

async function open(options, name) {
  const page = await newPage(browser, options, name);
  pages.push(page);
  return page;
}

/** axe-core on the page at 100% and at 200% text; back to 100% after. */
async function accessible(page, what) {
  await noModerateViolations(page, `${what} at 100% text`);
  await textSize(page, 200);
  await noModerateViolations(page, `${what} at 200% text`);
  await textSize(page, 100);
}

/** The projector shows everything inside its window (at each projector size). */
async function projectorFits(display, what) {
  for (const [size, viewport] of PROJECTOR_SIZES) {
    await display.setViewportSize(viewport);
    await display.waitForFunction((v) => innerWidth === v.width, viewport);
    await display.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    assert.deepEqual(await offscreen(display), [], `${what} at ${size}: nothing outside the window`);
  }
  await display.setViewportSize(PROJECTOR_SIZES[0][1]);
}

/** Screenshots of a page in Korean and English at its size (and the projector at both of its sizes). */
async function bothLanguages(page, name, { projector = false } = {}) {
  const sizes = projector ? PROJECTOR_SIZES : [[`${page.viewportSize().width}x${page.viewportSize().height}`, page.viewportSize()]];
  for (const lang of ["ko", "en"]) {
    if (projector) {
      if ((await page.evaluate(() => document.documentElement.lang)) !== lang) await page.keyboard.press("l");
    } else await page.locator("#lang").selectOption(lang);
    await page.waitForFunction((l) => document.documentElement.lang === l, lang);
    for (const [size, viewport] of sizes) {
      await page.setViewportSize(viewport);
      await page.waitForTimeout(projector ? 500 : 150);
      await screenshot(page, `scenario-${name}-${size}-${lang}`);
    }
  }
  if (projector) {
    await page.keyboard.press("l");
    await page.setViewportSize(PROJECTOR_SIZES[0][1]);
  } else await page.locator("#lang").selectOption("ko");
  await page.waitForFunction(() => document.documentElement.lang === "ko");
}

const vote = (page, poll) => ({
  // As a person does: a tap on the choice's label.
  check: async (key) => {
    await page.locator(`label:has([data-key="${key}"])`).click();
    assert.ok(await page.locator(`[data-key="${key}"]`).isChecked(), `${key} chosen`);
  },
  tap: (key) => page.locator(`[data-key="${key}"]`).click(),
  submit: async () => {
    await page.locator(`#submit-${poll}`).click();
    await page.locator(`#ballot-state-${poll}[data-state="saved"]`).waitFor();
  },
});

test("a whole forum: console, projector and six phones, every poll method, paper counts, an offline phone, a server restart, the end", { timeout: 300000 }, async () => {
  const started = Date.now();
  const f = await createForum(server, {
    title: "을지로 공원 주민 포럼",
    language: "ko",
    agenda: [
      { title: "공원 시설", timebox_secs: 900 },
      { title: "예산 나누기", timebox_secs: 900 },
      { title: "우선순위 정하기", timebox_secs: 600 },
    ],
  });
  const moderator = await wsActor(server, browser, { token: f.moderator_token });
  const command = moderator.command;

  const mod = await open(CONSOLE, "console");
  await mod.goto(`${server.url}/console#token=${encodeURIComponent(f.moderator_token)}&display=${encodeURIComponent(f.display_token)}`);
  await online(mod);
  mod.on("dialog", (d) => d.accept());
  const display = await open({ viewport: PROJECTOR_SIZES[0][1] }, "projector");
  await display.goto(`${server.url}/display#token=${encodeURIComponent(f.display_token)}`);
  await online(display);
  await display.locator(".pj-join-slide #join-code").filter({ hasText: f.join_codes.hall }).waitFor();

  // Six residents join: three in the hall, three at home.
  const names = ["김민지", "이서준", "박지우", "최하은", "정도윤", "강수아"];
  const phones = await Promise.all(
    names.map(async (name, i) => {
      const page = await open(PHONE, `phone ${name}`);
      await page.goto(`${server.url}/j/${i < 3 ? f.join_codes.hall : f.join_codes.remote}`);
      await page.locator("#join-name").fill(name);
      await page.locator("#join-submit").click();
      await online(page);
      return page;
    }),
  );
  await display.locator("#counts").filter({ hasText: "현장 3명 · 온라인 3명" }).waitFor();
  await accessible(mod, "the console of a forum not yet started");
  await accessible(display, "the projector's join slide");
  await accessible(phones[0], "a phone before the forum starts");

  // Item 1: start, a yes/no and a single-choice poll; the hall counts on paper.
  await mod.locator("#start-forum").click();
  await mod.locator('[data-key="act-1"]').click();
  await display.locator("#current-title").filter({ hasText: "공원 시설" }).waitFor();
  await phones[0].locator("#current").filter({ hasText: "공원 시설" }).waitFor();
  const yn = (await command({ type: "create_poll", title: "공원 안 흡연을 금지할까요?", method: { kind: "yes_no", rule: "simple" }, options: { from: "none" } })).poll;
  const sc = (await command({ type: "create_poll", title: "새 쉼터는 어디에 둘까요?", method: { kind: "single_choice" }, options: { from: "fixed", labels: ["호수 옆", "놀이터 앞", "정문 광장"] } })).poll;
  await command({ type: "open_poll", poll: yn });
  await command({ type: "open_poll", poll: sc });
  await display.locator(`.pj-result[data-poll="${yn}"]`).waitFor();
  await display.locator(`.pj-result[data-poll="${sc}"]`).waitFor();

  // One resident at home loses the network: the phone says so within 2 s, keeps the ballot and sends it once back.
  const away = phones[5];
  await away.context().setOffline(true);
  const lost = Date.now();
  await away.locator('#conn[data-status="offline"]').waitFor({ timeout: 2000 });
  assert.ok(Date.now() - lost <= 2000, "offline shown within 2 s");
  await vote(away, yn).check(`yn-${yn}-no`);
  await away.locator(`#submit-${yn}`).click();
  await away.locator("#conn").filter({ hasText: "투표 1개" }).waitFor();
  await screenshot(away, "scenario-phone-offline-390x844-ko");

  const choices = ["yes", "yes", "no", "yes", "abstain"];
  await Promise.all(
    phones.slice(0, 5).map(async (page, i) => {
      const v = vote(page, yn);
      await v.check(`yn-${yn}-${choices[i]}`);
      await v.submit();
      const s = vote(page, sc);
      await s.check(`sc-${sc}-${(i % 3) + 1}`);
      await s.submit();
    }),
  );
  await away.context().setOffline(false);
  await online(away);
  await away.locator(`#ballot-state-${yn}[data-state="saved"]`).waitFor();
  assert.doesNotMatch(await away.locator("#conn").textContent(), /투표 1개/);
  await vote(away, sc).check(`sc-${sc}-1`);
  await vote(away, sc).submit();
  // The queued ballot landed once: six ballots, not seven.
  await display.locator(`.pj-result[data-poll="${yn}"] .tally-ballots`).filter({ hasText: "6표 (현장 3 · 온라인 3)" }).waitFor();

  // Paper: twenty people in the hall without a phone, counted by hand in the console.
  for (const [k, n] of [["yes", 12], ["no", 6], ["abstain", 2]]) await mod.locator(`[data-key="hc-${yn}-${k}"]`).fill(String(n));
  await mod.locator(`[data-key="hc-${yn}-enter"]`).click();
  await display.locator(`.pj-result[data-poll="${yn}"] .tally-ballots`).filter({ hasText: "26표 (현장 23, 그중 수기 20 · 온라인 3)" }).waitFor();
  // An impossible paper count is refused in words, and nothing changes.
  await command({ type: "set_hall_headcount", count: 30 });
  for (const [i, n] of [[1, 20], [2, 9], [3, 9]]) await mod.locator(`[data-key="hc-${sc}-o${i}"]`).fill(String(n));
  await mod.locator(`[data-key="hc-${sc}-enter"]`).click();
  await mod.locator("#log[data-kind=error]").waitFor();
  await mod.locator(`[data-key="hc-${sc}-o1"]`).fill("10");
  await mod.locator(`[data-key="hc-${sc}-enter"]`).click();
  await display.locator(`.pj-result[data-poll="${sc}"] .tally-ballots`).filter({ hasText: "34표" }).waitFor();
  await projectorFits(display, "two live polls");
  await accessible(display, "the projector with two live polls");
  await accessible(phones[0], "a phone with two polls answered");
  await accessible(mod, "the console with two live polls");
  await bothLanguages(display, "two-polls", { projector: true });
  await bothLanguages(phones[0], "phone-two-polls");
  await bothLanguages(mod, "console-two-polls");

  // One device holds one participant: a second tab is the same person, whose one ballot it changes.
  const me = await phones[0].locator("#whoami").textContent();
  const tab = await phones[0].context().newPage();
  await tab.goto(`${server.url}/j/${f.join_codes.hall}`);
  await tab.locator('#join-section:not([hidden]), #conn[data-status="online"]').first().waitFor();
  if (await tab.locator("#join-section").isVisible()) await tab.locator("#join-submit").click();
  await online(tab);
  assert.equal(await tab.locator("#whoami").textContent(), me, "the same participant in a second tab");
  await vote(tab, yn).check(`yn-${yn}-no`);
  await vote(tab, yn).submit();
  await display.locator(`.pj-result[data-poll="${yn}"] .tally-ballots`).filter({ hasText: "26표" }).waitFor();
  await tab.close();

  await mod.locator(`[data-key="close-${yn}"]`).click();
  await mod.locator(`[data-key="close-${sc}"]`).click();
  await display.locator(`.pj-result[data-poll="${sc}"][data-final="true"] .pj-verdict`).filter({ hasText: "결정: 호수 옆" }).waitFor();
  // The console puts the other result on screen.
  await mod.locator("#projector-poll").selectOption(String(yn));
  await mod.locator('#projector-control button[data-screen="result"]').click();
  await display.locator(`.pj-result[data-poll="${yn}"] .pj-verdict`).filter({ hasText: "가결" }).waitFor();
  await projectorFits(display, "a yes/no result");
  await accessible(display, "the projector's final result");
  await bothLanguages(display, "yes-no-result", { projector: true });

  // Item 2: approval, dots and score; the moderator drives the projector through each kind of screen.
  await mod.locator('#projector-control button[data-screen="auto"]').click();
  await mod.locator('[data-key="act-2"]').click();
  await display.locator("#current-title").filter({ hasText: "예산 나누기" }).waitFor();
  assert.equal(await display.locator(".pj-result").count(), 0, "no result of item 1 on item 2");
  const areas = ["놀이터", "안전", "문화 행사", "녹지"];
  const ap = (await command({ type: "create_poll", title: "어떤 분야에 예산을 쓸까요? (두 개까지)", method: { kind: "approval", max_choices: 2 }, options: { from: "fixed", labels: areas } })).poll;
  const dt = (await command({ type: "create_poll", title: "스티커 다섯 장을 나눠 붙이세요", method: { kind: "dots", budget: 5, max_per_option: 3 }, options: { from: "fixed", labels: areas } })).poll;
  const scr = (await command({ type: "create_poll", title: "각 분야에 점수를 주세요", method: { kind: "score" }, options: { from: "fixed", labels: areas } })).poll;
  for (const poll of [ap, dt, scr]) await command({ type: "open_poll", poll });
  await Promise.all(
    phones.map(async (page, i) => {
      const a = vote(page, ap);
      await a.check(`ap-${ap}-${(i % 4) + 1}`);
      if (i % 2) await a.check(`ap-${ap}-${((i + 1) % 4) + 1}`);
      await a.submit();
      const d = vote(page, dt);
      for (let k = 0; k < 3; k++) await d.tap(`dots-${dt}-${(i % 2) + 1}-plus`);
      await d.tap(`dots-${dt}-4-plus`);
      await d.submit();
      const s = vote(page, scr);
      for (const o of [1, 2, 3, 4]) await s.check(`sc-${scr}-${o}-${(o + i) % 6}`);
      await s.submit();
    }),
  );
  await command({ type: "enter_hall_count", poll: ap, counts: { kind: "approval", people: 10, counts: [{ option: 1, count: 7 }, { option: 3, count: 4 }] } });
  await command({ type: "enter_hall_count", poll: scr, counts: { kind: "score", people: 4, scores: [{ option: 2, distribution: [0, 0, 0, 1, 1, 2] }] } });
  await display.locator(`.pj-result[data-poll="${ap}"] .tally-ballots`).filter({ hasText: "16표" }).waitFor();
  await projectorFits(display, "three live polls");
  // One live poll alone, put on screen from the console; then back to all three.
  await mod.locator("#projector-poll").selectOption(String(dt));
  await mod.locator('#projector-control button[data-screen="poll"]').click();
  await display.waitForFunction((p) => [...document.querySelectorAll(".pj-result")].map((e) => e.dataset.poll).join() === String(p), dt);
  await projectorFits(display, "one live poll");
  await mod.locator('#projector-control button[data-screen="auto"]').click();
  await display.locator(".pj-result").nth(2).waitFor();
  await bothLanguages(display, "three-polls", { projector: true });
  await bothLanguages(phones[3], "phone-three-polls");

  // The server dies mid-forum and is started again on the same data: every page comes back, nothing is lost.
  const ballotsBefore = await display.locator(".tally-ballots").allTextContents();
  await server.restart();
  await Promise.all([mod, display, ...phones].map((page) => online(page)));
  await display.waitForFunction((want) => JSON.stringify([...document.querySelectorAll(".tally-ballots")].map((e) => e.textContent)) === JSON.stringify(want), ballotsBefore);
  await phones[0].locator(`#ballot-state-${ap}[data-state="saved"]`).waitFor();
  const moderator2 = await wsActor(server, browser, { token: f.moderator_token });
  const command2 = moderator2.command;
  // A ballot after the restart lands.
  await phones[5].locator(`label:has([data-key="ap-${ap}-3"])`).click();
  await vote(phones[5], ap).check(`ap-${ap}-1`);
  await vote(phones[5], ap).submit();

  for (const poll of [ap, dt, scr]) await mod.locator(`[data-key="close-${poll}"]`).click();
  await display.locator(`.pj-result[data-poll="${scr}"][data-final="true"]`).waitFor();
  // Each kind of screen, from the console.
  await command2({ type: "submit_idea", text: "예산의 10%는 주민 제안 사업에 씁니다" });
  for (const [kind, seen] of [["ideas", ".pj-ideas"], ["speakers", ".pj-speakers"], ["join", ".pj-join-slide"], ["blank", '#main[data-screen="blank"]'], ["auto", `.pj-result[data-poll="${scr}"]`]]) {
    await mod.locator(`#projector-control button[data-screen="${kind}"]`).click();
    await display.locator(seen).waitFor({ state: kind === "blank" ? "attached" : "visible" });
    await mod.locator(`#projector-control button[data-screen="${kind}"][aria-pressed="true"]`).waitFor();
    if (kind !== "blank") await projectorFits(display, `the ${kind} screen`);
    if (kind === "ideas" || kind === "join") await accessible(display, `the projector's ${kind} screen`);
  }
  await mod.locator("#projector-poll").selectOption(String(dt));
  await mod.locator('#projector-control button[data-screen="result"]').click();
  await display.locator(`.pj-result[data-poll="${dt}"][data-final="true"]`).waitFor();
  await projectorFits(display, "the dots result");
  await mod.locator('#projector-control button[data-screen="auto"]').click();

  // Item 3: ranked (instant-runoff and Schulze) and pairwise; a speaker who runs over.
  await mod.locator('[data-key="act-3"]').click();
  await display.locator("#current-title").filter({ hasText: "우선순위 정하기" }).waitFor();
  const plans = ["가로등 늘리기", "놀이기구 바꾸기", "자전거 보관대", "무장애 화장실"];
  const irv = (await command2({ type: "create_poll", title: "무엇부터 할까요? (즉석 결선)", method: { kind: "ranked", tally: "instant_runoff" }, options: { from: "fixed", labels: plans } })).poll;
  const sch = (await command2({ type: "create_poll", title: "무엇부터 할까요? (슐체)", method: { kind: "ranked", tally: "schulze" }, options: { from: "fixed", labels: plans } })).poll;
  const pw = (await command2({ type: "create_poll", title: "둘 중 어느 쪽이 먼저인가요?", method: { kind: "pairwise" }, options: { from: "fixed", labels: plans } })).poll;
  for (const poll of [irv, sch, pw]) await command2({ type: "open_poll", poll });
  const rankings = [[1, 2, 3, 4], [2, 1, 4, 3], [1, 3, 2, 4], [4, 1, 2, 3], [2, 4, 1, 3], [1, 4, 3, 2]];
  await Promise.all(
    phones.map(async (page, i) => {
      for (const poll of [irv, sch]) {
        for (const id of rankings[i]) await page.locator(`[data-key="rk-add-${poll}-${id}"]`).click();
        await vote(page, poll).submit();
      }
      // Two pairs each: the option ranked higher wins.
      for (let k = 0; k < 2; k++) {
        const buttons = page.locator(`#pair-${pw} .pair-option`);
        await buttons.first().waitFor();
        const ids = await buttons.evaluateAll((bs) => bs.map((b) => Number(b.dataset.key.split("-").pop())));
        const winner = rankings[i].indexOf(ids[0]) < rankings[i].indexOf(ids[1]) ? ids[0] : ids[1];
        await page.locator(`[data-key="pw-${pw}-${winner}"]`).click();
        await page.locator(`#ballot-state-${pw}[data-state="saved"]`).waitFor();
      }
    }),
  );
  await command2({ type: "enter_hall_count", poll: irv, counts: { kind: "ranked", ballots: [{ ranking: [3, 1, 2, 4], count: 4 }] } });
  await display.locator(`.pj-result[data-poll="${irv}"] .tally-ballots`).filter({ hasText: "10표" }).waitFor();
  await accessible(phones[2], "a phone ranking and comparing pairs");
  await bothLanguages(phones[2], "phone-ranked-pairwise");

  await command2({ type: "set_speaking_limit", secs: 1 });
  await phones[1].locator("#hand-button").click();
  await phones[4].locator("#hand-button").click();
  await mod.locator("#speakers li").nth(1).waitFor();
  await mod.locator("#call-next").click();
  await phones[1].locator("#hand-status.floor").waitFor();
  await mod.locator('#projector-control button[data-screen="speakers"]').click();
  await display.locator(".pj-speakers .speaker-now").filter({ hasText: names[1] }).waitFor();
  await display.locator("#speech-clock.over").waitFor();
  await display.locator(".pj-queue li").filter({ hasText: names[4] }).waitFor();
  await projectorFits(display, "a speaker over time");
  await accessible(display, "the projector's speaker queue");
  await accessible(mod, "the console with a speaker on the floor");
  await bothLanguages(display, "speaker-over", { projector: true });
  await mod.locator('#projector-control button[data-screen="auto"]').click();

  for (const poll of [irv, sch, pw]) await mod.locator(`[data-key="close-${poll}"]`).click();
  for (const poll of [irv, sch, pw]) {
    await mod.locator("#projector-poll").selectOption(String(poll));
    await mod.locator('#projector-control button[data-screen="result"]').click();
    // An instant-runoff result is stepped through its rounds; the verdict comes with the last.
    while (poll === irv && !(await mod.locator("#projector-next-round").isDisabled())) {
      const step = Number(await display.locator(".pj-round").getAttribute("data-step"));
      await mod.locator("#projector-next-round").click();
      await display.locator(`.pj-round[data-step="${step + 1}"]`).waitFor();
    }
    await display.locator(`.pj-result[data-poll="${poll}"][data-final="true"] .pj-verdict`).waitFor();
    const values = await display.locator(`.pj-result[data-poll="${poll}"] .pj-value`).allTextContents();
    assert.ok(values.every((v) => !/점|points/.test(v)), `no Borda points for poll ${poll}: ${values}`);
    await projectorFits(display, `the result of poll ${poll}`);
    await screenshot(display, `scenario-result-${poll}-1920x1080-ko`);
  }
  await accessible(display, "the projector's pairwise result");
  await accessible(phones[0], "a phone with closed polls");

  // The forum closes: the end screens.
  await mod.locator("#close-forum").click();
  await display.locator(".pj-end").waitFor();
  await display.locator(".pj-end li").filter({ hasText: "공원 안 흡연을 금지할까요?" }).waitFor();
  assert.equal(await display.locator("img").count(), 0, "no QR code after the end");
  await projectorFits(display, "the end screen");
  await phones[3].locator("#forum-status").filter({ hasText: "종료" }).waitFor();
  await accessible(display, "the projector's end screen");
  await accessible(phones[3], "a phone after the end");
  await accessible(mod, "the console after the end");
  await bothLanguages(display, "end", { projector: true });
  await bothLanguages(phones[3], "phone-end");
  await bothLanguages(mod, "console-end");

  const errors = pages.flatMap((p) => p.errors).filter((e) => !/WebSocket connection|ERR_INTERNET_DISCONNECTED|net::ERR_|Failed to load resource/.test(e));
  assert.deepEqual(errors, [], "no page errors");
  await moderator.close().catch(() => {});
  await moderator2.close();
  console.log(`# the whole forum took ${Math.round((Date.now() - started) / 1000)} s`);
});
