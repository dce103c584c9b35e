/**
 * A real browser for the dashboard's tests: Debian's chromium (apt-get install chromium), driven headless
 * by playwright-core, which downloads no browser of its own. Screenshots go to test-output/ at the top of
 * the repository (gitignored): test-output/<suite>/<name>.png, kept after the run as test artifacts.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";

/** Debian's chromium. */
const CHROMIUM = "/usr/bin/chromium";

/** Where tests leave their artifacts (screenshots): test-output/ at the repository's top, gitignored. */
const TEST_OUTPUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../test-output");

/** True when the suite can run: chromium is installed. In CI a missing one fails the suite (as Docker's does). */
export function requireChromium(suite: string): boolean {
  if (existsSync(CHROMIUM)) return true;
  const why = `needs ${CHROMIUM} (apt-get install -y chromium)`;
  if (process.env.CI === "true") throw new Error(`${suite}: chromium is not available in CI: ${why}`);
  console.warn(`${suite}: skipped, ${why}`);
  return false;
}

/** Starts headless chromium (without its sandbox when running as root, which chromium refuses otherwise). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ["--no-sandbox"] : [] });
}

/** Saves a full-page screenshot as test-output/<suite>/<name>.png; returns its path. */
export async function screenshot(page: Page, suite: string, name: string): Promise<string> {
  const file = path.join(TEST_OUTPUT, suite, `${name}.png`);
  await mkdir(path.dirname(file), { recursive: true });
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
