/**
 * A real browser for the tests of the live page: Debian's Chromium (the `chromium` package; the browser cannot be
 * downloaded here), driven by playwright-core, headless, with a new user-data directory removed when it closes.
 * Works the same under Node, Bun and Deno. Without /usr/bin/chromium the tests that need it are skipped, saying how
 * to get it — except in CI (CI set), where that is a failure: .ci/run installs it.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM_PATH = "/usr/bin/chromium";

const CHROMIUM_ARGS = [
  "--no-sandbox", // tests may run as root, where Chromium's sandbox refuses to start
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function findChromium(): string | false {
  if (existsSync(CHROMIUM_PATH)) return false;
  const why = `no ${CHROMIUM_PATH}: install Debian's chromium (apt-get install chromium) to run the browser tests`;
  if (process.env.CI) throw new Error(`CI is set but ${why}; .ci/run should have installed it`);
  return why;
}

/** The `skip` option for a suite that needs the browser (said aloud too: not every runner prints skip reasons). */
export const skipWithoutChromium: string | false = findChromium();
if (skipWithoutChromium) console.warn(`skipping browser tests: ${skipWithoutChromium}`);

export interface TestBrowser {
  /** A new tab, `width`×`height` CSS pixels (a desktop's 1280×800 by default). */
  newPage(viewport?: { width: number; height: number }): Promise<Page>;
  close(): Promise<void>;
}

export async function openBrowser(): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), "pilcrow-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 800 },
    });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  return {
    async newPage(viewport) {
      const page = await context.newPage();
      if (viewport) await page.setViewportSize(viewport);
      return page;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
