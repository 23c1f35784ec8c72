// The web page in a real headless Chromium against a live app: classifying an image through the
// drop zone's file input, exploring resnet50, the lecture's bottleneck example, comparing plain34
// with resnet34, and the phone-width layout with keyboard tabs. Every request must stay on the
// service's own origin and the console must stay clean (a CSP violation would show up there).
// Screenshots of each step go to test-artifacts/ui/ (gitignored).
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../../src/config.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/ui/', import.meta.url));
const SERVED = fileURLToPath(new URL('../fixtures/served/', import.meta.url));

if (!existsSync(CHROMIUM)) {
  t.skip(
    `browser tests need Chromium at ${CHROMIUM} (Debian: apt-get install -y chromium, or set CHROMIUM_PATH)`,
    () => {},
  );
} else {
  await run();
}

async function run() {
  const { chromium } = await import('playwright-core');
  rmSync(ARTIFACTS, { recursive: true, force: true }); // no stale screenshots from an older run
  mkdirSync(ARTIFACTS, { recursive: true });
  const scratch = mkdtempSync(path.join(tmpdir(), 'convnet-serve-ui-'));

  const app = await buildApp(testConfig({ serveModels: true, workers: 1, modelsDir: SERVED }));
  await app.models.loadAll();
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

  const context = await chromium.launchPersistentContext(path.join(scratch, 'profile'), {
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
  });
  t.teardown(async () => {
    await context.close();
    await app.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  const offOrigin: string[] = [];
  const problems: string[] = [];
  context.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(`${base}/`) && !url.startsWith('blob:') && !url.startsWith('data:'))
      offOrigin.push(url);
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    // Chromium logs every 4xx fetch; the 415 and 400 these tests provoke on purpose are expected.
    if (/Failed to load resource: .*status of (415|400)\b/.test(msg.text())) return;
    if (msg.type() === 'error' || msg.type() === 'warning')
      problems.push(`console ${msg.type()}: ${msg.text()}`);
  });
  const shot = (name: string, fullPage = false) =>
    page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage });

  await page.goto(`${base}/`);
  await page.waitForSelector('#classify-model:not([disabled])');

  t.test('Classify: a picked PNG through small-h5 shows three labelled bars and the timings', async (t) => {
    const png = path.join(scratch, 'sample.png');
    const pixels = Buffer.alloc(32 * 32 * 3, 0).map((_, i) => (i * 7) % 256);
    await sharp(pixels, { raw: { width: 32, height: 32, channels: 3 } })
      .png()
      .toFile(png);

    // broken-truncated comes first by name but failed to load, so the service's default is resnet18.
    t.equal(
      await page.inputValue('#classify-model'),
      'resnet18',
      "the service's default model is preselected",
    );
    t.notMatch(
      await page.textContent('#classify-model-info'),
      /is failed/,
      'no warning when the default is ready',
    );
    await page.selectOption('#classify-model', 'small-h5');
    await page.setInputFiles('#classify-file', png);
    await page.click('#classify-submit');
    await page.waitForSelector('.result-card .bar-row');
    const labels = await page.$$eval('.result-card .bar-label', (els) =>
      els.map((e) => e.firstChild?.textContent),
    );
    t.same([...labels].sort(), ['alpha', 'beta', 'gamma'], 'three bars, one per label');
    const shares = await page.$$eval('.result-card .bar-value', (els) =>
      els.map((e) => parseFloat(e.textContent ?? '')),
    );
    const sum = shares.reduce((a, b) => a + b, 0);
    t.ok(Math.abs(sum - 100) < 0.5, `percentages add up to 100 (${sum.toFixed(1)})`);
    t.ok(shares[0] >= shares[1] && shares[1] >= shares[2], 'sorted by probability');
    const widths = await page.$$eval('.result-card .bar-fill', (els) =>
      els.map((e) => (e as HTMLElement).getBoundingClientRect().width),
    );
    t.ok(widths[0] > 0 && widths[0] >= widths[2], 'bar lengths follow the probabilities');
    t.match(await page.textContent('.timings'), /Inference[\s\S]*ms/, 'timings are shown');
    t.match(
      await page.textContent('#classify-status'),
      /Classified 1 image with small-h5/,
      'the live region announces the result',
    );
    await shot('01-classify');

    // The drop zone: a text file dropped on it goes to the API, whose 415 body is shown readably.
    await page.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(['hello'], 'notes.txt', { type: 'text/plain' }));
      document
        .querySelector('#classify-drop')!
        .dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    await page.click('button[aria-label="Remove sample.png"]');
    await page.click('#classify-submit');
    await page.waitForSelector('#classify-error:not([hidden])');
    const error = await page.textContent('#classify-error');
    t.match(error, /415 Unsupported Media Type/, 'status and reason');
    t.match(error, /UNSUPPORTED_IMAGE_TYPE/, 'the stable code');
    t.match(error, /notes\.txt: expected an image/, "the API's message");
    t.notMatch(error, /null/, 'no stray "null" from absent parts');
    await shot('02-classify-error');
    await page.click('button[aria-label="Remove notes.txt"]');
  });

  t.test(
    'Classify with Explain: the Grad-CAM overlay beside the bars, and a toggle to the image',
    async (t) => {
      const png = path.join(scratch, 'explain.png');
      const pixels = Buffer.alloc(24 * 24 * 3, 0).map((_, i) => (i * 13) % 256);
      await sharp(pixels, { raw: { width: 24, height: 24, channels: 3 } })
        .png()
        .toFile(png);
      await page.selectOption('#classify-model', 'small-h5');
      await page.setInputFiles('#classify-file', png);
      await page.check('#classify-explain');
      await page.click('#classify-submit');
      await page.waitForSelector('.result-card .explain-image');
      const image = page.locator('.result-card .explain-image');
      t.match(await image.getAttribute('src'), /^data:image\/png;base64,/, 'the overlay from the API');
      t.match(await page.textContent('.result-card .explain'), /Grad-CAM for \w+ at conv1_relu \(8×8\)/);
      const [bars, figure] = await Promise.all(
        ['.result-card .bars', '.result-card .explain'].map((s) => page.locator(s).boundingBox()),
      );
      t.ok(bars && figure && figure.x >= bars.x + bars.width, 'the overlay sits beside the bars');
      t.match(await page.textContent('.timings'), /Explanation[\d.\s]+m?s/, 'its time is shown');
      await shot('03-classify-explain');
      const toggle = page.locator('.result-card .explain-toggle');
      await toggle.click();
      t.equal(await toggle.getAttribute('aria-pressed'), 'false');
      t.match(await image.getAttribute('src'), /^blob:/, 'the image alone');
      await toggle.click();
      t.match(await image.getAttribute('src'), /^data:image\/png/, 'and the overlay again');
      await page.uncheck('#classify-explain');
      await page.click('button[aria-label="Remove explain.png"]');
    },
  );

  t.test('Explore: resnet50 shows its totals, the layer table, and a residual block expands', async (t) => {
    await page.click('#tab-explore');
    await page.waitForSelector('#explore-model:not([disabled])');
    await page.waitForSelector('.report-title');
    await page.selectOption('#explore-model', 'resnet50');
    await page.waitForFunction(() => document.querySelector('.report-title')?.textContent === 'resnet50');
    const stats = await page.textContent('.stats');
    t.match(stats, /25,636,712/, 'published parameter count');
    t.match(stats, /3\.86G/, 'MACs, formatted');
    t.equal(await page.locator('table.layers tbody tr').count(), 176, 'one row per layer');
    t.equal(await page.locator('details.group-residual').count(), 16, 'sixteen residual groups');
    const block = page.locator('details.group-residual').first();
    t.notOk(
      await block.evaluate((d) => (d as HTMLDetailsElement).open),
      'groups start collapsed in a deep net',
    );
    t.notOk(await block.locator('table.layers').isVisible(), 'its layers are hidden');
    await block.locator('> summary').click();
    t.ok(await block.evaluate((d) => (d as HTMLDetailsElement).open), 'a click expands it');
    t.ok(await block.locator('text=2_conv').first().isVisible(), 'and shows its layers');
    t.match(
      await block.locator('> summary').textContent(),
      /conv2_block1.*Residual.*projection shortcut/,
      'the summary names the block and its shortcut',
    );

    // The chart reads values on focus and with the arrow keys.
    await page.focus('.layer-chart');
    await page.keyboard.press('End');
    t.match(
      await page.textContent('.chart-readout'),
      /^predictions \(dense, output 1000\)/,
      'End: the last costed layer',
    );
    await page.keyboard.press('Home');
    const first = await page.textContent('.chart-readout');
    t.match(
      first,
      /conv1_conv \(conv2d, output 112×112×64\): 118\.0M MACs/,
      'the first costed layer, with its values',
    );
    await page.keyboard.press('ArrowRight');
    t.match(await page.textContent('.chart-readout'), /conv1_bn/, 'ArrowRight steps to the next layer');

    // A training step, costed: the weights are 4 bytes per published parameter.
    await page.locator('details.options > summary').first().click();
    await page.selectOption('#explore-training', 'adam');
    await page.waitForSelector('section.training');
    const training = await page.textContent('section.training');
    t.match(training, /One training step: Adam, batch 1/, 'the optimizer and batch are named');
    t.match(training, /102,546,848 bytes/, 'weights: 4 bytes for each of the 25,636,712 parameters');
    t.match(training, /Optimizer state/, 'each part of the memory is listed');
    await shot('03c-explore-resnet50-training');
    await page.selectOption('#explore-training', '');
    await page.waitForFunction(() => !document.querySelector('section.training'));
    await block.scrollIntoViewIfNeeded();
    await shot('03-explore-resnet50');
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot('03b-explore-resnet50-full', true);
  });

  t.test(
    'the lecture example reads at a glance: 120.4M without the 1x1 bottleneck, 12.4M with it',
    async (t) => {
      const sentence = '120.4M multiplications without the 1x1 bottleneck, 12.4M with it';
      await page.selectOption('#explore-model', 'seed_5x5_bottleneck');
      await page.waitForFunction(
        () => document.querySelector('.report-title')?.textContent === 'seed_5x5_bottleneck',
      );
      t.match(await page.textContent('.saving-headline'), sentence);
      await page.evaluate(() => window.scrollTo(0, 0));
      await shot('04-lecture-seed');

      await page.click('.chip:text-is("inception_3a")');
      await page.waitForFunction(
        () => document.querySelector('.report-title')?.textContent === 'inception_3a',
      );
      t.match(
        await page.locator('.saving-headline').first().textContent(),
        sentence,
        'the 5x5 branch saves the most, so it leads',
      );
      t.equal(await page.locator('.saving-headline').count(), 2, 'the 3x3 branch is reported too');
      const branches = await page.$$eval('section .branches tbody tr', (rows) =>
        rows.map((r) => r.textContent),
      );
      t.equal(branches.length, 4, 'cost by branch: four rows');
      t.match(branches[1], /branch3x3.*101\.2M.*79\.0%/, 'the 3x3 branch dominates even with its reduction');
      await shot('05-lecture-inception-3a', true);
    },
  );

  t.test("Explore: a pasted spec is analysed, and a bad one shows the API's error", async (t) => {
    await page.check('input[name="explore-source"][value="spec"]');
    t.match(
      await page.inputValue('#explore-spec'),
      /"name": "inception_3a_no_bottleneck"/,
      'the example spec is offered',
    );
    await page.click('#explore-spec-fields button[type="submit"]');
    await page.waitForFunction(
      () => document.querySelector('.report-title')?.textContent === 'inception_3a_no_bottleneck',
    );
    // Every conv reads all 192 channels: 28·28·192·(64·1 + 128·9 + 32·25 + 32·1) MACs.
    t.match(
      await page.textContent('.stats'),
      String(28 * 28 * 192 * (64 + 128 * 9 + 32 * 25 + 32)).replace(/\B(?=(\d{3})+$)/g, ','),
      'the closed-form MAC count',
    );
    t.equal(await page.locator('.saving').count(), 0, 'no 1x1 reductions, so no savings to report');

    await page.fill(
      '#explore-spec',
      '{"name": "bad", "input": [8, 8, 1], "layers": [{"kind": "conv3d", "filters": 4}]}',
    );
    await page.click('#explore-spec-fields button[type="submit"]');
    await page.waitForSelector('#explore-error:not([hidden])');
    const error = await page.textContent('#explore-error');
    t.match(error, /400 Bad Request/, 'status');
    t.match(error, /UNKNOWN_LAYER_KIND/, 'code');
    t.match(
      error,
      /body\.spec\.layers\.0\.kind: expected one of conv2d/,
      'the message names the field and the supported kinds',
    );
    t.equal(await page.locator('#explore-results .report').count(), 0, 'the stale report is cleared');

    await page.fill('#explore-spec', '{"name": "oops", ');
    await page.click('#explore-spec-fields button[type="submit"]');
    t.match(
      await page.textContent('#explore-error'),
      /not valid JSON/,
      'broken JSON is caught before sending',
    );
    await shot('06-explore-spec-error');
    await page.check('input[name="explore-source"][value="model"]');
  });

  t.test("Compare: plain34 vs resnet34 shows the deltas and each side's blocks", async (t) => {
    await page.click('#tab-compare');
    await page.click('.preset:has-text("plain34 vs resnet34")');
    await page.waitForSelector('table.deltas');
    const rows = await page.$$eval('table.deltas tbody tr', (trs) => trs.map((r) => r.textContent ?? ''));
    t.match(
      rows.find((r) => r.startsWith('Parameters')),
      /21,639,080.*21,814,696.*\+175,616.*×1\.008/,
      'parameter delta and ratio',
    );
    t.match(
      rows.find((r) => r.startsWith('MACs')),
      /3\.64G.*3\.66G.*\+19\.3M.*×1\.005/,
      'MAC delta and ratio',
    );
    t.ok(
      rows.some((r) => r.startsWith('Peak activation memory')),
      'memory delta',
    );
    t.match(await page.textContent('.side-card.side-a'), /0 residual blocks/, 'A has no shortcuts');
    t.match(await page.textContent('.side-card.side-b'), /16 residual blocks/, 'B has sixteen');
    await shot('07-compare-plain-resnet');

    await page.click('.preset:has-text("inception (3a) without")');
    await page.waitForFunction(
      () =>
        document.querySelector('.side-card.side-a .side-title')?.textContent === 'inception_3a_no_bottleneck',
    );
    const headline = await page.textContent('.compare-headline');
    t.match(
      headline,
      /inception_3a needs 0\.415× the MACs of inception_3a_no_bottleneck: 128\.0M instead of 308\.3M/,
      'the page builds the no-bottleneck module itself',
    );
    t.match(await page.textContent('.side-card.side-b'), /2 bottlenecks/, 'B has the two reductions');
    await shot('08-compare-inception', true);
  });

  t.test('at 375px nothing overflows sideways, and the tabs work from the keyboard', async (t) => {
    await page.setViewportSize({ width: 375, height: 800 });
    const overflow = () => page.evaluate(() => document.scrollingElement!.scrollWidth);
    for (const tab of ['classify', 'explore', 'compare']) {
      await page.click(`#tab-${tab}`);
      if (tab === 'explore') {
        await page.click('.chip:text-is("inception_3a")');
        await page.waitForFunction(
          () => document.querySelector('.report-title')?.textContent === 'inception_3a',
        );
      }
      await page.waitForTimeout(50); // the layer chart redraws to the new width
      t.ok((await overflow()) <= 375, `${tab}: page scroll width ${await overflow()} ≤ 375`);
      await page.evaluate(() => window.scrollTo(0, 0));
      await shot(`09-phone-${tab}`);
    }
    await page.click('#tab-explore');
    await page.locator('.savings').scrollIntoViewIfNeeded();
    await shot('10-phone-explore-saving');

    await page.focus('#tab-compare');
    const active = () => page.evaluate(() => document.activeElement?.id);
    const selected = () =>
      page.$$eval('[role="tab"]', (tabs) =>
        tabs.filter((x) => x.getAttribute('aria-selected') === 'true').map((x) => x.id),
      );
    await page.keyboard.press('ArrowRight');
    t.equal(await active(), 'tab-classify', 'ArrowRight wraps to the first tab');
    t.same(await selected(), ['tab-classify'], 'and selects it');
    t.ok(await page.isVisible('#panel-classify'), 'its panel shows');
    t.notOk(await page.isVisible('#panel-compare'), 'the others hide');
    await page.keyboard.press('ArrowRight');
    t.same(await selected(), ['tab-explore'], 'ArrowRight moves on');
    await page.keyboard.press('End');
    t.same(await selected(), ['tab-compare'], 'End');
    await page.keyboard.press('Home');
    t.same(await selected(), ['tab-classify'], 'Home');
    t.same(
      await page.$$eval('[role="tab"]', (tabs) => tabs.map((x) => x.getAttribute('tabindex'))),
      ['0', '-1', '-1'],
      'roving tabindex',
    );
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot('11-phone-keyboard-focus');
    await page.keyboard.press('Tab');
    t.equal(await active(), 'panel-classify', 'Tab leaves the tab list for the panel');
    t.match(page.url(), /#classify$/, 'the URL remembers the tab');
  });

  t.test('the page fetched nothing from elsewhere and logged no errors', async (t) => {
    t.same(offOrigin, [], 'every request went to the service itself');
    t.same(problems, [], 'no console errors or warnings (CSP violations would be here)');
  });
}
